// The AVX512-BF16 attention operand converters
// (csrc/kernels/x86/avx512bf16/attention_bf16_8x32.cc) compiled against the
// AVX-512 emulation header (namespace x86::emulated::avx512bf16, baseline
// flags, any x86-64 CPU) == (bytes) the reference converters
// (kernels/ref/attention_bf16.cc), the padding included: rows and panels
// (k-major and keys), sizes around the 16-lane vector, the 32-column panel
// and the keys' 16-pair blocks, odd k (a pair's zero half), row strides
// wider than the rows, no scale / a finite scale / an infinite one (the
// padding stays zero), on special values (zeros, denormals, infinities,
// NaNs, rounding ties) and random bit patterns; guard words after every
// output. The native converters are checked through the engine
// (tests/test_bf16_attention_products.py: the fused layer == the unfused
// BF16 chain, bits).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/abi/attention_bf16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avx512bf16 {
void bf16_scaled_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale, uint16_t* dst,
                      int64_t dst_ld);
void bf16_scaled_panel(const float* src, int64_t ld, int64_t k, int64_t n, bool keys, const float* scale, int nr,
                       uint16_t* dst);
}  // namespace avx512bf16
}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;
namespace emu = int8rt::kernels::x86::emulated::avx512bf16;

namespace {

constexpr uint16_t kGuard = 0xAAAA;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Specials first (signed zeros, denormals, infinities, quiet and signalling
// NaNs, ties at even and odd BF16 mantissas, the largest float), then
// random bit patterns of finite values and plain values in [-4, 4].
std::vector<float> values(size_t n, uint32_t seed) {
  std::vector<float> v;
  for (uint32_t u : {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                     0xFF800001u, 0x7F800001u, 0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7FFFFFu, 0x00800000u}) {
    v.push_back(from_bits(u));
  }
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  while (v.size() < n) v.push_back(gen() % 2 ? from_bits(static_cast<uint32_t>(gen()) & 0xBF7FFFFFu) : d(gen));
  v.resize(n);
  return v;
}

const float kScales[] = {0.0f /* none */, 0.353553f, std::numeric_limits<float>::infinity()};

TEST(AvxBf16Emulated, AttentionRowsEqualTheReference) {
  for (int64_t cols : {1, 2, 15, 16, 17, 33, 64}) {
    for (int64_t rows : {1, 3}) {
      for (float s : kScales) {
        const int64_t ld = cols + 5, dst_ld = (cols + 1) / 2 * 2 + 3;
        const std::vector<float> src = values(static_cast<size_t>(rows * ld), static_cast<uint32_t>(cols * 7 + rows));
        std::vector<uint16_t> got(static_cast<size_t>(rows * dst_ld + 4), kGuard), want = got;
        const float* scale = s == 0.0f ? nullptr : &s;
        emu::bf16_scaled_rows(src.data(), ld, rows, cols, scale, got.data(), dst_ld);
        k::ref::bf16_scaled_rows(src.data(), ld, rows, cols, scale, want.data(), dst_ld);
        ASSERT_EQ(got, want) << "rows=" << rows << " cols=" << cols << " scale=" << s;
      }
    }
  }
}

TEST(AvxBf16Emulated, AttentionPanelsEqualTheReference) {
  constexpr int kNr = 32;
  for (bool keys : {false, true}) {
    for (int64_t kk : {1, 2, 3, 31, 32, 33, 64, 65}) {
      for (int64_t n : {1, 15, 16, 17, 32, 33, 70}) {
        for (float s : kScales) {
          // keys: src [n][kk]; k-major: src [kk][n]; rows 3 wider than they are read.
          const int64_t ld = (keys ? kk : n) + 3, src_rows = keys ? n : kk;
          const std::vector<float> src = values(static_cast<size_t>(src_rows * ld), static_cast<uint32_t>(kk * 131 + n));
          const size_t len = static_cast<size_t>((n + kNr - 1) / kNr * ((kk + 1) / 2) * kNr * 2);
          std::vector<uint16_t> got(len + 4, kGuard), want = got;
          const float* scale = s == 0.0f ? nullptr : &s;
          emu::bf16_scaled_panel(src.data(), ld, kk, n, keys, scale, kNr, got.data());
          k::ref::bf16_scaled_panel(src.data(), ld, kk, n, keys, scale, kNr, want.data());
          ASSERT_EQ(got, want) << (keys ? "keys" : "k-major") << " k=" << kk << " n=" << n << " scale=" << s;
        }
      }
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
