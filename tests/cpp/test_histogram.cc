// calib::Histogram core properties against a scalar re-statement of the
// header's bin definition: exact counts, NaN handling, power-of-two growth
// exactness, two-pass order, merge, from_state validation, thread counts.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"

namespace int8rt {
namespace calib {
namespace {

std::vector<float> normal(size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// The header's definition, one value at a time.
std::vector<uint64_t> reference_counts(const std::vector<float>& x, float width, int64_t n) {
  std::vector<uint64_t> c(n, 0);
  const float inv = 1.0f / width;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    const double t = std::floor(static_cast<double>(std::fabs(v) * inv));
    c[t >= n - 1 ? n - 1 : static_cast<int64_t>(t)] += 1;
  }
  return c;
}

void collect(Histogram& h, const std::vector<float>& x) {
  h.collect(ArrayView::contiguous(x.data(), static_cast<int64_t>(x.size())));
}

TEST(Histogram, FirstBatchSetsWidthAndCountsExactly) {
  for (int64_t n : {1, 7, 2048}) {
    const std::vector<float> x = normal(300000, 2.0f, 1);
    Histogram h(n);
    collect(h, x);
    float m = 0;
    for (float v : x) m = std::max(m, std::fabs(v));
    EXPECT_EQ(h.max_abs(), m);
    EXPECT_EQ(h.bin_width(), m / static_cast<float>(n));
    EXPECT_EQ(h.counts(), reference_counts(x, h.bin_width(), n)) << "num_bins " << n;
    EXPECT_EQ(h.total_count(), x.size());
  }
}

TEST(Histogram, NanRejectedWithStateUnchangedOrSkipped) {
  std::vector<float> x = normal(200000, 1.0f, 2);
  Histogram h;
  collect(h, {0.5f, 1.0f});
  const std::vector<uint64_t> before = h.counts();
  x[150001] = NAN;
  try {
    collect(h, x);
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("NaN/Inf"), std::string::npos) << e.what();
  }
  EXPECT_EQ(h.counts(), before);
  EXPECT_EQ(h.max_abs(), 1.0f);
  EXPECT_EQ(h.total_count(), 2u);

