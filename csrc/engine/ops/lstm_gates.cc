// lstm_gates.h: the common LSTM cell on the unary_f32 kernels.
#include "engine/ops/lstm_gates.h"

namespace int8rt {
namespace engine {

using kernels::ref::UnaryF32;

LstmGates::LstmGates() : unary_(&kernels::choose<kernels::UnaryF32Kernel>()) {}

void LstmGates::apply(int64_t H, float* g, float* c, float* h) const {
  unary_->apply(UnaryF32::kSigmoid, 3 * H, g, g);         // i, o, f
  unary_->apply(UnaryF32::kTanh, H, g + 3 * H, g + 3 * H);  // cand
  const float* i = g;
  const float* o = g + H;
  const float* f = g + 2 * H;
  float* cand = g + 3 * H;
  for (int64_t k = 0; k < H; ++k) c[k] = f[k] * c[k] + i[k] * cand[k];
  unary_->apply(UnaryF32::kTanh, H, c, cand);  // tanh(C') where cand was
  for (int64_t k = 0; k < H; ++k) h[k] = o[k] * cand[k];
}

}  // namespace engine
}  // namespace int8rt
