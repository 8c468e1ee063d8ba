// LpNormalization (ONNX): y = x / ||x||_p along `axis` (default -1), p = 1
// (sum of |x|) or 2 (the default: sqrt of the sum of x * x), float32. The
// norm sums in index order in float32; where it is 0 the output is 0 (the
// ONNX reference's value, not 0 / 0).
#include <cmath>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class LpNormLayer : public Layer {
 public:
  LpNormLayer(const Node& node, int64_t p)
      : axis_(node.attrs.get_int("axis", -1)), p_(p), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_input(in, 0, DataType::kFloat32, prefix_);
    normalize_axis(axis_, static_cast<int64_t>(x.shape().size()), prefix_);
    return {{DataType::kFloat32, x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    const int64_t outer = checked_numel(Shape(s.begin(), s.begin() + a), "LpNormalization outer size");
    const int64_t inner = checked_numel(Shape(s.begin() + a + 1, s.end()), "LpNormalization inner size");
    const int64_t n = s[a];
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const bool l1 = p_ == 1;
    parallel_for(outer * inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t base = (r / inner) * n * inner + r % inner;
        float sum = 0.f;
        for (int64_t k = 0; k < n; ++k) {
          const float v = x[base + k * inner];
          sum += l1 ? std::fabs(v) : v * v;
        }
        const float norm = l1 ? sum : std::sqrt(sum);
        for (int64_t k = 0; k < n; ++k) y[base + k * inner] = norm == 0.f ? 0.f : x[base + k * inner] / norm;
      }
    });
  }

  std::string describe() const override { return "l" + std::to_string(p_) + " normalization"; }

 private:
  int64_t axis_, p_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_lp_norm(const Network&, const Node& node) {
  require_inputs(node, 1);
  const int64_t p = node.attrs.get_int("p", 2);
  if (p != 1 && p != 2) throw unsupported_attr(node, "p", std::to_string(p), "1 or 2");
  return std::make_unique<LpNormLayer>(node, p);
}

INT8RT_REGISTER_LAYER("LpNormalization", make_lp_norm);

}  // namespace
}  // namespace engine
}  // namespace int8rt
