// Reading int8rt.QAdd / int8rt.QConcat nodes (qeltwise_params.h).
#include "engine/ops/int8/qeltwise_params.h"

#include "engine/ops/int8/contracts.h"

namespace int8rt {
namespace engine {

kernels::AddParams qadd_params(const Node& node) {
  const QAddAttrs a = QAddAttrs::from_attrs(node);
  return kernels::make_add_params(static_cast<float>(a.a_scale), static_cast<float>(a.b_scale),
                                  static_cast<float>(a.out_scale), a.relu, static_cast<int32_t>(a.a_zero_point),
                                  static_cast<int32_t>(a.b_zero_point), static_cast<int32_t>(a.out_zero_point));
}

std::vector<float> qconcat_multipliers(const Node& node) {
  const QConcatAttrs a = QConcatAttrs::from_attrs(node);
  const float s_out = static_cast<float>(a.out_scale);
  std::vector<float> out;
  for (double s : a.in_scales) out.push_back(kernels::rescale_multiplier(static_cast<float>(s), s_out));
  return out;
}

}  // namespace engine
}  // namespace int8rt
