// The grid of attention probabilities at run time (issues 11 / 12,
// RESULTS.md §133.2, §135, and RESULTS_accuracy.md "acc32"): one home for
// the rule that int8rt.QAttention, int8rt.QMatMul (the probabilities' product
// with V) and int8rt.Quantize (the unfused chain's probabilities) apply
// alike, so the fused layer and the unfused chain stay the same bytes.
//
// A softmax row over n keys has its largest probability at least 1/n, so a
// per-tensor threshold t calibrated on rows of n_cal keys (about 1/n_cal
// where attention is near uniform) clips every row over fewer than 1/t keys.
// The calibrated grid is kept for n >= n_cal (the same codes as before at
// the calibrated length and above); for n < n_cal its top T = (127 - z) * s
// (s the scale, z the zero point: 127 levels above 0 on the symmetric grid,
// 255 on the unsigned one) grows as n_cal / n, the 1/n of near-uniform
// attention, but not past max(T, 1): a probability is at most 1, so the
// grid never needs to reach higher, and a calibrated top above 1 is kept.
//
//   scale(n) = s * min(n_cal / n, max(1, 1 / T))   for 0 < n < n_cal
//   scale(n) = s                                     otherwise
//
// computed in double and handed to the kernels as float by each caller, as
// the calibrated scale always was. The attribute probs_calibrated_keys
// (n_cal, the fewest keys of any calibration batch's rows) is absent or 0
// where the lowering did not apply the rule (a static key axis, a build
// from a calibration cache alone or a sharded calibration's driver): the
// grid is then the calibrated one at every length. A Q/DQ export cannot
// express a scale that depends on the row length: where it quantizes such
// probabilities (the unfused chain's) it writes the calibrated scale and
// says so (python/int8rt/qdq_export.py); a fused layer's it leaves float.
#ifndef INT8RT_ENGINE_OPS_INT8_PROBS_KEYS_H_
#define INT8RT_ENGINE_OPS_INT8_PROBS_KEYS_H_

#include <cstdint>
#include <string>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct ProbsKeys {
  static constexpr const char kAttr[] = "probs_calibrated_keys";
  int64_t calibrated = 0;  // n_cal; 0: the calibrated grid at every length

  bool active() const { return calibrated > 0; }
  // The scale of the probabilities' grid over rows of `keys` keys, the
  // calibrated grid being (scale, zero_point).
  double scale_at(double scale, int64_t zero_point, int64_t keys) const;
  // "; probabilities' grid scaled below N keys" for describe(), or "".
  std::string describe() const;

  void add_to(Attributes& a) const;
  // Throws InvalidArgument (naming the node) on a negative count.
  static ProbsKeys from_attrs(const Node& node);
};

}  // namespace engine
}  // namespace int8rt

#endif  // INT8RT_ENGINE_OPS_INT8_PROBS_KEYS_H_
