// Edge cases of the threshold methods (csrc/calib/{entropy,entropy_legacy,
// minmax,percentile,mse,methods}.cc): names, option checks, degenerate
// histograms, and small histograms whose divergences are written out by hand
// from the definitions in the files' header comments. The broad comparison
// with independent NumPy implementations is tests/test_methods_golden.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "calib/entropy_legacy_kl.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"

namespace int8rt {
namespace calib {
namespace {

Histogram make(std::vector<uint64_t> counts, float width, float max_abs = 0.0f) {
  return Histogram::from_state(std::move(counts), width, max_abs);
}

// KL(P || Q) of two unnormalised vectors, term by term (test-side spelling of
// scipy.stats.entropy for strictly positive inputs).
double kl(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t j = 0; j < p.size(); ++j) {
    sp += p[j];
    sq += q[j];
  }
  double d = 0;
  for (size_t j = 0; j < p.size(); ++j) {
    if (p[j] > 0) d += p[j] / sp * std::log((p[j] / sp) / (q[j] / sq));
  }
  return d;
}

MethodOptions two_level_options() {
  MethodOptions o;
  o.num_bits = 2;  // 2 levels
  o.start_bin = 2;
  return o;
}

TEST(MethodNames, ParseCanonicalAliasesAndRoundTrip) {
  for (Method m : {Method::kEntropy, Method::kEntropyLegacy, Method::kMinMax,
                   Method::kPercentile, Method::kMse}) {
    EXPECT_EQ(parse_method(method_name(m)), m);
  }
  EXPECT_EQ(parse_method("entropy2"), Method::kEntropy);
  EXPECT_EQ(parse_method("EntropyCalibration2"), Method::kEntropy);
  EXPECT_EQ(parse_method("EntropyCalibration"), Method::kEntropyLegacy);
  EXPECT_EQ(parse_method("MinMaxCalibration"), Method::kMinMax);
  EXPECT_EQ(parse_method("LegacyCalibration"), Method::kPercentile);
}

TEST(MethodNames, UnknownNameListsValidOnes) {
  try {
    parse_method("Entropy");
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'entropy_legacy'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'Entropy'"), std::string::npos) << e.what();
  }
}

TEST(MethodOptionsCheck, BadValuesThrow) {
  Histogram h = make(std::vector<uint64_t>(256, 1), 1.0f, 256.0f);
  MethodOptions o;
  o.num_bits = 1;
  EXPECT_THROW(amax_entropy(h, o), InvalidArgument);
  o.num_bits = 17;
  EXPECT_THROW(amax_mse(h, o), InvalidArgument);
  o = MethodOptions{};
  o.start_bin = 0;
  EXPECT_THROW(amax_entropy_legacy(h, o), InvalidArgument);
  o = MethodOptions{};
  o.stride = 0;
  EXPECT_THROW(entropy_divergences(h, o), InvalidArgument);
  for (double p : {0.0, -1.0, 100.0001, std::numeric_limits<double>::quiet_NaN()}) {
    o = MethodOptions{};
    o.percentile = p;
    EXPECT_THROW(amax_percentile(h, o), InvalidArgument) << p;
  }
}

TEST(Methods, EmptyHistogramGivesZero) {
  Histogram h(2048);
  for (Method m : {Method::kEntropy, Method::kEntropyLegacy, Method::kMinMax,
                   Method::kPercentile, Method::kMse}) {
    EXPECT_EQ(compute_amax(h, m), 0.0f) << method_name(m);
  }
}

TEST(Methods, NoCandidateGivesLastEdge) {
  Histogram h = make(std::vector<uint64_t>(100, 3), 0.5f, 50.0f);
  for (Method m : {Method::kEntropy, Method::kEntropyLegacy, Method::kMse}) {
    EXPECT_EQ(compute_amax(h, m), 50.0f) << method_name(m);
  }
  EXPECT_TRUE(entropy_divergences(h, MethodOptions{}).empty());
}

TEST(Methods, MinMaxIsMaxAbsExactly) {
  Histogram h = make({1, 2, 3}, 0.1f, 0.2999999f);
  EXPECT_EQ(compute_amax(h, Method::kMinMax), 0.2999999f);
}

TEST(Percentile, ExactBinaryFractions) {
  // cdf = 0.25, 0.5, 0.75, 1.0 exactly; first index with cdf >= p/100.
  Histogram h = make({1, 1, 1, 1}, 2.0f, 8.0f);
  MethodOptions o;
  o.percentile = 50.0;
  EXPECT_EQ(amax_percentile(h, o), 2.0f);  // edges[1]
  o.percentile = 50.001;
  EXPECT_EQ(amax_percentile(h, o), 4.0f);
  o.percentile = 100.0;
  EXPECT_EQ(amax_percentile(h, o), 6.0f);
  o.percentile = 1e-9;
  EXPECT_EQ(amax_percentile(h, o), 0.0f);
}

TEST(Entropy, HandComputedDivergencesTwoLevels) {
  // bins = [5, 1, 3, 2] -> [1, 1, 3, 2] after bins[0] = bins[1]; 2 levels.
  // i=2: levels {0},{1};     P=[1, 1+5], Q=[1, 1]
  // i=3: levels {0,1},{2};   P=[1, 1, 3+2], Q=[1, 1, 3]
  // i=4: levels {0,1},{2,3}; P=[1, 1, 3, 2], Q=[1, 1, 2.5, 2.5]
  Histogram h = make({5, 1, 3, 2}, 0.5f, 2.0f);
  const std::vector<double> want = {kl({1, 6}, {1, 1}), kl({1, 1, 5}, {1, 1, 3}),
                                    kl({1, 1, 3, 2}, {1, 1, 2.5, 2.5})};
  MethodOptions o = two_level_options();
  for (bool ref : {false, true}) {
    o.reference_order = ref;
    std::vector<double> got = entropy_divergences(h, o);
    ASSERT_EQ(got.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      // Float64 regrouping of a 4-term sum: a few ulps of log(7).
      EXPECT_NEAR(got[k], want[k], 1e-15) << "candidate " << k << " ref=" << ref;
    }
    const size_t best = std::min_element(want.begin(), want.end()) - want.begin();
    EXPECT_EQ(amax_entropy(h, o), 0.5f * static_cast<float>(2 + best));
  }
}

TEST(Entropy, ClippingOntoEmptyBinIsInfinite) {
  // i=2 clips the count of bin 3 onto bin 1, which is empty: P > 0 where Q = 0.
  Histogram h = make({4, 0, 2, 1}, 1.0f, 4.0f);
  MethodOptions o = two_level_options();
  for (bool ref : {false, true}) {
    o.reference_order = ref;
    std::vector<double> d = entropy_divergences(h, o);
    EXPECT_TRUE(std::isinf(d[0]));  // bins after bins[0]=bins[1]: [0, 0, 2, 1]
    EXPECT_TRUE(std::isfinite(d[1]));
    EXPECT_TRUE(std::isfinite(d[2]));
  }
}

TEST(Entropy, ExactTieGoesToLargestCandidate) {
  // Candidates i=5 and i=6 group the non-zero bins identically (bin 5 empty).
  Histogram h = make({1, 1, 1, 2, 1, 0, 0}, 0.25f, 1.7f);
  MethodOptions o = two_level_options();
  for (bool ref : {false, true}) {
    o.reference_order = ref;
    EXPECT_EQ(amax_entropy(h, o), 1.5f) << "ref=" << ref;
  }
}

TEST(Entropy, AllCandidatesTiedPicksLast) {
  // Equal counts below bin 100: each candidate's Q equals its P, KL = 0
  // mathematically; the fast path lands within rounding of 0, the tie rule
  // (search_common.h) still sees every candidate as tied and takes the last.
  std::vector<uint64_t> c(2048, 0);
  for (int j = 0; j < 100; ++j) c[j] = 7;
  Histogram h = make(c, 0.5f, 50.0f);
  for (bool ref : {false, true}) {
    MethodOptions o;
    o.reference_order = ref;
    EXPECT_EQ(amax_entropy(h, o), 1024.0f) << "ref=" << ref;
  }
}

TEST(Entropy, MassOnlyInBinZeroFallsBackToMaxAbs) {
  std::vector<uint64_t> c(256, 0);
  c[0] = 9;
  Histogram h = make(c, 0.01f, 0.004f);
  EXPECT_EQ(amax_entropy(h, MethodOptions{}), 0.004f);
  for (double d : entropy_divergences(h, MethodOptions{})) EXPECT_TRUE(std::isnan(d));
}

TEST(Entropy, SingleBinHistogram) {
  MethodOptions o;
  o.start_bin = 1;
  EXPECT_EQ(amax_entropy(make({5}, 0.5f, 0.4f), o), 0.5f);
}

TEST(Entropy, FastMatchesReferenceAndIsThreadCountIndependent) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> c(3000);
  std::gamma_distribution<double> g(1.5, 200.0);
  for (size_t j = 0; j < c.size(); ++j) {
    c[j] = static_cast<uint64_t>(g(rng) * std::exp(-static_cast<double>(j) / 400.0));
  }
  Histogram h = make(c, 1e-3f, 3.0f);
  MethodOptions o;
  const int saved = get_num_threads();
  set_num_threads(1);
  const std::vector<double> one = entropy_divergences(h, o);
  set_num_threads(2);
  const std::vector<double> two = entropy_divergences(h, o);
  set_num_threads(saved);
  ASSERT_EQ(one.size(), two.size());
  for (size_t k = 0; k < one.size(); ++k) ASSERT_EQ(one[k], two[k]) << k;  // bitwise
  o.reference_order = true;
  const std::vector<double> ref = entropy_divergences(h, o);
  for (size_t k = 0; k < one.size(); ++k) {
    if (std::isinf(ref[k])) {
      EXPECT_TRUE(std::isinf(one[k])) << k;
    } else {
      // Regrouped float64 sums; see tests/test_methods_golden.py KL_BOUND.
      EXPECT_NEAR(one[k], ref[k], 2e-13) << k;
    }
  }
  MethodOptions fast;
  EXPECT_EQ(amax_entropy(h, fast), amax_entropy(h, o));
}

TEST(EntropyLegacy, HandComputedSmoothing) {
  // bins = [1, 0, 3, 2, 0, 1], 2 levels, candidates i = 2..6; eps = 1e-4 and
  // eps1(z, n) = eps * z / n for z zeros and n non-zeros.
  //  i=2: g=1, groups {0},{1}; P=[1, 0+6]; Q from bins: [1, 0/1] -> Q=[1, 0].
  //       P has no zero: unchanged; Q: [1 - eps1(1,1), eps].
  //  i=3: g=1, groups {0},{1,2}; P=[1, 0, 3+3]; Q=[1, 0, 3/1].
  //  i=4: g=2, groups {0,1},{2,3}; P=[1, 0, 3, 2+1]; Q=[1/1, 0, 5/2, 5/2].
  //  i=5: g=2, groups {0,1},{2,3,4}; P=[1, 0, 3, 2, 0+1]; Q=[1, 0, 5/3, 5/3, 5/3].
  //  i=6: g=3, groups {0,1,2},{3,4,5}; P=[1,0,3,2,0,1]; Q=[4/2, 0, 4/2, 3/2, 0, 3/2].
  Histogram h = make({1, 0, 3, 2, 0, 1}, 0.5f, 3.0f);
  const double e = 1e-4;
  auto e1 = [&](double z, double n) { return e * z / n; };
  const double a = e1(1, 2), b = e1(1, 3), c = e1(1, 4), d = e1(2, 4);
  const std::vector<double> want = {
      kl({1, 6}, {1 - e1(1, 1), e}),
      kl({1 - a, e, 6 - a}, {1 - a, e, 3 - a}),
      kl({1 - b, e, 3 - b, 3 - b}, {1 - b, e, 2.5 - b, 2.5 - b}),
      kl({1 - c, e, 3 - c, 2 - c, 1 - c}, {1 - c, e, 5.0 / 3 - c, 5.0 / 3 - c, 5.0 / 3 - c}),
      kl({1 - d, e, 3 - d, 2 - d, e, 1 - d}, {2 - d, e, 2 - d, 1.5 - d, e, 1.5 - d}),
  };
  const std::vector<double> got = detail::entropy_legacy_divergences(h, two_level_options());
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_NEAR(got[k], want[k], 1e-15) << "candidate " << k;  // ulps of a 6-term sum
  }
  const size_t best = std::min_element(want.begin(), want.end()) - want.begin();
  EXPECT_EQ(amax_entropy_legacy(h, two_level_options()),
            (static_cast<float>(2 + best) + 0.5f) * 0.5f);
}

