// GatherElements (ONNX): out[i0, .., ia, .., in] = data[i0, .., k, .., in]
// with k = indices[i0, .., ia, .., in] (+ dim when negative) along `axis`
// (default 0). data has any dtype; indices are int64 or int32 of data's rank,
// and the output has the indices' shape (every other dimension at most
// data's). An index outside [-dim, dim) is an InvalidArgument naming it.
#include <atomic>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class GatherElementsLayer : public Layer {
 public:
  explicit GatherElementsLayer(const Node& node)
      : axis_(node.attrs.get_int("axis", 0)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& idx = require_any(in, 1, prefix_);
    if (idx.dtype() != DataType::kInt64 && idx.dtype() != DataType::kInt32) {
      throw InvalidArgument(prefix_ + "indices must be int64 or int32");
    }
    const Shape &xs = x.shape(), &is = idx.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    bool ok = xs.size() == is.size();
    for (size_t d = 0; ok && d < xs.size(); ++d) ok = static_cast<int64_t>(d) == a || is[d] <= xs[d];
    if (!ok) {
      throw InvalidArgument(prefix_ + "indices " + shape_str(is) + " must have the rank of the data " + shape_str(xs) +
                            " and no larger dimension except on the axis");
    }
    return {{x.dtype(), is}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& idx = *in[1];
    if (idx.dtype() == DataType::kInt64) gather(*in[0], idx.data<int64_t>(), idx.shape(), *out[0]);
    else gather(*in[0], idx.data<int32_t>(), idx.shape(), *out[0]);
  }

  std::string describe() const override { return "gather elements axis " + std::to_string(axis_); }

 private:
  template <typename I>
  void gather(const Value& xv, const I* idx, const Shape& is, Value& yv) const {
    const Shape& xs = xv.shape();
    const int64_t rank = static_cast<int64_t>(xs.size());
    const int64_t a = normalize_axis(axis_, rank, prefix_);
    const int64_t dim = xs[a];
    BroadcastDims xstride;  // in place up to rank 8: a run allocates nothing
    xstride.assign_zeros(xs.size());
    if (rank > 0) xstride[static_cast<size_t>(rank - 1)] = 1;
    for (int64_t d = rank - 2; d >= 0; --d) xstride[d] = xstride[d + 1] * xs[d + 1];
    const size_t size = dtype_size(xv.dtype());
    const char* x = xv.data<char>();
    char* y = yv.data<char>();
    std::atomic<int64_t> bad{0};
    std::atomic<bool> any_bad{false};
    parallel_for(yv.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t rest = o, off = 0;
        for (int64_t d = rank - 1; d >= 0; --d) {
          const int64_t i = rest % is[d];
          rest /= is[d];
          if (d != a) off += i * xstride[d];
        }
        int64_t k = static_cast<int64_t>(idx[o]);
        if (k < -dim || k >= dim) {
          bad.store(k, std::memory_order_relaxed);
          any_bad.store(true, std::memory_order_relaxed);
          continue;
        }
        if (k < 0) k += dim;
        std::memcpy(y + o * size, x + (off + k * xstride[a]) * size, size);
      }
    });
    if (any_bad) {
      throw InvalidArgument(prefix_ + "index " + std::to_string(bad.load()) + " is outside [" + std::to_string(-dim) +
                            ", " + std::to_string(dim) + ") (axis " + std::to_string(axis_) + " of the data)");
    }
  }

  int64_t axis_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_gather_elements(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<GatherElementsLayer>(node);
}

INT8RT_REGISTER_LAYER("GatherElements", make_gather_elements);

}  // namespace
}  // namespace engine
}  // namespace int8rt
