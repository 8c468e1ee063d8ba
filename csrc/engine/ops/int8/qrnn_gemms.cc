// The int8 GEMMs of the recurrent layers (qrnn_gemms.h).
#include "engine/ops/int8/qrnn_gemms.h"

#include "core/checked_math.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

// Packs one direction's [gate_rows][K] slice of `w` with its float epilogue.
void pack_side(const Tensor& w, int64_t dir, int64_t gate_rows, int64_t K, float s_in, const std::vector<double>& scales,
               const std::string& prefix, std::string& kernel_name, std::unique_ptr<kernels::PackedGemm>& packed,
               kernels::EpilogueStorage& epilogue) {
  kernels::GemmShape shape;
  shape.N = checked_int(gate_rows, prefix + "gate rows", 1);
  shape.K = checked_int(K, prefix + "reduction", 1);
  shape.validate();
  const kernels::GemmKernel& kernel = kernels::choose<kernels::GemmKernel>(shape, OutputType::kFloat32);
  kernel_name = kernel.name();
  packed = kernel.pack(shape, w.i8.data() + dir * gate_rows * K);
  std::vector<float> s(static_cast<size_t>(gate_rows));
  for (int64_t n = 0; n < gate_rows; ++n) s[n] = static_cast<float>(scales[static_cast<size_t>(dir * gate_rows + n)]);
  epilogue = kernels::make_epilogue(s_in, s.data(), gate_rows, nullptr, 0.f, OutputType::kFloat32);
}

}  // namespace

QRnnGemms::QRnnGemms(const Network& net, const Node& node, int64_t dirs, int64_t gate_rows, bool recurrent_allowed)
    : quantizer_(&kernels::choose<kernels::QuantizeS8Kernel>()), gate_rows_(gate_rows) {
  const std::string prefix = layer_error_prefix(node);
  const QRnnAttrs a = QRnnAttrs::from_attrs(node);
  const Tensor& w = constant_input(net, node, 1, "W");
  if (w.dtype != DataType::kInt8 || w.shape.size() != 3 || w.shape[0] != dirs || w.shape[1] != gate_rows) {
    throw InvalidArgument(prefix + "W must be int8 [" + std::to_string(dirs) + ", " + std::to_string(gate_rows) +
                          ", input]");
  }
  input_ = w.shape[2];
  if (a.w_scales.size() != static_cast<size_t>(dirs * gate_rows)) {
    throw InvalidArgument(prefix + "w_scales needs " + std::to_string(dirs * gate_rows) + " values");
  }
  w_.resize(static_cast<size_t>(dirs));
  for (int64_t d = 0; d < dirs; ++d) {
    pack_side(w, d, gate_rows, input_, static_cast<float>(a.x_scale), a.w_scales, prefix, kernel_name_,
              w_[d].packed, w_[d].epilogue);
  }
  if (a.h_scale <= 0.0) return;
  if (!recurrent_allowed) throw InvalidArgument(prefix + "h_scale is set, but this cell's recurrent GEMM is float32");
  const Tensor& r = constant_input(net, node, 2, "R");
  if (r.dtype != DataType::kInt8 || r.shape.size() != 3 || r.shape[0] != dirs || r.shape[1] != gate_rows) {
    throw InvalidArgument(prefix + "R must be int8 [dirs, gate rows, hidden] when h_scale is set");
  }
  if (a.r_scales.size() != static_cast<size_t>(dirs * gate_rows)) {
    throw InvalidArgument(prefix + "r_scales needs " + std::to_string(dirs * gate_rows) + " values");
  }
  hidden_ = r.shape[2];
  h_scale_ = static_cast<float>(a.h_scale);
  r_.resize(static_cast<size_t>(dirs));
  for (int64_t d = 0; d < dirs; ++d) {
    pack_side(r, d, gate_rows, hidden_, h_scale_, a.r_scales, prefix, kernel_name_, r_[d].packed, r_[d].epilogue);
  }
}

void QRnnGemms::project(int64_t dir, int64_t M, const int8_t* x, float* xw) const {
  const Side& s = w_[static_cast<size_t>(dir)];
  s.packed->run(M, x, s.epilogue.epilogue(), xw);
}

void QRnnGemms::add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld, int8_t* hq,
                              float* product) const {
  const Side& s = r_[static_cast<size_t>(dir)];
  quantizer_->quantize(B * hidden_, h, h_scale_, 0, hq);
  s.packed->run(B, hq, s.epilogue.epilogue(), product);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n = 0; n < gate_rows_; ++n) gate[b * ld + n] += product[b * gate_rows_ + n];
  }
}

std::string QRnnGemms::describe() const {
  return kernel_name_ + ": int8 x W'" + (recurrent() ? ", int8 H R'" : ", float32 H R'");
}

}  // namespace engine
}  // namespace int8rt
