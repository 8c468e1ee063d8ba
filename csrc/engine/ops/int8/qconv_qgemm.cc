// int8rt.QConv and int8rt.QGemm: int8 convolution / fully connected layers.
// At creation the kernel registry picks the best kernel for this CPU (capped
// by INT8RT_MAX_ISA), which packs the canonical int8 weights; the epilogue
// (per-channel multipliers, bias, activation clamp) is built once with
// kernels::make_requant, the single definition of requantization.
#include <cmath>

#include "engine/layer.h"
#include "engine/ops/int8/window_attrs.h"
#include "int8rt/error.h"
#include "kernels/registry.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

kernels::Requant requant_from_attrs(const Network& net, const Node& node, int64_t channels, OutputType out) {
  std::vector<double> w_scales_d = node.attrs.get_floats("w_scales", {});
  if (static_cast<int64_t>(w_scales_d.size()) != channels) {
    throw InvalidArgument(layer_error_prefix(node) + "needs one weight scale per output channel");
  }
  std::vector<float> w_scales(w_scales_d.begin(), w_scales_d.end());
  const float* bias = nullptr;
  if (has_input(node, 2)) {
    const Tensor& b = constant_input(net, node, 2, "bias");
    if (static_cast<int64_t>(b.f32.size()) != channels) {
      throw InvalidArgument(layer_error_prefix(node) + "bias needs one value per output channel");
    }
    bias = b.f32.data();
  }
  std::string act = node.attrs.get_string("act", "none");
  kernels::Activation kind = kernels::Activation::kNone;
  float lo = static_cast<float>(node.attrs.get_float("act_min", -INFINITY));
  float hi = static_cast<float>(node.attrs.get_float("act_max", INFINITY));
  if (act == "relu") {
    kind = kernels::Activation::kRelu;
  } else if (act == "clip") {
    kind = kernels::Activation::kClip;
  } else if (act != "none") {
    throw NotSupported(layer_error_prefix(node) + "activation '" + act + "' has no int8 epilogue");
  }
  float s_in = static_cast<float>(node.attrs.get_float("in_scale", 0.0));
  float s_out = static_cast<float>(node.attrs.get_float("out_scale", 0.0));
  return kernels::make_requant(s_in, w_scales.data(), channels, bias, s_out, out, kind, lo, hi);
}

