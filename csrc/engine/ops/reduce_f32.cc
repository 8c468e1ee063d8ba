// Reductions (ONNX): ReduceMean, ReduceSum, ReduceProd, ReduceMax, ReduceMin,
// and the norms ReduceL1 (sum of |x|), ReduceSumSquare (sum of x * x) and
// ReduceL2 (sqrt of the sum of x * x), each term formed in float32 and summed
// in index order like the others (F.normalize and sentence-embedding exports
// use ReduceL2). On float32; ReduceSum, ReduceProd, ReduceMax and ReduceMin
// also on int64 and int32 (shape arithmetic: Shape -> ReduceProd is a
// tensor's element count, evaluated by shape inference as a shape tensor),
// ReduceMax / ReduceMin on bool (any / all; true / false over an empty set).
// Axes come from the "axes" attribute (ReduceMean/Max/Min opset < 18,
// ReduceSum opset < 13) or the optional int64 input 1 (newer opsets; a
// constant, or a run-time value read when the shapes are inferred). No axes:
// reduce over all dims, unless noop_with_empty_axes = 1 (identity).
// keepdims (default 1) keeps reduced dims as 1.
//
// The input is viewed as [outer, r, inner] when the reduced axes are
// adjacent (after dropping size-1 dims): accumulation runs over r with the
// inner loop over the contiguous inner block. Other axis sets use a generic
// strided walk. Float sums (ReduceSum, ReduceMean, ReduceL1, ReduceL2,
// ReduceSumSquare) are accumulated in double in index order and rounded to
// float32 once, after the mean's division or the square root: a float32
// running sum over r terms drifts by up to r ulps, and exports that spell
// the variance as E[x^2] - E[x]^2 (jax2tf's LayerNorm in Google's magika
// model) magnify that drift past 1e-4 of the output (ONNX Runtime's blocked
// sums drift less). Integer sums wrap in their own type.
// The plan (reduced dims, output shape) and the walks' scratch are kept per
// thread, so a run allocates nothing.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Kind { kMean, kSum, kProd, kMax, kMin, kL1, kL2, kSumSquare };

