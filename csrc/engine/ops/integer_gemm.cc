// integer_gemm.h: operand conversions and the zero-point expansion around
// the gemm_u8s8 kernels.
#include "engine/ops/integer_gemm.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

IntKind int_kind(DataType dtype, const std::string& prefix, const char* what) {
  switch (dtype) {
    case DataType::kUInt8: case DataType::kInt64: return IntKind::kU8;
    case DataType::kInt8: return IntKind::kS8;
    default:
      throw InvalidArgument(prefix + what + " must be uint8 or int8, got " + dtype_name(dtype));
  }
}

namespace {

template <typename Out>
void shifted(const Value& v, int32_t offset, Out* out) {
  const int64_t n = v.numel();
  switch (v.dtype()) {
    case DataType::kUInt8: {
      const uint8_t* p = v.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(p[i] + offset);
      break;
    }
    case DataType::kInt8: {
      const int8_t* p = v.data<int8_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(p[i] + offset);
      break;
    }
    default: {  // int64-held uint8 constant
      const int64_t* p = v.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<int32_t>(p[i]) + offset);
    }
  }
}

}  // namespace

void to_u8(const Value& v, uint8_t* out) {
  shifted(v, v.dtype() == DataType::kInt8 ? 128 : 0, out);
}

void to_s8(const Value& v, int8_t* out) {
  shifted(v, v.dtype() == DataType::kInt8 ? 0 : -128, out);
}

void tensor_to_s8(const Tensor& t, int8_t* out) {
  if (t.dtype == DataType::kInt8) {
    std::copy(t.i8.begin(), t.i8.end(), out);
  } else {
    for (size_t i = 0; i < t.i64.size(); ++i) out[i] = static_cast<int8_t>(t.i64[i] - 128);
  }
}

std::vector<int32_t> zero_point_values(const Value* zp, int32_t offset) {
  std::vector<int32_t> out;
  zero_point_values_into(zp, offset, &out);
  return out;
}

void zero_point_values_into(const Value* zp, int32_t offset, std::vector<int32_t>* out) {
  if (!zp) {
    out->assign(1, offset);
    return;
  }
  out->resize(static_cast<size_t>(zp->numel()));
  visit_numeric(zp->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsInteger<T>) {
      const T* p = zp->data<T>();
      for (size_t i = 0; i < out->size(); ++i) (*out)[i] = static_cast<int32_t>(p[i]) + offset;
    }
  });
}

std::vector<int32_t> zero_point_values(const Tensor& zp, int32_t offset) {
  std::vector<int32_t> out;
  if (zp.dtype == DataType::kInt8) {
    for (int8_t v : zp.i8) out.push_back(v + offset);
  } else {
    for (int64_t v : zp.i64) out.push_back(static_cast<int32_t>(v) + offset);
  }
  return out;
}

IntegerProduct::IntegerProduct(int64_t K, int64_t N, const int8_t* b, int64_t ldb) : K_(K), N_(N) {
  kernels::GemmU8S8Shape shape;
  shape.K = K;
  shape.N = N;
  kernel_ = &kernels::choose<kernels::GemmU8S8Kernel>(shape);
  packed_ = kernel_->pack(shape, b, ldb);
  col_sums_.assign(static_cast<size_t>(N), 0);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) col_sums_[n] += b[k * ldb + n];
  }
}

