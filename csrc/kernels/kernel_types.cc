// Output-size arithmetic and validation of the shapes in kernel_types.h.
#include "kernels/kernel_types.h"
#include "core/checked_math.h"
#include "core/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace {

// Floor-mode output extent of one spatial axis (ONNX Conv / pooling), formed
// in int64 so that no int field combination overflows; 0 when the window
// does not fit (validate() refuses that).
int64_t out_extent64(int in, int pad_begin, int pad_end, int kernel, int dilation, int stride) {
  const int64_t span = int64_t{dilation} * (int64_t{kernel} - 1) + 1;
  const int64_t padded = int64_t{in} + pad_begin + pad_end;
  if (padded < span || stride <= 0) return 0;
  return (padded - span) / stride + 1;
}

// The kernels index a padded row and a dilated window with int: both must fit.
bool fits_int(int in, int pad_begin, int pad_end, int kernel, int dilation) {
  const int64_t kMax = std::numeric_limits<int>::max();
  return int64_t{in} + pad_begin + pad_end <= kMax && int64_t{dilation} * (int64_t{kernel} - 1) + 1 <= kMax;
}

int out_extent(int in, int pad_begin, int pad_end, int kernel, int dilation, int stride) {
  if (!fits_int(in, pad_begin, pad_end, kernel, dilation)) return 0;
  return static_cast<int>(out_extent64(in, pad_begin, pad_end, kernel, dilation, stride));
}

// InvalidArgument "op: message" unless ok; the message is formed only then
// (validate() runs per layer per run, and a string per check made most of
// an int8 run's heap allocations).
#define INT8RT_REQUIRE(ok, op, message)                                                  \
  do {                                                                                   \
    if (!(ok)) throw InvalidArgument(std::string(op) + ": " + (message));                \
  } while (0)

std::string field(const char* name, int value) {
  return std::string(name) + "=" + std::to_string(value);
}

using Fields = std::initializer_list<std::pair<const char*, int>>;

// Every field > 0 (positive) or >= 0 (not positive), InvalidArgument naming the first that is not.
void require_each(const char* op, Fields fields, bool positive) {
  for (auto [name, v] : fields) {
    if (positive) {
      INT8RT_REQUIRE(v > 0, op, field(name, v) + " must be > 0");
    } else {
      INT8RT_REQUIRE(v >= 0, op, field(name, v) + " must be >= 0");
    }
  }
}

}  // namespace

const char* output_type_name(OutputType t) {
  return t == OutputType::kInt8 ? "int8" : "float32";
}

const char* u8_codes_declined(const ConvShape& s) {
  const bool s8 = s.input_codes == Codes::kS8 && s.output_codes == Codes::kS8 && s.residual_codes == Codes::kS8;
  return s8 ? "" : "u8-coded tensors: not this kernel";
}

ConvShape with_input_size(ConvShape s, int H, int W) {
  s.H = H;
  s.W = W;
  s.validate();
  return s;
}

ConvShape with_row_window(ConvShape s, int H, int pad_top, int pad_bottom) {
  s.H = H;
  s.pad_top = pad_top;
  s.pad_bottom = pad_bottom;
  s.validate();
  return s;
}

int ConvShape::out_h() const { return out_extent(H, pad_top, pad_bottom, R, dilation_h, stride_h); }
int ConvShape::out_w() const { return out_extent(W, pad_left, pad_right, S, dilation_w, stride_w); }

int64_t ConvShape::weight_count() const {
  return static_cast<int64_t>(K) * c_per_group() * R * S;
}

void ConvShape::validate() const {
  const char* op = "conv";
  require_each(op, {{"C", C}, {"H", H}, {"W", W}, {"K", K}, {"R", R}, {"S", S}, {"stride_h", stride_h},
                    {"stride_w", stride_w}, {"dilation_h", dilation_h}, {"dilation_w", dilation_w},
                    {"groups", groups}}, true);
  require_each(op, {{"pad_top", pad_top}, {"pad_left", pad_left}, {"pad_bottom", pad_bottom},
                    {"pad_right", pad_right}}, false);
  INT8RT_REQUIRE(C % groups == 0, op, field("C", C) + " is not divisible by " + field("groups", groups));
  INT8RT_REQUIRE(K % groups == 0, op, field("K", K) + " is not divisible by " + field("groups", groups));
  const int64_t reduction = checked_mul(checked_mul(c_per_group(), R, "conv reduction"), S, "conv reduction");
  INT8RT_REQUIRE(reduction <= kMaxReduction, op,
          "reduction length C/groups*R*S=" + std::to_string(reduction) +
              " exceeds the int32 accumulator bound " + std::to_string(kMaxReduction));
  INT8RT_REQUIRE(fits_int(H, pad_top, pad_bottom, R, dilation_h) && fits_int(W, pad_left, pad_right, S, dilation_w), op,
          "padded input or dilated kernel extent exceeds the int range");
  INT8RT_REQUIRE(out_h() > 0 && out_w() > 0, op,
          "empty output: input " + std::to_string(H) + "x" + std::to_string(W) +
              " with padding is smaller than the dilated " + std::to_string(R) + "x" +
              std::to_string(S) + " kernel");
}

// Transposed extent stride*(in-1) + out_pad + dilation*(k-1) + 1 - pads, in
// int64; 0 when it is not positive or past the int range.
int transposed_extent(int in, int stride, int out_pad, int kernel, int dilation, int pad_begin, int pad_end) {
  const int64_t e = int64_t{stride} * (int64_t{in} - 1) + out_pad + int64_t{dilation} * (int64_t{kernel} - 1) + 1 -
                    pad_begin - pad_end;
  return e > 0 && e <= std::numeric_limits<int>::max() ? static_cast<int>(e) : 0;
}

