// Pad (ONNX) of float32, int64 and int32 tensors, and of int8 ones for the
// INT8 engine's int8rt.QPad (contracts.h, QMoveOps: the same layer on int8
// elements): modes constant (value from input 2, or the "value" attribute of
// opset < 11, default 0; an int8 or integer tensor takes it as a scalar
// input of its own type only), reflect (mirror without repeating the edge),
// edge (repeat the edge) and wrap (opset 19: the dim repeated periodically).
// pads from input 1 (opset 11+, constant or run-time int64, [begin...,
// end...] over the axes of input 3 (opset 18) or all axes) or the "pads"
// attribute (opset < 11). Negative pads crop.
//
// Each output row (the dims before the innermost padded one) maps to one
// source row (or to the constant); the innermost padded dim is written as
// left pad / copied middle / right pad, in blocks of the unpadded dims after
// it. The pads are read into per-thread vectors: a run allocates nothing.
#include <algorithm>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Mode { kConstant, kReflect, kEdge, kWrap };

// Source index of output index o for a dim of size n (-1: constant). wrap
// repeats what the negative pads leave (ONNX Runtime crops, then wraps).
int64_t source(int64_t o, int64_t pad_begin, int64_t pad_end, int64_t n, Mode mode) {
  int64_t s = o - pad_begin;
  if (mode == Mode::kWrap) {
    const int64_t lo = std::max<int64_t>(0, -pad_begin), m = n - lo - std::max<int64_t>(0, -pad_end);
    const int64_t k = s - lo;
    return lo + (k % m + m) % m;
  }
  if (s >= 0 && s < n) return s;
  if (mode == Mode::kConstant) return -1;
  if (mode == Mode::kEdge || n == 1) return s < 0 ? 0 : n - 1;
  const int64_t period = 2 * (n - 1);  // reflect: ... 2 1 [0 1 2 3] 2 1 0 1 ...
  s %= period;
  if (s < 0) s += period;
  return s < n ? s : period - s;
}

// The pads of one run over all dims, with the vectors they are read into:
// a layer keeps one per thread, so a run allocates nothing once sized.
struct PadPlan {
  std::vector<int64_t> pads;       // [begin..., end...] over all dims
  std::vector<int64_t> raw, axes;  // scratch: the pads and axes as given
};