// The value a reduction starts from (the result over an empty set).
template <typename T>
T reduce_init(Kind kind) {
  if (kind == Kind::kProd) return T(1);
  if (kind != Kind::kMax && kind != Kind::kMin) return T(0);
  if constexpr (std::is_same_v<T, uint8_t>) return kind == Kind::kMax ? 0 : 1;  // bool: any / all
  if constexpr (std::is_floating_point_v<T>) {
    return kind == Kind::kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  }
  return kind == Kind::kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

// One reduction's plan and the strided walks' scratch, made per run into a
// kept (per-thread) instance: its vectors are reused, so a run allocates
// nothing once they are sized.
struct ReducePlan {
  std::vector<char> red;             // per input dim: reduced
  std::vector<int64_t> axes;         // the axes as given (attribute or input)
  Shape out;                         // the output shape
  std::vector<int64_t> ostride, idx;  // the strided walks: output strides, the input index
  std::vector<double> acc;           // the strided float sums
};

class ReduceLayer : public Layer {
 public:
  ReduceLayer(const Node& node, Kind kind, std::vector<int64_t> axes, bool has_axes_attr)
      : kind_(kind), axes_(std::move(axes)), has_axes_attr_(has_axes_attr),
        keepdims_(node.attrs.get_int("keepdims", 1) != 0),
        noop_empty_(node.attrs.get_int("noop_with_empty_axes", 0) != 0), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    ReducePlan p;
    plan(in, &p);
    return {{in[0]->dtype(), std::move(p.out)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (in[0]->dtype()) {
      case DataType::kInt64: run_typed<int64_t>(in, out); break;
      case DataType::kInt32: run_typed<int32_t>(in, out); break;
      case DataType::kBool: run_typed<uint8_t>(in, out); break;
      default: run_typed<float>(in, out); break;
    }
  }

  std::string describe() const override { return "reduce"; }
  bool accepts_empty_inputs() const override { return true; }  // over a zero-sized axis: the initial value

 private:
  template <typename T>
  void run_typed(const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    thread_local ReducePlan kept;  // a run allocates nothing once its vectors are sized
    ReducePlan& p = kept;
    plan(in, &p);
    const std::vector<char>& red = p.red;
    const Shape& xs = in[0]->shape();
    const T* x = in[0]->data<T>();
    T* y = out[0]->data<T>();
    // Collapse into [outer, r, inner] if reduced (non-1) dims are adjacent.
    int64_t first = -1, last = -1, count = 1;
    for (size_t d = 0; d < xs.size(); ++d) {
      if (!red[d] || xs[d] == 1) continue;
      if (first < 0) first = static_cast<int64_t>(d);
      last = static_cast<int64_t>(d);
      count *= xs[d];
    }
    bool adjacent = true;
    for (int64_t d = first + 1; first >= 0 && d < last; ++d) adjacent = adjacent && (red[d] || xs[d] == 1);
    const T init = reduce_init<T>(kind_);
    const int64_t n_out = out[0]->numel();
    if constexpr (std::is_same_v<T, float>) {
      if (kind_ != Kind::kProd && kind_ != Kind::kMax && kind_ != Kind::kMin) {
        if (first < 0 || adjacent) {
          run_float_sums_collapsed(x, y, xs, first, last, count, n_out);
        } else {
          run_float_sums_strided(x, y, xs, p, in[0]->numel(), count, n_out);
        }
        return;
      }
    }
    if (first < 0 || adjacent) {
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < first; ++d) outer *= xs[d];
      for (size_t d = static_cast<size_t>(last + 1); first >= 0 && d < xs.size(); ++d) inner *= xs[d];
      if (first < 0) inner = n_out;
      parallel_for(outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, count * inner)), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          T* d = y + o * inner;
          if (inner == 1) {  // a contiguous row: one call, the same order
            *d = reduce_row(init, x + o * count, count);
            continue;
          }
          std::fill(d, d + inner, init);
          for (int64_t k = 0; k < count; ++k) accumulate(d, x + (o * count + k) * inner, inner);
        }
      });
    } else {
      // Generic: walk the input in order, mapping each element to its output.
      std::fill(y, y + n_out, init);
      std::vector<int64_t>&ostride = p.ostride, &idx = p.idx;
      ostride.assign(xs.size(), 0);
      idx.assign(xs.size(), 0);
      int64_t s = 1;
      for (size_t d = xs.size(); d-- > 0;) {
        ostride[d] = red[d] ? 0 : s;
        if (!red[d]) s *= xs[d];
      }
      const int64_t n = in[0]->numel(), inner = xs.back();
      for (int64_t i = 0; i < n; i += inner) {
        int64_t off = 0;
        for (size_t d = 0; d + 1 < xs.size(); ++d) off += idx[d] * ostride[d];
        if (red.back()) {
          for (int64_t j = 0; j < inner; ++j) accumulate(y + off, x + i + j, 1);
        } else {
          accumulate(y + off, x + i, inner);
        }
        for (size_t d = xs.size() - 1; d-- > 0;) {
          if (++idx[d] < xs[d]) break;
          idx[d] = 0;
        }
      }
    }
  }

  // A float sum's term, and its result from the double sum over `count` terms (rounded once).
  double sum_term(float v) const {
    if (kind_ == Kind::kL1) return std::fabs(static_cast<double>(v));
    if (kind_ == Kind::kL2 || kind_ == Kind::kSumSquare) return static_cast<double>(v) * static_cast<double>(v);
    return v;
  }
  float sum_result(double acc, int64_t count) const {
    if (kind_ == Kind::kMean) return static_cast<float>(acc / static_cast<double>(count));
    if (kind_ == Kind::kL2) return static_cast<float>(std::sqrt(acc));
    return static_cast<float>(acc);
  }

  // Float sums over [outer, count, inner] (the reduced axes adjacent), in double.
  void run_float_sums_collapsed(const float* x, float* y, const Shape& xs, int64_t first, int64_t last,
                                int64_t count, int64_t n_out) const {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < first; ++d) outer *= xs[d];
    for (size_t d = static_cast<size_t>(last + 1); first >= 0 && d < xs.size(); ++d) inner *= xs[d];
    if (first < 0) inner = n_out;
    if (inner == 1) {
      run_float_row_sums(x, y, outer, count);
      return;
    }
    parallel_for(outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, count * inner)), [&](int64_t b, int64_t e) {
      thread_local std::vector<double> acc_here;  // the running thread's (named here: each helper its own), kept
      std::vector<double>& acc = acc_here;
      acc.resize(static_cast<size_t>(inner));
      for (int64_t o = b; o < e; ++o) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < count; ++k) {
          const float* s = x + (o * count + k) * inner;
          for (int64_t i = 0; i < inner; ++i) acc[i] += sum_term(s[i]);
        }
        for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = sum_result(acc[i], count);
      }
    });
  }

  // Float sums of `rows` contiguous rows of `count` values (the last axes
  // reduced: the mean of squares of T5's RMS norm, ...): each row's terms
  // added in index order into a double, as run_float_sums_collapsed does,
  // kRows rows at a time in registers, so that the rows' dependency chains
  // overlap (a running sum held in acc[] waited on a store and a load per term).
  void run_float_row_sums(const float* x, float* y, int64_t rows, int64_t count) const {
    switch (kind_) {
      case Kind::kMean: case Kind::kSum: row_sums<Kind::kSum>(x, y, rows, count); break;
      case Kind::kL1: row_sums<Kind::kL1>(x, y, rows, count); break;
      default: row_sums<Kind::kL2>(x, y, rows, count); break;  // kL2, kSumSquare: x * x
    }
  }
  template <Kind kTerm>
  static double term(float v) {
    if constexpr (kTerm == Kind::kL1) return std::fabs(static_cast<double>(v));
    if constexpr (kTerm == Kind::kL2) return static_cast<double>(v) * static_cast<double>(v);
    return v;
  }
  template <Kind kTerm>
  void row_sums(const float* x, float* y, int64_t rows, int64_t count) const {
    constexpr int kRows = 8;
    parallel_for(rows, std::max<int64_t>(kRows, 8192 / std::max<int64_t>(1, count)), [&](int64_t b, int64_t e) {
      int64_t r = b;
      for (; r + kRows <= e; r += kRows) {
        double acc[kRows] = {};
        const float* s = x + r * count;
        for (int64_t k = 0; k < count; ++k) {
          for (int i = 0; i < kRows; ++i) acc[i] += term<kTerm>(s[i * count + k]);
        }
        for (int i = 0; i < kRows; ++i) y[r + i] = sum_result(acc[i], count);
      }
      for (; r < e; ++r) {
        double acc = 0.0;
        for (int64_t k = 0; k < count; ++k) acc += term<kTerm>(x[r * count + k]);
        y[r] = sum_result(acc, count);
      }
    });
  }

  // Float sums over any other axis set: the input walked in order, each element added to its output.
  void run_float_sums_strided(const float* x, float* y, const Shape& xs, ReducePlan& p, int64_t n, int64_t count,
                              int64_t n_out) const {
    const std::vector<char>& red = p.red;
    std::vector<double>& acc = p.acc;
    std::vector<int64_t>&ostride = p.ostride, &idx = p.idx;
    acc.assign(static_cast<size_t>(n_out), 0.0);
    ostride.assign(xs.size(), 0);
    idx.assign(xs.size(), 0);
    int64_t s = 1;
    for (size_t d = xs.size(); d-- > 0;) {
      ostride[d] = red[d] ? 0 : s;
      if (!red[d]) s *= xs[d];
    }
    const int64_t inner = xs.back();
    for (int64_t i = 0; i < n; i += inner) {
      int64_t off = 0;
      for (size_t d = 0; d + 1 < xs.size(); ++d) off += idx[d] * ostride[d];
      for (int64_t j = 0; j < inner; ++j) acc[off + (red.back() ? 0 : j)] += sum_term(x[i + j]);
      for (size_t d = xs.size() - 1; d-- > 0;) {
        if (++idx[d] < xs[d]) break;
        idx[d] = 0;
      }
    }
    for (int64_t i = 0; i < n_out; ++i) y[i] = sum_result(acc[i], count);
  }

  // Integers wrap (two's complement, as ONNX Runtime's loops do), computed
  // unsigned so that the overflow is defined.
  template <typename T>
  static T wrap_add(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    } else {
      return a + b;
    }
  }
  template <typename T>
  static T wrap_mul(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    } else {
      return a * b;
    }
  }

  // init folded with s[0], s[1], ... in order: what `n` calls of
  // accumulate(d, s + k, 1) compute, without a call and a switch per element.
  // (Float sums do not come here: run_float_sums_*.)
  template <typename T>
  T reduce_row(T init, const T* s, int64_t n) const {
    T v = init;
    switch (kind_) {
      case Kind::kMean:
      case Kind::kSum: for (int64_t i = 0; i < n; ++i) v = wrap_add(v, s[i]); break;
      case Kind::kProd: for (int64_t i = 0; i < n; ++i) v = wrap_mul(v, s[i]); break;
      case Kind::kMax: for (int64_t i = 0; i < n; ++i) v = std::max(v, s[i]); break;
      case Kind::kMin: for (int64_t i = 0; i < n; ++i) v = std::min(v, s[i]); break;
      case Kind::kL1:  // float only: run_float_sums_*
      case Kind::kL2:
      case Kind::kSumSquare: break;
    }
    return v;
  }

  template <typename T>
  void accumulate(T* d, const T* s, int64_t n) const {
    switch (kind_) {
      case Kind::kMean:
      case Kind::kSum: for (int64_t i = 0; i < n; ++i) d[i] = wrap_add(d[i], s[i]); break;
      case Kind::kProd: for (int64_t i = 0; i < n; ++i) d[i] = wrap_mul(d[i], s[i]); break;
      case Kind::kMax: for (int64_t i = 0; i < n; ++i) d[i] = std::max(d[i], s[i]); break;
      case Kind::kMin: for (int64_t i = 0; i < n; ++i) d[i] = std::min(d[i], s[i]); break;
      case Kind::kL1:  // float only: run_float_sums_*
      case Kind::kL2:
      case Kind::kSumSquare: break;
    }
  }

  // Which dims are reduced and the output shape, into *p (its vectors reused).
  void plan(const std::vector<const Value*>& in, ReducePlan* p) const {
    std::vector<char>* red = &p->red;
    const Value& X = require_any(in, 0, prefix_);
    const DataType t = X.dtype();
    const bool integer = t == DataType::kInt64 || t == DataType::kInt32;
    const bool ok = t == DataType::kFloat32 ||
                    (integer && (kind_ == Kind::kSum || kind_ == Kind::kProd || kind_ == Kind::kMax ||
                                 kind_ == Kind::kMin)) ||
                    (t == DataType::kBool && (kind_ == Kind::kMax || kind_ == Kind::kMin));
    if (!ok) {
      throw InvalidArgument(prefix_ + "input 0 must be float32 (ReduceSum/Prod/Max/Min: or int64, int32; "
                            "ReduceMax/Min: or bool), got " + dtype_name(t));
    }
    const int64_t rank = static_cast<int64_t>(X.shape().size());
    std::vector<int64_t>& axes = p->axes;
    if (!has_axes_attr_ && in.size() > 1 && in[1]) {
      int64_values_into(*in[1], prefix_, "axes", &axes);
    } else {
      axes.assign(axes_.begin(), axes_.end());
    }
    red->assign(static_cast<size_t>(rank), axes.empty() && !noop_empty_ ? 1 : 0);
    for (int64_t a : axes) {
      int64_t d = normalize_axis(a, rank, prefix_);
      if ((*red)[d]) throw InvalidArgument(prefix_ + "axis " + std::to_string(a) + " repeated in axes");
      (*red)[d] = 1;
    }
    Shape& out = p->out;
    out.clear();
    for (int64_t d = 0; d < rank; ++d) {
      if (!(*red)[d]) out.push_back(X.shape()[d]);
      else if (keepdims_) out.push_back(1);
    }
  }

  Kind kind_;
  std::vector<int64_t> axes_;
  bool has_axes_attr_, keepdims_, noop_empty_;
  std::string prefix_;
};

