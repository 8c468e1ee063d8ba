// Names of the calibration enums as they cross into Python ("extend",
// "power_of_two", "two_pass"; "error", "skip") and MethodOptions from keyword
// arguments: one definition for every binding file that takes them.
#pragma once

#include <cstdint>
#include <string>

#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace python {

inline calib::RangePolicy parse_policy(const std::string& s) {
  if (s == "extend") return calib::RangePolicy::kExtend;
  if (s == "power_of_two") return calib::RangePolicy::kPowerOfTwo;
  if (s == "two_pass") return calib::RangePolicy::kTwoPass;
  throw InvalidArgument("unknown range policy '" + s + "' (accepted: extend, power_of_two, two_pass)");
}

inline std::string policy_name(calib::RangePolicy p) {
  switch (p) {
    case calib::RangePolicy::kExtend: return "extend";
    case calib::RangePolicy::kPowerOfTwo: return "power_of_two";
    case calib::RangePolicy::kTwoPass: return "two_pass";
  }
  return "extend";
}

inline calib::NonFinitePolicy parse_nonfinite(const std::string& s) {
  if (s == "error") return calib::NonFinitePolicy::kError;
  if (s == "skip") return calib::NonFinitePolicy::kSkip;
  throw InvalidArgument("unknown non-finite policy '" + s + "' (accepted: error, skip)");
}

inline std::string nonfinite_name(calib::NonFinitePolicy p) {
  return p == calib::NonFinitePolicy::kSkip ? "skip" : "error";
}

inline calib::MethodOptions method_options(int num_bits, bool is_unsigned, int64_t start_bin, int64_t stride,
                                           double percentile, bool reference_order) {
  return calib::MethodOptions{num_bits, is_unsigned, start_bin, stride, percentile, reference_order};
}

}  // namespace python
}  // namespace int8rt
