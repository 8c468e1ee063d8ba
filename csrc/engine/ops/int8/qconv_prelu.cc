// int8rt.QConv whose epilogue ends in a per-channel PReLU (QConvAttrs::slopes,
// kernels::Epilogue::slope): each output is
//   q = rne(clamp(prelu(acc * scale[k] + bias[k] (+ residual), slope[k]) + z))
// (ref::requantize, ref::finish_output), so the conv's pre-activation is
// never rounded to int8: only the PReLU's output is (lower_int8_linear.cc
// fuses Conv -> PRelu). z is the output's zero point, 0 unless
// lower_int8_zero_points.cc holds the output on a lower-bounded grid; the
// bias is centred (qconv_params: the input's zero point folded in, not the
// output's), since PReLU does not commute with a shift, and z is added
// after the slope. The int8 epilogue (kernels::Epilogue) has no such step,
// so a layer with z != 0 runs the float32 form below on every tier, the
// reference included.
// With z = 0, a kernel whose packed conv applies the slope (applies_slope:
// the reference) gets the int8 epilogue; any other runs the same conv with a
// float32 output, its epilogue's slope and clamp left out, into a scratch
// buffer that ref::finish_output turns into the int8 bytes: the reference's
// arithmetic on the same float t, so every tier gives the reference's bytes.
// Not a QConvStage: the fused runners (inverted_residual.h) drive a stage's
// kernel with its int8 epilogue and leave this layer alone. A static input
// size only (the lowering fuses no other).
#include "engine/ops/int8/qconv_prelu.h"

#include <limits>
#include <vector>

#include "engine/ops/element_chunks.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qconv_stage.h"
#include "engine/ops/int8/qlinear_params.h"
#include "engine/ops/int8/u8_codes.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

// One pixel's K outputs from the kernel's float t (ref::finish_output, ep
// with a slope), then the output's codes. Values, restrict pointers and no
// branch in the loop: the int8 stores (char-typed, they may alias anything)
// force no reloads, and the loop vectorizes.
void finish_row(const float* __restrict t, const float* __restrict slope, float offset, float lo, float hi,
                kernels::Codes codes, int64_t K, int8_t* __restrict y) {
  for (int64_t k = 0; k < K; ++k) y[k] = kernels::ref::finish_output(t[k], slope[k], offset, lo, hi);
  if (codes != kernels::Codes::kS8) {
    for (int64_t k = 0; k < K; ++k) y[k] = kernels::code_byte(y[k], codes);
  }
}

class QConvPreluLayer : public Layer {
 public:
  QConvPreluLayer(const Network& net, const Node& node) : name_(node.name), p_(qconv_params(net, node)) {
    if (p_.dynamic_size) throw NotSupported(layer_error_prefix(node) + "a PReLU epilogue needs a static input size");
    p_.shape.input_codes = int8_tensor_codes(net, node.inputs[0]);
    p_.shape.output_codes = int8_tensor_codes(net, node.outputs.empty() ? -1 : node.outputs[0]);
    if (p_.has_residual) p_.shape.residual_codes = int8_tensor_codes(net, node.inputs[3]);
    const kernels::ConvKernel* kernel = &kernels::choose<kernels::ConvKernel>(p_.shape, OutputType::kInt8);
    packed_ = kernel->pack(p_.shape, p_.weights);
    z_ = static_cast<float>(QConvAttrs::from_attrs(node).out_zero_point);  // qconv_params checked its range
    if (!packed_->applies_slope() || z_ != 0.f) {
      // The float32 form: the same shape, its output plain float (no codes).
      kernels::ConvShape f = p_.shape;
      f.output_codes = kernels::Codes::kS8;
      kernel = &kernels::choose<kernels::ConvKernel>(f, OutputType::kFloat32);
      packed_ = kernel->pack(f, p_.weights);
      finished_ = true;
    }
    kernel_name_ = kernel->name();
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const kernels::ConvShape& c = p_.shape;
    const Shape& s = in[0]->shape();
    if (s.size() != 4 || s[1] != c.H || s[2] != c.W || s[3] != c.C) {
      throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    }
    return {{DataType::kInt8, qconv_output_shape(name_, c, p_.has_residual, in)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int8_t* residual = p_.has_residual ? in[3]->data<int8_t>() : nullptr;
    const int batch = static_cast<int>(in[0]->shape()[0]);
    const kernels::Epilogue ep = p_.requant.epilogue(residual, p_.residual_scale);
    int8_t* y = out[0]->data<int8_t>();
    if (!finished_) {
      packed_->run(batch, in[0]->data<int8_t>(), ep, y);
      return;
    }
    // The calling thread's scratch, grown once: a run of the same shapes allocates nothing.
    thread_local std::vector<float> t;
    const int64_t K = p_.shape.K, pixels = out[0]->numel() / K;
    t.resize(static_cast<size_t>(pixels * K));
    kernels::Epilogue f = ep;
    f.slope = nullptr;
    f.out_type = OutputType::kFloat32;
    f.clamp_lo = -std::numeric_limits<float>::infinity();
    f.clamp_hi = std::numeric_limits<float>::infinity();
    packed_->run(batch, in[0]->data<int8_t>(), f, t.data());
    const float* tv = t.data();
    const kernels::Codes codes = p_.shape.output_codes;
    for_element_chunks(pixels, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) finish_row(tv + p * K, ep.slope, z_, ep.clamp_lo, ep.clamp_hi, codes, K, y + p * K);
    });
  }
  std::string describe() const override {
    return kernel_name_ + (finished_ ? " + PReLU (float32 output, finished per value)" : " + PReLU (in the epilogue)");
  }

 private:
  std::string name_;
  QConvParams p_;  // weights point into the network, which outlives the layer
  std::string kernel_name_;
  std::unique_ptr<kernels::PackedConv> packed_;
  bool finished_ = false;  // the kernel writes float32 t; run() applies the slope, zero point, clamp and rounding
  float z_ = 0.f;          // the output's zero point, added after the slope
};

}  // namespace

std::unique_ptr<Layer> make_qconv_prelu_layer(const Network& net, const Node& node) {
  return std::make_unique<QConvPreluLayer>(net, node);
}

}  // namespace engine
}  // namespace int8rt
