// Method dispatch and names (compute_amax, parse_method, method_name), and
// the shared search helpers of search_common.h. Each method's definition is
// in its own file: entropy.cc, entropy_legacy.cc, minmax.cc, percentile.cc, mse.cc.
#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "calib/search_common.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {

float compute_amax(const Histogram& h, Method method, const MethodOptions& options) {
  switch (method) {
    case Method::kEntropy: return amax_entropy(h, options);
    case Method::kEntropyLegacy: return amax_entropy_legacy(h, options);
    case Method::kMinMax: return amax_minmax(h, options);
    case Method::kPercentile: return amax_percentile(h, options);
    case Method::kMse: return amax_mse(h, options);
  }
  throw InvalidArgument("compute_amax: unknown method value " +
                        std::to_string(static_cast<int>(method)));
}

Method parse_method(const std::string& name) {
  // Canonical names first, then TensorRT's algorithm names as aliases.
  static const std::pair<const char*, Method> kNames[] = {
      {"entropy", Method::kEntropy},
      {"entropy_legacy", Method::kEntropyLegacy},
      {"minmax", Method::kMinMax},
      {"percentile", Method::kPercentile},
      {"mse", Method::kMse},
      {"entropy2", Method::kEntropy},
      {"EntropyCalibration2", Method::kEntropy},
      {"EntropyCalibration", Method::kEntropyLegacy},
      {"MinMaxCalibration", Method::kMinMax},
      {"LegacyCalibration", Method::kPercentile},
  };
  std::string valid;
  for (const auto& entry : kNames) {
    if (name == entry.first) return entry.second;
    valid += (valid.empty() ? "" : ", ") + std::string("'") + entry.first + "'";
  }
  throw InvalidArgument("unknown calibration method '" + name + "'; valid names: " + valid);
}

std::string method_name(Method method) {
  switch (method) {
    case Method::kEntropy: return "entropy";
    case Method::kEntropyLegacy: return "entropy_legacy";
    case Method::kMinMax: return "minmax";
    case Method::kPercentile: return "percentile";
    case Method::kMse: return "mse";
  }
  throw InvalidArgument("method_name: unknown method value " +
                        std::to_string(static_cast<int>(method)));
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
