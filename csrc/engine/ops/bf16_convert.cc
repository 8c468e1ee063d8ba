// int8rt.ToBf16 (engine/bf16_layers.h, mark_bf16_tensors): a float32
// tensor read as A by several BF16 MatMuls with constant weights (an
// encoder's Q, K and V reading one LayerNorm output) converted to a
// bfloat16 tensor of the same shape once, with the BF16 GEMM kernel's own
// activation conversion (GemmBf16Kernel::to_bf16, bf16::from_f32: round to
// nearest even, DAZ), the conversion each of those MatMuls made of its A
// before: the same bits, made once. Rows in parallel chunks of >= 64 KiB.
#include <algorithm>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/op_util.h"
#include "engine/value.h"

namespace int8rt {
namespace engine {
namespace {

class ToBf16Layer : public Layer {
 public:
  explicit ToBf16Layer(const Node& node) : prefix_(layer_error_prefix(node)) { bf16_.choose(); }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    return {{DataType::kBFloat16, require_input(in, 0, DataType::kFloat32, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const float* x = in[0]->data<float>();
    uint16_t* y = out[0]->data<uint16_t>();
    parallel_for(in[0]->numel(), 1 << 14, [&](int64_t begin, int64_t end) {
      bf16_.kernel->to_bf16(x + begin, end - begin, y + begin);
    });
  }

  std::string describe() const override { return "bf16 convert" + bf16_.describe(); }
  bool accepts_empty_inputs() const override { return true; }

 private:
  std::string prefix_;
  Bf16Gemm bf16_;  // the kernel whose conversion this is (no weights)
};

INT8RT_REGISTER_LAYER("int8rt.ToBf16", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<ToBf16Layer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
