// Quantization numerics (int8rt/quantization.h) and the calibration-method
// table (calib/methods.cc, method_table): scale_from_amax and
// amax_from_scale as float32 arithmetic on edge values, per-channel weights
// with half-way quotients rounding to even, the cache's hex both ways, and
// every method's names and TensorRT header round-tripping through a cache.
// Floats are compared with ==, which is bitwise for the non-NaN, non-negative
// values used here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace {

const float kMax = std::numeric_limits<float>::max();
const float kTiny = std::numeric_limits<float>::min();
const float kDenorm = std::numeric_limits<float>::denorm_min();
const float kInf = std::numeric_limits<float>::infinity();

TEST(Quantization, ScaleFromAmaxEdges) {
  // volatile: the divisions happen at run time, as the library's do.
  for (volatile float a : {0.0f, kDenorm, kTiny, 1.0f, 127.0f, 3.0e38f, kMax, kInf}) {
    const float want = a / 127.0f;
    EXPECT_EQ(quant::scale_from_amax(a), want) << a;
    EXPECT_EQ(calib::scale_from_amax(a), want) << a;  // the calib name is the same function
  }
  EXPECT_EQ(quant::scale_from_amax(0.0f), 0.0f);
  EXPECT_EQ(quant::scale_from_amax(127.0f), 1.0f);
  EXPECT_EQ(quant::scale_to_hex(quant::scale_from_amax(1.0f)), "3c010204");
  EXPECT_TRUE(std::isnan(quant::scale_from_amax(std::nanf(""))));
  EXPECT_EQ(quant::amax_from_scale(1.0f), 127.0f);
  EXPECT_EQ(quant::amax_from_scale(kMax), kInf);
}

TEST(Quantization, WeightsRoundHalfWayToEven) {
  // amax 127 * 2^-20: the scale is exactly 2^-20, so w / s is exact and each
  // k + 0.5 lies half-way.
  const float s = std::ldexp(1.0f, -20);
  const std::vector<float> q_of = {127, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 62.5f, -63.5f, 126.5f, -126.5f};
  std::vector<float> w;
  for (float v : q_of) w.push_back(v * s);
  quant::QuantizedWeights qw = quant::quantize_weights_per_channel(w.data(), 1, static_cast<int64_t>(w.size()));
  ASSERT_EQ(qw.scales.size(), 1u);
  EXPECT_EQ(qw.scales[0], s);
  EXPECT_EQ(qw.values, (std::vector<int8_t>{127, 0, 2, 2, 0, -2, 62, -64, 126, -126}));
}

TEST(Quantization, WeightsEqualNearbyintOfTheQuotient) {
  // The rule as quantization.h states it, against the vectorized rounding
  // in quantization.cc: rows of random magnitudes, quotients near every
  // half-way point, and NaN / infinite weights.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  const int64_t channels = 64, per = 1000;
  std::vector<float> w(static_cast<size_t>(channels * per));
  for (int64_t k = 0; k < channels; ++k) {
    const float mag = std::ldexp(1.0f, static_cast<int>(k % 40) - 20);
    for (int64_t i = 0; i < per; ++i) {
      float v = unit(rng) * mag;
      if (i % 7 == 0) v = (std::nearbyint(unit(rng) * 127.0f) + 0.5f) * (mag / 127.0f);  // near a half step
      w[static_cast<size_t>(k * per + i)] = v;
    }
  }
  w[5] = std::numeric_limits<float>::quiet_NaN();
  w[static_cast<size_t>(per + 3)] = kInf;
  w[static_cast<size_t>(2 * per + 9)] = -kInf;
  const quant::QuantizedWeights qw = quant::quantize_weights_per_channel(w.data(), channels, per);
  for (int64_t k = 0; k < channels; ++k) {
    float amax = 0.0f;
    for (int64_t i = 0; i < per; ++i) amax = std::max(amax, std::fabs(w[static_cast<size_t>(k * per + i)]));
    const float from_amax = quant::scale_from_amax(amax);
    const float s = from_amax >= std::numeric_limits<float>::min() ? from_amax : 1.0f;
    ASSERT_EQ(qw.scales[static_cast<size_t>(k)], s) << k;
    for (int64_t i = 0; i < per; ++i) {
      const float q = std::nearbyint(w[static_cast<size_t>(k * per + i)] / s);
      const auto want = static_cast<int8_t>(std::min(quant::kInt8Max, std::max(-quant::kInt8Max, q)));
      ASSERT_EQ(qw.values[static_cast<size_t>(k * per + i)], want) << k << " " << i;
    }
  }
}