void IntegerProduct::run(int64_t M, const uint8_t* a, int64_t lda, const std::vector<int32_t>& za,
                         const std::vector<int32_t>& zb, int32_t* c, int64_t ldc, const FloatOutput* to_float) const {
  // C = P + (-za[m]) s[n] + (K za[m] - r[m]) zb[n] (the module's expansion, regrouped as the
  // epilogue's two rank-1 terms), in uint32.
  bool zb_zero = true;
  for (int32_t z : zb) zb_zero = zb_zero && z == 0;
  bool za_zero = true;
  for (int32_t z : za) za_zero = za_zero && z == 0;
  const auto za_at = [&](int64_t m) { return static_cast<uint32_t>(za.size() == 1 ? za[0] : za[m]); };
  kernels::GemmU8S8Epilogue e;
  // Per thread, grown, never shrunk (no allocation per run once sized); references, so that
  // the parallel_for below writes this thread's row_b, not each helper's own.
  thread_local std::vector<int32_t> row_a_here, row_b_here, col_b_here;
  std::vector<int32_t>& row_a = row_a_here;
  std::vector<int32_t>& row_b = row_b_here;
  std::vector<int32_t>& col_b = col_b_here;
  if (!za_zero) {
    row_a.resize(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) row_a[m] = static_cast<int32_t>(0u - za_at(m));
    e.row_a = row_a.data();
    e.col_a = col_sums_.data();
  }
  if (!zb_zero) {
    row_b.resize(static_cast<size_t>(M));
    parallel_for(M, grain_for_work(K_), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        uint32_t r = 0;
        for (int64_t k = 0; k < K_; ++k) r += a[m * lda + k];
        row_b[m] = static_cast<int32_t>(static_cast<uint32_t>(K_) * za_at(m) - r);
      }
    });
    col_b.resize(static_cast<size_t>(N_));
    for (int64_t n = 0; n < N_; ++n) col_b[n] = zb.size() == 1 ? zb[0] : zb[n];
    e.row_b = row_b.data();
    e.col_b = col_b.data();
  }
  if (to_float) {
    e.scale = to_float->scale;
    e.bias = to_float->bias;
  }
  packed_->run(M, a, lda, c, ldc, e.row_a || e.row_b || e.scale ? &e : nullptr);
}

IntegerProductA::IntegerProductA(int64_t M, int64_t K, const uint8_t* a, int64_t lda) : M_(M), K_(K) {
  kernels::GemmU8S8Shape shape;
  shape.K = K;
  shape.N = M;
  kernel_ = &kernels::choose<kernels::GemmU8S8Kernel>(shape);
  packed_ = kernel_->pack_a(M, K, a, lda);
  row_sums_.assign(static_cast<size_t>(M), 0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) row_sums_[m] += a[m * lda + k];
  }
}

void IntegerProductA::run(int64_t N, const uint8_t* b_u8, int64_t ldb, const std::vector<int32_t>& za,
                          int32_t zb, int32_t* c, int64_t ldc, const int32_t* row_bias, const float* scale) const {
  // C = P - za[m] s[n] + (K za[m] zb - zb r[m] (+ bias[m])), in uint32: the kernel's A epilogue
  // (kernels/gemm_u8s8.h, GemmU8S8AEpilogue), applied while each tile is in cache or fused into its store.
  bool za_zero = true;
  for (int32_t z : za) za_zero = za_zero && z == 0;
  kernels::GemmU8S8AEpilogue e;
  std::vector<int32_t> row_s, row_c;
  const auto za_at = [&](int64_t m) { return static_cast<uint32_t>(za.size() == 1 ? za[0] : za[m]); };
  if (!za_zero) {
    row_s.resize(static_cast<size_t>(M_));
    for (int64_t m = 0; m < M_; ++m) row_s[m] = static_cast<int32_t>(0u - za_at(m));
    e.row_s = row_s.data();
  }
  if (zb != 0 || row_bias) {
    const uint32_t K = static_cast<uint32_t>(K_), z = static_cast<uint32_t>(zb);
    row_c.resize(static_cast<size_t>(M_));
    for (int64_t m = 0; m < M_; ++m) {
      const uint32_t bias = row_bias ? static_cast<uint32_t>(row_bias[m]) : 0u;
      row_c[m] = static_cast<int32_t>(K * za_at(m) * z - z * static_cast<uint32_t>(row_sums_[m]) + bias);
    }
    e.row_c = row_c.data();
  }
  e.scale = scale;
  const bool any = e.row_s || e.row_c || e.scale;
  packed_->run(N, b_u8, ldb, /*b_u8=*/true, c, ldc, /*col_sums=*/nullptr, any ? &e : nullptr);
}

}  // namespace engine
}  // namespace int8rt
