// BF16 layers: which float layers may run in BF16, how a node says it does,
// and how the builder marks them (issue 13, "BF16 layers"; TensorRT's
// per-layer precision and BuilderFlag::kBF16).
//
// A node runs in BF16 when it carries the attribute int8rt_precision="bf16"
// (any other value is refused when the layer is created). The attribute is
// an ordinary node attribute, so engine files keep it. Layers that honour it,
// each on the gemm_bf16 kernel family (kernels/gemm_bf16.h) with its weights
// converted to BF16 and packed once when the layer is created:
//   Conv    constant float32 weights, 1-D or 2-D; a depthwise one
//           (group == C == M > 1) on the dwconv_bf16 kernel
//           (kernels/dwconv_bf16.h, weights rounded to BF16 once), the others
//           on the gemm_bf16 family;
//   Gemm    constant float32 2-D B;
//   MatMul  float32 B: a constant 2-D B packed once, any other B (an
//           activation: attention's Q K^T and P V; or a batched constant)
//           converted and packed on each run (GemmBf16Kernel::run_activations);
//   LSTM    constant float32 W and R: its input projection and recurrent
//           product on the gemm_bf16 family, the cell in FP32
//           (ops/rnn_bf16_gemms.h).
// Activations are converted to BF16 (round to nearest even) as they are
// packed; products accumulate in FP32 (VDPBF16PS); bias, alpha / beta, C,
// residual and the fused activation stay FP32 as in the FP32 layer. The
// bound against the FP32 layer is stated in kernels/abi/gemm_bf16.h.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kPrecisionAttr = "int8rt_precision";

// "" when `node` of `net` has a BF16 kernel (the list above), else why not.
std::string bf16_decline_reason(const Network& net, const Node& node);

// True when the node asks for BF16. Throws InvalidArgument naming the node
// for a value other than "bf16", and NotSupported when it asks but
// bf16_decline_reason() is not empty (a forged or hand-edited network).
bool wants_bf16(const Network& net, const Node& node);

// Marks the float layers of `net` (a built network: lowered int8 layers are
// never touched) that run in BF16: those named in `named` and, when `all`,
// every one that has a BF16 kernel. Returns report lines: one per layer
// named in `named` that stays float32 (with the reason) or is not in `net`,
// one summary line (and one for LSTMs where one runs in BF16), and a warning when the BF16 kernel chosen here is the
// scalar reference (slower than FP32).
std::vector<std::string> mark_bf16_layers(Network& net, const std::set<std::string>& named, bool all);

// BF16 tensors between layers (OpenVINO's bf16 inference keeps its
// activations in bf16 the same way): the output of a BF16 Conv whose only
// activation is none, Relu or Clip, which is not a network output and whose
// every use is input 0 (X) of a BF16 Conv or the fused residual
// (int8rt_residual) of a dense (not depthwise) BF16 Conv, becomes a
// bfloat16 tensor: the producer rounds its FP32 result to BF16 as it stores
// it (bf16::from_f32) and the consumers read those BF16 values as they are.
// As X, that is what the consumer did itself before: the same numbers, half
// the bytes in memory. As a residual (ResNet's block outputs, MobileNetV2's
// projections that a later block adds), the residual conv adds the rounded
// value (bf16::to_f32, exact) where it added the FP32 one: one more
// rounding, by at most 2^-8 of |residual| (round to nearest even, 8
// significant bits), the term kernels/abi/gemm_bf16.h's bound adds for it.
// Inputs of other ops (ResNet's stem output, read by its MaxPool: pooling
// it in BF16, ops/bf16_maxpool.h, measured slower than the FP32 pool, more
// than the stem saved, RESULTS.md section 114) and network outputs stay
// float32.
// BF16 MatMuls with a constant 2-D B (Linear layers; transformer encoders'
// FC1 -> FC2): such a MatMul's output that is not a network output and is
// read only as A (input 0) of such MatMuls becomes a bfloat16 tensor: the
// producer rounds its FP32 result after its fused bias and Gelu
// (bf16::from_f32), as each consumer converted that A itself before, so the
// consumers see the same BF16 values (bits unchanged, half the bytes). And
// a float32 tensor read as A by two or more of them (an encoder's Q, K, V
// reading one LayerNorm output) gets one int8rt.ToBf16 node
// (ops/bf16_convert.cc, the same conversion) whose bfloat16 output those
// MatMuls read instead: one conversion where each made its own; the
// tensor's other readers still read it as float32. An
// int8rt.Bf16Attention output that reaches such a MatMul's A through
// Transposes / Reshapes, each tensor's only reader but for Shapes (the
// heads' context), is bfloat16 along the whole way: the attention rounds
// each product (ops/bf16_attention.cc), the moves carry the bits, the
// MatMul reads them; the same values as before.
// Run after every pass that fuses into a conv or a MatMul. Returns report
// lines (none when no tensor changed).
std::vector<std::string> mark_bf16_tensors(Network& net);

}  // namespace engine
}  // namespace int8rt
