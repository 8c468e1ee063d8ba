// The method table (method_table) and everything read from it: compute_amax,
// parse_method, method_name, cache_algorithm_name; and the shared search
// helpers of search_common.h. Each method's definition is in its own file:
// entropy.cc, entropy_legacy.cc, minmax.cc, percentile.cc, mse.cc.
#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "calib/search_common.h"
#include "core/quote.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {

const std::vector<MethodInfo>& method_table() {
  // TensorRT's CalibrationAlgoType values: LEGACY 0, ENTROPY 1, ENTROPY_2 2,
  // MINMAX 3; 100 is int8rt's for MSE. The entropy search's options are read
  // by entropy.cc and entropy_legacy.cc, MSE's by mse.cc (search_common.h).
  static const std::vector<MethodInfo> kTable = {
      {Method::kEntropy, "entropy", "EntropyCalibration2", 2, {"entropy2"}, &amax_entropy,
       {"num_bits", "is_unsigned", "start_bin", "stride", "reference_order"}},
      {Method::kEntropyLegacy, "entropy_legacy", "EntropyCalibration", 1, {}, &amax_entropy_legacy,
       {"num_bits", "is_unsigned", "start_bin", "stride"}},
      {Method::kMinMax, "minmax", "MinMaxCalibration", 3, {}, &amax_minmax, {}},
      {Method::kPercentile, "percentile", "LegacyCalibration", 0, {}, &amax_percentile, {"percentile"}},
      {Method::kMse, "mse", "MSECalibration", 100, {}, &amax_mse,
       {"num_bits", "is_unsigned", "start_bin", "stride"}},
  };
  return kTable;
}

const MethodInfo& method_info(Method method) {
  for (const MethodInfo& info : method_table()) {
    if (info.method == method) return info;
  }
  throw InvalidArgument("unknown calibration method value " + std::to_string(static_cast<int>(method)));
}

float compute_amax(const Histogram& h, Method method, const MethodOptions& options) {
  return method_info(method).amax(h, options);
}

Method parse_method(const std::string& name) {
  // Canonical names first, then aliases, then TensorRT's header names.
  std::vector<std::pair<std::string, Method>> names;
  for (const MethodInfo& info : method_table()) names.emplace_back(info.name, info.method);
  for (const MethodInfo& info : method_table()) {
    for (const std::string& alias : info.aliases) names.emplace_back(alias, info.method);
  }
  for (const MethodInfo& info : method_table()) names.emplace_back(info.cache_header, info.method);
  std::string valid;
  for (const auto& entry : names) {
    if (name == entry.first) return entry.second;
    valid += (valid.empty() ? "" : ", ") + std::string("'") + entry.first + "'";
  }
  throw InvalidArgument("unknown calibration method '" + name + "'; valid names: " + valid);
}

std::string method_name(Method method) { return method_info(method).name; }

std::string cache_algorithm_name(Method method) { return method_info(method).cache_header; }

std::string cache_algorithm_name(const std::string& method_or_header) {
  std::string accepted;
  for (const MethodInfo& info : method_table()) {
    if (method_or_header == info.name || method_or_header == info.cache_header) return info.cache_header;
    accepted += (accepted.empty() ? "" : ", ") + info.name + "/" + info.cache_header;
  }
  throw InvalidArgument("unknown calibration algorithm " + quoted(method_or_header) +
                        " (accepted: " + accepted + ")");
}

namespace detail {

void validate_search_options(const MethodOptions& options, const char* method) {
  std::string where = std::string("calibration method '") + method + "': ";
  if (options.num_bits < 2 || options.num_bits > 16) {
    throw InvalidArgument(where + "num_bits must be in [2, 16], got " +
                          std::to_string(options.num_bits));
  }
  if (options.start_bin < 1) {
    throw InvalidArgument(where + "start_bin must be >= 1, got " +
                          std::to_string(options.start_bin));
  }
  if (options.stride < 1) {
    throw InvalidArgument(where + "stride must be >= 1, got " + std::to_string(options.stride));
  }
}

int64_t quant_levels(const MethodOptions& options) {
  return int64_t{1} << (options.num_bits - 1 + (options.is_unsigned ? 1 : 0));
}

int64_t num_candidates(int64_t start, int64_t last, int64_t stride) {
  return start > last ? 0 : (last - start) / stride + 1;
}

int64_t last_argmin_with_ties(const std::vector<double>& v) {
  const double d_min = *std::min_element(v.begin(), v.end());
  for (int64_t k = static_cast<int64_t>(v.size()) - 1; k > 0; --k) {
    if (within_tie(v[k], d_min)) return k;
  }
  return 0;
}

int64_t first_argmin_with_ties(const std::vector<double>& v) {
  const double d_min = *std::min_element(v.begin(), v.end());
  for (size_t k = 0; k + 1 < v.size(); ++k) {
    if (within_tie(v[k], d_min)) return static_cast<int64_t>(k);
  }
  return static_cast<int64_t>(v.size()) - 1;
}

uint64_t sum_counts(const std::vector<uint64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
}

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
