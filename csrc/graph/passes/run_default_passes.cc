// run_default_passes (passes.h): the pass pipeline in dependency order.
// Q/DQ removal exposes constants (folded weights) and identities; BN folding
// must see a bare Conv (fusing an activation first would put BN after it);
// Pad folding needs the pads folded to constants first; constant scales
// and biases fold after BatchNorm (both need a bare producer), and BatchNorm
// once more after them: paddle2onnx writes ConvTranspose -> Add(bias) ->
// BatchNormalization, whose BN meets a bare producer only once the Add is in;
// decomposed-LayerNorm fusion must see its ReduceMeans before global_mean_as_pool
// turns a mean over the last axis of [N, T, C] into a GlobalAveragePool;
// the input affine fold (Mul / Add -> MatMul) after the scale/bias folds, before any
// epilogue fusion gives the MatMul int8rt_* attributes;
// GELU fusion needs the scalar constants folded; residual fusion must precede activation fusion (Conv -> Add -> Relu)
// and Add -> LayerNormalization fusion (a Conv's shortcut Add stays the Conv's);
// horizontal fusion compares the already-fused activation attributes;
// subgraphs (If / Loop / Scan) get the same pipeline, each on its own.
#include "graph/passes/passes.h"

namespace int8rt {

void run_default_passes(Network& net, const PassOptions& options, PassReport* report) {
  if (options.remove_identity) remove_identity(net, report);
  if (options.remove_qdq_pairs) remove_qdq_pairs(net, report, options.keep_activation_qdq);
  if (options.fold_constants) fold_constants(net, report);
  if (options.gather_before_cast) gather_before_cast(net, report);
  if (options.remove_identity) remove_identity(net, report);
  if (options.merge_duplicates) merge_duplicates(net, report);
  if (options.merge_data_movement) merge_data_movement(net, report);
  if (options.fold_pad) fold_pad(net, report);
  if (options.fuse_layernorm) fuse_layernorm(net, report);
  if (options.global_mean_as_pool) global_mean_as_pool(net, report);
  if (options.fold_batchnorm) fold_batchnorm(net, report);
  if (options.fold_scale_bias) fold_scale_bias(net, report);
  if (options.fold_batchnorm && options.fold_scale_bias) {
    fold_batchnorm(net, report);
    fold_scale_bias(net, report);
  }
  if (options.fold_input_affine) fold_input_affine(net, report);
  if (options.batchnorm_as_depthwise) batchnorm_as_depthwise(net, report);
  if (options.fuse_gelu) fuse_gelu(net, report);
  if (options.fuse_residual) fuse_residual(net, report);
  if (options.fuse_add_layernorm) fuse_add_layernorm(net, report);
  if (options.fuse_conv_integer_float) fuse_conv_integer_float(net, report);
  if (options.fuse_activation) fuse_activation(net, report, options.fuse_leaky_relu);
  if (options.fuse_horizontal) fuse_horizontal(net, report, options.fuse_horizontal_split);
  optimize_subgraphs(net, options, report);
  net.compact();
  net.validate();
}

}  // namespace int8rt
