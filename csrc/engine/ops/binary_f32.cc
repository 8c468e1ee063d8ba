// Element-wise binary ops with ONNX multidirectional (numpy) broadcasting:
// Add, Sub, Mul, Div, Pow on any numeric dtype (float32/64/16, int8..int64,
// uint8..uint64), both operands of one dtype, with the arithmetic rules of
// engine/dtypes.h (float16 computed in float32 and rounded once; integers
// wrap; integer Div truncates toward zero like ONNX Runtime, division by
// zero is an error). Pow's exponent may be any numeric dtype whatever the
// base's (ONNX allows mixed types; the result has the base's type): a float
// base raises to the exponent converted to the base's compute type; an
// integer base is std::pow in double, converted to the base's type, as ONNX
// Runtime computes it. A float32 base with a single exponent value of 2, 3 or
// 0.5 (the exponent as that float32 base's pow would see it) runs
// pow_small_exponent.h's multiplications or square root instead of pow per
// element.
//
// Broadcasting is planned per run (broadcast_loop.h). Float32 Add, Sub, Mul
// and Div run each row of the broadcast loop on the binary_f32 kernel family
// (kernels/binary_f32.h: the same IEEE operation at the CPU's vector width;
// this file is baseline code).
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <type_traits>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/op_util.h"
#include "engine/ops/pow_small_exponent.h"
#include "kernels/binary_f32.h"

namespace int8rt {
namespace engine {
namespace {

enum class Op { kAdd, kSub, kMul, kDiv, kPow };  // the first four in kernels::ref::BinaryF32's order
static_assert(static_cast<int>(Op::kAdd) == static_cast<int>(kernels::ref::BinaryF32::kAdd) &&
              static_cast<int>(Op::kSub) == static_cast<int>(kernels::ref::BinaryF32::kSub) &&
              static_cast<int>(Op::kMul) == static_cast<int>(kernels::ref::BinaryF32::kMul) &&
              static_cast<int>(Op::kDiv) == static_cast<int>(kernels::ref::BinaryF32::kDiv),
              "Op and kernels::ref::BinaryF32 number the four operations alike");

class BinaryLayer : public Layer {
 public:
  BinaryLayer(Op op, const Node& node) : op_(op), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, 0, prefix_);
    const Value& b = require_any(in, 1, prefix_);
    const bool ok = op_ == Op::kPow ? is_numeric_dtype(a.dtype()) && is_numeric_dtype(b.dtype())
                                    : is_numeric_dtype(a.dtype()) && a.dtype() == b.dtype();
    if (!ok) {
      throw InvalidArgument(prefix_ + "unsupported operand dtypes " + dtype_name(a.dtype()) + " and " +
                            dtype_name(b.dtype()) + " (numeric, both of one type" +
                            std::string(op_ == Op::kPow ? "; Pow: any two numeric types)" : ")"));
    }
    return {{a.dtype(), broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[0];
    const Value& b = *in[1];
    if (op_ == Op::kPow && a.dtype() == DataType::kFloat32 && b.numel() == 1) {
      const SmallExponent form = small_exponent(single_exponent_f32(b));
      if (form != SmallExponent::kNone) {
        // one exponent: the output is the base's elements in the base's order
        const float* x = a.data<float>();
        float* y = out[0]->data<float>();
        for_element_chunks(a.numel(),
                           [&](int64_t i0, int64_t i1) { pow_small_exponent(form, x + i0, y + i0, i1 - i0); });
        return;
      }
    }
    BroadcastPlan p = make_broadcast_plan(a.shape(), b.shape(), out[0]->shape());
    if (op_ == Op::kPow && a.dtype() != b.dtype()) {
      visit_numeric(a.dtype(), [&](auto base) {
        using T = decltype(base);
        visit_numeric(b.dtype(), [&](auto exponent) { pow_mixed<T>(p, a, b.data<decltype(exponent)>(), *out[0]); });
      });
      return;
    }
    if (a.dtype() == DataType::kFloat32 && op_ != Op::kPow) {
      run_f32(p, a.data<float>(), b.data<float>(), out[0]->data<float>());
      return;
    }
    visit_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      run_typed(p, a.data<T>(), b.data<T>(), out[0]->data<T>());
    });
  }

  std::string describe() const override { return "numeric broadcast"; }