  Histogram s(2048, RangePolicy::kExtend, NonFinitePolicy::kSkip);
  x[7] = -INFINITY;
  collect(s, x);
  EXPECT_EQ(s.nonfinite_skipped(), 2u);
  EXPECT_EQ(s.total_count(), x.size() - 2);
  EXPECT_EQ(s.counts(), reference_counts(x, s.bin_width(), 2048));
}

TEST(Histogram, PowerOfTwoGrowthEqualsOneBatch) {
  std::vector<float> a = normal(50000, 0.1f, 3), b = normal(50000, 30.0f, 4);
  a.push_back(1.0f);  // a power of two itself: the range must still contain it
  Histogram steps(2048, RangePolicy::kPowerOfTwo), whole(2048, RangePolicy::kPowerOfTwo);
  collect(steps, a);
  EXPECT_EQ(steps.bin_width(), 2.0f / 2048);
  collect(steps, b);
  std::vector<float> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  collect(whole, ab);
  EXPECT_EQ(steps.counts(), whole.counts());
  EXPECT_EQ(steps.bin_width(), whole.bin_width());
  EXPECT_EQ(whole.counts(), reference_counts(ab, whole.bin_width(), 2048));
}

TEST(Histogram, ExtendAppendsBinsOfTheSameWidth) {
  Histogram h(100);
  collect(h, {1.0f, 0.5f});
  const float w = h.bin_width();
  collect(h, {2.5f});
  EXPECT_EQ(h.bin_width(), w);
  EXPECT_EQ(h.num_bins(), static_cast<int64_t>(std::floor(2.5f * (1.0f / w))) + 1);
  EXPECT_EQ(h.counts().back(), 1u);
  EXPECT_EQ(h.initial_num_bins(), 100);
}

TEST(Histogram, TwoPassNeedsObserveAndIsOrderFree) {
  Histogram early(2048, RangePolicy::kTwoPass);
  EXPECT_THROW(collect(early, {1.0f}), InvalidArgument);
  const std::vector<float> a = normal(1000, 1.0f, 5), b = normal(1000, 5.0f, 6);
  Histogram ab(2048, RangePolicy::kTwoPass), ba(2048, RangePolicy::kTwoPass);
  for (Histogram* h : {&ab, &ba}) {
    h->observe_range(ArrayView::contiguous(a.data(), 1000));
    h->observe_range(ArrayView::contiguous(b.data(), 1000));
  }
  collect(ab, a);
  collect(ab, b);
  collect(ba, b);
  collect(ba, a);
  EXPECT_EQ(ab.counts(), ba.counts());
  EXPECT_EQ(ab.bin_width(), ba.bin_width());
}

TEST(Histogram, AllZeroDataHasNoRangeButIsCounted) {
  Histogram h;
  collect(h, std::vector<float>(10, 0.0f));
  EXPECT_EQ(h.bin_width(), 0.0f);
  EXPECT_EQ(h.pending_zeros(), 10u);
  EXPECT_EQ(h.total_count(), 10u);
  for (float e : h.edges()) EXPECT_EQ(e, 0.0f);
  collect(h, {0.0f, 4.0f});
  EXPECT_EQ(h.pending_zeros(), 0u);
  EXPECT_EQ(h.counts()[0], 11u);
  EXPECT_EQ(h.total_count(), 12u);
}

TEST(Histogram, TinyAndHugeMaximaKeepFiniteWidths) {
  Histogram tiny, pow2(2048, RangePolicy::kPowerOfTwo), one(1, RangePolicy::kPowerOfTwo);
  collect(tiny, {1e-44f});
  collect(pow2, {1e-44f});
  collect(one, {3e38f});
  EXPECT_EQ(tiny.bin_width(), FLT_MIN);
  EXPECT_GE(pow2.bin_width(), FLT_MIN);
  EXPECT_TRUE(std::isfinite(one.bin_width()));
  EXPECT_EQ(one.counts()[0], 1u);
  collect(tiny, {3e38f});  // extend far past the cap: bins merge, count stays right
  EXPECT_LE(tiny.num_bins(), int64_t{1} << 20);
  EXPECT_EQ(tiny.total_count(), 2u);
  EXPECT_EQ(tiny.counts().back(), 1u);
}

TEST(Histogram, MergeOfShardsEqualsOneHistogram) {
  const std::vector<float> a = normal(40000, 0.5f, 7), b = normal(40000, 8.0f, 8);
  Histogram ha(2048, RangePolicy::kPowerOfTwo), hb(2048, RangePolicy::kPowerOfTwo),
      whole(2048, RangePolicy::kPowerOfTwo);
  collect(ha, a);
  collect(hb, b);
  collect(whole, a);
  collect(whole, b);
  ha.merge(hb);
  EXPECT_EQ(ha.counts(), whole.counts());
  EXPECT_EQ(ha.max_abs(), whole.max_abs());
  EXPECT_THROW(ha.merge(Histogram()), InvalidArgument);
  EXPECT_THROW(ha.merge(Histogram(1024, RangePolicy::kPowerOfTwo)), InvalidArgument);
}

TEST(Histogram, FromStateValidates) {
  Histogram h = Histogram::from_state({1, 2, 3}, 0.5f, 1.4f);
  EXPECT_EQ(h.total_count(), 6u);
  EXPECT_EQ(h.edges().back(), 1.5f);
  EXPECT_THROW(Histogram::from_state({1}, 0.0f, 0.0f), InvalidArgument);        // counts, no range
  EXPECT_THROW(Histogram::from_state({0}, NAN, 0.0f), InvalidArgument);
  EXPECT_THROW(Histogram::from_state({0}, 1.0f, -1.0f), InvalidArgument);
  EXPECT_THROW(Histogram::from_state({0, 1}, 1.0f, 1.0f, RangePolicy::kExtend, 3), InvalidArgument);
  EXPECT_THROW(Histogram::from_state({0, 1, 0}, 1.0f, 1.0f, RangePolicy::kPowerOfTwo), InvalidArgument);
  EXPECT_THROW(Histogram::from_state({0, 1}, 1.0f, 1.0f, RangePolicy::kExtend, 0,
                                     NonFinitePolicy::kError, 0, 5),
               InvalidArgument);
}

TEST(Histogram, OneAndTwoThreadsAgree) {
  const std::vector<float> x = normal(1 << 21, 3.0f, 9);
  const int before = get_num_threads();
  std::vector<std::vector<uint64_t>> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Histogram h;
    collect(h, x);
    results.push_back(h.counts());
  }
  set_num_threads(before);
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace calib
}  // namespace int8rt
