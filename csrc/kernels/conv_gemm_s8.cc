// The problem descriptions of the conv_s8 / gemm_s8 families (conv_gemm_s8.h),
// as the dispatch log and the registry's errors print them, and the default
// GemmKernel::pack_kn (transpose, then pack).
#include "kernels/conv_gemm_s8.h"

#include <sstream>
#include <vector>

namespace int8rt {
namespace kernels {

std::string describe_conv(const ConvShape& s, OutputType out) {
  std::ostringstream o;
  o << "C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K << " R=" << s.R
    << " S=" << s.S << " stride=" << s.stride_h << "x" << s.stride_w << " pads=" << s.pad_top
    << "," << s.pad_left << "," << s.pad_bottom << "," << s.pad_right
    << " dilation=" << s.dilation_h << "x" << s.dilation_w << " groups=" << s.groups;
  if (s.pad_value != 0) o << " pad_value=" << int{s.pad_value};
  if (s.nonneg_input) o << " input>=0";
  if (s.input_codes == Codes::kU8) o << " input=u8";
  if (s.output_codes == Codes::kU8) o << " output=u8";
  if (s.residual_codes == Codes::kU8) o << " residual=u8";
  o << " out=" << output_type_name(out);
  return o.str();
}

std::string describe_gemm(const GemmShape& s, OutputType out) {
  return "N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " out=" + output_type_name(out);
}

std::unique_ptr<PackedGemm> GemmKernel::pack_kn(const GemmShape& shape, const int8_t* weights_kn) const {
  shape.validate();
  std::vector<int8_t> nk(static_cast<size_t>(shape.N) * static_cast<size_t>(shape.K));
  for (int64_t k = 0; k < shape.K; ++k) {
    for (int64_t n = 0; n < shape.N; ++n) nk[static_cast<size_t>(n * shape.K + k)] = weights_kn[k * shape.N + n];
  }
  return pack(shape, nk.data());
}

}  // namespace kernels
}  // namespace int8rt
