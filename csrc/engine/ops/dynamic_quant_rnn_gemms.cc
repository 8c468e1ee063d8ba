// dynamic_quant_rnn_gemms.h: DynamicQuantizeLSTM's integer GEMMs.
#include "engine/ops/dynamic_quant_rnn_gemms.h"

#include "engine/layer.h"
#include "engine/ops/dynamic_quantize.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

std::vector<float> per_direction(const std::vector<float>& v, int64_t dirs, int64_t rows, int64_t dir,
                                 const std::string& prefix, const char* what) {
  if (static_cast<int64_t>(v.size()) == dirs) return {v[dir]};
  if (static_cast<int64_t>(v.size()) == dirs * rows) return std::vector<float>(v.begin() + dir * rows, v.begin() + (dir + 1) * rows);
  throw InvalidArgument(prefix + what + " must have " + std::to_string(dirs) + " or " + std::to_string(dirs * rows) +
                        " elements, got " + std::to_string(v.size()));
}

}  // namespace

DynamicQuantRnnGemms::DynamicQuantRnnGemms(const Network& net, const Node& node, int64_t dirs)
    : quantizer_(&kernels::choose<kernels::DynamicQuantizeU8Kernel>()) {
  const std::string prefix = layer_error_prefix(node);
  for (int side = 0; side < 2; ++side) {
    const Tensor& w = constant_input(net, node, 1 + side, side == 0 ? "W" : "R");
    if (w.shape.size() != 3 || w.shape[0] != dirs || (w.dtype != DataType::kInt8 && w.dtype != DataType::kInt64)) {
      throw InvalidArgument(prefix + (side == 0 ? "W" : "R") + " must be int8 or uint8 [" + std::to_string(dirs) +
                            ", K, 4 * hidden], got " + ints_str(w.shape));
    }
    const int64_t K = w.shape[1], N = w.shape[2];
    if (side == 0) input_ = K, rows_ = N;
    else hidden_ = K;
    if (N != rows_) throw InvalidArgument(prefix + "W and R have different gate rows");
    std::vector<float> scale;
    if (!constant_floats(net, node, 8 + 2 * side, side == 0 ? "W_scale" : "R_scale", &scale)) {
      throw InvalidArgument(prefix + "needs " + (side == 0 ? "W_scale" : "R_scale"));
    }
    const bool has_zp = has_input(node, 9 + 2 * side);
    const bool u8 = w.dtype == DataType::kInt64;
    std::vector<int32_t> zero = has_zp ? zero_point_values(constant_input(net, node, 9 + 2 * side, "zero point"), u8 ? -128 : 0)
                                       : std::vector<int32_t>(1, u8 ? -128 : 0);
    std::vector<int8_t> s8(static_cast<size_t>(dirs * K * N));
    tensor_to_s8(w, s8.data());
    std::vector<Side>& sides = side == 0 ? w_ : r_;
    for (int64_t d = 0; d < dirs; ++d) {
      Side s;
      s.product = std::make_unique<IntegerProduct>(K, N, s8.data() + d * K * N, N);
      s.scale = per_direction(scale, dirs, N, d, prefix, "a weight scale");
      std::vector<float> z(zero.begin(), zero.end());
      const std::vector<float> zd = per_direction(z, dirs, N, d, prefix, "a weight zero point");
      s.zero.assign(zd.begin(), zd.end());
      sides.push_back(std::move(s));
    }
  }
  if (hidden_ * 4 != rows_) throw InvalidArgument(prefix + "R must be [dirs, hidden, 4 * hidden]");
}

void DynamicQuantRnnGemms::apply(const Side& s, int64_t M, int64_t K, const float* x, float* out, int64_t ld,
                                 bool accumulate) const {
  std::vector<uint8_t> q(static_cast<size_t>(M * K));
  const DynamicQuantParams p = dynamic_quant_params(*quantizer_, x, M * K);
  dynamic_quantize(*quantizer_, x, M * K, p, q.data());
  std::vector<float> mult(static_cast<size_t>(rows_));
  for (int64_t n = 0; n < rows_; ++n) mult[n] = p.scale * s.scale[s.scale.size() == 1 ? 0 : n];
  IntegerProduct::FloatOutput to_float;
  to_float.scale = mult.data();
  if (!accumulate) {  // the kernel's epilogue writes float(acc) * mult straight into out
    s.product->run(M, q.data(), K, {static_cast<int32_t>(p.zero_point)}, s.zero, reinterpret_cast<int32_t*>(out), ld,
                   &to_float);
    return;
  }
  std::vector<float> v(static_cast<size_t>(M * rows_));
  s.product->run(M, q.data(), K, {static_cast<int32_t>(p.zero_point)}, s.zero, reinterpret_cast<int32_t*>(v.data()),
                 rows_, &to_float);
  for (int64_t m = 0; m < M; ++m) {
    float* o = out + m * ld;
    const float* vm = v.data() + m * rows_;
    for (int64_t n = 0; n < rows_; ++n) o[n] = o[n] + vm[n];
  }
}

void DynamicQuantRnnGemms::project(int64_t dir, int64_t M, const float* x, float* xw) const {
  apply(w_[dir], M, input_, x, xw, rows_, false);
}

void DynamicQuantRnnGemms::add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld) const {
  apply(r_[dir], B, hidden_, h, gate, ld, true);
}

std::string DynamicQuantRnnGemms::describe() const {
  return std::string("dynamic u8 x s8 (") + w_[0].product->kernel_name() + ")";
}

}  // namespace engine
}  // namespace int8rt
