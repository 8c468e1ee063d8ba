// The u8 x s8 -> int32 GEMM family of the registry (registry.h), key gemm_u8s8:
// C[m][n] = sum_k A[m][k] * B[k][n], A uint8 row-major, B int8 (packed once),
// C int32, the sum wrapping modulo 2^32 as ONNX Runtime's int32 accumulators
// do (no saturation; exact whenever K * 255 * 128 < 2^31, K < 65794).
//
// This is the product x86 VNNI's vpdpbusd takes natively (u8 x s8, four
// products summed into an int32 lane, no intermediate saturation). The
// ONNX integer ops (MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv)
// map every operand type onto it exactly (engine/ops/integer_gemm.h): a
// uint8 B is B - 128 with its zero point minus 128, an int8 A is A + 128
// with its zero point plus 128. Zero points are not the kernel's business.
//
// Two ways to hold the operands: B packed once (pack(): a constant weight
// matrix times activations, MatMulInteger) or A packed once and B packed on
// every run (pack_a(): a convolution's weights times its input's columns,
// which gives the output channel-major, NCHW, with no transposition).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

// The product's fixed sizes (M is given at run time).
struct GemmU8S8Shape {
  int64_t K = 0;  // reduction
  int64_t N = 0;  // output columns
  void validate() const;  // K, N >= 1 and K * N addressable
};
std::string describe_gemm_u8s8(const GemmU8S8Shape& shape);  // "K=.. N=.."

// What a product packed once applies to C before it stores it (PackedGemmU8S8::run), so that a
// caller's zero points and float conversion cost no second pass over C:
//   C[m][n] += row_a[m] * col_a[n] + row_b[m] * col_b[n]          (int32, wrapping; a null pair: no term)
//   then, if scale: Y[m][n] = float(C[m][n]) * scale[n] (+ bias[n]), float32, in that order, each
//   operation rounded to nearest even (no FMA), stored in C's place (the same 4 bytes).
// apply_gemm_u8s8_epilogue is the rule; a kernel fusing it into its tile matches it bit for bit.
struct GemmU8S8Epilogue {
  const int32_t* row_a = nullptr;  // M values
  const int32_t* col_a = nullptr;  // N values
  const int32_t* row_b = nullptr;
  const int32_t* col_b = nullptr;
  const float* scale = nullptr;    // N values, or nullptr: C stays int32
  const float* bias = nullptr;     // N values, or nullptr
};
// The epilogue over rows [m0, m1) and columns [n0, n1) of C (row m at c + m * ldc; row_* and col_*
// indexed by m and n).
void apply_gemm_u8s8_epilogue(const GemmU8S8Epilogue& e, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int32_t* c,
                              int64_t ldc);

// B packed for one kernel. run() is const and thread-safe.
class PackedGemmU8S8 {
 public:
  virtual ~PackedGemmU8S8() = default;
  // a: M rows of K bytes, row r at a + r * lda; c: M rows of N int32, row r
  // at c + r * ldc; epilogue (or nullptr) as GemmU8S8Epilogue says. May split the work over the
  // thread pool.
  virtual void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc,
                   const GemmU8S8Epilogue* epilogue) const = 0;
  void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) const {
    run(M, a, lda, c, ldc, nullptr);
  }
  virtual const GemmU8S8Shape& shape() const = 0;
  // How the kernel holds this B, where it chooses by B's values (x86/gemm_u8s8.cc: "pairs" or
  // "shifted"); "" otherwise. For reports and tests.
  virtual const char* form() const { return ""; }
};

// What a product with A packed once applies to C before it stores it (PackedAGemmU8S8::run): the
// zero-point terms of a convolution, its int32 bias and its float conversion, with s[n] = sum_k B[k][n]
// of B's values as read (the column sums run() forms while it packs B):
//   C[m][n] += row_s[m] * s[n] + row_c[m]          (int32, wrapping; a null row: no term)
//   then, if scale: Y[m][n] = float(C[m][n]) * *scale, float32 rounded once, in C's place.
// apply_gemm_u8s8_a_epilogue is the rule; a kernel fusing it into its tile matches it bit for bit.
struct GemmU8S8AEpilogue {
  const int32_t* row_s = nullptr;  // M values
  const int32_t* row_c = nullptr;  // M values
  const float* scale = nullptr;    // one value, or nullptr: C stays int32
};
// The A epilogue over rows [m0, m1) and columns [n0, n1) of C (row m at c + m * ldc), s[n] at
// col_sums[n - n0] (needed only with row_s).
void apply_gemm_u8s8_a_epilogue(const GemmU8S8AEpilogue& e, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                                const int32_t* col_sums, int32_t* c, int64_t ldc);

// A packed once for products whose B changes on every run. run() is const and thread-safe.
class PackedAGemmU8S8 {
 public:
  virtual ~PackedAGemmU8S8() = default;
  // c (M rows of N int32, row r at c + r * ldc) = A B, B given as K rows of N bytes, row k at
  // b + k * ldb: int8 values, or (b_u8) uint8 values read as value - 128, their s8 storage
  // (the sign bit flipped). col_sums (N int32, or nullptr) receives sum_k B[k][n] of the values
  // as read (wrapping). epilogue (or nullptr) as GemmU8S8AEpilogue says. B is packed per call
  // into the calling thread's scratch; may split the work over the thread pool.
  virtual void run(int64_t N, const uint8_t* b, int64_t ldb, bool b_u8, int32_t* c, int64_t ldc,
                   int32_t* col_sums, const GemmU8S8AEpilogue* epilogue) const = 0;
  void run(int64_t N, const uint8_t* b, int64_t ldb, bool b_u8, int32_t* c, int64_t ldc, int32_t* col_sums) const {
    run(N, b, ldb, b_u8, c, ldc, col_sums, nullptr);
  }
  virtual int64_t M() const = 0;
  virtual int64_t K() const = 0;
  virtual const char* form() const { return ""; }  // as PackedGemmU8S8::form
};

class GemmU8S8Kernel : public Kernel {
 public:
  static constexpr OpKey kKey{"gemm_u8s8", Dtype::kS8};
  static void validate(const GemmU8S8Shape& shape) { shape.validate(); }
  static std::string describe(const GemmU8S8Shape& shape) { return describe_gemm_u8s8(shape); }
  virtual std::string supports(const GemmU8S8Shape& shape) const = 0;
  // Packs B given row-major [K][N] (row k at b + k * ldb); the buffer is not retained.
  virtual std::unique_ptr<PackedGemmU8S8> pack(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb) const = 0;
  // Packs A given row-major [M][K] (row m at a + m * lda) for products with B given per run
  // (PackedAGemmU8S8); the buffer is not retained. Chosen with the shape {K, N = M}.
  virtual std::unique_ptr<PackedAGemmU8S8> pack_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda) const = 0;
};

// The reference candidate, gemm_u8s8_ref (ref/gemm_u8s8.cc); the ref provider adds it.
const GemmU8S8Kernel& ref_gemm_u8s8_kernel();

namespace ref {
// The reference product (the spec): the plain triple loop, int32 wrapping.
void gemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
               int32_t* c, int64_t ldc);
}  // namespace ref

}  // namespace kernels
}  // namespace int8rt
