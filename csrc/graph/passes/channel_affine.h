// Folding a per-output-channel affine map y = f[c] * z + g(c, b[c]) into the
// Conv / ConvTranspose / Gemm that computes z (shared by fold_batchnorm and
// fold_scale_bias, passes.h). The weights of output channel c are multiplied
// by f[c] and the bias becomes new_bias(c, b[c]) (b = 0 where the producer
// has none; Gemm's b is beta_attr * C), both evaluated in double from the
// float32 parameters and rounded to float32 once.
//
// Output channel of a weight: Conv W[M][C/g][k..] -> dim 0; ConvTranspose
// W[C][M/g][k..] -> (i / (C/g)) * (M/g) + j for W[i][j]; Gemm B -> row
// (transB=1) or column (transB=0).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace passes {

// The number of output channels of `producer` when an affine map can be
// folded into it: a Conv, ConvTranspose or Gemm with float32 constant
// weights, a foldable bias, one output, and no int8rt_* fusion yet (the map
// would apply after it). 0 otherwise.
int64_t affine_foldable_channels(const Network& net, int producer);

// Folds the map into `producer` (affine_foldable_channels(net, producer) ==
// f.size()), which then writes tensor `out` (the map's output; the map's node
// is killed by take_over_output). `note` is the report line.
void fold_channel_affine(Network& net, int producer, const std::vector<double>& f,
                         const std::function<double(int64_t, double)>& new_bias, int out,
                         const std::string& note, PassReport* report);

}  // namespace passes
}  // namespace int8rt
