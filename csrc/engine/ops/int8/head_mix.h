// Talking-heads attention's two mixes over the heads (CaiT, Shazeer et al.
// 2020, "Talking-Heads Attention"), as int8rt.QAttention carries them
// (contracts.h, QAttentionAttrs; lowered in lower_int8_attention.cc): the
// scores of the H heads at each position, a row of H, times a constant
// [H, H] matrix plus a bias before the softmax, and the probabilities
// likewise after it (timm's proj_l and proj_w: Transpose -> MatMul(W) ->
// Add(b) -> Transpose). Each mix is the rule kernels/ref/softmax_f32.h,
// head_mix_loop, states. One home for the attributes, as probs_keys.h is
// for the probabilities' grid: QAttention's own attributes stay as they were
// and a layer without these mixes reads none of them.
#ifndef INT8RT_ENGINE_OPS_INT8_HEAD_MIX_H_
#define INT8RT_ENGINE_OPS_INT8_HEAD_MIX_H_

#include <cstdint>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// One mix: y[o] = sum_h x[h] * w[h][o] + b[o] over `heads` heads.
struct HeadMix {
  int64_t heads = 0;      // 0: no mix
  std::vector<float> w;   // [heads][heads], row major (the MatMul's constant B)
  std::vector<float> b;   // [heads], or empty: no bias
};

struct TalkingHeads {
  static constexpr const char kScoresAttr[] = "scores_head_mix";  // w then b, as floats
  static constexpr const char kProbsAttr[] = "probs_head_mix";
  HeadMix scores, probs;  // before the softmax, after it

  bool active() const { return scores.heads > 0 || probs.heads > 0; }
  int64_t heads() const { return scores.heads > 0 ? scores.heads : probs.heads; }
  void add_to(Attributes& a) const;
  // Throws InvalidArgument (naming the node) on a list that is not H * H or
  // H * H + H finite values, or two mixes over different head counts.
  static TalkingHeads from_attrs(const Node& node);
};

}  // namespace engine
}  // namespace int8rt

#endif  // INT8RT_ENGINE_OPS_INT8_HEAD_MIX_H_
