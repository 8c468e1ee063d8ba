// Shared helpers of the float32 layers: input checks, axis normalisation,
// ONNX multidirectional broadcasting, constant/int64 input reading, and the
// Conv/Pool spatial geometry (pads, auto_pad, output sizes) per the ONNX spec.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/layer.h"
#include "engine/value.h"
#include "int8rt/error.h"
#include "int8rt/network.h"
#include "kernels/ref/clip_f32.h"
#include "kernels/ref/math_f32.h"

namespace int8rt {
namespace kernels {
class UnaryF32Kernel;
}  // namespace kernels
namespace engine {

// Throws InvalidArgument "<prefix>input i ..." unless input i is present and
// of dtype `dtype`.
const Value& require_input(const std::vector<const Value*>& in, size_t i, DataType dtype, const std::string& prefix);
// A present input of any dtype.
const Value& require_any(const std::vector<const Value*>& in, size_t i, const std::string& prefix);
// A present input of an ordered numeric dtype (float32, int64 or int32): what
// ArgMax / ArgMin / TopK compare.
const Value& require_ordered(const std::vector<const Value*>& in, size_t i, const std::string& prefix);

// Input 0 (data: x_dtype, float32 unless a BF16 conv reads a bfloat16
// tensor) and 1 (weights, float32) of Conv / ConvTranspose, both
// spatial + 2 dimensions (InvalidArgument naming both shapes otherwise).
struct ConvOperands {
  const Shape& x;
  const Shape& w;
};
ConvOperands conv_operands(const std::vector<const Value*>& in, size_t spatial, const std::string& prefix,
                           DataType x_dtype = DataType::kFloat32);

// axis in [-rank, rank) -> [0, rank); otherwise InvalidArgument.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& prefix);

// out's bytes = in's (a reshape-like layer, Layer::output_is_input_bytes):
// nothing to do when the memory plan gave both the same buffer.
void copy_unless_aliased(const Value& in, Value& out);

// Whether shape == [n], compared in place (a Shape{n} to compare with is an
// allocation, and layers check their bias this way on every run).
inline bool is_shape_1d(const Shape& shape, int64_t n) { return shape.size() == 1 && shape[0] == n; }

// ONNX multidirectional (numpy) broadcasting of two shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& prefix);
// The same into *out (not a or b), its storage reused (no allocation per run once sized).
void broadcast_shapes_into(const Shape& a, const Shape& b, const std::string& prefix, Shape* out);
// Strides (in elements) of `shape` viewed as `out` (rank-aligned right,
// broadcast dimensions get stride 0). A layer's run uses broadcast_strides_into
// (broadcast_loop.h) into a kept container instead: this one allocates.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out);

// The int64 values of a Value (int64 or int32 dtype), e.g. a shape input.
// Both throw NotSupported for a shape-only value (computed at run time,
// seen by shape inference without a run).
std::vector<int64_t> int64_values(const Value& v, const std::string& prefix, const char* what);
// The same into *out, its storage reused (no allocation per run once sized).
void int64_values_into(const Value& v, const std::string& prefix, const char* what, std::vector<int64_t>* out);
// The float32 values of a Value (e.g. Resize's scales input).
std::vector<float> float_values(const Value& v, const std::string& prefix, const char* what);
// The same into *out, its storage reused (no allocation per run once sized).
void float_values_into(const Value& v, const std::string& prefix, const char* what, std::vector<float>* out);
// Reads an optional constant int64 input of a node at creation time; absent
// returns false. A non-constant input throws NotSupported naming it.
bool constant_ints(const Network& net, const Node& node, size_t index, const char* what, std::vector<int64_t>* out);
bool constant_floats(const Network& net, const Node& node, size_t index, const char* what, std::vector<float>* out);

// "node 'x' (Op): attribute 'a' = 'v' is not supported"
NotSupported unsupported_attr(const Node& node, const std::string& attr, const std::string& value,
                              const std::string& why = "");

std::string ints_str(const std::vector<int64_t>& v);

// Spatial window attributes of Conv/ConvTranspose/pools, for `rank` spatial dims.
struct WindowAttrs {
  enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel;     // may be empty for Conv (taken from W)
  std::vector<int64_t> strides;    // default 1
  std::vector<int64_t> dilations;  // default 1
  std::vector<int64_t> pads;       // [begin..., end...], default 0
  bool ceil_mode = false;
};
// Parses auto_pad/kernel_shape/strides/dilations/pads/ceil_mode; `rank` may
// be -1 when it is only known from the kernel shape (filled in later by
// fill_window_defaults). Unknown auto_pad throws NotSupported.
WindowAttrs parse_window(const Node& node, bool allow_dilations, bool allow_ceil_mode);
void fill_window_defaults(WindowAttrs& w, size_t rank, const Node& node);

// Output size and begin/end pads of one spatial dim (ONNX Conv/Pool rules).
struct DimGeom {
  int64_t out = 0, pad_begin = 0, pad_end = 0;
};
DimGeom window_geometry(const WindowAttrs& w, size_t d, int64_t in, const std::string& prefix);
// AveragePool's divisor along one spatial dim of `in` (kernel k, stride s,
// dilation d, geometry g), per output index: the window's taps inside the
// explicitly padded input [-pad_begin, in + pad_end) with count_include_pad
// (the ceil_mode overhang never counts: PyTorch's and the ONNX reference's
// rule), inside [0, in) without. A pool's divisor is the product over dims.
std::vector<float> pool_divisors(int64_t in, int64_t k, int64_t s, int64_t d, const DimGeom& g, bool include_pad);

// The fused activation of a Conv/Gemm node ("int8rt_activation" and its
// parameters, contract in graph/passes/passes.h), with the same float32
// formulas as the standalone Relu/Clip/LeakyRelu layers (unary_f32.cc), so a
// fused graph reproduces the unfused one bit for bit.
// The clamp is kernels/ref/clip_f32.h's (ONNX Runtime's order: NaN passes,
// -0 stays -0), written as comparisons, which the compiler turns into vector
// max/min instructions.
inline float clip_value(float x, float lo, float hi) { return kernels::ref::clip_f32(x, lo, hi); }

class FloatChain;  // engine/ops/float_chain.h

struct FusedActivation {
  // kSwish: y * sigmoid(y) by the unary_f32 family's Silu (chosen when
  // parsed), the bits of that tier's Sigmoid layer then a Mul layer;
  // kHardSwish: the family's HardSwish, the HardSwish layer's bits
  // (graph/passes/fuse_swish.cc, FP32 engines only).
  // kChain: element-wise steps (engine/ops/float_chain.h, fuse_float_chain.cc).
  enum class Kind { kNone, kRelu, kClip, kLeakyRelu, kSwish, kHardSwish, kChain };
  Kind kind = Kind::kNone;
  float lo = 0.f, hi = 0.f, alpha = 0.f;
  // kSwish and kHardSwish: the unary_f32 kernel and its function (an
  // epilogue can apply them on each tile); nullptr otherwise.
  const kernels::UnaryF32Kernel* unary = nullptr;
  kernels::ref::UnaryF32 unary_op = kernels::ref::UnaryF32::kSilu;
  std::shared_ptr<const FloatChain> chain;  // kChain
  void apply(float* y, int64_t n) const;
  // Relu / Clip as the bounds of a clip (Relu: 0, +inf), for an epilogue
  // that clips (the SGEMM's); false for none and LeakyRelu.
  bool as_clip(float* lo_out, float* hi_out) const;
  std::string describe() const;  // "" for none
};
// Unknown activation names throw NotSupported naming the node.
FusedActivation parse_fused_activation(const Node& node);

}  // namespace engine
}  // namespace int8rt
