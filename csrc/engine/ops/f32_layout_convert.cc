// The conversions at the edges of a channels-last region (engine/f32_layout.h):
// int8rt.ToNHWC, y[n][p][c] = x[n][c][p], and int8rt.ToNCHW, its inverse,
// for float32 [N, C, H, W] / [N, H, W, C] tensors (p = h * W + w). A move:
// each image one 2-D transpose on the transpose_f32 kernel (chosen once per
// layer), images in parallel. The bytes of Transpose with perm [0, 2, 3, 1]
// / [0, 3, 1, 2].
#include "core/thread_pool.h"
#include "engine/f32_layout.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {
namespace {

class LayoutConvertLayer : public Layer {
 public:
  LayoutConvertLayer(const Node& node, bool to_nhwc) : to_nhwc_(to_nhwc), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = require_input(in, 0, DataType::kFloat32, prefix_).shape();
    if (s.size() != 4) throw InvalidArgument(prefix_ + "needs a 4-D float32 input, got " + shape_str(s));
    return {{DataType::kFloat32, to_nhwc_ ? Shape{s[0], s[2], s[3], s[1]} : Shape{s[0], s[3], s[1], s[2]}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t N = s[0], C = to_nhwc_ ? s[1] : s[3], P = to_nhwc_ ? s[2] * s[3] : s[1] * s[2];
    const uint32_t* x = in[0]->data<uint32_t>();
    uint32_t* y = out[0]->data<uint32_t>();
    parallel_for(N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        if (to_nhwc_) {
          tile_->tile(P, C, x + n * C * P, P, y + n * C * P, C);
        } else {
          tile_->tile(C, P, x + n * C * P, C, y + n * C * P, P);
        }
      }
    });
  }

  std::string describe() const override { return to_nhwc_ ? "NCHW -> NHWC" : "NHWC -> NCHW"; }

 private:
  bool to_nhwc_;
  std::string prefix_;
  const kernels::TransposeX32Kernel* tile_ = &kernels::choose<kernels::TransposeX32Kernel>();
};

std::unique_ptr<Layer> make(const Node& node, bool to_nhwc) {
  require_inputs(node, 1);
  return std::make_unique<LayoutConvertLayer>(node, to_nhwc);
}

INT8RT_REGISTER_LAYER(kToNhwcOp, [](const Network&, const Node& node) { return make(node, true); });
INT8RT_REGISTER_LAYER(kToNchwOp, [](const Network&, const Node& node) { return make(node, false); });

}  // namespace
}  // namespace engine
}  // namespace int8rt
