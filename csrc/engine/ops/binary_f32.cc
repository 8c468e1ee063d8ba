// Element-wise binary ops with ONNX multidirectional (numpy) broadcasting:
// Add, Sub, Mul, Div, Pow on float32, and Add, Sub, Mul, Div on int64 (shape
// arithmetic; Div truncates toward zero like ONNX Runtime, division by zero
// is an error). Pow's exponent may be float32 or int64 (ONNX allows mixed
// types; the result has the base's type, float32 only).
//
// Broadcasting is planned per run: dimensions are collapsed while both
// operands stay contiguous-or-broadcast together, leaving an inner loop with
// operand strides 0 or 1 that the compiler vectorises.
#include <atomic>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Op { kAdd, kSub, kMul, kDiv, kPow };

struct Plan {
  std::vector<int64_t> dims, sa, sb;  // collapsed output dims and operand strides
  int64_t inner = 1, outer = 1;
};

Plan make_plan(const Shape& a, const Shape& b, const Shape& out) {
  std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  Plan p;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;  // size-1 dims do not move either operand
    if (!p.dims.empty()) {
      int64_t last = p.dims.back();
      bool merge_a = p.sa.back() == sa[i] * out[i] || (p.sa.back() == 0 && sa[i] == 0);
      bool merge_b = p.sb.back() == sb[i] * out[i] || (p.sb.back() == 0 && sb[i] == 0);
      if (merge_a && merge_b) {
        p.dims.back() = last * out[i];
        p.sa.back() = sa[i];
        p.sb.back() = sb[i];
        continue;
      }
    }
    p.dims.push_back(out[i]);
    p.sa.push_back(sa[i]);
    p.sb.push_back(sb[i]);
  }
  if (p.dims.empty()) { p.dims = {1}; p.sa = {0}; p.sb = {0}; }
  p.inner = p.dims.back();
  for (size_t i = 0; i + 1 < p.dims.size(); ++i) p.outer *= p.dims[i];
  return p;
}

template <typename T, typename U, typename F>
void run_plan(const Plan& p, const T* a, const U* b, T* y, F f) {
  const int64_t inner = p.inner, ia = p.sa.back(), ib = p.sb.back();
  const size_t nd = p.dims.size();
  int64_t grain = std::max<int64_t>(1, (1 << 15) / inner);
  parallel_for(p.outer, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      int64_t oa = 0, ob = 0, r = row;
      for (size_t d = nd - 1; d-- > 0;) {
        int64_t idx = r % p.dims[d];
        r /= p.dims[d];
        oa += idx * p.sa[d];
        ob += idx * p.sb[d];
      }
      const T* pa = a + oa;
      const U* pb = b + ob;
      T* py = y + row * inner;
      if (ia == 1 && ib == 1) {
        for (int64_t i = 0; i < inner; ++i) py[i] = f(pa[i], pb[i]);
      } else if (ia == 1) {
        const U s = pb[0];
        for (int64_t i = 0; i < inner; ++i) py[i] = f(pa[i], s);
      } else if (ib == 1) {
        const T s = pa[0];
        for (int64_t i = 0; i < inner; ++i) py[i] = f(s, pb[i]);
      } else {
        const T s = pa[0];
        const U t = pb[0];
        for (int64_t i = 0; i < inner; ++i) py[i] = f(s, t);
      }
    }
  });
}

class BinaryLayer : public Layer {
 public:
  BinaryLayer(Op op, const Node& node) : op_(op), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, 0, prefix_);
    const Value& b = require_any(in, 1, prefix_);
    bool ok = a.dtype() == DataType::kFloat32
                  ? (b.dtype() == DataType::kFloat32 || (op_ == Op::kPow && b.dtype() == DataType::kInt64))
                  : (a.dtype() == DataType::kInt64 && b.dtype() == DataType::kInt64 && op_ != Op::kPow);
    if (!ok) {
      throw InvalidArgument(prefix_ + "unsupported operand dtypes (float32 op float32, int64 op int64" +
                            std::string(op_ == Op::kPow ? ", float32 ^ int64)" : ")"));
    }
    return {{a.dtype(), broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[0];
    const Value& b = *in[1];
    Plan p = make_plan(a.shape(), b.shape(), out[0]->shape());
    if (a.dtype() == DataType::kInt64) {
      run_int(p, a.data<int64_t>(), b.data<int64_t>(), out[0]->data<int64_t>());
      return;
    }
    const float* x = a.data<float>();
    float* y = out[0]->data<float>();
    if (b.dtype() == DataType::kInt64) {
      run_plan(p, x, b.data<int64_t>(), y, [](float u, int64_t v) { return std::pow(u, static_cast<float>(v)); });
      return;
    }
    const float* z = b.data<float>();
    switch (op_) {
      case Op::kAdd: run_plan(p, x, z, y, [](float u, float v) { return u + v; }); break;
      case Op::kSub: run_plan(p, x, z, y, [](float u, float v) { return u - v; }); break;
      case Op::kMul: run_plan(p, x, z, y, [](float u, float v) { return u * v; }); break;
      case Op::kDiv: run_plan(p, x, z, y, [](float u, float v) { return u / v; }); break;
      case Op::kPow: run_plan(p, x, z, y, [](float u, float v) { return std::pow(u, v); }); break;
    }
  }

  std::string describe() const override { return "fp32/int64 broadcast"; }

 private:
  void run_int(const Plan& p, const int64_t* x, const int64_t* z, int64_t* y) const {
    switch (op_) {
      case Op::kAdd: run_plan(p, x, z, y, [](int64_t u, int64_t v) { return u + v; }); break;
      case Op::kSub: run_plan(p, x, z, y, [](int64_t u, int64_t v) { return u - v; }); break;
      case Op::kMul: run_plan(p, x, z, y, [](int64_t u, int64_t v) { return u * v; }); break;
      case Op::kDiv: {
        std::atomic<bool> zero{false};
        run_plan(p, x, z, y, [&zero](int64_t u, int64_t v) {
          if (v == 0) { zero.store(true, std::memory_order_relaxed); return int64_t{0}; }
          return u / v;
        });
        if (zero) throw InvalidArgument(prefix_ + "integer division by zero");
        break;
      }
      case Op::kPow: break;
    }
  }

  Op op_;
  std::string prefix_;
};

LayerFactory make(Op op) {
  return [op](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    if (node.inputs.size() != 2) {
      throw InvalidArgument(layer_error_prefix(node) + "expects 2 inputs, got " + std::to_string(node.inputs.size()));
    }
    return std::make_unique<BinaryLayer>(op, node);
  };
}

INT8RT_REGISTER_LAYER("Add", make(Op::kAdd));
INT8RT_REGISTER_LAYER("Sub", make(Op::kSub));
INT8RT_REGISTER_LAYER("Mul", make(Op::kMul));
INT8RT_REGISTER_LAYER("Div", make(Op::kDiv));
INT8RT_REGISTER_LAYER("Pow", make(Op::kPow));

}  // namespace
}  // namespace engine
}  // namespace int8rt