int ConvTransposeShape::out_h() const {
  return transposed_extent(H, stride_h, out_pad_h, R, dilation_h, pad_top, pad_bottom);
}
int ConvTransposeShape::out_w() const {
  return transposed_extent(W, stride_w, out_pad_w, S, dilation_w, pad_left, pad_right);
}

int64_t ConvTransposeShape::weight_count() const {
  return static_cast<int64_t>(C) * k_per_group() * R * S;
}

void ConvTransposeShape::validate() const {
  const char* op = "conv_transpose";
  require_each(op, {{"C", C}, {"H", H}, {"W", W}, {"K", K}, {"R", R}, {"S", S}, {"stride_h", stride_h},
                    {"stride_w", stride_w}, {"dilation_h", dilation_h}, {"dilation_w", dilation_w},
                    {"groups", groups}}, true);
  require_each(op, {{"pad_top", pad_top}, {"pad_left", pad_left}, {"pad_bottom", pad_bottom},
                    {"pad_right", pad_right}, {"out_pad_h", out_pad_h}, {"out_pad_w", out_pad_w}}, false);
  INT8RT_REQUIRE(out_pad_h < std::max(stride_h, dilation_h) && out_pad_w < std::max(stride_w, dilation_w), op,
          "output padding must be smaller than the stride or the dilation");
  INT8RT_REQUIRE(C % groups == 0, op, field("C", C) + " is not divisible by " + field("groups", groups));
  INT8RT_REQUIRE(K % groups == 0, op, field("K", K) + " is not divisible by " + field("groups", groups));
  const int64_t reduction =
      checked_mul(checked_mul(c_per_group(), R, "conv_transpose reduction"), S, "conv_transpose reduction");
  INT8RT_REQUIRE(reduction <= kMaxReduction, op,
          "reduction length C/groups*R*S=" + std::to_string(reduction) +
              " exceeds the int32 accumulator bound " + std::to_string(kMaxReduction));
  INT8RT_REQUIRE(out_h() > 0 && out_w() > 0, op,
          "empty output (or one past the int range): input " + std::to_string(H) + "x" + std::to_string(W) +
              " with these pads");
}

void GemmShape::validate() const {
  INT8RT_REQUIRE(N > 0, "gemm", field("N", N) + " must be > 0");
  INT8RT_REQUIRE(K > 0, "gemm", field("K", K) + " must be > 0");
  INT8RT_REQUIRE(K <= kMaxReduction, "gemm",
          field("K", K) + " exceeds the int32 accumulator bound " + std::to_string(kMaxReduction));
}

int PoolShape::out_h() const { return out_extent(H, pad_top, pad_bottom, R, 1, stride_h); }
int PoolShape::out_w() const { return out_extent(W, pad_left, pad_right, S, 1, stride_w); }

int64_t PoolShape::row_grain() const {
  const int64_t work = static_cast<int64_t>(out_w()) * C * R * S;
  return grain_for_work(work);
}

void PoolShape::validate() const {
  const char* op = "pool";
  for (auto [name, v] : {std::pair<const char*, int>{"C", C}, {"H", H}, {"W", W}, {"R", R},
                         {"S", S}, {"stride_h", stride_h}, {"stride_w", stride_w}}) {
    INT8RT_REQUIRE(v > 0, op, field(name, v) + " must be > 0");
  }
  INT8RT_REQUIRE(int64_t{R} * S <= kMaxReduction, op,
          "window R*S exceeds " + std::to_string(kMaxReduction));
  // A pad smaller than the window keeps every window overlapping the input.
  INT8RT_REQUIRE(pad_top >= 0 && pad_bottom >= 0 && pad_top < R && pad_bottom < R, op,
          "vertical pads must be in [0, R=" + std::to_string(R) + ")");
  INT8RT_REQUIRE(pad_left >= 0 && pad_right >= 0 && pad_left < S && pad_right < S, op,
          "horizontal pads must be in [0, S=" + std::to_string(S) + ")");
  INT8RT_REQUIRE(fits_int(H, pad_top, pad_bottom, R, 1) && fits_int(W, pad_left, pad_right, S, 1), op,
          "padded input extent exceeds the int range");
  INT8RT_REQUIRE(out_h() > 0 && out_w() > 0, op, "empty output: input smaller than the window");
}

void check_epilogue(const Epilogue& ep, const char* what) {
  if (!ep.scale) throw InvalidArgument(std::string(what) + ": epilogue scale array is missing");
  if (std::isnan(ep.clamp_lo) || std::isnan(ep.clamp_hi) || ep.clamp_lo > ep.clamp_hi) {
    throw InvalidArgument(std::string(what) + ": epilogue clamp range [" + std::to_string(ep.clamp_lo) + ", " +
                          std::to_string(ep.clamp_hi) + "] is empty or NaN");
  }
  if (ep.out_type == OutputType::kInt8 && (ep.clamp_lo < -128.0f || ep.clamp_hi > 127.0f)) {
    throw InvalidArgument(std::string(what) + ": int8 output needs a clamp range inside [-128, 127], got [" +
                          std::to_string(ep.clamp_lo) + ", " + std::to_string(ep.clamp_hi) + "]");
  }
  if (ep.table && ep.out_type != OutputType::kInt8) {
    throw InvalidArgument(std::string(what) + ": an epilogue table needs an int8 output");
  }
}

}  // namespace kernels
}  // namespace int8rt
