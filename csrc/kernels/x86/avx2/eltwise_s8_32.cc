// int8 element-wise microkernels, AVX2 (contract and formulas in
// kernels/abi/eltwise_s8.h): quantize / dequantize (flat and transposing
// NCHW float <-> NHWC int8), quantized add, concat's rescale, the channel
// gate and the 256-entry lookup. The same float operations in the same order
// as the reference, 8 lanes per ymm (s8_convert.h), so the results are the
// reference's bits (quantize: multiply, add the zero point, clamp, round).
//
// Flat ops: 32 values per iteration (4 ymm), then 8 at a time; a tail of
// fewer than 8 goes through a zero-padded stack buffer (the padding lanes
// compute values that are never stored).
// Transposes: tiles of 16 channels x 16 pixels through the SSE 16 x 16 byte
// transpose (as avx512/quantize_16x16.cc); partial tiles load through lane
// masks or zeroed buffers and store only the valid bytes / floats.
// Lookup: vpshufb looks up 16 entries per 128-bit lane: the table is 16 rows
// of 16, held in registers, each looked up and the code's row kept by a
// vpblendvb tree (table256.h), 32 values per step.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx2/s8_convert.h"
#include "kernels/x86/avx2/table256.h"
#include "kernels/x86/interleave3.h"
#include "kernels/x86/transpose16x16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Bounds {
  __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
};

// Runs `step8(src_buf, dst_buf)` on the n % 8 tail through stack buffers:
// `in` bytes per element of the input, `out` of the output.
template <class Step>
void tail8(int64_t n, const void* x, size_t in, void* y, size_t out, Step step8) {
  if (n <= 0) return;
  alignas(32) unsigned char xb[32] = {}, yb[32];
  std::memcpy(xb, x, static_cast<size_t>(n) * in);
  step8(xb, yb);
  std::memcpy(y, yb, static_cast<size_t>(n) * out);
}

// The constants of one quantize call: 1 / scale, the zero point, the clamp.
struct QConsts {
  __m256 inv, z;
  Bounds b;
  QConsts(float inv_scale, float zero_point) : inv(_mm256_set1_ps(inv_scale)), z(_mm256_set1_ps(zero_point)) {}
};

inline __m256 quantize_ps(__m256 x, const QConsts& k) {
  return clamp_ps(_mm256_add_ps(_mm256_mul_ps(x, k.inv), k.z), k.b.lo, k.b.hi);
}

inline __m128i quantize8(__m256 x, const QConsts& k) { return to_s8x8(quantize_ps(x, k)); }

// 16 floats of one channel (np valid) -> 16 bytes.
inline __m128i quantize16(const float* x, int64_t np, const QConsts& k) {
  const __m256 x0 = np >= 8 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, lanes(np));
  const __m256 x1 = np >= 16 ? _mm256_loadu_ps(x + 8)
                             : np > 8 ? _mm256_maskload_ps(x + 8, lanes(np - 8)) : _mm256_setzero_ps();
  return _mm_unpacklo_epi64(quantize8(x0, k), quantize8(x1, k));
}

// ta = (float)a * am; tb = (float)b * bm; t = ta + tb; clamp; round.
struct AddConsts {
  __m256 am, bm, lo, hi, offset;
};
// ta = (float)a * am; tb = (float)b * bm; t = (ta + tb) + offset; clamp (ref/add_s8.cc).
inline __m256 add8(__m128i a, __m128i b, const AddConsts& k) {
  const __m256 ta = _mm256_mul_ps(s8x8_to_ps(a), k.am);
  const __m256 tb = _mm256_mul_ps(s8x8_to_ps(b), k.bm);
  return clamp_ps(_mm256_add_ps(_mm256_add_ps(ta, tb), k.offset), k.lo, k.hi);
}

inline __m256 rescale8(const int8_t* x, __m256 m, const Bounds& b) {
  return clamp_ps(_mm256_mul_ps(s8x8_to_ps(load_s8x8(x)), m), b.lo, b.hi);
}

void rescale_row(int cols, const int8_t* x, __m256 m, const Bounds& b, int8_t* y) {
  int c = 0;
  for (; c + 32 <= cols; c += 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c),
                        to_s8x32(rescale8(x + c, m, b), rescale8(x + c + 8, m, b), rescale8(x + c + 16, m, b),
                                 rescale8(x + c + 24, m, b)));
  }
  for (; c + 8 <= cols; c += 8) store_s8x8(y + c, to_s8x8(rescale8(x + c, m, b)));
  tail8(cols - c, x + c, 1, y + c, 1, [&](const unsigned char* xs, unsigned char* ys) {
    store_s8x8(reinterpret_cast<int8_t*>(ys), to_s8x8(rescale8(reinterpret_cast<const int8_t*>(xs), m, b)));
  });
}

