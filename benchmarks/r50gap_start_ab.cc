// What a u8-coded input costs the AMX direct conv (RESULTS.md section 213):
// the microkernel's two forms alternated in one process on ResNet-50's
// spatial shapes, driven as amxspatial_ukernel.cc's Layer drives them (its
// code, included): conv_direct_strip (int8 codes: tdpbssd, C tiles from
// tilezero) against conv_direct_strip_u8 (u8 codes: tdpbusd, C tiles loaded
// from the -128 * sum(w) start sums). Random bytes, timing only. Prints per
// shape both thread-CPU medians and s8 / u8 (< 1: starting from zero pays).
// Build: g++ -O2 -std=c++17 -Icsrc -ffp-contract=off -fno-trapping-math -mamx-tile -mamx-int8
//        -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni benchmarks/r50gap_start_ab.cc
// Run:   ./a.out [C H K R stride batch ...]   (default: ResNet-50's 3x3s and stem at batch 8)
#define main amxspatial_main
#include "amxspatial_ukernel.cc"
#undef main

namespace {

alignas(64) int32_t g_start[2048];  // start sums (any values: timing only)

void strip_u8_from_starts(const kx::AmxConvStrip& s) {
  kx::AmxConvStrip t = s;
  t.acc_init = g_start;
  kx::amx::conv_direct_strip_u8(t);
}

void compare(const Shape& sh) {
  Layer layer(sh, 8, true);
  const kx::AmxConvStripFn fns[2] = {kx::amx::conv_direct_strip, strip_u8_from_starts};
  std::vector<double> times[2];
  for (int i = 0; i < 3; ++i)
    for (auto fn : fns) layer.run(fn);
  const double start = now();
  while (times[0].size() < 30 || now() - start < 0.5) {
    for (int f = 0; f < 2; ++f) {
      const double t0 = now();
      layer.run(fns[f]);
      times[f].push_back(now() - t0);
    }
  }
  const double s8 = median(times[0]), u8 = median(times[1]);
  std::printf("%4d->%-4d %dx%d s%d @%-3d b%d:  s8 %8.1f us  u8 %8.1f us  s8/u8 %.3f\n", sh.C, sh.K, sh.R, sh.R,
              sh.stride, sh.H, sh.batch, s8 * 1e6, u8 * 1e6, s8 / u8);
}

}  // namespace

int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  std::vector<int> d;
  for (int i = 1; i < argc; ++i) d.push_back(std::atoi(argv[i]));
  if (d.empty()) {
    const int rn50[][5] = {{64, 56, 64, 3, 1},  {128, 56, 128, 3, 2}, {128, 28, 128, 3, 1}, {256, 28, 256, 3, 2},
                           {256, 14, 256, 3, 1}, {512, 14, 512, 3, 2}, {512, 7, 512, 3, 1}};
    for (const auto& l : rn50) d.insert(d.end(), {l[0], l[1], l[2], l[3], l[4], 8});
  }
  for (size_t i = 0; i + 5 < d.size(); i += 6) compare({d[i], d[i + 1], d[i + 2], d[i + 3], d[i + 4], d[i + 5]});
}