class PadLayer : public Layer {
 public:
  PadLayer(const Node& node, Mode mode, std::vector<int64_t> pads_attr, float value_attr)
      : mode_(mode), pads_attr_(std::move(pads_attr)), value_attr_(value_attr), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_any(in, 0, prefix_);
    const DataType t = X.dtype();
    if (t != DataType::kFloat32 && t != DataType::kInt8 && t != DataType::kInt64 && t != DataType::kInt32) {
      throw InvalidArgument(prefix_ + "input 0 must be float32, int64, int32 (or int8 in an INT8 engine)");
    }
    if (t != DataType::kFloat32 && value_attr_ != 0.f) {
      throw InvalidArgument(prefix_ + "an integer Pad takes its constant as an input of its type, not the value "
                            "attribute");
    }
    PadPlan plan;
    pads_into(in, X.shape().size(), &plan);
    const std::vector<int64_t>& p = plan.pads;
    Shape out = X.shape();
    const size_t r = out.size();
    for (size_t d = 0; d < r; ++d) {
      out[d] += p[d] + p[d + r];
      if (out[d] < 0) throw InvalidArgument(prefix_ + "pads " + ints_str(p) + " crop " + shape_str(X.shape()) + " below 0");
      const int64_t kept = X.shape()[d] - std::max<int64_t>(0, -p[d]) - std::max<int64_t>(0, -p[d + r]);
      if (mode_ == Mode::kWrap && kept <= 0 && out[d] > 0) {
        throw InvalidArgument(prefix_ + "pads " + ints_str(p) + " crop all of dim " + std::to_string(d) +
                              " of " + shape_str(X.shape()) + ", leaving nothing to wrap");
      }
      if (mode_ != Mode::kConstant && X.shape()[d] == 0 && out[d] > 0) {
        throw InvalidArgument(prefix_ + "cannot reflect-, edge- or wrap-pad an empty dim");
      }
    }
    return {{X.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (in[0]->dtype()) {
      case DataType::kInt8: pad<int8_t>(in, out, 0); break;
      case DataType::kInt64: pad<int64_t>(in, out, 0); break;
      case DataType::kInt32: pad<int32_t>(in, out, 0); break;
      default: pad<float>(in, out, value_attr_); break;
    }
  }

  std::string describe() const override { return "pad"; }
  bool accepts_empty_inputs() const override { return true; }  // all padding (constant mode; infer refuses the rest)

 private:
  template <typename T>
  void pad(const std::vector<const Value*>& in, const std::vector<Value*>& out, T value) const {
    const Shape& xs = in[0]->shape();
    const Shape& os = out[0]->shape();
    const size_t r = xs.size();
    thread_local PadPlan kept;
    pads_into(in, r, &kept);
    const std::vector<int64_t>& p = kept.pads;  // what the loop below captures (this thread's)
    if (in.size() > 2 && in[2]) {
      const Value& v = require_input(in, 2, in[0]->dtype(), prefix_);
      if (v.numel() != 1) throw InvalidArgument(prefix_ + "constant_value must be a scalar");
      value = v.data<T>()[0];
    }
    const T* x = in[0]->data<T>();
    T* y = out[0]->data<T>();
    if (r == 0) { y[0] = x[0]; return; }
    // The trailing dims without pads move as blocks of `inner` elements
    // (an NHWC image padded in H and W: rows of W pixels of C values).
    size_t k = r - 1;  // the innermost padded dim (0 when none is)
    int64_t inner = 1;
    while (k > 0 && p[k] == 0 && p[k + r] == 0) inner *= xs[k--];
    const int64_t n = xs[k], on = os[k], pb = p[k], pe = p[k + r];
    int64_t rows = 1;
    for (size_t d = 0; d < k; ++d) rows *= os[d];
    const int64_t row_len = on * inner;
    parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, row_len)), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        T* dst = y + row * row_len;
        int64_t src_row = 0, t = row, mul = 1;
        bool constant_row = false;
        for (size_t d = k; d-- > 0;) {
          int64_t s = source(t % os[d], p[d], p[d + r], xs[d], mode_);
          t /= os[d];
          if (s < 0) { constant_row = true; break; }
          src_row += s * mul;
          mul *= xs[d];
        }
        if (constant_row) { std::fill(dst, dst + row_len, value); continue; }
        const T* src = x + src_row * n * inner;
        auto edge = [&](int64_t o) {
          const int64_t s = source(o, pb, pe, n, mode_);
          if (s < 0) {
            std::fill(dst + o * inner, dst + (o + 1) * inner, value);
          } else {
            std::copy(src + s * inner, src + (s + 1) * inner, dst + o * inner);
          }
        };
        int64_t lo = std::min(on, std::max<int64_t>(0, pb)), hi = std::max(lo, std::min(on, pb + n));
        for (int64_t o = 0; o < lo; ++o) edge(o);
        std::copy(src + (lo - pb) * inner, src + (hi - pb) * inner, dst + lo * inner);
        for (int64_t o = hi; o < on; ++o) edge(o);
      }
    });
  }

  // [begin..., end...] over all dims, into plan->pads.
  void pads_into(const std::vector<const Value*>& in, size_t rank, PadPlan* plan) const {
    std::vector<int64_t>&raw = plan->raw, &axes = plan->axes, &out = plan->pads;
    if (in.size() > 1 && in[1]) {
      int64_values_into(*in[1], prefix_, "pads", &raw);
    } else {
      raw.assign(pads_attr_.begin(), pads_attr_.end());
    }
    if (in.size() > 3 && in[3]) {
      int64_values_into(*in[3], prefix_, "axes", &axes);
      for (int64_t& a : axes) a = normalize_axis(a, static_cast<int64_t>(rank), prefix_);
    } else {
      axes.clear();
      for (size_t d = 0; d < rank; ++d) axes.push_back(static_cast<int64_t>(d));
    }
    if (raw.size() != 2 * axes.size()) {
      throw InvalidArgument(prefix_ + "pads " + ints_str(raw) + " must have " + std::to_string(2 * axes.size()) +
                            " values");
    }
    out.assign(2 * rank, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      out[axes[i]] = raw[i];
      out[axes[i] + rank] = raw[i + axes.size()];
    }
  }

  Mode mode_;
  std::vector<int64_t> pads_attr_;
  float value_attr_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_pad(const Network&, const Node& node) {
  std::string m = node.attrs.get_string("mode", "constant");
  Mode mode;
  if (m == "constant") mode = Mode::kConstant;
  else if (m == "reflect") mode = Mode::kReflect;
  else if (m == "edge") mode = Mode::kEdge;
  else if (m == "wrap") mode = Mode::kWrap;
  else throw unsupported_attr(node, "mode", "'" + m + "'");
  if (!node.attrs.has("pads") && !has_input(node, 1)) throw InvalidArgument(layer_error_prefix(node) + "needs pads");
  return std::make_unique<PadLayer>(node, mode, node.attrs.get_ints("pads", {}),
                                    static_cast<float>(node.attrs.get_float("value", 0.0)));
}

INT8RT_REGISTER_LAYER("Pad", make_pad);

}  // namespace
}  // namespace engine
}  // namespace int8rt
