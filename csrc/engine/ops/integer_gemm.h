// The integer product behind ONNX's integer ops (MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv):
//   C[m][n] = sum_k (A[m][k] - za[m]) * (B[k][n] - zb[n])      (int32, wrapping)
// with za per tensor or per row of A, zb per tensor or per column of B, as
// the ONNX spec allows, computed exactly on the gemm_u8s8 kernels
// (kernels/gemm_u8s8.h): every operand type is moved onto u8 A x s8 B without
// changing a difference. An int8 A is stored as A + 128 (u8) with za + 128; a
// uint8 B as B - 128 (s8) with zb - 128. Then, with P = sum_k A B (the kernel),
// r[m] = sum_k A[m][k] and s[n] = sum_k B[k][n] (B's column sums, once),
//   C = P - za[m] s[n] - zb[n] r[m] + K za[m] zb[n]
// is the expansion of the product, exact modulo 2^32 (formed in uint32).
// IntegerProduct packs a constant B (MatMulInteger's weights);
// IntegerProductA packs a constant A (a convolution's weights, times the
// columns of its input as B: the output comes channel-major, NCHW).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/value.h"
#include "int8rt/network.h"
#include "kernels/gemm_u8s8.h"

namespace int8rt {
namespace engine {

// How an integer-op operand holds its values: uint8 or int8. A constant the
// IR widened to int64 came from uint8 (the IR holds int8 constants as int8).
enum class IntKind { kU8, kS8 };
IntKind int_kind(DataType dtype, const std::string& prefix, const char* what);

// The values of `v` (uint8, int8 or int64-held uint8) plus `offset`, stored in
// `out` (u8: offset 0 or +128; s8: 0 or -128); the sum must fit the target.
void to_u8(const Value& v, uint8_t* out);
void to_s8(const Value& v, int8_t* out);
void tensor_to_s8(const Tensor& t, int8_t* out);  // a constant (int8, or int64 from uint8) as s8 storage
// Zero points (any integer dtype, or absent: one 0) plus `offset`, as int32.
std::vector<int32_t> zero_point_values(const Value* zp, int32_t offset);
// The same into *out, its storage reused (no allocation per run once sized).
void zero_point_values_into(const Value* zp, int32_t offset, std::vector<int32_t>* out);
std::vector<int32_t> zero_point_values(const Tensor& zp, int32_t offset);

// B packed once for the chosen gemm_u8s8 kernel, with its column sums.
class IntegerProduct {
 public:
  // b: [K][N] s8 storage, row k at b + k * ldb.
  IntegerProduct(int64_t K, int64_t N, const int8_t* b, int64_t ldb);
  // A float output in place of C (MatMulIntegerToFloat, DynamicQuantizeLSTM): float(C[m][n]) *
  // scale[n] (+ bias[n]), N values each (bias may be nullptr).
  struct FloatOutput {
    const float* scale = nullptr;
    const float* bias = nullptr;
  };
  // C (ldc) = the product of u8 storage A ([M][K], lda) with za (1 or M values)
  // and this B with zb (1 or N values), both in storage units; or, with to_float,
  // its float output stored in C's place. The zero-point terms and the conversion
  // are the kernel's epilogue (kernels/gemm_u8s8.h), applied while each tile is in
  // cache or fused into the tile's store.
  void run(int64_t M, const uint8_t* a, int64_t lda, const std::vector<int32_t>& za,
           const std::vector<int32_t>& zb, int32_t* c, int64_t ldc, const FloatOutput* to_float = nullptr) const;
  const char* kernel_name() const { return kernel_->name(); }
  const char* form() const { return packed_->form(); }  // kernels/gemm_u8s8.h, PackedGemmU8S8::form
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }

 private:
  int64_t K_, N_;
  const kernels::GemmU8S8Kernel* kernel_;
  std::unique_ptr<kernels::PackedGemmU8S8> packed_;
  std::vector<int32_t> col_sums_;
};

// A (u8 storage) packed once for the chosen gemm_u8s8 kernel, with its row sums;
// B given per run.
class IntegerProductA {
 public:
  // a: [M][K] u8 storage, row m at a + m * lda.
  IntegerProductA(int64_t M, int64_t K, const uint8_t* a, int64_t lda);
  // C (ldc) = the product of this A with za (1 or M values, u8 storage units) and
  // B ([K][N], row k at b + k * ldb, u8 storage: its values read as value - 128)
  // with zb, one value in those units (the zero point's u8 storage - 128), plus
  // row_bias[m] (M values, or nullptr; int32, wrapping); with scale, float(C) * *scale
  // (float32) stored in C's place. All of it is the kernel's epilogue (kernels/gemm_u8s8.h).
  void run(int64_t N, const uint8_t* b_u8, int64_t ldb, const std::vector<int32_t>& za, int32_t zb,
           int32_t* c, int64_t ldc, const int32_t* row_bias = nullptr, const float* scale = nullptr) const;
  const char* kernel_name() const { return kernel_->name(); }

 private:
  int64_t M_, K_;
  const kernels::GemmU8S8Kernel* kernel_;
  std::unique_ptr<kernels::PackedAGemmU8S8> packed_;
  std::vector<int32_t> row_sums_;
};

}  // namespace engine
}  // namespace int8rt
