// The float-table kernels over int8 codes (kernels/eltwise_s8.h): lookup_f32
// (int8rt.QLutFloat) and softmax_s8 (int8rt.QSoftmaxFloat), every candidate
// the CPU runs (capped by INT8RT_MAX_ISA) against the reference, bit for
// bit, with guard bytes after every output and two different pre-fills; and
// the reference softmax_s8 against its claim: the float Softmax rule
// (ref/softmax_f32.h) of the dequantized codes, bit for bit. Lengths around
// every vector step (8, 16) and a PP-OCR-sized row (6625).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"
#include "kernels/ref/softmax_f32.h"
#include "kernels/registry.h"

namespace k = int8rt::kernels;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;
using int8rt::testing::uniform_f32;

namespace {

// The op's candidates that run here, reference excluded.
template <class K>
std::vector<const K*> fast() {
  return int8rt::testing::fast_candidates<K>();
}

const int64_t kLengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 300, 6625};

// Every code in x (where n allows), a table with distinct entries, NaN and infinities.
TEST(LutSoftmaxKernels, LookupF32MatchesReference) {
  std::vector<float> table = uniform_f32(256, 5, -3.0f, 3.0f);
  table[0] = std::numeric_limits<float>::quiet_NaN();
  table[255] = std::numeric_limits<float>::infinity();
  table[128] = -0.0f;
  for (const k::LookupF32S8Kernel* s : fast<k::LookupF32S8Kernel>()) {
    for (int64_t n : kLengths) {
      auto x = random_s8(static_cast<size_t>(n), static_cast<uint32_t>(n) + 3);
      for (int64_t i = 0; i < n && i < 256; ++i) x[i] = static_cast<int8_t>(i - 128);
      auto run = [&](const k::LookupF32S8Kernel& e) {
        return run_guarded("lookup_f32", n * sizeof(float),
                           [&](void* y) { e.lookup_f32(n, x.data(), table.data(), static_cast<float*>(y)); });
      };
      const auto want = run(k::reference_kernel<k::LookupF32S8Kernel>());
      int8rt::testing::expect_same(std::string(s->name()) + " n=" + std::to_string(n), run(*s), want, 4);
      if (n >= 256) {  // the reference itself: entry x + 128
        for (int i = 0; i < 256; ++i) EXPECT_EQ(std::memcmp(&want[4 * i], &table[i], 4), 0) << "code " << i - 128;
      }
    }
  }
}

// Rows of full-range codes, of a narrow range (all positive, so the row's
// lowest level is not -128), of one repeated code, at scales small and large
// (exp underflows to 0 far from the row's maximum).
std::vector<int8_t> softmax_codes(int64_t rows, int64_t n, int kind, uint32_t seed) {
  auto x = random_s8(static_cast<size_t>(rows * n), seed);
  for (auto& v : x) {
    if (kind == 1) v = static_cast<int8_t>(40 + (static_cast<uint8_t>(v) % 23));
    if (kind == 2) v = 17;
  }
  return x;
}

TEST(LutSoftmaxKernels, SoftmaxS8IsTheFloatSoftmaxOfTheCodes) {
  for (float scale : {0.004f, 0.11f, 0.9f}) {
    for (int kind : {0, 1, 2}) {
      for (int64_t n : kLengths) {
        const int64_t rows = 3;
        auto x = softmax_codes(rows, n, kind, static_cast<uint32_t>(n * 7 + kind));
        std::vector<float> dq(x.size()), want(x.size()), got(x.size());
        for (size_t i = 0; i < x.size(); ++i) dq[i] = k::ref::dequantize_value(x[i], scale);
        k::ref::softmax_rows_loop(rows, n, dq.data(), want.data(), false);
        k::ref::softmax_s8_rows(rows, n, x.data(), scale, got.data());
        // n = 0: empty vectors, whose data() may be null, which memcmp must not get even for 0 bytes.
        ASSERT_EQ(got.empty() ? 0 : std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << "scale " << scale << " kind " << kind << " n=" << n;
      }
    }
  }
}

TEST(LutSoftmaxKernels, SoftmaxS8MatchesReference) {
  for (const k::SoftmaxS8Kernel* s : fast<k::SoftmaxS8Kernel>()) {
    for (float scale : {0.004f, 0.11f, 0.9f}) {
      for (int kind : {0, 1, 2}) {
        for (int64_t n : kLengths) {
          const int64_t rows = 3;
          auto x = softmax_codes(rows, n, kind, static_cast<uint32_t>(n * 5 + kind));
          auto run = [&](const k::SoftmaxS8Kernel& e) {
            return run_guarded("softmax_s8", rows * n * sizeof(float),
                               [&](void* y) { e.softmax(rows, n, x.data(), scale, static_cast<float*>(y)); });
          };
          int8rt::testing::expect_same(std::string(s->name()) + " scale " + std::to_string(scale) + " kind " +
                                           std::to_string(kind) + " n=" + std::to_string(n),
                                       run(*s), run(k::reference_kernel<k::SoftmaxS8Kernel>()), 4);
        }
      }
    }
  }
}

}  // namespace
