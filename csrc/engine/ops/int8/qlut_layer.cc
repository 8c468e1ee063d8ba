// int8rt.QLut: an element-wise float chain between int8 tensors as a
// 256-entry table (engine/lut_region.h): y[i] = table[x[i] + 128], any shape
// and layout (element-wise). Inputs: x int8, table int8 [256] (constant).
// The kernel is the lookup_s8 family's choice (kernels/eltwise_s8.h). An
// input zero point (QLutAttrs::in_zero_point: x clipped below the table's
// flat part, lower_int8_zero_points.cc) is in the table already, so the
// lookup is the same.
// Per-channel form (contracts.h QLutAttrs, lower_int8_channel_grids.cc):
// table int8 [C, 256], x's innermost axis C (NHWC), y[p][c] =
// table[c][x[p][c] + 128] by the lookup_channels family's choice; it lends
// no QLutStage (a fused runner's rows need not start at a pixel).
#include "engine/layer.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qlut_stage.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {
namespace {

class QLutLayer : public QLutStage {
 public:
  QLutLayer(const Network& net, const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::LookupS8Kernel>()) {
    const Tensor& t = constant_input(net, node, 1, "table");
    if (t.dtype != DataType::kInt8 || t.i8.size() != 256) {
      throw InvalidArgument(layer_error_prefix(node) + "table must be 256 int8 values");
    }
    table_ = t.i8;
    ops_ = QLutAttrs::from_attrs(node).ops;
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': QLut needs an int8 input");
    return {{DataType::kInt8, in[0]->shape()}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    for_element_chunks(in[0]->numel(), [&](int64_t b, int64_t e) { k_->lookup(e - b, x + b, table_.data(), y + b); });
  }
  void lookup(int64_t n, const int8_t* x, int8_t* y) const override { k_->lookup(n, x, table_.data(), y); }
  std::string describe() const override { return std::string(k_->name()) + " lookup (" + ops_ + ")"; }

 private:
  std::string name_;
  const kernels::LookupS8Kernel* k_;
  std::vector<int8_t> table_;
  std::string ops_;
};

class QLutChannelsLayer : public Layer {
 public:
  QLutChannelsLayer(const Network& net, const Node& node, int64_t channels)
      : name_(node.name), channels_(channels), k_(&kernels::choose<kernels::LookupChannelsS8Kernel>()) {
    const Tensor& t = constant_input(net, node, 1, "table");
    if (t.dtype != DataType::kInt8 || t.shape != std::vector<int64_t>{channels, 256}) {
      throw InvalidArgument(layer_error_prefix(node) + "per-channel table must be int8 [" + std::to_string(channels) +
                            ", 256] (one 256-entry table per channel of in_scales)");
    }
    tables_ = t.i8;
    ops_ = QLutAttrs::from_attrs(node).ops;
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': QLut needs an int8 input");
    const Shape& s = in[0]->shape();
    if (s.empty() || s.back() != channels_) {
      throw InvalidArgument("node '" + name_ + "': per-channel QLut needs an input whose last axis has " +
                            std::to_string(channels_) + " channels");
    }
    return {{DataType::kInt8, s}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    k_->lookup_channels(in[0]->numel() / channels_, channels_, in[0]->data<int8_t>(), tables_.data(),
                        out[0]->data<int8_t>());
  }
  std::string describe() const override { return std::string(k_->name()) + " per-channel lookup (" + ops_ + ")"; }

 private:
  std::string name_;
  int64_t channels_;
  const kernels::LookupChannelsS8Kernel* k_;
  std::vector<int8_t> tables_;
  std::string ops_;
};

INT8RT_REGISTER_LAYER(QLutAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  const QLutAttrs a = QLutAttrs::from_attrs(node);
  if (!a.in_scales.empty()) return std::make_unique<QLutChannelsLayer>(net, node, static_cast<int64_t>(a.in_scales.size()));
  return std::make_unique<QLutLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
