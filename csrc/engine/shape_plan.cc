// The bounded cache of shape plans (shape_plan.h).
#include "engine/shape_plan.h"

#include <algorithm>

namespace int8rt {
namespace engine {

ShapePlan* ShapePlanCache::find(const std::vector<Value>& values, const std::vector<int>& inputs) {
  for (size_t p = 0; p < plans_.size(); ++p) {
    const std::vector<Shape>& sig = plans_[p].inputs;
    bool same = sig.size() == inputs.size();
    for (size_t i = 0; same && i < inputs.size(); ++i) same = values[inputs[i]].shape() == sig[i];
    if (same) {
      used_[p] = ++clock_;
      return &plans_[p];
    }
  }
  return nullptr;
}

ShapePlan* ShapePlanCache::record(const std::vector<Value>& values, const std::vector<int>& inputs) {
  if (capacity_ == 0) return nullptr;
  size_t p = plans_.size();
  if (p < capacity_) {
    plans_.emplace_back();
    used_.push_back(0);
  } else {
    p = static_cast<size_t>(std::min_element(used_.begin(), used_.end()) - used_.begin());
  }
  ShapePlan& plan = plans_[p];  // a replaced plan's vectors are reused (assignments keep their capacity)
  plan.inputs.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) plan.inputs[i] = values[inputs[i]].shape();
  plan.dtypes.resize(values.size());
  plan.shapes.resize(values.size());
  for (size_t t = 0; t < values.size(); ++t) {
    plan.dtypes[t] = values[t].dtype();
    plan.shapes[t] = values[t].shape();
  }
  plan.made = false;
  plan.keeps.clear();
  used_[p] = ++clock_;
  return &plan;
}

void ShapePlanCache::set_capacity(size_t n) {
  capacity_ = n;
  while (plans_.size() > capacity_) {
    const size_t p = static_cast<size_t>(std::min_element(used_.begin(), used_.end()) - used_.begin());
    plans_.erase(plans_.begin() + static_cast<std::ptrdiff_t>(p));
    used_.erase(used_.begin() + static_cast<std::ptrdiff_t>(p));
  }
}

}  // namespace engine
}  // namespace int8rt