TEST(Quantization, WeightsEdgeChannels) {
  const std::vector<float> w = {
      0.0f, 0.0f, 0.0f,            // all zero: scale 1, values 0
      kDenorm, -kDenorm, 0.0f,     // amax / 127 below the smallest normal: scale 1, values 0
      kMax, -kMax, kMax / 2,       // FLT_MAX: the quotients stay finite
      1.27f, -0.635f, 0.0064f,     // ordinary
  };
  quant::QuantizedWeights qw = quant::quantize_weights_per_channel(w.data(), 4, 3);
  EXPECT_EQ(qw.scales[0], 1.0f);
  EXPECT_EQ(qw.scales[2], kMax / 127.0f);
  EXPECT_EQ(qw.scales[3], 1.27f / 127.0f);
  EXPECT_EQ(qw.scales[1], 1.0f);
  EXPECT_EQ(qw.values, (std::vector<int8_t>{0, 0, 0, 0, 0, 0, 127, -127, 63, 127, -64, 1}));
}

TEST(Quantization, CacheHexBothWays) {
  struct Case {
    float value;
    const char* hex;
  };
  for (const Case& c : {Case{0.0f, "0"}, Case{kDenorm, "1"}, Case{1.0f, "3f800000"},
                        Case{1.0f / 127.0f, "3c010204"}, Case{kInf, "7f800000"}, Case{kMax, "7f7fffff"}}) {
    EXPECT_EQ(quant::scale_to_hex(c.value), c.hex);
    float back = -1.0f;
    ASSERT_TRUE(quant::scale_from_hex(c.hex, &back)) << c.hex;
    EXPECT_EQ(back, c.value) << c.hex;
  }
  float x = 0.0f;
  EXPECT_TRUE(quant::scale_from_hex("3C010204", &x));
  EXPECT_EQ(x, 1.0f / 127.0f);
  for (const char* bad : {"", "123456789", "xyz", "0x1", "1 "}) {
    float untouched = 5.0f;
    EXPECT_FALSE(quant::scale_from_hex(bad, &untouched)) << bad;
    EXPECT_EQ(untouched, 5.0f) << bad;
  }
}

TEST(MethodTable, EveryMethodRoundTripsThroughItsCacheHeader) {
  std::set<std::string> names, headers;
  calib::Histogram h(64);
  std::vector<float> data;
  for (int i = 0; i < 1000; ++i) data.push_back(0.003f * static_cast<float>(i));
  h.collect(calib::ArrayView::contiguous(data.data(), static_cast<int64_t>(data.size())));
  calib::MethodOptions options;
  options.start_bin = 8;
  for (const calib::MethodInfo& m : calib::method_table()) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_TRUE(headers.insert(m.cache_header).second) << m.cache_header;
    EXPECT_EQ(&calib::method_info(m.method), &m);
    EXPECT_EQ(calib::method_name(m.method), m.name);
    EXPECT_EQ(calib::parse_method(m.name), m.method);
    EXPECT_EQ(calib::parse_method(m.cache_header), m.method);
    for (const std::string& alias : m.aliases) EXPECT_EQ(calib::parse_method(alias), m.method) << alias;
    EXPECT_EQ(calib::cache_algorithm_name(m.method), m.cache_header);
    EXPECT_EQ(calib::cache_algorithm_name(m.name), m.cache_header);
    EXPECT_EQ(calib::cache_algorithm_name(m.cache_header), m.cache_header);
    calib::CalibrationCache cache;
    cache.algorithm = calib::cache_algorithm_name(m.method);
    cache.scales = {{"t", quant::scale_from_amax(2.0f)}};
    calib::CalibrationCache back = calib::read_cache(calib::write_cache(cache));
    EXPECT_EQ(calib::parse_method(back.algorithm), m.method) << back.algorithm;
    EXPECT_EQ(calib::compute_amax(h, m.method, options), m.amax(h, options)) << m.name;
  }
  EXPECT_EQ(calib::method_table().size(), 5u);
  EXPECT_EQ(calib::method_table().front().method, calib::Method::kEntropy);  // the default first
  EXPECT_THROW(calib::method_info(static_cast<calib::Method>(99)), InvalidArgument);
}

}  // namespace
}  // namespace int8rt
