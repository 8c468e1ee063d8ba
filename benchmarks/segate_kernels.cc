// RESULTS.md section 153: where EfficientNet-B0's squeeze-and-excitation gate
// (the table form, channel_mul_s8_vbmi_avx512's channel_mul_table) spends its
// time, at B0's ten gate shapes, N = 8 images with a gate row each, 1
// thread, thread CPU time, medians of `rounds` (argv[1], default 21) calls:
//   - the whole kernel (as the engine calls it);
//   - its parts, the AVX-512 microkernels called directly on one image:
//     the per-channel tables (C x 256 products), the per-channel lookup
//     over the image, and the row pass (the form images under
//     x86::kChannelTablePixels pixels take), all eight images: Table256's
//     (channel_mul_table_rows) and, built with -DSEGATE_ROWS_VBMI against a
//     tree that has it, the byte planes' (channel_mul_table_rows_vbmi);
//   - with -DSEGATE_ROWS_VBMI, the byte planes' rows against the tables and
//     their lookup around x86::kChannelTablePixels (C = 144 ... 1152).
// Build against the dev tree's installed library (no CMake target: a bench):
//   g++ -O2 -std=c++17 -Icsrc -Ipython/int8rt/include benchmarks/segate_kernels.cc \
//       -Lpython/int8rt/lib -lint8rt -Wl,-rpath,$PWD/python/int8rt/lib -o /tmp/segate_kernels
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "int8rt/threading.h"
#include "kernels/abi/eltwise_s8.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"
#include "kernel_bench_util.h"

namespace k = int8rt::kernels;
namespace uk = int8rt::kernels::x86::avx512;

