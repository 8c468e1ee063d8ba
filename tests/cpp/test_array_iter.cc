// ArrayView, flatten() and for_each_block(): every element of any strided
// view is delivered exactly once, for any sub-range split; float16 -> float32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "calib/array_iter.h"
#include "core/half.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {
namespace {

using detail::flatten;
using detail::for_each_block;

// Values of a view by plain index arithmetic (the oracle), sorted.
std::vector<float> oracle(const ArrayView& v) {
  std::vector<float> out;
  const int64_t n = v.size(), nd = static_cast<int64_t>(v.shape.size());
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rest = flat, offset = 0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      offset += (rest % v.shape[d]) * v.strides[d];
      rest /= v.shape[d];
    }
    const char* p = static_cast<const char*>(v.data) + offset;
    if (v.dtype == DType::kFloat32) {
      float f;
      std::memcpy(&f, p, 4);
      out.push_back(f);
    } else {
      uint16_t h;
      std::memcpy(&h, p, 2);
      out.push_back(half_bits_to_float(h));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Values delivered by for_each_block over `splits` consecutive sub-ranges, sorted.
std::vector<float> delivered(const ArrayView& v, int splits) {
  const detail::FlatView f = flatten(v, "test");
  std::vector<float> out;
  for (int s = 0; s < splits; ++s) {
    for_each_block(f, f.size * s / splits, f.size * (s + 1) / splits,
                   [&](const float* p, int64_t n) { out.insert(out.end(), p, p + n); });
  }
  std::sort(out.begin(), out.end());
  return out;
}

ArrayView view(const void* base, DType dtype, std::vector<int64_t> shape,
               std::vector<int64_t> strides) {
  ArrayView v;
  v.data = base;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.strides = std::move(strides);
  return v;
}

TEST(ArrayView, SizeAndContiguous) {
  std::vector<float> data(10);
  ArrayView v = ArrayView::contiguous(data.data(), 10);
  EXPECT_EQ(v.size(), 10);
  EXPECT_EQ(v.strides, std::vector<int64_t>{4});
  EXPECT_EQ(view(data.data(), DType::kFloat32, {}, {}).size(), 1);  // 0-d
  EXPECT_EQ(view(data.data(), DType::kFloat32, {3, 0, 2}, {0, 0, 0}).size(), 0);
}

TEST(ArrayIter, CanonicalisesTransposedAndReversedToOneRun) {
  std::vector<float> data(6 * 7);
  ArrayView t = view(data.data(), DType::kFloat32, {7, 6}, {4, 28});  // transpose of 6x7
  EXPECT_TRUE(flatten(t, "t").contiguous());
  ArrayView r = view(data.data() + 41, DType::kFloat32, {6, 7}, {-28, -4});  // [::-1, ::-1]
  detail::FlatView f = flatten(r, "r");
  EXPECT_TRUE(f.contiguous());
  EXPECT_EQ(reinterpret_cast<const float*>(f.base), data.data());
}

TEST(ArrayIter, EveryElementOnceForStridedViews) {
  std::vector<float> data(2 * 9 * 11 * 5 + 1);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
  const float* b = data.data();
  const std::vector<ArrayView> views = {
      view(b, DType::kFloat32, {2, 9, 11, 5}, {1980, 220, 20, 4}),
      view(b, DType::kFloat32, {5, 11, 9, 2}, {4, 20, 220, 1980}),
      view(b + 1, DType::kFloat32, {2, 5, 11}, {1980, 44, 8}),
      view(b + 989, DType::kFloat32, {9, 11}, {-220, -20}),
      view(b, DType::kFloat32, {4, 990}, {0, 4}),  // broadcast
      view(b, DType::kFloat32, {3, 1, 300}, {1200, 4, 4}),
      view(b + 7, DType::kFloat32, {}, {}),
      view(b, DType::kFloat32, {0, 5}, {20, 4}),
      view(reinterpret_cast<const char*>(b) + 2, DType::kFloat32, {400}, {4}),  // unaligned
  };
  for (size_t k = 0; k < views.size(); ++k) {
    for (int splits : {1, 2, 7}) {
      EXPECT_EQ(delivered(views[k], splits), oracle(views[k])) << "view " << k << " splits " << splits;
    }
  }
}

TEST(ArrayIter, Float16ViewsAreConverted) {
  std::vector<uint16_t> halves(3000);
  std::mt19937 rng(7);
  for (uint16_t& h : halves) h = static_cast<uint16_t>(rng() % 0x7c00) | ((rng() & 1) << 15);
  const uint16_t* b = halves.data();
  for (const ArrayView& v : {view(b, DType::kFloat16, {3000}, {2}),
                             view(b + 2999, DType::kFloat16, {30, 50}, {-100, -2}),
                             view(b, DType::kFloat16, {50, 20}, {2, 120})}) {
    EXPECT_EQ(delivered(v, 3), oracle(v));
  }
}

TEST(ArrayIter, RejectsInconsistentViews) {
  float x = 0;
  EXPECT_THROW(flatten(view(&x, DType::kFloat32, {2, 2}, {8}), "t"), InvalidArgument);
  EXPECT_THROW(flatten(view(&x, DType::kFloat32, {-1}, {4}), "t"), InvalidArgument);
  EXPECT_THROW(flatten(view(nullptr, DType::kFloat32, {2}, {4}), "t"), InvalidArgument);
}

TEST(Half, AllBitPatternsMatchTheFormula) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    const float got = half_bits_to_float(h);
    if (exponent == 31) {
      EXPECT_EQ(std::isnan(got), mantissa != 0) << bits;
      if (mantissa == 0) EXPECT_EQ(got, static_cast<float>(sign * INFINITY)) << bits;
      continue;
    }
    const double expect = exponent == 0 ? sign * std::ldexp(mantissa, -24)
                                        : sign * std::ldexp(1024 + mantissa, exponent - 25);
    ASSERT_EQ(got, static_cast<float>(expect)) << "bits " << bits;
    ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << bits;
  }
}

}  // namespace
}  // namespace calib
}  // namespace int8rt
