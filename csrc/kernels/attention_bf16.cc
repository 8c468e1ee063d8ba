// The BF16 attention driver (kernels/attention_bf16.h): panels, blocks of
// rows and the two products' tiles around a gemm_bf16 pair tile.
//
// Before (RESULTS.md section 244's profile: ~45 GMAC/s against the tile's
// ~113): each product transposed the keys to FP32, multiplied the copy by
// the scale, packed it to FP32 panels and converted those; q and v the
// same way (a scaled copy, a packing, a conversion), the probabilities
// converted after the whole softmax, a BF16 output rounded after the whole
// product. Here every operand is converted once, straight into the tile's
// layout, and the output is rounded in the tile's store (RESULTS.md
// section 257).
#include "kernels/attention_bf16.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/aligned_buffer.h"

namespace int8rt {
namespace kernels {
namespace {

template <class T>
T* grown(AlignedBuffer<T>& buf, int64_t n) {  // made anew (zeroed) when smaller, kept otherwise
  n = std::max<int64_t>(n, 1);
  if (buf.size() < n) buf = AlignedBuffer<T>(n);
  return buf.data();
}

}  // namespace

std::string AttentionBf16Kernel::supports() const {
  if (needs_avx512_bf16 && !cpu_features().avx512_bf16) return "CPU lacks avx512_bf16";
  return "";
}

void AttentionBf16Kernel::run(const Bf16AttentionProduct& p, Bf16AttentionRowsFn softmax, bool parallel) const {
  if (p.M <= 0 || p.Dv <= 0) return;
  const int64_t k_pairs = (p.K + 1) / 2, n_pairs = (p.N + 1) / 2;
  const int64_t k_panel = k_pairs * nr * 2, v_panel = n_pairs * nr * 2;
  thread_local AlignedBuffer<uint16_t> k_buf, v_buf;
  uint16_t* const kp = grown(k_buf, (p.N + nr - 1) / nr * k_panel);
  uint16_t* const vp = grown(v_buf, (p.Dv + nr - 1) / nr * v_panel);
  panel(p.k, p.ldk, p.K, p.N, p.keys, p.k_scale, nr, kp);
  panel(p.v, p.ldv, p.N, p.Dv, false, p.v_scale, nr, vp);

  auto block = [&](int64_t b) {
    thread_local AlignedBuffer<uint16_t> a_buf;
    thread_local AlignedBuffer<float> s_buf;
    const int64_t r0 = b * kRowBlock, count = std::min(kRowBlock, p.M - r0);
    // q's rows, then (the same storage) the probabilities' rows: each read by one product only.
    uint16_t* const a = grown(a_buf, count * 2 * std::max(k_pairs, n_pairs));
    float* const s = grown(s_buf, count * p.N);
    Bf16Tile t;
    t.mr = mr;
    t.nr = nr;
    // s = q kt
    rows(p.q + r0 * p.ldq, p.ldq, count, p.K, p.q_scale, a, 2 * k_pairs);
    t.pairs = k_pairs;
    t.a_ld = 2 * k_pairs;
    t.ldc = p.N;
    for (int64_t i = 0; i < count; i += mr) {
      t.rows = static_cast<int>(std::min<int64_t>(mr, count - i));
      t.a = a + i * t.a_ld;
      for (int64_t j = 0; j < p.N; j += nr) {
        t.b = kp + (j / nr) * k_panel;
        t.cols = static_cast<int>(std::min<int64_t>(nr, p.N - j));
        t.c = s + i * p.N + j;
        tile(t);
      }
    }
    if (p.N > 0) softmax(r0, count, s);
    // y = p v
    rows(s, p.N, count, p.N, nullptr, a, 2 * n_pairs);
    t.pairs = n_pairs;
    t.a_ld = 2 * n_pairs;
    t.ldc = p.ldy;
    t.c = nullptr;
    for (int64_t i = 0; i < count; i += mr) {
      t.rows = static_cast<int>(std::min<int64_t>(mr, count - i));
      t.a = a + i * t.a_ld;
      for (int64_t j = 0; j < p.Dv; j += nr) {
        t.b = vp + (j / nr) * v_panel;
        t.cols = static_cast<int>(std::min<int64_t>(nr, p.Dv - j));
        if (p.y16) {
          t.c16 = p.y16 + (r0 + i) * p.ldy + j;
        } else {
          t.c = p.y + (r0 + i) * p.ldy + j;
        }
        tile(t);
      }
    }
  };
  // Across threads when there is a second block and work for a second thread (gemm_bf16.cc's kWorkSerial).
  const int64_t blocks = (p.M + kRowBlock - 1) / kRowBlock;
  if (parallel && blocks > 1 && p.M * p.N * (p.K + p.Dv) >= (int64_t{1} << 18)) {
    parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) block(b);
    });
  } else {
    for (int64_t b = 0; b < blocks; ++b) block(b);
  }
}

}  // namespace kernels
}  // namespace int8rt
