// Float32 InstanceNormalization and GroupNormalization (ONNX): statistics
// over the spatial dimensions of each (sample, channel) or (sample, group of
// channels), then a per-channel affine:
//   mean = sum(x) / n, var = sum((x - mean)^2) / n,
//   y = (x - mean) / sqrt(var + epsilon) * scale[c] + bias[c]
// with the statistics of kernels/ref/layernorm_f32.h (moments) (double, two passes, rounded once), as
// the LayerNormalization layer.
// GroupNormalization's scale and bias are per channel ([C], opset 21) or per
// group ([num_groups], opset 18, each group's value applied to its channels);
// the size says which. stash_type other than 1 is NotSupported.
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "kernels/ref/layernorm_f32.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class GroupNormLayer : public Layer {
 public:
  // groups = 0: one group per channel (InstanceNormalization).
  GroupNormLayer(const Node& node, int64_t groups)
      : groups_(groups), eps_(node.attrs.get_float("epsilon", 1e-5)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const Shape& xs = X.shape();
    if (xs.size() < 2) throw InvalidArgument(prefix_ + "input must be [N, C, ...], got " + shape_str(xs));
    const int64_t c = xs[1], g = groups(c);
    if (g <= 0 || c % g != 0) {
      throw InvalidArgument(prefix_ + "num_groups " + std::to_string(g) + " does not divide " + std::to_string(c) +
                            " channels");
    }
    for (size_t i = 1; i < 3; ++i) {
      const int64_t n = require_input(in, i, DataType::kFloat32, prefix_).numel();
      if (n != c && n != g) {
        throw InvalidArgument(prefix_ + (i == 1 ? "scale" : "bias") + " has " + std::to_string(n) +
                              " values, expected " + std::to_string(c) + " (per channel) or " + std::to_string(g) +
                              " (per group)");
      }
    }
    return {{DataType::kFloat32, xs}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    const int64_t batch = xs[0], c = xs[1], g = groups(c), per_group = c / g;
    const int64_t spatial = in[0]->numel() / std::max<int64_t>(1, batch * c);
    const int64_t n = per_group * spatial;  // elements of one group
    const float* x = in[0]->data<float>();
    const float* scale = in[1]->data<float>();
    const float* bias = in[2]->data<float>();
    const bool per_channel = in[1]->numel() == c, bias_per_channel = in[2]->numel() == c;
    float* y = out[0]->data<float>();
    parallel_for(batch * g, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* s = x + r * n;
        float* d = y + r * n;
        const kernels::ref::Moments st = kernels::ref::moments(s, n, eps_);
        const float m = st.mean, f = st.inv_std;
        const int64_t group = r % g;
        for (int64_t k = 0; k < per_group; ++k) {
          const int64_t ch = group * per_group + k;
          const float sc = scale[per_channel ? ch : group], bi = bias[bias_per_channel ? ch : group];
          for (int64_t i = k * spatial; i < (k + 1) * spatial; ++i) d[i] = (s[i] - m) * f * sc + bi;
        }
      }
    });
  }

  std::string describe() const override { return groups_ ? "fp32 groupnorm" : "fp32 instancenorm"; }

 private:
  int64_t groups(int64_t channels) const { return groups_ ? groups_ : channels; }

  int64_t groups_;
  double eps_;
  std::string prefix_;
};

INT8RT_REGISTER_LAYER("InstanceNormalization", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 3);
  return std::make_unique<GroupNormLayer>(node, 0);
});

INT8RT_REGISTER_LAYER("GroupNormalization", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 3);
  const int64_t groups = node.attrs.get_int("num_groups", 0);
  if (groups < 1) throw InvalidArgument(layer_error_prefix(node) + "num_groups must be >= 1");
  const int64_t stash = node.attrs.get_int("stash_type", 1);
  if (stash != 1) throw unsupported_attr(node, "stash_type", std::to_string(stash));
  return std::make_unique<GroupNormLayer>(node, groups);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
