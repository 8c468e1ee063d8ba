// int8rt's calibration API: activation histograms, threshold (amax) search,
// TensorRT's calibration cache format, and a Collector that ties them
// together per named tensor. See ../shared/DESIGN.md, "Calibration".
//
// Units: amax is the clipping threshold in the tensor's float units; the
// TensorRT scale is amax / 127 (float32). Thread safety: a Histogram or a
// Collector is not safe for concurrent mutation; const methods may be called
// concurrently. All heavy work uses the library pool (threading.h).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "int8rt/quantization.h"

namespace int8rt {
namespace calib {

// How a histogram's range [0, range) is set and grown.
enum class RangePolicy {
  // The first batch sets [0, max|x|] over num_bins bins; a later larger max
  // appends bins of the same width (NVIDIA's pytorch-quantization torch path).
  kExtend,
  // The range is the smallest power of two strictly above max|x| (so a max
  // that is itself a power of two lies inside and growth stays exact, see
  // csrc/calib/histogram.cc); growing merges bins 2^k -> 1, exactly
  // (TensorRT developer guide's description).
  kPowerOfTwo,
  // observe_range() over all data first, then collect() bins in that fixed
  // range: independent of batch order.
  kTwoPass,
};

enum class NonFinitePolicy {
  kError,  // NaN or +-Inf in the data throws InvalidArgument
  kSkip,   // such values are skipped and counted (nonfinite_skipped())
};

enum class DType { kFloat32, kFloat16 };

// A read-only N-d strided view of host memory (strides in bytes, like NumPy).
// The viewed memory must stay alive for the duration of the call it is given to.
struct ArrayView {
  const void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // bytes, one per dimension

  int64_t size() const;
  // A contiguous float32 view of n values.
  static ArrayView contiguous(const float* data, int64_t n);
};

// Histogram of |x| with uint64 counts. Bin i covers [i*w, (i+1)*w) with
// w = bin_width(); a value lands in bin min(num_bins-1, int(|x| * (1/w))),
// computed in float32 (this is the definition the tests replicate).
class Histogram {
 public:
  explicit Histogram(int64_t num_bins = 2048, RangePolicy policy = RangePolicy::kExtend,
                     NonFinitePolicy nonfinite = NonFinitePolicy::kError);

  // Adds |x| of every element (float32 or float16, any strides). Throws
  // InvalidArgument on NaN/Inf under NonFinitePolicy::kError, leaving the
  // histogram unchanged. For kTwoPass, observe_range() must have been called.
  void collect(const ArrayView& x);
  // kTwoPass only: first pass, records max|x| (the range) without binning.
  void observe_range(const ArrayView& x);
  // Adds another histogram's counts. Exact when the bin grids coincide
  // (same width for kExtend, always for kPowerOfTwo, same range for kTwoPass);
  // kExtend histograms of different widths are rebinned by bin centre.
  void merge(const Histogram& other);

  int64_t num_bins() const { return static_cast<int64_t>(counts_.size()); }
  const std::vector<uint64_t>& counts() const { return counts_; }
  std::vector<float> edges() const;  // num_bins()+1 values, edges[i] = i * bin_width()
  float bin_width() const { return bin_width_; }  // 0 until a non-zero |x| is seen
  float max_abs() const { return max_abs_; }      // exact max |x| seen
  uint64_t total_count() const;
  uint64_t nonfinite_skipped() const { return nonfinite_skipped_; }
  RangePolicy policy() const { return policy_; }
  NonFinitePolicy nonfinite_policy() const { return nonfinite_; }
  int64_t initial_num_bins() const { return initial_num_bins_; }

  // Rebuilds a histogram from its state (tests, pickling, deserialisation).
  static Histogram from_state(std::vector<uint64_t> counts, float bin_width, float max_abs,
                              RangePolicy policy = RangePolicy::kExtend,
                              int64_t initial_num_bins = 0,
                              NonFinitePolicy nonfinite = NonFinitePolicy::kError,
                              uint64_t nonfinite_skipped = 0, uint64_t pending_zeros = 0);
  // Zeros seen while no range exists yet (all data so far was zero); they are
  // moved into bin 0 once a range is set, and count in total_count().
  uint64_t pending_zeros() const { return pending_zeros_; }

