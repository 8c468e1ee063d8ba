// Per-block k orders for the permuted pair tile (gemm_s8_pairing.h): the
// compatibility graph of each window and a bounded matching search.
#include "kernels/x86/gemm_s8_pairing.h"

#include <algorithm>
#include <cstring>

#include "core/checked_math.h"
#include "kernels/x86/gemm_u8s8_pairs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Nodes visited per window before the search keeps the best order found so far. The first
// descent (fewest options first) already finds a perfect matching in almost every window.
constexpr int kSearchSteps = 4096;

// (baseline code has no popcnt instruction: __builtin_popcount would call libgcc)
int popcount16(uint32_t v) {
  v = v - ((v >> 1) & 0x5555u);
  v = (v & 0x3333u) + ((v >> 2) & 0x3333u);
  v = (v + (v >> 4)) & 0x0f0fu;
  return static_cast<int>((v + (v >> 8)) & 0x1fu);
}

struct WindowSearch {
  const uint16_t* compat;
  uint8_t cur[kPairWindow];
  uint8_t best[kPairWindow];
  int best_cost = kPairWindow;  // more than any order can have
  int steps = 0;

  void visit(uint32_t free, int depth, int cost) {
    if (cost >= best_cost || steps >= kSearchSteps) return;
    ++steps;
    if (free == 0) {
      best_cost = cost;
      std::memcpy(best, cur, sizeof(best));
      return;
    }
    // The free k with the fewest compatible free partners goes first.
    int i = -1, fewest = kPairWindow + 1;
    for (uint32_t f = free; f != 0; f &= f - 1) {
      const int v = __builtin_ctz(f);
      const int d = popcount16(compat[v] & free & ~(1u << v));
      if (d < fewest) {
        fewest = d;
        i = v;
      }
    }
    const uint32_t rest = free & ~(1u << i);
    cur[2 * depth] = static_cast<uint8_t>(i);
    // Compatible partners, those with the fewest options of their own first; then, at a cost of one
    // incompatible pair, the others.
    uint8_t order[kPairWindow];
    int n = 0;
    for (uint32_t f = compat[i] & rest; f != 0; f &= f - 1) order[n++] = static_cast<uint8_t>(__builtin_ctz(f));
    std::sort(order, order + n, [&](uint8_t x, uint8_t y) {
      return popcount16(compat[x] & rest) < popcount16(compat[y] & rest);
    });
    const int good = n;
    for (uint32_t f = rest & ~static_cast<uint32_t>(compat[i]); f != 0; f &= f - 1) {
      order[n++] = static_cast<uint8_t>(__builtin_ctz(f));
    }
    for (int e = 0; e < n && best_cost > 0; ++e) {
      cur[2 * depth + 1] = order[e];
      visit(rest & ~(1u << order[e]), depth + 1, cost + (e < good ? 0 : 1));
    }
  }
};

}  // namespace

int match_window(const uint16_t compat[kPairWindow], uint8_t pos[kPairWindow]) {
  WindowSearch s;
  s.compat = compat;
  s.visit((1u << kPairWindow) - 1, 0, 0);
  std::memcpy(pos, s.best, sizeof(s.best));
  return s.best_cost;
}

KPairing pair_k_by_block(const int8_t* w_nk, int64_t N, int64_t K, int64_t block) {
  KPairing p;
  p.Kp = checked_mul((K + kPairWindow - 1) / kPairWindow, kPairWindow, "gemm_s8 pairing: K");
  p.block = block;
  const int64_t blocks = (N + block - 1) / block;
  p.perm.resize(static_cast<size_t>(checked_mul(blocks, p.Kp, "gemm_s8 pairing: orders")));
  int8_t col[kPairWindow];
  uint16_t compat[kPairWindow];
  for (int64_t j = 0; j < blocks; ++j) {
    for (int64_t k0 = 0; k0 < p.Kp; k0 += kPairWindow) {
      for (int i = 0; i < kPairWindow; ++i) compat[i] = static_cast<uint16_t>(0xffffu & ~(1u << i));
      for (int64_t n = j * block; n < std::min(N, (j + 1) * block); ++n) {
        for (int i = 0; i < kPairWindow; ++i) col[i] = k0 + i < K ? w_nk[n * K + k0 + i] : int8_t{0};
        // A pair over the rule holds a value past 64 in magnitude: only those are paired up.
        for (int a = 0; a < kPairWindow; ++a) {
          if (col[a] >= -64 && col[a] <= 64) continue;
          for (int b = 0; b < kPairWindow; ++b) {
            if (pair_excess(col[a], col[b]) != 0) {
              compat[a] = static_cast<uint16_t>(compat[a] & ~(1u << b));
              compat[b] = static_cast<uint16_t>(compat[b] & ~(1u << a));
            }
          }
        }
      }
      p.incompatible += match_window(compat, p.perm.data() + j * p.Kp + k0);
    }
  }
  return p;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
