// MinMax calibration (TensorRT's MinMaxCalibration): amax = max|x| seen,
// exactly as the histogram recorded it (Histogram::max_abs(), not a bin edge).
// An empty histogram gives 0.
#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {

float amax_minmax(const Histogram& h, const MethodOptions& /*options*/) { return h.max_abs(); }

}  // namespace calib
}  // namespace int8rt
