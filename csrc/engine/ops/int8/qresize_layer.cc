// int8rt.QResizeNearest (contracts.h): nearest Resize of an int8 NHWC tensor
// at one scale, so a byte copy: y[n][oy][ox][:] = x[n][src_y[oy]][src_x[ox]][:].
// The index lists come from the FP32 Resize itself (lower_int8.cc), so the
// int8 engine picks exactly the pixels the FP32 one does.
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

class QResizeNearestLayer : public Layer {
 public:
  QResizeNearestLayer(const Node& node, QResizeNearestAttrs a)
      : a_(std::move(a)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4) {
      throw InvalidArgument(prefix_ + "needs an int8 [N, H, W, C] tensor, got " + shape_str(s));
    }
    for (int64_t i : a_.src_y) {
      if (i >= s[1]) throw InvalidArgument(prefix_ + "source row " + std::to_string(i) + " outside H = " + std::to_string(s[1]));
    }
    for (int64_t i : a_.src_x) {
      if (i >= s[2]) throw InvalidArgument(prefix_ + "source column " + std::to_string(i) + " outside W = " + std::to_string(s[2]));
    }
    return {{DataType::kInt8, {s[0], static_cast<int64_t>(a_.src_y.size()), static_cast<int64_t>(a_.src_x.size()), s[3]}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t H = s[1], W = s[2], C = s[3];
    const int64_t OH = static_cast<int64_t>(a_.src_y.size()), OW = static_cast<int64_t>(a_.src_x.size());
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    parallel_for(s[0] * OH, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, OW * C)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / OH, oy = r % OH;
        const int8_t* row = x + (n * H + a_.src_y[oy]) * W * C;
        int8_t* dst = y + r * OW * C;
        for (int64_t ox = 0; ox < OW; ++ox) std::memcpy(dst + ox * C, row + a_.src_x[ox] * C, C);
      }
    });
  }

  std::string describe() const override { return "copy"; }

 private:
  QResizeNearestAttrs a_;
  std::string prefix_;
};

INT8RT_REGISTER_LAYER(QResizeNearestAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QResizeNearestLayer>(node, QResizeNearestAttrs::from_attrs(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
