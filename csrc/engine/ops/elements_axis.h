// What GatherElements and ScatterElements (ONNX) share: `indices` of the
// data's rank (int64 or int32), no dimension larger than the data's except
// on `axis`, whose every position o stands for the data element with o's
// coordinates and, on the axis, the index read there (+ dim when negative).
// One home for the shape check, the index bounds and the offsets of both
// layers (gather_elements.cc, scatter_elements.cc).
#pragma once

#include <cstdint>
#include <string>

#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

class ElementsAxis {  // made per infer / run: holds a reference to the indices' shape
 public:
  // Checks indices' dtype and shape against the data's; InvalidArgument (after `prefix`) otherwise.
  ElementsAxis(const Value& data, const Value& indices, int64_t axis, const std::string& prefix)
      : axis_(axis), is_(indices.shape()) {
    if (indices.dtype() != DataType::kInt64 && indices.dtype() != DataType::kInt32) {
      throw InvalidArgument(prefix + "indices must be int64 or int32");
    }
    const Shape& xs = data.shape();
    a_ = normalize_axis(axis, static_cast<int64_t>(xs.size()), prefix);
    bool ok = xs.size() == is_.size();
    for (size_t d = 0; ok && d < xs.size(); ++d) ok = static_cast<int64_t>(d) == a_ || is_[d] <= xs[d];
    if (!ok) {
      throw InvalidArgument(prefix + "indices " + shape_str(is_) + " must have the rank of the data " +
                            shape_str(xs) + " and no larger dimension except on the axis");
    }
    dim_ = xs[a_];
    xstride_.assign_zeros(xs.size());  // row-major, in place up to rank 8: a run allocates nothing
    if (!xs.empty()) xstride_[xs.size() - 1] = 1;
    for (int64_t d = static_cast<int64_t>(xs.size()) - 2; d >= 0; --d) xstride_[d] = xstride_[d + 1] * xs[d + 1];
  }

  // The data offset that indices position `o` (row-major) stands for when it
  // holds `k`; false (and nothing set) when k is outside [-dim, dim).
  bool offset(int64_t o, int64_t k, int64_t* off) const {
    if (k < -dim_ || k >= dim_) return false;
    int64_t rest = o, at = (k < 0 ? k + dim_ : k) * xstride_[a_];
    for (int64_t d = static_cast<int64_t>(is_.size()) - 1; d >= 0; --d) {
      if (d != a_) at += (rest % is_[d]) * xstride_[d];
      rest /= is_[d];
    }
    *off = at;
    return true;
  }

  // The InvalidArgument for an index outside the axis, after `prefix`.
  InvalidArgument out_of_range(const std::string& prefix, int64_t k) const {
    return InvalidArgument(prefix + "index " + std::to_string(k) + " is outside [" + std::to_string(-dim_) + ", " +
                           std::to_string(dim_) + ") (axis " + std::to_string(axis_) + " of the data)");
  }

 private:
  int64_t axis_, a_ = 0, dim_ = 0;
  const Shape& is_;  // the indices' (alive while this is)
  BroadcastDims xstride_;
};

}  // namespace engine
}  // namespace int8rt
