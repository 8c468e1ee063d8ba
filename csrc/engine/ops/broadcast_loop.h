// Broadcast element-wise loops shared by the binary layers (binary_f32.cc,
// prelu_f32.cc, variadic_f32.cc, compare.cc, logic.cc) and Where (where.cc):
// y[i] = f(a[ia], b[ib]) (or f(a, b, c)) over the broadcast output shape.
//
// The plan collapses adjacent dimensions while all operands stay
// contiguous-or-broadcast together, leaving an inner loop whose operand
// strides are 0 or 1 (which the compiler vectorises) and an outer loop run in
// parallel with int8rt::parallel_for; a long inner row (two tensors of one
// shape collapse into a single row) is cut into chunks of kElementChunk so
// that it runs in parallel too.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

// int64 values with room for kInline of them in place, spilling to the heap
// beyond: a broadcast plan is made per layer per run, and with std::vector
// members it was most of an FP32 detector's heap allocations per run
// (PP-OCR det: ~900); ranks past kInline still work.
class BroadcastDims {
 public:
  static constexpr size_t kInline = 8;
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t* data() { return n_ > kInline ? heap_.data() : in_place_.data(); }
  const int64_t* data() const { return n_ > kInline ? heap_.data() : in_place_.data(); }
  int64_t& operator[](size_t i) { return data()[i]; }
  int64_t operator[](size_t i) const { return data()[i]; }
  int64_t& back() { return data()[n_ - 1]; }
  int64_t back() const { return data()[n_ - 1]; }
  void push_back(int64_t v) {
    if (n_ < kInline) {
      in_place_[n_++] = v;
      return;
    }
    if (n_ == kInline) heap_.assign(in_place_.begin(), in_place_.end());
    heap_.push_back(v);
    ++n_;
  }
  // n values, all 0.
  void assign_zeros(size_t n) {
    n_ = 0;
    heap_.clear();
    for (size_t i = 0; i < n; ++i) push_back(0);
  }

 private:
  std::array<int64_t, kInline> in_place_{};
  std::vector<int64_t> heap_;  // all n_ values once n_ > kInline
  size_t n_ = 0;
};

// n values, all 0, in either container (broadcast_strides_into's).
inline void zero_dims(BroadcastDims& d, size_t n) { d.assign_zeros(n); }
inline void zero_dims(std::vector<int64_t>& d, size_t n) { d.assign(n, 0); }

// Collapsed output dims and, per operand, its strides over them.
template <size_t K>
struct BroadcastPlanN {
  BroadcastDims dims;
  std::array<BroadcastDims, K> s;
  int64_t inner = 1, outer = 1;
};

// Strides (in elements) of `shape` viewed as `out` (broadcast_strides, op_util.h), into `strides`.
// Dims: Shape or BroadcastDims; Strides: BroadcastDims or a std::vector<int64_t> whose storage is
// reused (a per-thread one: no allocation once sized).
template <typename Dims, typename Strides>
void broadcast_strides_into(const Shape& shape, const Dims& out, Strides& strides) {
  zero_dims(strides, out.size());
  int64_t s = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    strides[out.size() - 1 - k] = shape[shape.size() - 1 - k] == 1 ? 0 : s;
    s *= shape[shape.size() - 1 - k];
  }
}

template <size_t K>
BroadcastPlanN<K> make_broadcast_plan_n(const std::array<const Shape*, K>& shapes, const Shape& out) {
  std::array<BroadcastDims, K> st;
  for (size_t k = 0; k < K; ++k) broadcast_strides_into(*shapes[k], out, st[k]);
  BroadcastPlanN<K> p;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;  // size-1 dims do not move any operand
    bool merge = !p.dims.empty();
    for (size_t k = 0; k < K && merge; ++k) {
      merge = p.s[k].back() == st[k][i] * out[i] || (p.s[k].back() == 0 && st[k][i] == 0);
    }
    if (merge) {
      p.dims.back() *= out[i];
      for (size_t k = 0; k < K; ++k) p.s[k].back() = st[k][i];
      continue;
    }
    p.dims.push_back(out[i]);
    for (size_t k = 0; k < K; ++k) p.s[k].push_back(st[k][i]);
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (size_t k = 0; k < K; ++k) p.s[k].push_back(0);
  }
  p.inner = p.dims.back();
  for (size_t i = 0; i + 1 < p.dims.size(); ++i) p.outer *= p.dims[i];
  return p;
}