TEST(EntropyLegacy, SmoothingFailureIsInfinite) {
  // 20001 bins with one count: eps1 = 1e-4 * 20000 / 1 >= 1 at i = 20001
  // (MXNet asserts; int8rt rejects the candidate). Smaller i: still finite.
  std::vector<uint64_t> c(20001, 0);
  c[0] = 1;
  MethodOptions o;
  o.start_bin = 9000;
  o.stride = 11000;  // candidates 9000 and 20000
  std::vector<double> d =
      detail::entropy_legacy_divergences(make(c, 1.0f, 0.5f), o);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(std::isfinite(d[0]));
  EXPECT_TRUE(std::isinf(d[1]));
}

TEST(EntropyLegacy, ExactTieGoesToFirstCandidate) {
  Histogram h = make({3, 3, 2, 2, 0}, 0.25f, 1.2f);
  EXPECT_EQ(amax_entropy_legacy(h, two_level_options()), 4.5f * 0.25f);
}

TEST(Mse, ExactTieGoesToFirstCandidate) {
  Histogram h = make({0, 1, 0, 1, 0, 0, 1}, 1.0f, 6.9f);
  MethodOptions o = two_level_options();
  EXPECT_EQ(amax_mse(h, o), 4.5f);
}

TEST(Mse, AllMassAtZeroCentreTiesEveryCandidate) {
  // Bin 0's centre quantizes to 0 for every candidate: equal MSE, first wins.
  std::vector<uint64_t> c(2048, 0);
  c[0] = 1000;
  Histogram h = make(c, 1.0f, 0.9f);
  EXPECT_EQ(amax_mse(h, MethodOptions{}), 128.5f);
}

}  // namespace
}  // namespace calib
}  // namespace int8rt