LayerFactory make(Kind kind) {
  return [kind](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
    std::vector<int64_t> axes = node.attrs.get_ints("axes", {});
    bool has_attr = node.attrs.has("axes");
    if (has_attr && has_input(node, 1)) {
      throw InvalidArgument(layer_error_prefix(node) + "axes given both as attribute and as input");
    }
    if (has_input(node, 1) && net.tensor(node.inputs[1]).is_constant) {
      constant_ints(net, node, 1, "axes", &axes);
      has_attr = true;  // fixed at creation
    }
    return std::make_unique<ReduceLayer>(node, kind, std::move(axes), has_attr);
  };
}

INT8RT_REGISTER_LAYER("ReduceMean", make(Kind::kMean));
INT8RT_REGISTER_LAYER("ReduceSum", make(Kind::kSum));
INT8RT_REGISTER_LAYER("ReduceProd", make(Kind::kProd));
INT8RT_REGISTER_LAYER("ReduceMax", make(Kind::kMax));
INT8RT_REGISTER_LAYER("ReduceMin", make(Kind::kMin));
INT8RT_REGISTER_LAYER("ReduceL1", make(Kind::kL1));
INT8RT_REGISTER_LAYER("ReduceL2", make(Kind::kL2));
INT8RT_REGISTER_LAYER("ReduceSumSquare", make(Kind::kSumSquare));

}  // namespace
}  // namespace engine
}  // namespace int8rt
