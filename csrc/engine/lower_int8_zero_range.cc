// Tensors calibrated to exactly 0: int8 at a nominal scale, with a warning
// (the rule and its sources: lower_int8_zero_range.h).
#include "engine/lower_int8_zero_range.h"

#include <cstdio>

namespace int8rt {
namespace engine {

std::vector<std::string> hold_zero_ranges(std::map<std::string, float>* scales, const std::set<std::string>& inputs) {
  std::vector<std::string> warnings;
  size_t zero = 0;
  std::string zero_input;
  for (const auto& kv : *scales) {
    if (kv.second != 0.f) continue;
    ++zero;
    if (zero_input.empty() && inputs.count(kv.first)) zero_input = kv.first;
  }
  if (!zero_input.empty()) {
    warnings.push_back("warning: network input '" + zero_input + "' is calibrated to exactly 0 (the calibration " +
                       "data is all zeros there): the " + std::to_string(zero) + " tensor(s) calibrated to exactly " +
                       "0 keep no int8 scale, and the layers reading or writing them float32");
    return warnings;
  }
  const float nominal = kZeroRangeThreshold / 127.f;
  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%g", static_cast<double>(kZeroRangeThreshold));
  for (auto& kv : *scales) {
    if (kv.second != 0.f) continue;
    kv.second = nominal;
    warnings.push_back("warning: tensor '" + kv.first + "' calibrated to exactly 0 (every calibration value is 0): " +
                       "int8 at the nominal threshold " + threshold + " (scale " + threshold +
                       " / 127, NNCF's zero-range floor) so its writer and readers stay int8; 0 stays exactly 0, " +
                       "a value calibration never saw saturates at +-" + threshold);
  }
  return warnings;
}

}  // namespace engine
}  // namespace int8rt
