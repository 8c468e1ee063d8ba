// The per-channel int8 lookup (lookup_channels_s8 family, QLutChannelsLayer)
// alone: every candidate this CPU runs, one thread, on NHWC shapes of the
// sizes PP-OCRv4 rec's per-channel HardSwish tables see, timed alternately in one
// process (CPU time of the thread, median of rounds) and printed as ns per
// pixel row and the ratio to the reference kernel. Build and run:
//   g++ -O2 -std=c++17 -Icsrc -Icsrc/include benchmarks/lookup_channels_bench.cc -Lbuild/dev -lint8rt \
//       -Wl,-rpath,$PWD/build/dev -o /tmp/lookup_channels_bench && /tmp/lookup_channels_bench
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "int8rt/threading.h"
#include "kernels/eltwise_s8.h"

namespace k = int8rt::kernels;

namespace {

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

}  // namespace

int main() {
  int8rt::set_num_threads(1);
  std::mt19937 rng(3);
  std::normal_distribution<float> activation(0.f, 30.f);  // most values near zero, as after a conv
  const std::vector<const k::LookupChannelsS8Kernel*> list = k::candidates<k::LookupChannelsS8Kernel>();
  std::printf("%-8s %-6s %-26s %12s %8s\n", "pixels", "C", "kernel", "ns/pixel", "vs ref");
  // PP-OCRv4 rec's per-channel tables (input 48 x 320; [C, H, W] from the
  // ONNX file's shapes) at batch 1 and 8, a large-C tail and det's C = 16.
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int64_t n : {1, 8}) {
    for (auto [c, hw] : std::vector<std::pair<int64_t, int64_t>>{{64, 24 * 160}, {128, 12 * 160}, {240, 12 * 80},
                                                                {480, 6 * 80}, {480, 3 * 80}}) {
      shapes.push_back({n * hw, c});
    }
  }
  shapes.push_back({8 * 3 * 40, 100});
  shapes.push_back({4 * 160 * 160, 16});
  for (auto [pixels, channels] : shapes) {
    std::vector<int8_t> tables(static_cast<size_t>(channels * 256)), x(static_cast<size_t>(pixels * channels));
    std::vector<int8_t> y(x.size());
    for (auto& v : tables) v = static_cast<int8_t>(rng());
    for (auto& v : x) v = static_cast<int8_t>(std::clamp(std::lround(activation(rng)), -128L, 127L));
    std::vector<std::vector<double>> times(list.size());
    const int reps = static_cast<int>(std::max<int64_t>(1, 2000000 / (pixels * channels)));
    for (int round = 0; round < 15; ++round) {
      for (size_t i = 0; i < list.size(); ++i) {
        if (!k::isa_enabled(list[i]->isa()) || !list[i]->supports().empty()) continue;
        const double t0 = thread_seconds();
        for (int r = 0; r < reps; ++r) list[i]->lookup_channels(pixels, channels, x.data(), tables.data(), y.data());
        times[i].push_back((thread_seconds() - t0) / reps);
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double ref = median(times.back());
    for (size_t i = 0; i < list.size(); ++i) {
      if (times[i].empty()) continue;
      const double m = median(times[i]);
      std::printf("%-8lld %-6lld %-26s %12.1f %8.2f\n", static_cast<long long>(pixels), static_cast<long long>(channels),
                  list[i]->name(), 1e9 * m / pixels, ref / m);
    }
  }
}