struct Table {
  __m256i rows[16];  // row r in both 128-bit lanes
};

inline __m256i lookup32(__m256i x, const Table& t) {
  return look_up32(x, [&t](int r) { return t.rows[r]; });
}

}  // namespace

void quantize(int64_t n, const float* x, float inv_scale, float z, int8_t* q) {
  const QConsts k(inv_scale, z);
  auto t8 = [&](const float* s) { return quantize_ps(_mm256_loadu_ps(s), k); };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), to_s8x32(t8(x + i), t8(x + i + 8), t8(x + i + 16), t8(x + i + 24)));
  }
  for (; i + 8 <= n; i += 8) store_s8x8(q + i, to_s8x8(t8(x + i)));
  tail8(n - i, x + i, 4, q + i, 1, [&](const unsigned char* xs, unsigned char* ys) {
    store_s8x8(reinterpret_cast<int8_t*>(ys), to_s8x8(t8(reinterpret_cast<const float*>(xs))));
  });
}

void dequantize(int64_t n, const int8_t* q, float scale, float* x) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(s8x8_to_ps(load_s8x8(q + i)), s));
  tail8(n - i, q + i, 1, x + i, 4, [&](const unsigned char* qs, unsigned char* xs) {
    _mm256_storeu_ps(reinterpret_cast<float*>(xs),
                     _mm256_mul_ps(s8x8_to_ps(load_s8x8(reinterpret_cast<const int8_t*>(qs))), s));
  });
}

// Three channels (an RGB image): 16 pixels of each channel quantized to 16
// bytes, interleaved into the 48 output bytes by byte shuffles
// (x86/interleave3.h) instead of a 16 x 16 transpose of three rows.
static void quantize_3_channels(const TransposeBlock& blk, const QConsts& k) {
  const float* x = static_cast<const float*>(blk.x);
  int8_t* y = static_cast<int8_t*>(blk.y);
  alignas(16) int8_t row[16];
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = std::min<int64_t>(16, blk.p1 - p);
    __m128i c[3];
    for (int ch = 0; ch < 3; ++ch) c[ch] = quantize16(x + ch * blk.HW + p, np, k);
    int8_t* out = y + p * 3;
    for (int v16 = 0; v16 < 3; ++v16) {
      const __m128i v = interleave3(c, v16);
      const int64_t bytes = 3 * np - 16 * v16;  // bytes of this vector that are pixels of the block
      if (bytes >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * v16), v);
      } else if (bytes > 0) {
        _mm_store_si128(reinterpret_cast<__m128i*>(row), v);
        std::memcpy(out + 16 * v16, row, static_cast<size_t>(bytes));
      }
    }
  }
}

void quantize_nchw_to_nhwc(const TransposeBlock& blk) {
  const float* x = static_cast<const float*>(blk.x);
  int8_t* y = static_cast<int8_t*>(blk.y);
  const QConsts k(blk.s, blk.z);
  if (blk.C == 3) {
    quantize_3_channels(blk, k);
    return;
  }
  __m128i r[16];
  alignas(16) int8_t row[16];
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = std::min<int64_t>(16, blk.p1 - p);
    for (int64_t c = 0; c < blk.C; c += 16) {
      const int64_t nc = std::min<int64_t>(16, blk.C - c);
      for (int i = 0; i < 16; ++i) {
        r[i] = i < nc ? quantize16(x + (c + i) * blk.HW + p, np, k) : _mm_setzero_si128();
      }
      transpose16x16(r);
      for (int j = 0; j < np; ++j) {
        if (nc == 16) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (p + j) * blk.C + c), r[j]);
        } else {
          _mm_store_si128(reinterpret_cast<__m128i*>(row), r[j]);
          std::memcpy(y + (p + j) * blk.C + c, row, static_cast<size_t>(nc));
        }
      }
    }
  }
}

