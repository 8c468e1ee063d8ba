// fold_constants (passes.h): constant data-movement nodes evaluated at graph
// level with ONNX semantics (Reshape with 0 / -1 and allowzero, Transpose
// with perm (default: reversed), Unsqueeze/Squeeze with axes as attribute
// (opset < 13) or input (opset >= 13), Concat, Cast to float/int8/int64,
// Identity; bool constants move as their int8 storage and Cast reads them as
// 0 / 1). The importer folds most constants in Python; this catches what
// other passes expose (e.g. a Transpose over a weight DequantizeLinear).
// A Cast whose result ONNX leaves undefined (NaN or out-of-range to an
// integer) is not folded.
#include <algorithm>
#include <cmath>

#include "core/checked_math.h"
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// The int64 values of a constant input, or nullptr.
const std::vector<int64_t>* ints_input(const Network& net, const Node& n, size_t index) {
  const Tensor* t = passes::constant_or_null(net, passes::input_at(n, index));
  return t && t->dtype == DataType::kInt64 ? &t->i64 : nullptr;
}

int64_t count_of(const std::vector<int64_t>& shape) { return checked_numel(shape, "constant folding: shape"); }

// Copies elements idx[] of `in` into `out` (same dtype).
void gather(const Tensor& in, const std::vector<int64_t>& idx, Tensor* out) {
  out->dtype = in.dtype;
  for (int64_t i : idx) {
    if (in.dtype == DataType::kFloat32) out->f32.push_back(in.f32[i]);
    else if (in.dtype == DataType::kInt64) out->i64.push_back(in.i64[i]);
    else out->i8.push_back(in.i8[i]);
  }
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

bool reshape(const Network& net, const Node& n, const Tensor& x, Tensor* out) {
  const std::vector<int64_t>* target = ints_input(net, n, 1);
  if (!target) return false;
  bool allow_zero = n.attrs.get_int("allowzero", 0) != 0;
  std::vector<int64_t> shape = *target;
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && !allow_zero) {
      if (d >= x.shape.size()) return false;
      shape[d] = x.shape[d];
    }
    if (shape[d] == -1) {
      if (infer >= 0) return false;
      infer = static_cast<int64_t>(d);
    } else if (shape[d] < 0) {
      return false;
    } else {
      known = checked_mul(known, shape[d], "constant folding: Reshape target");
    }
  }
  int64_t total = count_of(x.shape);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return false;
    shape[infer] = total / known;
  }
  if (count_of(shape) != total) return false;
  out->shape = shape;
  gather(x, iota(total), out);
  return true;
}

bool transpose(const Node& n, const Tensor& x, Tensor* out) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> perm = n.attrs.get_ints("perm", {});
  if (perm.empty()) for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != iota(rank)) return false;
  std::vector<int64_t> in_stride(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * x.shape[d + 1];
  for (int64_t d = 0; d < rank; ++d) out->shape.push_back(x.shape[perm[d]]);
  const int64_t total = count_of(x.shape);
  std::vector<int64_t> idx(total), pos(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += pos[d] * in_stride[perm[d]];
    idx[i] = src;
    for (int64_t d = rank - 1; d >= 0; --d) {  // next output position, row-major
      if (++pos[d] < out->shape[d]) break;
      pos[d] = 0;
    }
  }
  gather(x, idx, out);
  return true;
}

// Unsqueeze / Squeeze: only the shape changes.
bool squeeze_like(const Network& net, const Node& n, const Tensor& x, Tensor* out) {
  std::vector<int64_t> axes = n.attrs.get_ints("axes", {});
  if (const std::vector<int64_t>* in = ints_input(net, n, 1)) axes = *in;
  const int64_t in_rank = static_cast<int64_t>(x.shape.size());
  if (n.op == "Unsqueeze") {
    const int64_t rank = in_rank + static_cast<int64_t>(axes.size());
    std::vector<char> inserted(rank, 0);
    for (int64_t a : axes) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank || inserted[a]) return false;
      inserted[a] = 1;
    }
    size_t next = 0;
    for (int64_t d = 0; d < rank; ++d) out->shape.push_back(inserted[d] ? 1 : x.shape[next++]);
  } else {
    std::vector<char> drop(in_rank, 0);
    for (int64_t a : axes) {
      if (a < 0) a += in_rank;
      if (a < 0 || a >= in_rank || x.shape[a] != 1) return false;
      drop[a] = 1;
    }
    for (int64_t d = 0; d < in_rank; ++d) {
      bool gone = axes.empty() ? x.shape[d] == 1 : drop[d] != 0;
      if (!gone) out->shape.push_back(x.shape[d]);
    }
  }
  gather(x, iota(count_of(x.shape)), out);
  return true;
}