using BroadcastPlan = BroadcastPlanN<2>;

inline BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b, const Shape& out) {
  return make_broadcast_plan_n<2>({&a, &b}, out);
}

// Offsets of output row `row` (an index over the outer dims) in each operand.
template <size_t K>
std::array<int64_t, K> broadcast_row_offsets(const BroadcastPlanN<K>& p, int64_t row) {
  std::array<int64_t, K> off{};
  for (size_t d = p.dims.size() - 1; d-- > 0;) {
    const int64_t idx = row % p.dims[d];
    row /= p.dims[d];
    for (size_t k = 0; k < K; ++k) off[k] += idx * p.s[k][d];
  }
  return off;
}

// y[i] = f(a[.], b[.]); the output type R may differ from the operands'
// (a comparison writes bool bytes).
template <typename T, typename U, typename R, typename F>
void run_broadcast(const BroadcastPlan& p, const T* a, const U* b, R* y, F f) {
  const int64_t inner = p.inner, ia = p.s[0].back(), ib = p.s[1].back();
  const int64_t chunk = std::min(inner, kElementChunk), per_row = (inner + chunk - 1) / chunk;
  const int64_t grain = std::max<int64_t>(1, kElementChunk / chunk);
  parallel_for(p.outer * per_row, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / per_row, i0 = item % per_row * chunk, i1 = std::min(inner, i0 + chunk);
      const std::array<int64_t, 2> off = broadcast_row_offsets(p, row);
      const T* pa = a + off[0];
      const U* pb = b + off[1];
      R* py = y + row * inner;
      if (ia == 1 && ib == 1) {
        for (int64_t i = i0; i < i1; ++i) py[i] = f(pa[i], pb[i]);
      } else if (ia == 1) {
        const U s = pb[0];
        for (int64_t i = i0; i < i1; ++i) py[i] = f(pa[i], s);
      } else if (ib == 1) {
        const T s = pa[0];
        for (int64_t i = i0; i < i1; ++i) py[i] = f(s, pb[i]);
      } else {
        const T s = pa[0];
        const U t = pb[0];
        for (int64_t i = i0; i < i1; ++i) py[i] = f(s, t);
      }
    }
  });
}

// y[i] = f(a[.], b[.], c[.]) over three broadcast operands (Where). The inner
// strides are 0 or 1; the all-contiguous case gets its own loop.
template <typename A, typename B, typename C, typename R, typename F>
void run_broadcast3(const BroadcastPlanN<3>& p, const A* a, const B* b, const C* c, R* y, F f) {
  const int64_t inner = p.inner, ia = p.s[0].back(), ib = p.s[1].back(), ic = p.s[2].back();
  int64_t grain = std::max<int64_t>(1, (1 << 15) / inner);
  parallel_for(p.outer, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const std::array<int64_t, 3> off = broadcast_row_offsets(p, row);
      const A* pa = a + off[0];
      const B* pb = b + off[1];
      const C* pc = c + off[2];
      R* py = y + row * inner;
      if (ia == 1 && ib == 1 && ic == 1) {
        for (int64_t i = 0; i < inner; ++i) py[i] = f(pa[i], pb[i], pc[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) py[i] = f(pa[i * ia], pb[i * ib], pc[i * ic]);
      }
    }
  });
}

}  // namespace engine
}  // namespace int8rt
