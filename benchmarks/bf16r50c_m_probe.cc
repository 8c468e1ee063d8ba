// TDPBF16PS throughput against the rows of its A and C tiles (M = the
// pixels of a pixel group: 16, 14 for a 14 x 14 plane's rows, 7 for a 7 x 7
// plane's rows), K = 32 BF16 (16 pairs), 4 independent C tiles from zero
// tiles, best of 30 runs (RESULTS.md section 221: whether the AMX blocked
// conv's per-row pixel groups on 7 x 7 / 14 x 14 planes cost a full tile's
// time). Build and run: g++ -O2 -mamx-tile -mamx-bf16
// benchmarks/bf16r50c_m_probe.cc -o /tmp/m_probe && /tmp/m_probe
#include <cstdio>

#include "amx_bf16_probe.h"
double run(int m, int64_t iters) {
  Cfg c;
  for (int t = 0; t < 4; ++t) { c.colsb[t] = 64; c.rows[t] = static_cast<uint8_t>(m); }  // C: m rows x 16 FP32
  c.colsb[4] = c.colsb[5] = 64; c.rows[4] = c.rows[5] = static_cast<uint8_t>(m);          // A: m rows x 32 BF16
  c.colsb[6] = c.colsb[7] = 64; c.rows[6] = c.rows[7] = 16;                               // B: 16 pair rows
  return tdpbf16ps_ns(c, iters);
}
int main() {
  request_amx();
  for (int pass = 0; pass < 3; ++pass) {
    const double a = run(16, 20000), b = run(14, 20000), c = run(7, 20000), d = run(4, 20000);
    std::printf("ns per TDPBF16PS: M=16 %.2f, M=14 %.2f (%.2f), M=7 %.2f (%.2f), M=4 %.2f (%.2f)\n", a, b, b / a, c,
                c / a, d, d / a);
  }
}