void dequantize_nhwc_to_nchw(const TransposeBlock& blk) {
  const int8_t* x = static_cast<const int8_t*>(blk.x);
  float* y = static_cast<float*>(blk.y);
  const __m256 s = _mm256_set1_ps(blk.s);
  __m128i r[16];
  alignas(16) int8_t row[16];
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = std::min<int64_t>(16, blk.p1 - p);
    const __m256i m0 = lanes(np), m1 = lanes(np - 8);
    for (int64_t c = 0; c < blk.C; c += 16) {
      const int64_t nc = std::min<int64_t>(16, blk.C - c);
      for (int j = 0; j < 16; ++j) {
        if (j >= np) {
          r[j] = _mm_setzero_si128();
        } else if (nc == 16) {
          r[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (p + j) * blk.C + c));
        } else {
          std::memset(row, 0, sizeof(row));
          std::memcpy(row, x + (p + j) * blk.C + c, static_cast<size_t>(nc));
          r[j] = _mm_load_si128(reinterpret_cast<const __m128i*>(row));
        }
      }
      transpose16x16(r);
      for (int i = 0; i < nc; ++i) {
        float* d = y + (c + i) * blk.HW + p;
        const __m256 lo = _mm256_mul_ps(s8x8_to_ps(r[i]), s);
        const __m256 hi = _mm256_mul_ps(s8x8_to_ps(_mm_srli_si128(r[i], 8)), s);
        if (np == 16) {
          _mm256_storeu_ps(d, lo);
          _mm256_storeu_ps(d + 8, hi);
        } else {
          _mm256_maskstore_ps(d, m0, lo);
          if (np > 8) _mm256_maskstore_ps(d + 8, m1, hi);
        }
      }
    }
  }
}

void add(int64_t n, const int8_t* a, const int8_t* b, const AddArgs& p, int8_t* y) {
  const AddConsts k{_mm256_set1_ps(p.a_mult), _mm256_set1_ps(p.b_mult), _mm256_set1_ps(p.lo),
                    _mm256_set1_ps(p.hi), _mm256_set1_ps(p.offset)};
  auto t8 = [&](int64_t o) { return add8(load_s8x8(a + o), load_s8x8(b + o), k); };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), to_s8x32(t8(i), t8(i + 8), t8(i + 16), t8(i + 24)));
  }
  for (; i + 8 <= n; i += 8) store_s8x8(y + i, to_s8x8(t8(i)));
  if (i < n) {
    alignas(8) int8_t ab[8] = {}, bb[8] = {}, yb[8];
    std::memcpy(ab, a + i, static_cast<size_t>(n - i));
    std::memcpy(bb, b + i, static_cast<size_t>(n - i));
    store_s8x8(yb, to_s8x8(add8(load_s8x8(ab), load_s8x8(bb), k)));
    std::memcpy(y + i, yb, static_cast<size_t>(n - i));
  }
}

void rescale(int64_t rows, int cols, const int8_t* x, int64_t x_stride, float mult, int8_t* y,
             int64_t y_stride) {
  const __m256 m = _mm256_set1_ps(mult);
  const Bounds b;
  for (int64_t r = 0; r < rows; ++r) rescale_row(cols, x + r * x_stride, m, b, y + r * y_stride);
}

void channel_mul_row(int64_t C, const int8_t* x, const float* m, int8_t* y) {
  const Bounds b;
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256 t = _mm256_mul_ps(s8x8_to_ps(load_s8x8(x + c)), _mm256_loadu_ps(m + c));
    store_s8x8(y + c, to_s8x8(clamp_ps(t, b.lo, b.hi)));
  }
  if (c < C) {
    alignas(8) int8_t xb[8] = {}, yb[8];
    std::memcpy(xb, x + c, static_cast<size_t>(C - c));
    const __m256 t = _mm256_mul_ps(s8x8_to_ps(load_s8x8(xb)), _mm256_maskload_ps(m + c, lanes(C - c)));
    store_s8x8(yb, to_s8x8(clamp_ps(t, b.lo, b.hi)));
    std::memcpy(y + c, yb, static_cast<size_t>(C - c));
  }
}

void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  Table t;
  for (int r = 0; r < 16; ++r) {
    t.rows[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * r)));
  }
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        lookup32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), t));
  }
  if (i < n) {
    alignas(32) int8_t xb[32] = {}, yb[32];
    std::memcpy(xb, x + i, static_cast<size_t>(n - i));
    _mm256_store_si256(reinterpret_cast<__m256i*>(yb), lookup32(_mm256_load_si256(reinterpret_cast<const __m256i*>(xb)), t));
    std::memcpy(y + i, yb, static_cast<size_t>(n - i));
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
