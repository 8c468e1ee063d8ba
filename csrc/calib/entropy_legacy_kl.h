// The per-candidate divergences of the legacy entropy search (definition:
// entropy_legacy.cc), exposed inside the library for its tests. Internal to
// csrc/calib: result[k] is the smoothed KL of candidate start_bin + k*stride
// (+inf where the smoothing is undefined); empty when there is no candidate.
#pragma once

#include <vector>

#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace detail {

std::vector<double> entropy_legacy_divergences(const Histogram& h, const MethodOptions& options);

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
