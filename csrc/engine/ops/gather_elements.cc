// GatherElements (ONNX): out[i0, .., ia, .., in] = data[i0, .., k, .., in]
// with k = indices[i0, .., ia, .., in] (+ dim when negative) along `axis`
// (default 0). data has any dtype; indices are int64 or int32 of data's rank,
// and the output has the indices' shape (every other dimension at most
// data's). An index outside [-dim, dim) is an InvalidArgument naming it.
#include <atomic>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/elements_axis.h"
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
    (void)ElementsAxis(x, idx, axis_, prefix_);  // checks the indices
    return {{x.dtype(), idx.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& idx = *in[1];
    if (idx.dtype() == DataType::kInt64) gather(*in[0], idx, idx.data<int64_t>(), *out[0]);
    else gather(*in[0], idx, idx.data<int32_t>(), *out[0]);
  }

  std::string describe() const override { return "gather elements axis " + std::to_string(axis_); }

 private:
  template <typename I>
  void gather(const Value& xv, const Value& iv, const I* idx, Value& yv) const {
    const ElementsAxis where(xv, iv, axis_, prefix_);
    const size_t size = dtype_size(xv.dtype());
    const char* x = xv.data<char>();
    char* y = yv.data<char>();
    std::atomic<int64_t> bad{0};
    std::atomic<bool> any_bad{false};
    parallel_for(yv.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t off = 0;
        if (!where.offset(o, static_cast<int64_t>(idx[o]), &off)) {
          bad.store(static_cast<int64_t>(idx[o]), std::memory_order_relaxed);
          any_bad.store(true, std::memory_order_relaxed);
          continue;
        }
        std::memcpy(y + o * size, x + off * size, size);
      }
    });
    if (any_bad) throw where.out_of_range(prefix_, bad.load());
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
