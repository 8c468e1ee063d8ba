// Broadcast element-wise loops shared by the binary layers (binary_f32.cc,
// prelu_f32.cc): y[i] = f(a[ia], b[ib]) over the broadcast output shape.
//
// The plan collapses adjacent dimensions while both operands stay
// contiguous-or-broadcast together, leaving an inner loop whose operand
// strides are 0 or 1 (which the compiler vectorises) and an outer loop run in
// parallel with int8rt::parallel_for; a long inner row (two tensors of one
// shape collapse into a single row) is cut into chunks of kElementChunk so
// that it runs in parallel too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

struct BroadcastPlan {
  std::vector<int64_t> dims, sa, sb;  // collapsed output dims and operand strides
  int64_t inner = 1, outer = 1;
};

inline BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b, const Shape& out) {
  std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  BroadcastPlan p;
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
void run_broadcast(const BroadcastPlan& p, const T* a, const U* b, T* y, F f) {
  const int64_t inner = p.inner, ia = p.sa.back(), ib = p.sb.back();
  const size_t nd = p.dims.size();
  const int64_t chunk = std::min(inner, kElementChunk), per_row = (inner + chunk - 1) / chunk;
  const int64_t grain = std::max<int64_t>(1, kElementChunk / chunk);
  parallel_for(p.outer * per_row, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / per_row, i0 = item % per_row * chunk, i1 = std::min(inner, i0 + chunk);
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

}  // namespace engine
}  // namespace int8rt