class QConvLayer : public Layer {
 public:
  QConvLayer(const Network& net, const Node& node) : name_(node.name) {
    const Tensor& w = constant_input(net, node, 1, "weights");
    if (w.dtype != DataType::kInt8 || w.shape.size() != 4) {
      throw InvalidArgument(layer_error_prefix(node) + "weights must be int8 OIHW");
    }
    const Tensor& x = net.tensor(node.inputs[0]);
    if (x.shape.size() != 4) throw InvalidArgument(layer_error_prefix(node) + "input must be NHWC rank 4");
    read_window_attrs(node, {w.shape[2], w.shape[3]}, shape_);
    auto dl = node.attrs.get_ints("dilations", {1, 1});
    if (dl.size() != 2) throw InvalidArgument(layer_error_prefix(node) + "dilations need 2 values");
    shape_.H = static_cast<int>(x.shape[1]);
    shape_.W = static_cast<int>(x.shape[2]);
    shape_.C = static_cast<int>(x.shape[3]);
    shape_.K = static_cast<int>(w.shape[0]);
    shape_.dilation_h = static_cast<int>(dl[0]);
    shape_.dilation_w = static_cast<int>(dl[1]);
    shape_.groups = static_cast<int>(node.attrs.get_int("group", 1));
    try {
      shape_.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(layer_error_prefix(node) + e.what());
    }
    // The kernels read K * C/groups * R * S weights: the weight tensor must
    // hold exactly that (an engine file with a changed attribute otherwise
    // makes packing read past the weights).
    const Shape oihw = {shape_.K, shape_.c_per_group(), shape_.R, shape_.S};
    if (w.shape != oihw) {
      throw InvalidArgument(layer_error_prefix(node) + "weights of shape " + shape_str(w.shape) +
                            " do not match K, C/group and kernel_shape " + shape_str(oihw));
    }
    requant_ = requant_from_attrs(net, node, shape_.K, OutputType::kInt8);
    if (has_input(node, 3)) {  // fused residual: s_res / s_out, added before the clamp
      float s_res = static_cast<float>(node.attrs.get_float("residual_scale", 0.0));
      float s_out = static_cast<float>(node.attrs.get_float("out_scale", 0.0));
      if (!(s_res > 0.f)) throw InvalidArgument(layer_error_prefix(node) + "residual_scale must be > 0");
      has_residual_ = true;
      residual_scale_ = kernels::residual_multiplier(s_res, s_out);
    }
    const kernels::ConvKernel& kernel = kernels::choose_conv(shape_, OutputType::kInt8);
    kernel_name_ = kernel.name();
    packed_ = kernel.pack(shape_, w.i8.data());
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4 || s[1] != shape_.H || s[2] != shape_.W || s[3] != shape_.C) {
      throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    }
    Shape y = {s[0], shape_.out_h(), shape_.out_w(), shape_.K};
    if (has_residual_ && (in.size() < 4 || !in[3] || in[3]->dtype() != DataType::kInt8 || in[3]->shape() != y)) {
      throw InvalidArgument("node '" + name_ + "': residual must be int8 of the output's shape " + shape_str(y));
    }
    return {{DataType::kInt8, y}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int8_t* residual = has_residual_ ? in[3]->data<int8_t>() : nullptr;
    packed_->run(static_cast<int>(in[0]->shape()[0]), in[0]->data<int8_t>(),
                 requant_.epilogue(residual, residual_scale_), out[0]->data<int8_t>());
  }

  std::string describe() const override { return kernel_name_; }

 private:
  std::string name_;
  kernels::ConvShape shape_;
  kernels::Requant requant_;
  bool has_residual_ = false;
  float residual_scale_ = 0.f;
  std::string kernel_name_;
  std::unique_ptr<kernels::PackedConv> packed_;
};

class QGemmLayer : public Layer {
 public:
  QGemmLayer(const Network& net, const Node& node) : name_(node.name) {
    const Tensor& w = constant_input(net, node, 1, "weights");
    if (w.dtype != DataType::kInt8 || w.shape.size() != 2) {
      throw InvalidArgument(layer_error_prefix(node) + "weights must be int8 [N][K]");
    }
    shape_.N = static_cast<int>(w.shape[0]);
    shape_.K = static_cast<int>(w.shape[1]);
    shape_.validate();
    out_ = node.attrs.get_float("out_scale", 0.0) > 0.0 ? OutputType::kInt8 : OutputType::kFloat32;
    requant_ = requant_from_attrs(net, node, shape_.N, out_);
    const kernels::GemmKernel& kernel = kernels::choose_gemm(shape_, out_);
    kernel_name_ = kernel.name();
    packed_ = kernel.pack(shape_, w.i8.data());
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Shape s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() < 2 || s.back() != shape_.K) {
      throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    }
    s.back() = shape_.N;
    return {{out_ == OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int64_t m = in[0]->numel() / shape_.K;
    void* y = out_ == OutputType::kInt8 ? static_cast<void*>(out[0]->data<int8_t>()) : static_cast<void*>(out[0]->data<float>());
    packed_->run(m, in[0]->data<int8_t>(), requant_.epilogue(), y);
  }

  std::string describe() const override { return kernel_name_; }

 private:
  std::string name_;
  kernels::GemmShape shape_;
  OutputType out_;
  kernels::Requant requant_;
  std::string kernel_name_;
  std::unique_ptr<kernels::PackedGemm> packed_;
};

INT8RT_REGISTER_LAYER("int8rt.QConv", [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<QConvLayer>(net, node);
});
INT8RT_REGISTER_LAYER("int8rt.QGemm", [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<QGemmLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
