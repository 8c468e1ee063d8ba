// libFuzzer target: the calibration cache reader (csrc/calib/cache_format.cc).
//
// Any bytes: read_cache either returns or throws FormatError (anything else,
// or a crash, is a finding). A cache it accepts must survive a round trip:
// write_cache of what was read, read again, gives the same header and the
// same (name, scale bits) in the same order. The writer may refuse a name
// the reader took (one with a carriage return inside): that is the one
// InvalidArgument allowed, and it is checked to be that.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_cache: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace int8rt;
  calib::CalibrationCache first;
  try {
    first = calib::read_cache(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const FormatError&) {
    return 0;
  }
  std::string written;
  try {
    written = calib::write_cache(first);
  } catch (const InvalidArgument& e) {
    for (const auto& kv : first.scales) {
      if (kv.first.find('\r') != std::string::npos) return 0;
    }
    finding(e.what());
  }
  calib::CalibrationCache second = calib::read_cache(written);
  if (second.algorithm != first.algorithm || second.version != first.version) finding("header changed");
  if (second.scales.size() != first.scales.size()) finding("entry count changed");
  for (size_t i = 0; i < first.scales.size(); ++i) {
    if (second.scales[i].first != first.scales[i].first) finding("name changed");
    if (bits_of(second.scales[i].second) != bits_of(first.scales[i].second)) finding("scale changed");
  }
  return 0;
}
