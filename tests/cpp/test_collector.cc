// calib::Collector: first-observed order, per-tensor thresholds equal to a
// Histogram fed the same data, errors naming the tensor with nothing changed,
// and shards merged equal to one collector (power_of_two).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {
namespace {

std::vector<float> normal(uint32_t seed, size_t n, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

ArrayView view(const std::vector<float>& v) {
  return ArrayView::contiguous(v.data(), static_cast<int64_t>(v.size()));
}

TEST(Collector, OrderAndThresholdsMatchHistograms) {
  std::vector<std::vector<float>> a, b;
  for (uint32_t i = 0; i < 4; ++i) {
    a.push_back(normal(10 + i, 3000, 1.0f + i));
    b.push_back(normal(20 + i, 500, 0.25f));
  }
  Collector c(Method::kEntropy);
  for (size_t i = 0; i < a.size(); ++i) c.observe_batch({{"zeta", view(a[i])}, {"alpha", view(b[i])}});
  ASSERT_EQ(c.names(), (std::vector<std::string>{"zeta", "alpha"}));
  Histogram ha, hb;
  for (size_t i = 0; i < a.size(); ++i) {
    ha.collect(view(a[i]));
    hb.collect(view(b[i]));
  }
  auto amax = c.amaxes();
  ASSERT_EQ(amax.size(), 2u);
  EXPECT_EQ(amax[0].second, compute_amax(ha, Method::kEntropy));
  EXPECT_EQ(amax[1].second, compute_amax(hb, Method::kEntropy));
  auto scales = c.scales();
  EXPECT_EQ(scales[0].second, scale_from_amax(amax[0].second));
  CalibrationCache cache = c.cache(100300);
  EXPECT_EQ(cache.algorithm, "EntropyCalibration2");
  EXPECT_EQ(cache.version, 100300);
  EXPECT_EQ(cache.scales, scales);
}

TEST(Collector, ErrorNamesTensorAndChangesNothing) {
  std::vector<float> good = normal(1, 100, 1.0f), bad = normal(2, 100, 1.0f);
  bad[17] = std::nanf("");
  Collector c(Method::kMinMax);
  c.observe("conv1_out", view(good));
  std::vector<uint64_t> before = c.histogram("conv1_out").counts();
  try {
    c.observe_batch({{"conv1_out", view(good)}, {"fresh", view(good)}, {"relu_out", view(bad)}});
    FAIL() << "NaN accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("tensor 'relu_out': ", 0), 0u) << e.what();
  }
  EXPECT_EQ(c.names(), std::vector<std::string>{"conv1_out"});
  EXPECT_EQ(c.histogram("conv1_out").counts(), before);
  EXPECT_THROW(c.histogram("fresh"), InvalidArgument);
}

TEST(Collector, MergedShardsEqualOneCollector) {
  Collector whole(Method::kPercentile, {}, 2048, RangePolicy::kPowerOfTwo);
  std::vector<Collector> shards(3, Collector(Method::kPercentile, {}, 2048, RangePolicy::kPowerOfTwo));
  for (uint32_t i = 0; i < 9; ++i) {
    std::vector<float> x = normal(100 + i, 1000, 0.5f * (i + 1));
    std::vector<float> y = normal(200 + i, 300, 3.0f);
    whole.observe_batch({{"x", view(x)}, {"y", view(y)}});
    shards[i % 3].observe_batch({{"x", view(x)}, {"y", view(y)}});
  }
  shards[0].merge(shards[1]);
  shards[0].merge(shards[2]);
  EXPECT_EQ(shards[0].names(), whole.names());
  for (const std::string& n : whole.names()) {
    EXPECT_EQ(shards[0].histogram(n).counts(), whole.histogram(n).counts()) << n;
  }
  EXPECT_EQ(shards[0].amaxes(), whole.amaxes());
  Collector extend(Method::kPercentile);
  EXPECT_THROW(extend.merge(whole), InvalidArgument);
}

}  // namespace
}  // namespace calib
}  // namespace int8rt