 private:
  // run_broadcast's loop (broadcast_loop.h) with each row's chunk on the
  // binary_f32 kernel.
  void run_f32(const BroadcastPlan& p, const float* a, const float* b, float* y) const {
    const auto op = static_cast<kernels::ref::BinaryF32>(static_cast<int>(op_));
    const int64_t inner = p.inner, ia = p.s[0].back(), ib = p.s[1].back();
    const int64_t chunk = std::min(inner, kElementChunk), per_row = (inner + chunk - 1) / chunk;
    const int64_t grain = std::max<int64_t>(1, kElementChunk / chunk);
    if (p.dims.size() == 2 && per_row == 1) {
      // One outer dim, whole rows (a squeeze-and-excitation block's
      // x[N, C, H, W] * s[N, C, 1, 1]: N * C rows of H * W): row r's operand
      // offsets are r times their outer strides, with none of
      // broadcast_row_offsets' divisions per row; the same kernel calls on
      // the same rows, so the same bits.
      const int64_t oa = p.s[0][0], ob = p.s[1][0];
      parallel_for(p.outer, grain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) binary_.apply(op, inner, a + r * oa, ia, b + r * ob, ib, y + r * inner);
      });
      return;
    }
    parallel_for(p.outer * per_row, grain, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t row = item / per_row, i0 = item % per_row * chunk, i1 = std::min(inner, i0 + chunk);
        const std::array<int64_t, 2> off = broadcast_row_offsets(p, row);
        binary_.apply(op, i1 - i0, a + off[0] + i0 * ia, ia, b + off[1] + i0 * ib, ib, y + row * inner + i0);
      }
    });
  }

  // The one value of exponent `b` converted to float32, as pow_mixed and
  // run_typed hand it to a float32 base's pow.
  static double single_exponent_f32(const Value& b) {
    double e = 0.0;
    visit_numeric(b.dtype(), [&](auto tag) {
      using E = decltype(tag);
      e = static_cast<double>(static_cast<float>(Arith<E>::load(b.data<E>()[0])));
    });
    return e;
  }

  template <typename T, typename E>
  void pow_mixed(const BroadcastPlan& p, const Value& a, const E* z, Value& out) const {
    run_broadcast(p, a.data<T>(), z, out.data<T>(), [](T u, E v) {
      const auto e = Arith<E>::load(v);
      if constexpr (kIsFloat<T>) {
        using C = typename Arith<T>::C;
        return Arith<T>::store(std::pow(Arith<T>::load(u), static_cast<C>(e)));
      } else {
        return static_cast<T>(std::pow(static_cast<double>(u), static_cast<double>(e)));
      }
    });
  }

  template <typename T>
  void run_typed(const BroadcastPlan& p, const T* x, const T* z, T* y) const {
    using A = Arith<T>;
    switch (op_) {
      case Op::kAdd: run_broadcast(p, x, z, y, [](T u, T v) { return A::add(u, v); }); break;
      case Op::kSub: run_broadcast(p, x, z, y, [](T u, T v) { return A::sub(u, v); }); break;
      case Op::kMul: run_broadcast(p, x, z, y, [](T u, T v) { return A::mul(u, v); }); break;
      case Op::kDiv:
        if constexpr (kIsInteger<T>) {
          std::atomic<bool> zero{false};
          run_broadcast(p, x, z, y, [&zero](T u, T v) {
            if (v == 0) { zero.store(true, std::memory_order_relaxed); return T{0}; }
            return A::div(u, v);
          });
          if (zero) throw InvalidArgument(prefix_ + "integer division by zero");
        } else {
          run_broadcast(p, x, z, y, [](T u, T v) { return A::store(A::load(u) / A::load(v)); });
        }
        break;
      case Op::kPow:
        if constexpr (kIsInteger<T>) {
          run_broadcast(p, x, z, y, [](T u, T v) {
            return static_cast<T>(std::pow(static_cast<double>(u), static_cast<double>(v)));
          });
        } else {
          run_broadcast(p, x, z, y, [](T u, T v) { return A::store(std::pow(A::load(u), A::load(v))); });
        }
        break;
    }
  }

  Op op_;
  std::string prefix_;
  const kernels::BinaryF32Kernel& binary_ = kernels::choose<kernels::BinaryF32Kernel>();  // once per layer
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
