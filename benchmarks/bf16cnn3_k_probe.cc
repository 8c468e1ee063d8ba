// TDPBF16PS throughput at A rows of 64 bytes (K = 32 BF16, 16 pairs: the
// AMX blocked conv's paired copy of two input blocks) against 32 bytes (K =
// 16, 8 pairs: one NCHW16c block read in place, no copy), 4 independent C
// tiles from zero tiles, best of 30 runs (RESULTS.md section 208: whether a
// 1x1 conv could read its blocked input in place without doubling its tile
// products). Build and run: g++ -O2 -mamx-tile -mamx-bf16
// benchmarks/bf16cnn3_k_probe.cc -o /tmp/k_probe && /tmp/k_probe
#include <cstdio>

#include "amx_bf16_probe.h"
template <int K>
double run(int64_t iters) {
  Cfg c;
  for (int t = 0; t < 4; ++t) { c.colsb[t] = 64; c.rows[t] = 16; }
  c.colsb[4] = c.colsb[5] = K * 2; c.rows[4] = c.rows[5] = 16;  // A: 16 rows x K bf16
  c.colsb[6] = c.colsb[7] = 64; c.rows[6] = c.rows[7] = K / 2;   // B: K/2 pair rows
  return tdpbf16ps_ns(c, iters);
}
int main() {
  request_amx();
  for (int pass = 0; pass < 3; ++pass) {
    double a = run<32>(20000), b = run<16>(20000);
    std::printf("ns per TDPBF16PS: K=32 %.2f, K=16 %.2f, ratio %.2f\n", a, b, b / a);
  }
}
