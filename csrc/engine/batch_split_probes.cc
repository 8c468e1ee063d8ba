// BatchSplit's value checks at the probes (batch_split_probes.h).
#include "engine/batch_split_probes.h"

#include <algorithm>
#include <cstring>

#include "engine/batch_split.h"

namespace int8rt {
namespace engine {

bool gathers_rows(const Node& node) { return node.op == "Gather" && node.attrs.get_int("axis", 0) == 0; }

bool per_sample_attrs(const Node& node, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (node.op == "Softmax" || node.op == "LogSoftmax" || node.op == "LayerNormalization") {
    int64_t axis = node.attrs.get_int("axis", node.op == "LayerNormalization" ? -1 : (rank == 0 ? 0 : -1));
    if (axis < 0) axis += r;
    return axis >= 1 && axis < r;
  }
  if (node.op == "Transpose" || node.op == "int8rt.QTranspose") {
    const std::vector<int64_t> perm = node.attrs.get_ints("perm", {});
    return !perm.empty() && perm[0] == 0;  // (no perm: reversed, the batch last)
  }
  if (node.op == "Gather") return node.attrs.get_int("axis", 0) == 0;
  return true;
}

size_t SplitProbes::probe_of(int64_t s) const {
  return static_cast<size_t>(std::find(probes.begin(), probes.end(), s) - probes.begin());
}

bool SplitProbes::dim0_per_sample(int id, int64_t per) const {
  for (size_t i = 0; i < probes.size(); ++i) {
    const Shape& s = vals[i][id].shape();
    if (dep[i][id] || s.empty() || s[0] != probes[i] * per) return false;
  }
  return true;
}

bool SplitProbes::folded_rows(int id, int64_t& rows) const {
  const Shape& s = vals[0][id].shape();
  if (dep[0][id] || s.empty() || s[0] <= 0 || s[0] % probes[0] != 0) return false;
  rows = s[0] / probes[0];
  return dim0_per_sample(id, rows);
}

bool SplitProbes::known_at_every_probe(int id) const {
  for (size_t i = 0; i < probes.size(); ++i) {
    if (dep[i][id] || !vals[i][id].has_data()) return false;
  }
  return true;
}

BatchClass SplitProbes::shape_class(const Node& node, int id, const std::vector<char>& how, bool per_sample) const {
  if (id < 0) return kUnknown;
  if (known_at_every_probe(id)) {
    const Value& v0 = vals[0][id];
    bool same = true;
    for (size_t i = 1; i < probes.size() && same; ++i) {
      const Value& v = vals[i][id];
      same = v.shape() == v0.shape() && v.dtype() == v0.dtype() &&
             std::memcmp(v.data<char>(), v0.data<char>(), v0.nbytes()) == 0;
    }
    if (same) return kIndependent;
    if (!dim0_per_sample(id, 1)) return kUnknown;
    // Every sample's block at every probe equal to sample 0's at the batch.
    const size_t block = v0.nbytes() / static_cast<size_t>(probes[0]);
    const char* first = v0.data<char>();
    for (size_t i = 0; i < probes.size(); ++i) {
      const char* d = vals[i][id].data<char>();
      for (int64_t b = 0; b < probes[i]; ++b) {
        if (std::memcmp(d + static_cast<size_t>(b) * block, first, block) != 0) return kUnknown;
      }
    }
    return kUniform;
  }
  // No values (a float tensor, say): what the inputs' classes imply.
  bool independent = true, uniform = per_sample;
  const size_t rank = vals[0][id].shape().size();
  const bool gather = gathers_rows(node);
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    const int in = node.inputs[k];
    if (in < 0) continue;
    const char c = how[in];
    independent = independent && (c == kConstant || c == kIndependent);
    if (k >= 1 && sizes_from_shapes(node.op)) continue;  // a size: the output's shape says what it did
    // A table Gather's indices may have any rank (the output is their shape and a row each).
    uniform = uniform && (c == kConstant || c == kIndependent ||
                          (c == kUniform && (gather || vals[0][in].shape().size() == rank)));
  }
  if (independent) {
    for (size_t i = 0; i < probes.size(); ++i) {
      if (dep[i][id] || vals[i][id].shape() != vals[0][id].shape()) return kUnknown;
    }
    return kIndependent;
  }
  if (gather && (node.inputs.size() != 2 || (how[node.inputs[0]] != kConstant && how[node.inputs[0]] != kIndependent))) {
    return kUnknown;  // rows of a batch-first tensor, by index: across the batch
  }
  return uniform && dim0_per_sample(id, 1) ? kUniform : kUnknown;
}

bool SplitProbes::gather_keeps_parts(const Node& node, const std::vector<char>& how, int64_t rows,
                                     const std::vector<int64_t>& sizes) const {
  const int data = node.inputs[0], idx = node.inputs[1], out = node.outputs[0];
  if (how[data] != kFirst && how[data] != kFolded) return false;
  if (how[data] == kFirst) rows = 1;
  if (!known_at_every_probe(idx) || !dim0_per_sample(idx, 1) || !dim0_per_sample(out, 1)) return false;
  const DataType t = vals[0][idx].dtype();
  if (t != DataType::kInt64 && t != DataType::kInt32) return false;
  auto at = [t](const Value& v, int64_t k) -> int64_t {
    return t == DataType::kInt64 ? v.data<int64_t>()[k] : v.data<int32_t>()[k];
  };
  const Value& whole = vals[0][idx];
  const int64_t per = whole.numel() / probes[0];  // indices per sample
  int64_t first = 0;
  for (int64_t s : sizes) {
    const Value& part = vals[probe_of(s)][idx];
    for (int64_t k = 0; k < s * per; ++k) {
      const int64_t v = at(part, k);
      if (v < 0 || v >= s * rows || at(whole, first * per + k) != v + first * rows) return false;
    }
    first += s;
  }
  return true;
}

}  // namespace engine
}  // namespace int8rt
