// Collector: one Histogram per named activation tensor, the threshold search
// over all of them, and the TensorRT cache they make (see calibration.h).
//
// Tensors are kept in first-observed order (that is the order of the cache
// file, as TensorRT writes tensors in the order it met them). A batch is all
// or nothing: the touched histograms are updated on copies that replace the
// originals only when every tensor of the batch was accepted, so a NaN in one
// tensor leaves the whole collector as it was. Errors are the histogram's or
// the method's, prefixed with the tensor's name: "tensor 'conv1_out': ...".
// amaxes() runs the per-tensor searches concurrently (int8rt::parallel_for,
// one tensor per chunk); each search is a pure function of its histogram.
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {
namespace {

// Runs fn(), rethrowing an int8rt error as the same type with the tensor named.
template <typename Fn>
auto for_tensor(const std::string& name, Fn&& fn) -> decltype(fn()) {
  const std::string prefix = "tensor '" + name + "': ";
  try {
    return fn();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(prefix + e.what());
  } catch (const FormatError& e) {
    throw FormatError(prefix + e.what());
  } catch (const NotSupported& e) {
    throw NotSupported(prefix + e.what());
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
}

const char* policy_name(RangePolicy p) {
  switch (p) {
    case RangePolicy::kExtend: return "extend";
    case RangePolicy::kPowerOfTwo: return "power_of_two";
    case RangePolicy::kTwoPass: return "two_pass";
  }
  return "unknown";
}

}  // namespace

Collector::Collector(Method method, MethodOptions options, int64_t num_bins, RangePolicy policy,
                     NonFinitePolicy nonfinite)
    : method_(method), options_(options), num_bins_(num_bins), policy_(policy), nonfinite_(nonfinite) {
  Histogram probe(num_bins, policy, nonfinite);  // validates the settings now, not at first use
  (void)probe;
}

Histogram& Collector::slot(const std::string& name) {
  auto it = index_.find(name);
  if (it != index_.end()) return histograms_[it->second];
  index_.emplace(name, names_.size());
  names_.push_back(name);
  histograms_.emplace_back(num_bins_, policy_, nonfinite_);
  return histograms_.back();
}

void Collector::stage_batch(const std::vector<std::pair<std::string, ArrayView>>& batch,
                            bool range_pass) {
  // Staged copies, in first-appearance order within the batch.
  std::vector<std::string> staged_names;
  std::vector<Histogram> staged;
  std::unordered_map<std::string, size_t> staged_index;
  for (const auto& item : batch) {
    const std::string& name = item.first;
    auto s = staged_index.find(name);
    if (s == staged_index.end()) {
      auto existing = index_.find(name);
      staged.push_back(existing != index_.end() ? histograms_[existing->second]
                                                : Histogram(num_bins_, policy_, nonfinite_));
      staged_names.push_back(name);
      s = staged_index.emplace(name, staged.size() - 1).first;
    }
    Histogram& h = staged[s->second];
    for_tensor(name, [&] {
      if (range_pass) {
        h.observe_range(item.second);
      } else {
        h.collect(item.second);
      }
    });
  }
  for (size_t k = 0; k < staged.size(); ++k) slot(staged_names[k]) = std::move(staged[k]);
}

void Collector::observe(const std::string& name, const ArrayView& x) {
  stage_batch({{name, x}}, /*range_pass=*/false);
}

void Collector::observe_range(const std::string& name, const ArrayView& x) {
  stage_batch({{name, x}}, /*range_pass=*/true);
}

void Collector::observe_batch(const std::vector<std::pair<std::string, ArrayView>>& batch) {
  stage_batch(batch, /*range_pass=*/false);
}

void Collector::observe_range_batch(const std::vector<std::pair<std::string, ArrayView>>& batch) {
  stage_batch(batch, /*range_pass=*/true);
}

void Collector::add_histogram(const std::string& name, Histogram histogram) {
  if (contains(name)) throw InvalidArgument("tensor '" + name + "' is already in the collector");
  if (histogram.policy() != policy_) {
    throw InvalidArgument("tensor '" + name + "': histogram policy " + policy_name(histogram.policy()) +
                          " differs from the collector's " + policy_name(policy_));
  }
  slot(name) = std::move(histogram);
}

const Histogram& Collector::histogram(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    throw InvalidArgument("no tensor named '" + name + "' was observed (" +
                          std::to_string(names_.size()) + " tensors were)");
  }
  return histograms_[it->second];
}

Histogram& Collector::histogram(const std::string& name) {
  return const_cast<Histogram&>(static_cast<const Collector&>(*this).histogram(name));
}

void Collector::merge(const Collector& other) {
  if (other.policy_ != policy_) {
    throw InvalidArgument(std::string("cannot merge collectors with range policies ") +
                          policy_name(policy_) + " and " + policy_name(other.policy_));
  }
  // Work on a copy so that a failing tensor leaves *this unchanged (and so
  // that merging a collector into itself reads the unmodified counts).
  Collector merged = *this;
  for (size_t i = 0; i < other.names_.size(); ++i) {
    const std::string& name = other.names_[i];
    auto it = merged.index_.find(name);
    if (it == merged.index_.end()) {
      merged.slot(name) = other.histograms_[i];
    } else {
      Histogram& h = merged.histograms_[it->second];
      for_tensor(name, [&] { h.merge(other.histograms_[i]); });
    }
  }
  *this = std::move(merged);
}

std::vector<std::pair<std::string, float>> Collector::amaxes() const {
  std::vector<float> amax(names_.size(), 0.0f);
  parallel_for(static_cast<int64_t>(names_.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      amax[i] = for_tensor(names_[i], [&] { return compute_amax(histograms_[i], method_, options_); });
    }
  });
  std::vector<std::pair<std::string, float>> out;
  out.reserve(names_.size());
  for (size_t i = 0; i < names_.size(); ++i) out.emplace_back(names_[i], amax[i]);
  return out;
}

std::vector<std::pair<std::string, float>> Collector::scales() const {
  std::vector<std::pair<std::string, float>> out = amaxes();
  for (auto& item : out) item.second = scale_from_amax(item.second);
  return out;
}

CalibrationCache Collector::cache(int64_t version) const {
  CalibrationCache c;
  c.algorithm = cache_algorithm_name(method_);
  c.version = version;
  c.scales = scales();
  return c;
}

}  // namespace calib
}  // namespace int8rt
