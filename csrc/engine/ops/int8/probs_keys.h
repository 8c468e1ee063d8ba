// The grid of attention probabilities at run time (issues 11 / 12,
// RESULTS.md §133.2, §135, and RESULTS_accuracy.md "acc32"): one home for
// the rule that int8rt.QAttention, int8rt.QMatMul (the probabilities' product
// with V) and int8rt.Quantize (the unfused chain's probabilities) apply
// alike, so the fused layer and the unfused chain stay the same bytes.
//
// A softmax row over n keys has its largest probability at least 1/n, so a
// per-tensor threshold T calibrated on rows of n_cal keys (about 1/n_cal
// where attention is near uniform) clips every row over fewer than 1/T keys.
// The calibrated grid is kept for n >= n_cal (the same codes as before at
// the calibrated length and above). Below, the grid's top T(n) follows a
// row whose largest weight stands rho times above the mean of the others:
// its top probability is p(n) = rho / (rho + n - 1), rho read from the
// calibration, T = p(n_cal). That is the 1/n of near-uniform attention
// (DINOv2 with random weights: T * n_cal = 1.3, T(n) ~ T n_cal / n), and it
// saturates at 1 for peaked attention, whose top barely moves with n (all-
// MiniLM-L6: T = 0.87-1.0 at 128 keys; scaling it as 1/n as well coarsened
// the grid past what the calibrator chose and cost 0.001-0.003 of centred
// cosine at 16-64 tokens, RESULTS_accuracy.md "acc32"). With T the top
// (127 - z) * s (s the scale, z the zero point: 127 levels above 0 on the
// symmetric grid, 255 on the unsigned one), the scale s * T(n) / T is
//
//   scale(n) = s * (n_cal - 1) / (T (n_cal - 1) + (n - 1) (1 - T))
//                                         for 0 < n < n_cal and T < 1
//   scale(n) = s                          otherwise (T >= 1: nothing to grow)
//
// (at n = 1 the top is 1: a row of one key is exactly 1);
// computed in double and handed to the kernels as float by each caller, as
// the calibrated scale always was. The attribute probs_calibrated_keys
// (n_cal, the fewest keys of any calibration batch's rows) is absent or 0
// where the lowering did not apply the rule (a static key axis, a build
// from a calibration cache without its sidecar): the grid is then the calibrated one at every length. A Q/DQ export cannot
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
