// TensorRT's calibration cache: the text file IInt8Calibrator::
// writeCalibrationCache receives and readCalibrationCache hands back.
//
// Grammar (as TensorRT 5 through 10 write it; no public spec exists, this is
// the format of the files those versions produce):
//
//   cache  := header "\n" { entry "\n" }
//   header := "TRT-" version "-" algorithm
//   entry  := name ": " hex
//
// version is TensorRT's NV_TENSORRT_VERSION in decimal (8601 for 8.6.1 =
// major*1000 + minor*100 + patch up to TensorRT 9; 100300 for 10.3.0 =
// major*10000 + minor*100 + patch from 10 on). algorithm is one of
// EntropyCalibration2, EntropyCalibration, MinMaxCalibration,
// LegacyCalibration (int8rt also writes MSECalibration for its MSE method,
// which TensorRT does not know; the names come from the method table in
// methods.cc). hex is the float32 scale's bit pattern in lowercase
// hexadecimal without leading zeros ("0" for 0.0f, "7f800000" for +inf), the
// scale being amax / 127 (both from int8rt/quantization.h).
//
// The writer emits exactly that, "\n" line ends, a final newline, entries in
// the given order. The reader accepts what real files contain: names with
// spaces, ':' '*' brackets and slashes (the name ends at the LAST ": " on the
// line), CRLF line ends, no final newline, blank lines, upper-case hex,
// whitespace around the hex value, any entry order. Every other deviation is
// a FormatError naming the 1-based line number, as is a scale that is NaN or
// negative (sign bit set, -0 included), which write_cache refuses too and no
// calibrator produces; zero, +inf and FLT_MAX/127 are accepted because
// TensorRT writes them (a tensor it saw as all zeros, an overflow). Input
// quoted in messages is cut to a bounded length (core/quote.h).
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/quote.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace calib {
namespace {

bool is_word(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

[[noreturn]] void fail(size_t line_no, const std::string& what) {
  throw FormatError("calibration cache, line " + std::to_string(line_no) + ": " + what);
}

void parse_header(const std::string& line, size_t line_no, CalibrationCache& out) {
  const std::string expected = "expected a header 'TRT-<version>-<algorithm>', got " + quoted(line);
  if (line.compare(0, 4, "TRT-") != 0) fail(line_no, expected);
  size_t dash = line.find('-', 4);
  if (dash == std::string::npos || dash == 4) fail(line_no, expected);
  std::string digits = line.substr(4, dash - 4);
  if (digits.size() > 18) fail(line_no, "version " + quoted(digits) + " is too large");
  int64_t version = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') fail(line_no, "version " + quoted(digits) + " is not a decimal integer");
    version = version * 10 + (c - '0');
  }
  std::string algorithm = line.substr(dash + 1);
  if (!is_word(algorithm)) {
    fail(line_no, "algorithm " + quoted(algorithm) + " is not a name such as EntropyCalibration2");
  }
  out.version = version;
  out.algorithm = algorithm;
}

float parse_scale(const std::string& name, const std::string& hex, size_t line_no) {
  if (hex.empty()) fail(line_no, "missing hex scale after ': '");
  if (hex.size() > 8) {
    fail(line_no, "hex scale " + quoted(hex) + " has " + std::to_string(hex.size()) +
                      " digits, at most 8 (32 bits) allowed");
  }
  float scale;
  if (!quant::scale_from_hex(hex, &scale)) fail(line_no, "hex scale " + quoted(hex) + " is not hexadecimal");
  if (std::isnan(scale)) fail(line_no, "tensor " + quoted(name) + " has scale NaN (" + hex + "); a scale is >= 0");
  if (std::signbit(scale)) {
    fail(line_no, "tensor " + quoted(name) + " has a negative scale (" + hex + "); a scale is >= 0");
  }
  return scale;
}

}  // namespace

std::string write_cache(const CalibrationCache& cache) {
  if (!is_word(cache.algorithm)) {
    throw InvalidArgument("write_cache: algorithm " + quoted(cache.algorithm) +
                          " is not a single word such as EntropyCalibration2");
  }
  if (cache.version < 0) {
    throw InvalidArgument("write_cache: version " + std::to_string(cache.version) +
                          " is negative");
  }
  std::string out = "TRT-" + std::to_string(cache.version) + "-" + cache.algorithm + "\n";
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < cache.scales.size(); ++i) {
    const std::string& name = cache.scales[i].first;
    float scale = cache.scales[i].second;
    if (name.empty()) throw InvalidArgument("write_cache: entry " + std::to_string(i) + " has an empty tensor name");
    if (name.find_first_of("\r\n") != std::string::npos) {
      throw InvalidArgument("write_cache: tensor name " + quoted(name) + " contains a line break");
    }
    if (!seen.emplace(name, i).second) {
      throw InvalidArgument("write_cache: tensor " + quoted(name) + " appears twice");
    }
    if (std::isnan(scale) || std::signbit(scale)) {
      throw InvalidArgument("write_cache: tensor " + quoted(name) + " has scale " +
                            std::to_string(scale) + "; a scale must be >= 0");
    }
    out += name;
    out += ": ";
    out += quant::scale_to_hex(scale);
    out += "\n";
  }
  return out;
}

CalibrationCache read_cache(const std::string& data) {
  CalibrationCache out;
  std::unordered_map<std::string, size_t> line_of;  // tensor name -> line it appeared on
  bool have_header = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string::npos ? data.size() : nl;
    std::string line = data.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    if (!have_header) {
      parse_header(trim(line), line_no, out);
      have_header = true;
      continue;
    }
    size_t sep = line.rfind(": ");
    if (sep == std::string::npos) {
      fail(line_no, "expected '<tensor name>: <hex scale>', got " + quoted(line));
    }
    if (sep == 0) fail(line_no, "empty tensor name in " + quoted(line));
    std::string name = line.substr(0, sep);
    float scale = parse_scale(name, trim(line.substr(sep + 2)), line_no);
    auto inserted = line_of.emplace(name, line_no);
    if (!inserted.second) {
      fail(line_no, "tensor " + quoted(name) + " already appeared on line " +
                        std::to_string(inserted.first->second));
    }
    out.scales.emplace_back(std::move(name), scale);
  }
  if (!have_header) {
    throw FormatError("calibration cache is empty: expected a header 'TRT-<version>-<algorithm>'");
  }
  return out;
}

}  // namespace calib
}  // namespace int8rt
