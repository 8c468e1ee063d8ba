// RESULTS.md section 146: the two kernels this change touched, timed by
// name against the candidate they displace, 1 thread, thread CPU time,
// the two alternated call by call, medians of `rounds` (argv[1], default 41):
//   - the squeeze-and-excitation gate's linear form (x * m[c]), N = 8 images
//     of HW pixels x C channels: channel_mul_s8_vbmi_avx512 (per-channel
//     tables from x86::kLinearTablePixels pixels on) against
//     channel_mul_s8_avx512 (the row pass), over HW around the threshold;
//   - the table form of global average pooling at EfficientNet-B0's shapes,
//     N = 8: global_avgpool_s8_vbmi_avx512 (byte-plane lookups) against
//     global_avgpool_s8_avx512 (Table256), and on the AVX2 tier
//     global_avgpool_s8_avx2 (gathers) against global_avgpool_s8_ref (the
//     loop that tier ran before).
// Build against the dev tree's installed library (no CMake target: a bench):
//   g++ -O2 -std=c++17 -Icsrc -Ipython/int8rt/include benchmarks/q8gap_kernels.cc \
//       -Lpython/int8rt/lib -lint8rt -Wl,-rpath,$PWD/python/int8rt/lib -o /tmp/q8gap_kernels
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "int8rt/threading.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"
#include "kernel_bench_util.h"

namespace k = int8rt::kernels;

namespace {

using bench::codes;
using bench::thread_ms;

// Median ms of a and b, called alternately `rounds` times after one warm-up each.
std::pair<double, double> alternate(int rounds, const std::function<void()>& a, const std::function<void()>& b) {
  std::vector<double> ta, tb;
  a();
  b();
  for (int r = 0; r < rounds; ++r) {
    double t0 = thread_ms();
    a();
    ta.push_back(thread_ms() - t0);
    t0 = thread_ms();
    b();
    tb.push_back(thread_ms() - t0);
  }
  std::nth_element(ta.begin(), ta.begin() + rounds / 2, ta.end());
  std::nth_element(tb.begin(), tb.begin() + rounds / 2, tb.end());
  return {ta[rounds / 2], tb[rounds / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 41;
  int8rt::set_num_threads(1);
  const int64_t N = 8;

  const auto& mul_new = k::kernel_by_name<k::ChannelMulS8Kernel>("channel_mul_s8_vbmi_avx512");
  const auto& mul_old = k::kernel_by_name<k::ChannelMulS8Kernel>("channel_mul_s8_avx512");
  std::printf("linear gate, N=%lld: HW C  %s ms  %s ms  ratio\n", static_cast<long long>(N), mul_new.name(),
              mul_old.name());
  for (int64_t C : {72, 120, 480}) {
    for (int64_t HW : {196, 256, 400, 511, 512, 784, 1600, 3136, 6400}) {
      const auto x = codes(static_cast<size_t>(N * HW * C), static_cast<uint32_t>(HW + C));
      std::vector<float> gate(static_cast<size_t>(N * C));
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = 0.001f * static_cast<float>(i % 997);
      std::vector<int8_t> y(x.size());
      auto run = [&](const k::ChannelMulS8Kernel& e) {
        return [&] { e.channel_mul(N, HW, C, x.data(), gate.data(), N, 0.05f, 0.04f, y.data()); };
      };
      const auto t = alternate(rounds, run(mul_new), run(mul_old));
      std::printf("  %5lld %4lld  %8.4f  %8.4f  %5.3f\n", static_cast<long long>(HW), static_cast<long long>(C),
                  t.first, t.second, t.first / t.second);
    }
  }

  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[i] = 0.05f * static_cast<float>(i - 128) / (1.0f + static_cast<float>(i % 7));
  const std::pair<int64_t, int> shapes[] = {{12544, 32}, {3136, 96}, {3136, 144}, {784, 144}, {784, 240},
                                            {196, 240},  {196, 480}, {196, 672},  {49, 672},  {49, 1152}};
  const std::pair<const char*, const char*> pairs[] = {{"global_avgpool_s8_vbmi_avx512", "global_avgpool_s8_avx512"},
                                                       {"global_avgpool_s8_avx2", "global_avgpool_s8_ref"}};
  for (const auto& [new_name, old_name] : pairs) {
    const auto& gap_new = k::kernel_by_name<k::GlobalAvgPoolS8Kernel>(new_name);
    const auto& gap_old = k::kernel_by_name<k::GlobalAvgPoolS8Kernel>(old_name);
    std::printf("global average pool, table form, N=%lld: HW C  %s ms  %s ms  ratio\n", static_cast<long long>(N),
                gap_new.name(), gap_old.name());
    for (const auto& [HW, C] : shapes) {
      const auto x = codes(static_cast<size_t>(N * HW * C), static_cast<uint32_t>(HW * 3 + C));
      std::vector<int8_t> y(static_cast<size_t>(N * C));
      auto run = [&](const k::GlobalAvgPoolS8Kernel& e) {
        return [&] { e.global_avgpool_table(static_cast<int>(N), HW, C, x.data(), table.data(), 0.02f, y.data()); };
      };
      const auto t = alternate(rounds, run(gap_new), run(gap_old));
      std::printf("  %5lld %4d  %8.4f  %8.4f  %5.3f\n", static_cast<long long>(HW), C, t.first, t.second,
                  t.first / t.second);
    }
  }
  return 0;
}
