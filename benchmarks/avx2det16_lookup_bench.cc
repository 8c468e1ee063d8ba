// RESULTS.md section 236: the int8 table lookups through the kernel registry
// of the libint8rt it is run against, thread CPU time at one thread, the
// minimum and median of `reps` runs on random codes and tables:
//   channels PIXELS C REPS  every enabled lookup_channels_s8 candidate
//                           (lookup_channels_s8_avx2, _ref) alternated in one
//                           process, with a hash of each one's bytes
//   flat N REPS             the chosen lookup_s8 kernel (run it against two
//                           libraries in turn to compare them), with a hash
// Build and run from the repo root:
//   g++ -O2 -std=c++17 -I csrc -I csrc/include benchmarks/avx2det16_lookup_bench.cc \
//       -Lpython/int8rt/lib -lint8rt -o /tmp/lookup_bench
//   LD_LIBRARY_PATH=python/int8rt/lib /tmp/lookup_bench channels 960 240 40
//   LD_LIBRARY_PATH=<base python>/int8rt/lib /tmp/lookup_bench flat 200000 200
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "int8rt/threading.h"
#include "kernels/eltwise_s8.h"

namespace k = int8rt::kernels;

namespace {

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

std::vector<int8_t> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> b(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(b(rng));
  return v;
}

unsigned hash(const std::vector<int8_t>& y) {
  unsigned h = 0;
  for (int8_t v : y) h = h * 31 + static_cast<uint8_t>(v);
  return h;
}

void report(const char* name, std::vector<double> ms, int64_t bytes, unsigned h) {
  std::sort(ms.begin(), ms.end());
  std::printf("%-26s bytes %9lld  min %.4f  median %.4f ms  (%.3f ns per byte at the min)  hash %08x\n", name,
              static_cast<long long>(bytes), ms[0], ms[ms.size() / 2], ms[0] * 1e6 / static_cast<double>(bytes), h);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s channels PIXELS C REPS | flat N REPS\n", argv[0]);
    return 2;
  }
  int8rt::set_num_threads(1);
  if (std::strcmp(argv[1], "channels") == 0 && argc >= 5) {
    const int64_t pixels = std::atoll(argv[2]), C = std::atoll(argv[3]);
    const int reps = std::atoi(argv[4]);
    const std::vector<int8_t> x = random_bytes(static_cast<size_t>(pixels * C), 1), t = random_bytes(C * 256, 2);
    std::vector<const k::LookupChannelsS8Kernel*> list;
    for (const k::LookupChannelsS8Kernel* s : k::candidates<k::LookupChannelsS8Kernel>()) {
      if (k::isa_enabled(s->isa()) && s->supports().empty()) list.push_back(s);
    }
    std::vector<std::vector<double>> ms(list.size());
    std::vector<std::vector<int8_t>> y(list.size(), std::vector<int8_t>(x.size()));
    for (int r = 0; r < reps; ++r) {
      for (size_t i = 0; i < list.size(); ++i) {
        const double a = cpu_ms();
        list[i]->lookup_channels(pixels, C, x.data(), t.data(), y[i].data());
        ms[i].push_back(cpu_ms() - a);
      }
    }
    for (size_t i = 0; i < list.size(); ++i) report(list[i]->name(), ms[i], pixels * C, hash(y[i]));
    return 0;
  }
  const int64_t n = std::atoll(argv[2]);
  const int reps = std::atoi(argv[3]);
  const std::vector<int8_t> x = random_bytes(static_cast<size_t>(n), 1), t = random_bytes(256, 2);
  std::vector<int8_t> y(x.size());
  const k::LookupS8Kernel& kernel = k::choose<k::LookupS8Kernel>();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const double a = cpu_ms();
    kernel.lookup(n, x.data(), t.data(), y.data());
    ms.push_back(cpu_ms() - a);
  }
  report(kernel.name(), ms, n, hash(y));
  return 0;
}
