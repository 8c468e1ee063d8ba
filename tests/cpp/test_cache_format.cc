// TensorRT calibration cache (calib/cache_format.cc): exact writer output,
// bit-exact round trips, the lenient reader, and FormatError line numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {
namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

float from_bits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// The message of the FormatError `data` raises, or "" if none.
std::string format_error(const std::string& data) {
  try {
    read_cache(data);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// A TensorRT 8.6 cache as the builder writes it (ONNX-parsed names).
const char kTrt8[] =
    "TRT-8601-EntropyCalibration2\n"
    "input.1: 3caa4a58\n"
    "/conv1/Conv_output_0: 3de5cb97\n"
    "(Unnamed Layer* 12) [Shuffle]_output: 3cc18306\n"
    "zero: 0\n"
    "output: 7f800000\n";

TEST(CacheFormat, ReadsTensorRT8) {
  CalibrationCache c = read_cache(kTrt8);
  EXPECT_EQ(c.algorithm, "EntropyCalibration2");
  EXPECT_EQ(c.version, 8601);
  ASSERT_EQ(c.scales.size(), 5u);
  EXPECT_EQ(c.scales[0].first, "input.1");
  EXPECT_EQ(bits_of(c.scales[0].second), 0x3caa4a58u);
  EXPECT_EQ(c.scales[2].first, "(Unnamed Layer* 12) [Shuffle]_output");
  EXPECT_EQ(c.scales[3].second, 0.0f);
  EXPECT_TRUE(std::isinf(c.scales[4].second));
  EXPECT_EQ(write_cache(c), kTrt8);
}

TEST(CacheFormat, ReadsTensorRT10Version) {
  CalibrationCache c = read_cache("TRT-101303-MinMaxCalibration\n/model/conv1/Conv_output_0: 7c010204");
  EXPECT_EQ(c.version, 101303);
  EXPECT_EQ(c.algorithm, "MinMaxCalibration");
  ASSERT_EQ(c.scales.size(), 1u);
  EXPECT_EQ(c.scales[0].second, std::numeric_limits<float>::max() / 127.0f);
}

TEST(CacheFormat, WriterIsExact) {
  CalibrationCache c;
  c.algorithm = cache_algorithm_name(Method::kMse);
  c.version = 7000;
  c.scales = {{"a", 0.0f}, {"b: c", 1.0f}, {"den", from_bits(1)}, {"s", scale_from_amax(1.0f)}};
  EXPECT_EQ(write_cache(c), "TRT-7000-MSECalibration\na: 0\nb: c: 3f800000\nden: 1\ns: 3c010204\n");
}

TEST(CacheFormat, RoundTripBitExact) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> finite(0, 0x7f7fffffu);
  CalibrationCache c;
  c.version = 8601;
  c.algorithm = "EntropyCalibration2";
  const uint32_t specials[] = {0u, 1u, 0x007fffffu, 0x00800000u, 0x7f800000u, 0x7f7fffffu, 0x3c010204u};
  for (uint32_t b : specials) c.scales.emplace_back("s" + std::to_string(b), from_bits(b));
  for (int i = 0; i < 1000; ++i) c.scales.emplace_back("r" + std::to_string(i), from_bits(finite(rng)));
  CalibrationCache back = read_cache(write_cache(c));
  ASSERT_EQ(back.scales.size(), c.scales.size());
  for (size_t i = 0; i < c.scales.size(); ++i) {
    ASSERT_EQ(back.scales[i].first, c.scales[i].first);
    ASSERT_EQ(bits_of(back.scales[i].second), bits_of(c.scales[i].second)) << c.scales[i].first;
  }
}

TEST(CacheFormat, LenientReader) {
  std::string crlf = "TRT-8601-EntropyCalibration2\r\n\r\nweird: name [x]*/y: 3C010204 \r\nz: 1";
  CalibrationCache c = read_cache(crlf);
  ASSERT_EQ(c.scales.size(), 2u);
  EXPECT_EQ(c.scales[0].first, "weird: name [x]*/y");
  EXPECT_EQ(bits_of(c.scales[0].second), 0x3c010204u);
  EXPECT_EQ(bits_of(c.scales[1].second), 1u);
}

TEST(CacheFormat, MalformedLinesNameTheLine) {
  EXPECT_NE(format_error("").find("calibration cache is empty"), std::string::npos);
  EXPECT_NE(format_error("x: 1\n").find("line 1: expected a header"), std::string::npos);
  EXPECT_NE(format_error("TRT-8x01-EntropyCalibration2\n").find("line 1: version '8x01'"),
            std::string::npos);
  EXPECT_NE(format_error("TRT-8601-EntropyCalibration2\n\nno separator\n").find("line 3: expected '<tensor name>: <hex scale>'"),
            std::string::npos);
  EXPECT_NE(format_error("TRT-8601-EntropyCalibration2\na: zz\n").find("line 2: hex scale 'zz' is not hexadecimal"),
            std::string::npos);
  EXPECT_NE(format_error("TRT-8601-EntropyCalibration2\na: 100000000\n").find("line 2: hex scale '100000000' has 9 digits"),
            std::string::npos);
  EXPECT_NE(format_error("TRT-8601-EntropyCalibration2\na: 1\nb: 2\na: 3\n").find("line 4: tensor 'a' already appeared on line 2"),
            std::string::npos);
}

TEST(CacheFormat, ReaderRefusesNanAndNegativeScales) {
  for (const char* hex : {"7fc00000", "ffffffff", "bf800000", "80000000", "ff800000"}) {
    std::string msg = format_error(std::string("TRT-8601-EntropyCalibration2\nt: ") + hex + "\n");
    EXPECT_NE(msg.find("line 2: tensor 't' has "), std::string::npos) << hex << ": " << msg;
  }
  for (const char* hex : {"0", "7f800000", "7effffff"}) {  // TensorRT writes these
    EXPECT_NO_THROW(read_cache(std::string("TRT-8601-EntropyCalibration2\nt: ") + hex + "\n")) << hex;
  }
}

TEST(CacheFormat, LongInputIsCutInMessages) {
  std::string msg = format_error("TRT-8601-EntropyCalibration2\nt: " + std::string(100000, 'a') + "\n");
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_NE(msg.find("...' (100000 bytes)"), std::string::npos) << msg;
}

TEST(CacheFormat, WriterRejectsBadEntries) {
  CalibrationCache c;
  c.algorithm = "EntropyCalibration2";
  c.scales = {{"x", -1.0f}};
  EXPECT_THROW(write_cache(c), InvalidArgument);
  c.scales = {{"x", std::nanf("")}};
  EXPECT_THROW(write_cache(c), InvalidArgument);
  c.scales = {{"x", 1.0f}, {"x", 2.0f}};
  EXPECT_THROW(write_cache(c), InvalidArgument);
  c.scales = {{"a\nb", 1.0f}};
  EXPECT_THROW(write_cache(c), InvalidArgument);
  c.scales = {};
  c.algorithm = "Two Words";
  EXPECT_THROW(write_cache(c), InvalidArgument);
}

TEST(CacheFormat, AlgorithmNames) {
  EXPECT_EQ(cache_algorithm_name(Method::kEntropy), "EntropyCalibration2");
  EXPECT_EQ(cache_algorithm_name(Method::kEntropyLegacy), "EntropyCalibration");
  EXPECT_EQ(cache_algorithm_name(Method::kMinMax), "MinMaxCalibration");
  EXPECT_EQ(cache_algorithm_name(Method::kPercentile), "LegacyCalibration");
  EXPECT_EQ(cache_algorithm_name(Method::kMse), "MSECalibration");
  EXPECT_EQ(cache_algorithm_name("percentile"), "LegacyCalibration");
  EXPECT_EQ(cache_algorithm_name("EntropyCalibration"), "EntropyCalibration");
  EXPECT_THROW(cache_algorithm_name("kl"), InvalidArgument);
}

}  // namespace
}  // namespace calib
}  // namespace int8rt
