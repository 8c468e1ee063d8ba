// Gather (ONNX) of data of any dtype by int64 / int32 indices, constant or
// computed at run time: torch's x[:, 0], the q / k / v split of
// nn.MultiheadAttention's packed projection, an embedding lookup of token
// ids. With axis a and dim = data.shape[a]:
//   out.shape = data.shape[:a] + indices.shape + data.shape[a+1:]
//   out[o, j, r] = data[o, k_j, r],  k_j = indices[j] (+ dim when negative)
// An index outside [-dim, dim) is an InvalidArgument naming it (at shape
// inference when the indices are known then, else when the layer runs).
// The copy walks the output rows (o, j) in order with running counters (no
// division per row); rows of 1, 2, 4 or 8 bytes are copied as one integer
// each, not by memcpy: torch's unfold exports (ConvBERT's span convolution)
// gather single elements, millions per run.
#include <cstring>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class GatherLayer : public Layer {
 public:
  explicit GatherLayer(const Node& node) : axis_(node.attrs.get_int("axis", 0)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& idx = require_any(in, 1, prefix_);
    if (idx.dtype() != DataType::kInt64 && idx.dtype() != DataType::kInt32) {
      throw InvalidArgument(prefix_ + "indices must be int64 or int32");
    }
    const Shape& xs = x.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    if (idx.has_data()) indices(idx, xs[a]);  // checks the bounds as early as they are known
    Shape out(xs.begin(), xs.begin() + a);
    out.insert(out.end(), idx.shape().begin(), idx.shape().end());
    out.insert(out.end(), xs.begin() + a + 1, xs.end());
    return {{x.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    // Parts of the data's element count, which was checked when its Value was shaped.
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < a; ++d) outer *= xs[d];
    for (size_t d = static_cast<size_t>(a) + 1; d < xs.size(); ++d) inner *= xs[d];
    const int64_t dim = xs[a];
    // Per thread, grown, never shrunk (a run allocates nothing once sized); a reference, so
    // that the parallel_for below reads this thread's indices, not each helper's own.
    thread_local std::vector<int64_t> k_here;
    std::vector<int64_t>& k = k_here;
    indices_into(*in[1], dim, &k);
    const int64_t count = static_cast<int64_t>(k.size());
    const size_t row = static_cast<size_t>(inner) * dtype_size(in[0]->dtype());
    const char* x = in[0]->data<char>();
    char* y = out[0]->data<char>();
    if (row == 0 || count == 0) return;
    const int64_t* kk = k.data();
    parallel_for(outer * count, std::max<int64_t>(1, 65536 / static_cast<int64_t>(row)), [&](int64_t b, int64_t e) {
      switch (row) {
        case 1: return copy_rows<uint8_t>(x, y, kk, count, dim, b, e);
        case 2: return copy_rows<uint16_t>(x, y, kk, count, dim, b, e);
        case 4: return copy_rows<uint32_t>(x, y, kk, count, dim, b, e);
        case 8: return copy_rows<uint64_t>(x, y, kk, count, dim, b, e);
        default:
          for (int64_t r = b; r < e; ++r) std::memcpy(y + r * row, x + ((r / count) * dim + kk[r % count]) * row, row);
      }
    });
  }

  std::string describe() const override { return "gather axis " + std::to_string(axis_); }

 private:
  // Output rows [b, e) of one element of type T each: row r = o * count + j
  // is data row o * dim + k[j]. Byte copies through memcpy of sizeof(T)
  // (no alignment assumed): the same bytes as the generic path.
  template <typename T>
  static void copy_rows(const char* x, char* y, const int64_t* k, int64_t count, int64_t dim, int64_t b, int64_t e) {
    int64_t o = b / count, j = b % count;
    const char* src = x + o * dim * static_cast<int64_t>(sizeof(T));
    char* dst = y + b * static_cast<int64_t>(sizeof(T));
    for (int64_t r = b; r < e; ++r, dst += sizeof(T)) {
      T v;
      std::memcpy(&v, src + k[j] * static_cast<int64_t>(sizeof(T)), sizeof(T));
      std::memcpy(dst, &v, sizeof(T));
      if (++j == count) {
        j = 0;
        src += dim * static_cast<int64_t>(sizeof(T));
      }
    }
  }

  // The indices with negative ones wrapped; throws naming one out of range.
  std::vector<int64_t> indices(const Value& idx, int64_t dim) const {
    std::vector<int64_t> k;
    indices_into(idx, dim, &k);
    return k;
  }
  void indices_into(const Value& idx, int64_t dim, std::vector<int64_t>* out) const {
    std::vector<int64_t>& k = *out;
    int64_values_into(idx, prefix_, "indices", &k);
    for (int64_t& v : k) {
      if (v < -dim || v >= dim) {
        throw InvalidArgument(prefix_ + "index " + std::to_string(v) + " is outside [" + std::to_string(-dim) + ", " +
                              std::to_string(dim) + ") (axis " + std::to_string(axis_) + " of the data)");
      }
      if (v < 0) v += dim;
    }
  }

  int64_t axis_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_gather(const Network&, const Node& node) {
  if (!has_input(node, 0) || !has_input(node, 1)) throw InvalidArgument(layer_error_prefix(node) + "needs data and indices");
  return std::make_unique<GatherLayer>(node);
}

INT8RT_REGISTER_LAYER("Gather", make_gather);

}  // namespace
}  // namespace engine
}  // namespace int8rt
