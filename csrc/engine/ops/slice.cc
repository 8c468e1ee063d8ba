// Slice of any dtype (ONNX opset 10+ inputs: starts, ends, optional axes and
// steps, int64, constant or run-time; opset < 10 attributes starts / ends /
// axes also accepted). Per sliced axis (ONNX rules): negative starts/ends add
// the dim; step > 0 clamps start and end to [0, dim]; step < 0 clamps start
// to [0, dim - 1] and end to [-1, dim - 1]; the size is
// max(0, ceil((end - start) / step)). Step 0 is an error. A run computes its
// geometry into per-thread vectors reused run after run: it allocates nothing.
#include <algorithm>

#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/strided_copy.h"

namespace int8rt {
namespace engine {
namespace {

// One slice's geometry, computed per run into a kept (per-thread) instance:
// its vectors are assigned in place, so a run allocates nothing once sized.
struct SliceDims {
  Shape out;
  std::vector<int64_t> start, step;
  std::vector<int64_t> starts, ends, axes, steps;  // the inputs (or attributes) as given
  std::vector<char> seen;                          // per input dim: sliced already
  std::vector<int64_t> stride, istride;            // run: x's dense strides; the read strides
};

class SliceLayer : public Layer {
 public:
  SliceLayer(const Node& node, bool from_attrs)
      : from_attrs_(from_attrs), starts_(node.attrs.get_ints("starts", {})), ends_(node.attrs.get_ints("ends", {})),
        axes_(node.attrs.get_ints("axes", {})), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_any(in, 0, prefix_);
    SliceDims s;
    dims(X.shape(), in, s);
    return {{X.dtype(), s.out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    thread_local SliceDims kept;
    SliceDims& s = kept;
    dims(xs, in, s);
    if (out[0]->numel() == 0) return;
    if (xs.empty()) {
      std::copy(in[0]->data<char>(), in[0]->data<char>() + in[0]->nbytes(), out[0]->data<char>());
      return;
    }
    // Output dims read at start + i * step along each input dim.
    const size_t nd = xs.size(), bytes = dtype_size(in[0]->dtype());
    s.stride.assign(nd, 1);
    s.istride.resize(nd);
    for (size_t d = nd; d-- > 1;) s.stride[d - 1] = s.stride[d] * xs[d];
    int64_t base = 0;
    for (size_t d = 0; d < nd; ++d) {
      base += s.start[d] * s.stride[d];
      s.istride[d] = s.step[d] * s.stride[d];
    }
    strided_copy(bytes, in[0]->data<char>() + base * static_cast<int64_t>(bytes), out[0]->data<char>(), s.out,
                 s.istride);
  }

  std::string describe() const override { return "slice"; }

 private:
  // The output shape and, per input dim, the first index read and the step, into s.
  void dims(const Shape& xs, const std::vector<const Value*>& in, SliceDims& s) const {
    std::vector<int64_t>&starts = s.starts, &ends = s.ends, &axes = s.axes, &steps = s.steps;
    steps.clear();
    if (from_attrs_) {
      starts.assign(starts_.begin(), starts_.end());
      ends.assign(ends_.begin(), ends_.end());
      axes.assign(axes_.begin(), axes_.end());
    } else {
      int64_values_into(require_any(in, 1, prefix_), prefix_, "starts", &starts);
      int64_values_into(require_any(in, 2, prefix_), prefix_, "ends", &ends);
      axes.clear();
      if (in.size() > 3 && in[3]) int64_values_into(*in[3], prefix_, "axes", &axes);
      if (in.size() > 4 && in[4]) int64_values_into(*in[4], prefix_, "steps", &steps);
    }
    const int64_t rank = static_cast<int64_t>(xs.size());
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
      throw InvalidArgument(prefix_ + "starts, ends, axes and steps must have the same length");
    }
    s.out.assign(xs.begin(), xs.end());
    s.start.assign(xs.size(), 0);
    s.step.assign(xs.size(), 1);
    s.seen.assign(xs.size(), 0);
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t d = normalize_axis(axes[i], rank, prefix_);
      if (s.seen[d]) throw InvalidArgument(prefix_ + "axis " + std::to_string(axes[i]) + " repeated");
      s.seen[d] = 1;
      const int64_t n = xs[d], step = steps[i];
      if (step == 0) throw InvalidArgument(prefix_ + "step 0 on axis " + std::to_string(axes[i]));
      int64_t b = starts[i], e = ends[i];
      // Very large magnitudes (INT64_MAX / INT64_MIN meaning "to the end") are clamped before adding n.
      b = std::max(-n - 1, std::min(b, n + 1));
      e = std::max(-n - 1, std::min(e, n + 1));
      if (b < 0) b += n;
      if (e < 0) e += n;
      if (step > 0) {
        b = std::min(std::max<int64_t>(b, 0), n);
        e = std::min(std::max<int64_t>(e, 0), n);
        s.out[d] = e > b ? (e - b + step - 1) / step : 0;
      } else {
        b = std::min(std::max<int64_t>(b, 0), n - 1);
        e = std::min(std::max<int64_t>(e, -1), n - 1);
        s.out[d] = b > e ? (b - e + (-step) - 1) / (-step) : 0;
      }
      s.start[d] = b;
      s.step[d] = step;
    }
  }

  bool from_attrs_;
  std::vector<int64_t> starts_, ends_, axes_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_slice(const Network&, const Node& node) {
  bool from_attrs = node.attrs.has("starts");
  if (!from_attrs && (!has_input(node, 1) || !has_input(node, 2))) {
    throw InvalidArgument(layer_error_prefix(node) + "needs starts and ends");
  }
  return std::make_unique<SliceLayer>(node, from_attrs);
}

INT8RT_REGISTER_LAYER("Slice", make_slice);

}  // namespace
}  // namespace engine
}  // namespace int8rt