namespace {

using bench::codes;
using bench::thread_ms;

// Median ms of fn over `rounds` calls after one warm-up.
double median_ms(int rounds, const std::function<void()>& fn) {
  std::vector<double> t;
  fn();
  for (int r = 0; r < rounds; ++r) {
    const double t0 = thread_ms();
    fn();
    t.push_back(thread_ms() - t0);
  }
  std::nth_element(t.begin(), t.begin() + rounds / 2, t.end());
  return t[rounds / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 21;
  int8rt::set_num_threads(1);
  const int64_t N = 8;
  // EfficientNet-B0's gates (HW, C), one each, and how many of each the network has.
  const struct {
    int64_t HW, C;
    int count;
  } shapes[] = {{12544, 32, 1}, {3136, 96, 1}, {3136, 144, 1}, {784, 144, 1}, {784, 240, 1},
                {196, 240, 1},  {196, 480, 3}, {196, 672, 2},  {49, 672, 1},  {49, 1152, 4}};
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[i] = 0.05f * static_cast<float>(i - 128) / (1.0f + static_cast<float>(i % 7));
  const auto& kernel = k::kernel_by_name<k::ChannelMulS8Kernel>("channel_mul_s8_vbmi_avx512");
  std::printf("table-form gate, N=%lld, ms (x count in B0): HW C count  whole-kernel  tables  lookup  rows  rows_vbmi\n",
              static_cast<long long>(N));
  double sum[5] = {0, 0, 0, 0, 0};
  for (const auto& s : shapes) {
    const auto x = codes(static_cast<size_t>(N * s.HW * s.C), static_cast<uint32_t>(s.HW + s.C));
    std::vector<float> gate(static_cast<size_t>(N * s.C));
    for (size_t i = 0; i < gate.size(); ++i) gate[i] = 0.001f * static_cast<float>(i % 997);
    std::vector<int8_t> y(x.size()), tables(static_cast<size_t>(s.C) * 256);
    const float inv = 1.0f / 0.04f;
    const double whole = median_ms(rounds, [&] {
      kernel.channel_mul_table(N, s.HW, s.C, x.data(), table.data(), gate.data(), N, 0.04f, y.data());
    });
    const double tab = median_ms(rounds, [&] {
      for (int64_t n = 0; n < N; ++n) uk::channel_mul_tables(s.C, table.data(), gate.data() + n * s.C, inv, tables.data());
    });
    const double look = median_ms(rounds, [&] {
      for (int64_t c0 = 0; c0 < s.C; c0 += k::kLookupChannelGroup) {
        const int nc = static_cast<int>(std::min<int64_t>(k::kLookupChannelGroup, s.C - c0));
        uk::lookup_channels(N * s.HW, s.C, nc, x.data() + c0, tables.data() + c0 * 256, y.data() + c0);
      }
    });
    const double rows = median_ms(rounds, [&] {
      for (int64_t n = 0; n < N; ++n) {
        uk::channel_mul_table_rows(s.HW, s.C, x.data() + n * s.HW * s.C, table.data(), gate.data() + n * s.C, inv,
                                   y.data() + n * s.HW * s.C);
      }
    });
    double rows_vbmi = 0.0;
#ifdef SEGATE_ROWS_VBMI
    rows_vbmi = median_ms(rounds, [&] {
      for (int64_t n = 0; n < N; ++n) {
        uk::channel_mul_table_rows_vbmi(s.HW, s.C, x.data() + n * s.HW * s.C, table.data(), gate.data() + n * s.C,
                                        inv, y.data() + n * s.HW * s.C);
      }
    });
#endif
    std::printf("  %5lld %4lld %d  %8.4f  %8.4f  %8.4f  %8.4f  %8.4f\n", static_cast<long long>(s.HW),
                static_cast<long long>(s.C), s.count, whole, tab, look, rows, rows_vbmi);
    const double parts[5] = {whole, tab, look, rows, rows_vbmi};
    for (int i = 0; i < 5; ++i) sum[i] += s.count * parts[i];
  }
  std::printf("  B0 sum (x count)  %8.4f  %8.4f  %8.4f  %8.4f  %8.4f\n", sum[0], sum[1], sum[2], sum[3], sum[4]);
#ifdef SEGATE_ROWS_VBMI
  // x86::kChannelTablePixels: the byte planes' row pass against the tables
  // and their lookup (through the lookup_channels family, as the driver's
  // tasks), image by image, the two alternated call by call.
  const auto& lookup = k::kernel_by_name<k::LookupChannelsS8Kernel>("lookup_channels_s8_avx512");
  std::printf("rows_vbmi / (tables + lookup), N=%lld: C HW  rows ms  tables+lookup ms  ratio\n",
              static_cast<long long>(N));
  for (int64_t C : {144, 240, 480, 672, 1152}) {
    for (int64_t HW : {100, 144, 196, 256, 324, 400, 576, 784}) {
      const auto x = codes(static_cast<size_t>(N * HW * C), static_cast<uint32_t>(HW + C));
      std::vector<float> gate(static_cast<size_t>(N * C));
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = 0.001f * static_cast<float>(i % 997);
      std::vector<int8_t> y(x.size()), tables(static_cast<size_t>(C) * 256);
      const float inv = 1.0f / 0.04f;
      std::vector<double> tr, tt;
      auto rows = [&] {
        for (int64_t n = 0; n < N; ++n) {
          uk::channel_mul_table_rows_vbmi(HW, C, x.data() + n * HW * C, table.data(), gate.data() + n * C, inv,
                                          y.data() + n * HW * C);
        }
      };
      auto tabled = [&] {
        for (int64_t n = 0; n < N; ++n) {
          uk::channel_mul_tables(C, table.data(), gate.data() + n * C, inv, tables.data());
          lookup.lookup_channels(HW, C, x.data() + n * HW * C, tables.data(), y.data() + n * HW * C);
        }
      };
      const double r = median_ms(rounds, rows), t = median_ms(rounds, tabled);
      std::printf("  %4lld %4lld  %8.4f  %8.4f  %5.3f\n", static_cast<long long>(C), static_cast<long long>(HW), r, t,
                  r / t);
    }
  }
#endif
  return 0;
}