bool concat(const Network& net, const Node& n, Tensor* out) {
  std::vector<const Tensor*> parts;
  for (int id : n.inputs) parts.push_back(&net.tensor(id));
  const Tensor& first = *parts[0];
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  int64_t axis = n.attrs.get_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  out->shape = first.shape;
  out->shape[axis] = 0;
  for (const Tensor* p : parts) {
    if (p->dtype != first.dtype || p->shape.size() != first.shape.size()) return false;
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && p->shape[d] != first.shape[d]) return false;
    }
    out->shape[axis] += p->shape[axis];
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= first.shape[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= first.shape[d];
  out->dtype = first.dtype;
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* p : parts) {
      int64_t block = p->shape[axis] * inner;
      std::vector<int64_t> idx(block);
      for (int64_t i = 0; i < block; ++i) idx[i] = o * block + i;
      gather(*p, idx, out);
    }
  }
  return true;
}

bool cast(const Node& n, const Tensor& x, Tensor* out) {
  const int64_t to = n.attrs.get_int("to", 0);  // ONNX TensorProto: 1 float, 3 int8, 7 int64
  const int64_t total = count_of(x.shape);
  out->shape = x.shape;
  for (int64_t i = 0; i < total; ++i) {
    const bool is_f = x.dtype == DataType::kFloat32;
    const bool is_i8 = x.dtype == DataType::kInt8 || x.dtype == DataType::kBool;  // both held in i8
    const float f = is_f ? x.f32[i] : 0.f;
    const int64_t k = is_f ? 0 : (is_i8 ? x.i8[i] : x.i64[i]);
    if (to == 1) {
      out->f32.push_back(is_f ? f : static_cast<float>(k));
    } else if (to == 7) {  // float -> integer: truncation toward zero, as C and ONNX Runtime
      if (is_f && !(std::fabs(f) < 9.2e18f)) return false;
      out->i64.push_back(is_f ? static_cast<int64_t>(f) : k);
    } else if (to == 3) {
      double v = is_f ? std::trunc(static_cast<double>(f)) : static_cast<double>(k);
      if (!(v >= -128.0 && v <= 127.0)) return false;  // NaN and overflow: undefined in ONNX
      out->i8.push_back(static_cast<int8_t>(v));
    } else {
      return false;
    }
  }
  out->dtype = to == 1 ? DataType::kFloat32 : (to == 7 ? DataType::kInt64 : DataType::kInt8);
  return to == 1 || to == 7 || to == 3;
}

bool evaluate(const Network& net, const Node& n, Tensor* out) {
  const Tensor& x = net.tensor(n.inputs[0]);
  if (n.op == "Reshape") return reshape(net, n, x, out);
  if (n.op == "Transpose") return transpose(n, x, out);
  if (n.op == "Unsqueeze" || n.op == "Squeeze") return squeeze_like(net, n, x, out);
  if (n.op == "Concat") return concat(net, n, out);
  if (n.op == "Cast") return cast(n, x, out);
  if (n.op == "Identity") {
    out->shape = x.shape;
    gather(x, iota(count_of(x.shape)), out);
    return true;
  }
  return false;
}

}  // namespace

void fold_constants(Network& net, PassReport* report) {
  // Node order may not be topological; iterate in topological order so a
  // chain of foldable nodes folds in one pass.
  for (int n : net.topological_order()) {
    const Node& node = net.nodes()[n];
    if (node.inputs.empty() || node.outputs.size() != 1) continue;
    bool all_constant = true;
    for (int in : node.inputs) all_constant &= in >= 0 && net.tensor(in).is_constant;
    int out = node.outputs[0];
    if (!all_constant || passes::is_network_output(net, out)) continue;
    Tensor value;
    if (!evaluate(net, node, &value)) continue;
    const std::string what = passes::describe(node);
    passes::kill_node(net, n);
    Tensor& t = net.tensor(out);
    t.is_constant = true;
    t.dtype = value.dtype;
    t.shape = value.shape;
    t.f32 = std::move(value.f32);
    t.i64 = std::move(value.i64);
    t.i8 = std::move(value.i8);
    t.producer = -1;
    if (report) report->add("folded constant " + what + " into '" + t.name + "'");
  }
  net.compact();
}

}  // namespace int8rt