 private:
  int64_t initial_num_bins_;
  RangePolicy policy_;
  NonFinitePolicy nonfinite_;
  std::vector<uint64_t> counts_;
  float bin_width_ = 0.0f;
  float max_abs_ = 0.0f;
  uint64_t nonfinite_skipped_ = 0;
  uint64_t pending_zeros_ = 0;
  bool range_observed_ = false;  // kTwoPass: observe_range() has run
};

// ---- threshold (amax) methods: pure functions of a histogram ----

enum class Method { kEntropy, kEntropyLegacy, kMinMax, kPercentile, kMse };

struct MethodOptions {
  int num_bits = 8;
  bool is_unsigned = false;   // entropy/mse: quantize to 2^num_bits levels of [0, amax]
  int64_t start_bin = 128;    // entropy/mse: first candidate bin
  int64_t stride = 1;         // entropy/mse: candidate step
  double percentile = 99.99;  // percentile
  bool reference_order = false;  // entropy: evaluate KL term by term (golden tests)
};

float compute_amax(const Histogram& h, Method method, const MethodOptions& options = {});

// Each method's definition is in the header comment of its file in csrc/calib/.
float amax_entropy(const Histogram& h, const MethodOptions& options);
float amax_entropy_legacy(const Histogram& h, const MethodOptions& options);
float amax_minmax(const Histogram& h, const MethodOptions& options);
float amax_percentile(const Histogram& h, const MethodOptions& options);
float amax_mse(const Histogram& h, const MethodOptions& options);

// The per-candidate divergence the entropy search minimises, for inspection
// and tests: result[k] is KL for candidate start_bin + k*stride (inf allowed).
std::vector<double> entropy_divergences(const Histogram& h, const MethodOptions& options);

// ---- the method table: the one place each method's names, TensorRT cache
// header, amax function and options are written (csrc/calib/methods.cc) ----

struct MethodInfo {
  Method method;
  std::string name;          // int8rt's canonical name: "entropy", "minmax", ...
  std::string cache_header;  // TensorRT's algorithm name in cache headers
  int trt_algorithm;         // TensorRT's CalibrationAlgoType value (MSE: 100, int8rt's own)
  std::vector<std::string> aliases;  // further names parse_method accepts ("entropy2")
  float (*amax)(const Histogram&, const MethodOptions&);  // the threshold search
  std::vector<std::string> options;  // the MethodOptions fields the method reads
};

// Every method, in Method's order (kEntropy, the default, first). Static
// storage: the references stay valid for the life of the program.
const std::vector<MethodInfo>& method_table();
// The row of `method`; throws InvalidArgument for a value not in the table.
const MethodInfo& method_info(Method method);

// A method by its name, an alias or its TensorRT header name; throws
// InvalidArgument listing the valid names.
Method parse_method(const std::string& name);
std::string method_name(Method method);

// ---- TensorRT's calibration cache ----

// TensorRT's algorithm names as written in cache headers (method_table):
// kEntropy -> "EntropyCalibration2", kEntropyLegacy -> "EntropyCalibration",
// kMinMax -> "MinMaxCalibration", kPercentile -> "LegacyCalibration",
// kMse -> "MSECalibration" (an int8rt extension TensorRT does not know).
std::string cache_algorithm_name(Method method);
// The same for a method name ("entropy", "entropy_legacy", "minmax",
// "percentile", "mse") or a header name itself ("EntropyCalibration2", ...);
// throws InvalidArgument on anything else, listing the accepted names.
std::string cache_algorithm_name(const std::string& method_or_header);

struct CalibrationCache {
  std::string algorithm;  // e.g. "EntropyCalibration2"
  int64_t version = 8601;  // TensorRT's encoded version, e.g. 8601, 101303
  std::vector<std::pair<std::string, float>> scales;  // tensor name -> scale, file order
};

// "TRT-<version>-<algorithm>\n" then "<name>: <hex>\n" per tensor, hex being
// the lowercase unpadded bits of the float32 scale.
// Throws InvalidArgument (naming the tensor) on an empty name, a name holding
// a line break, a duplicate name, a negative or NaN scale, a negative version
// or an algorithm that is not a single word.
std::string write_cache(const CalibrationCache& cache);
// Lenient reader (see csrc/calib/cache_format.cc); throws FormatError naming
// the line number on a malformed line.
CalibrationCache read_cache(const std::string& data);

// ---- Collector: one histogram per named tensor ----

class Collector {
 public:
  explicit Collector(Method method = Method::kEntropy, MethodOptions options = {},
                     int64_t num_bins = 2048, RangePolicy policy = RangePolicy::kExtend,
                     NonFinitePolicy nonfinite = NonFinitePolicy::kError);

  // Streams one batch of one tensor into its histogram; errors name the tensor.
  void observe(const std::string& name, const ArrayView& x);
  // kTwoPass: first pass over the data.
  void observe_range(const std::string& name, const ArrayView& x);
  // One batch of several tensors, all or nothing: if any tensor's data is
  // rejected, no histogram changes. Names may be new or already observed.
  void observe_batch(const std::vector<std::pair<std::string, ArrayView>>& batch);
  void observe_range_batch(const std::vector<std::pair<std::string, ArrayView>>& batch);
  // Adds a tensor with a ready histogram (deserialisation, pickling); throws
  // InvalidArgument if the name is already present or the policy differs.
  void add_histogram(const std::string& name, Histogram histogram);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }

  // Tensor names in first-observed order.
  const std::vector<std::string>& names() const { return names_; }
  const Histogram& histogram(const std::string& name) const;
  Histogram& histogram(const std::string& name);
  // Adds other's counts tensor by tensor (Histogram::merge); tensors new to
  // this collector are appended in other's order. The policies must match;
  // this collector's method and options are kept. All or nothing on error.
  void merge(const Collector& other);

  // amax per tensor (threshold searches run in parallel over tensors).
  std::vector<std::pair<std::string, float>> amaxes() const;
  // scale = amax / 127 per tensor, in observed order.
  std::vector<std::pair<std::string, float>> scales() const;
  CalibrationCache cache(int64_t version = 8601) const;

  Method method() const { return method_; }
  const MethodOptions& options() const { return options_; }
  int64_t num_bins() const { return num_bins_; }
  RangePolicy policy() const { return policy_; }
  NonFinitePolicy nonfinite_policy() const { return nonfinite_; }

 private:
  Histogram& slot(const std::string& name);
  void stage_batch(const std::vector<std::pair<std::string, ArrayView>>& batch, bool range_pass);

  Method method_;
  MethodOptions options_;
  int64_t num_bins_;
  RangePolicy policy_;
  NonFinitePolicy nonfinite_;
  std::vector<std::string> names_;
  std::vector<Histogram> histograms_;  // parallel to names_
  std::unordered_map<std::string, size_t> index_;  // name -> position in names_
};

// scale = amax / 127 in float32, TensorRT's convention for 8 bits
// (int8rt/quantization.h, where its edge cases are written).
using quant::scale_from_amax;

}  // namespace calib
}  // namespace int8rt
