// Standalone timing of the AMX int8 microkernel (csrc/kernels/x86/amx/
// igemm_32x32c4.cc, compiled in from its source) on GEMM shapes, the way
// x86/conv_amx.cc's direct path drives it on one thread: A [M][K] read in
// place (K a multiple of 64), every call of ROWS rows (32 unless set)
// against all N channels.
// Packed B and A hold random bytes (timing only; tests/cpp check values).
// Prints, per shape, the median and the best time of many runs and their
// fractions of the peak given on the command line (the best: on a shared
// machine, other processes only add time).
// Build: g++ -O2 -std=c++17 -Icsrc -mamx-tile -mamx-int8 -mavx512f -mavx512bw
//        -mavx512vl -mavx512dq -mavx512vnni benchmarks/amxgemm_ukernel.cc
// Run:   [A_OFFSET=bytes] [ROWS=rows per call] ./a.out [peak_gops] [M N K ...]
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "../csrc/kernels/x86/amx/igemm_32x32c4.cc"

namespace {

namespace kx = int8rt::kernels::x86;

double run_shape(int M, int N, int K, double peak, int a_offset, int rows) {
  const int kchunks = (K + 63) / 64;
  const int nbk = (N + 15) / 16;
  const int64_t block_stride = int64_t{kchunks} * 1024;
  std::mt19937 rng(1);
  // 64-byte aligned as the library's buffers (x86/packing.h AlignedBuffer),
  // plus `a_offset` bytes (a misaligned A: every tile row splits two lines).
  const size_t a_bytes = static_cast<size_t>(M) * kchunks * 64 + 64 * 64, w_bytes = static_cast<size_t>(nbk) * block_stride + 64;
  std::unique_ptr<int8_t, decltype(&std::free)> a_buf(static_cast<int8_t*>(std::aligned_alloc(64, a_bytes + 64)), &std::free);
  std::unique_ptr<int8_t, decltype(&std::free)> w_buf(static_cast<int8_t*>(std::aligned_alloc(64, w_bytes)), &std::free);
  int8_t* const a = a_buf.get() + a_offset;
  int8_t* const w = w_buf.get();
  for (size_t i = 0; i < a_bytes; ++i) a[i] = static_cast<int8_t>(rng());
  for (size_t i = 0; i < w_bytes; ++i) w[i] = static_cast<int8_t>(rng());
  std::vector<float> scale(N, 1e-4f), bias(N, 0.0f);
  std::vector<int8_t> y(static_cast<size_t>(M) * N);
  auto once = [&] {
    for (int p0 = 0; p0 < M; p0 += rows) {
      kx::AmxTile t;
      t.a = a + static_cast<int64_t>(p0) * kchunks * 64;
      t.a_stride = kchunks * 64;
      t.mr = std::min(rows, M - p0);
      t.kchunks = kchunks;
      t.w = w;
      t.w_block_stride = block_stride;
      t.nc = N;
      t.ep.scale = scale.data();
      t.ep.bias = bias.data();
      t.ep.lo = 0.0f;
      t.ep.hi = 127.0f;
      t.ep.y = y.data() + static_cast<int64_t>(p0) * N;
      t.ep.y_stride = N;
      kx::amx::gemm_tile(t);
    }
  };
  for (int i = 0; i < 20; ++i) once();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 50 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.3) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double s = times[times.size() / 2], best = times[0];
  const double gops = 2.0 * M * N * K / s / 1e9, best_gops = 2.0 * M * N * K / best / 1e9;
  std::printf("M%-5d N%-5d K%-5d median %8.1f us %5.1f%% peak  best %8.1f us %5.1f%% peak\n", M, N, K, s * 1e6,
              100 * gops / peak, best * 1e6, 100 * best_gops / peak);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  const double peak = argc > 1 ? std::atof(argv[1]) : 7764.0;
  const int a_offset = std::getenv("A_OFFSET") ? std::atoi(std::getenv("A_OFFSET")) : 0;
  const int rows = std::getenv("ROWS") ? std::atoi(std::getenv("ROWS")) : 32;
  std::vector<int> dims;
  for (int i = 2; i < argc; ++i) dims.push_back(std::atoi(argv[i]));
  if (dims.empty()) dims = {128, 768, 768, 128, 3072, 768, 128, 768, 3072, 1024, 768, 768, 196, 256, 1024, 3136, 64, 256, 3136, 256, 64};
  for (size_t i = 0; i + 2 < dims.size(); i += 3) run_shape(dims[i], dims[i + 1], dims[i + 2], peak, a_offset, rows);
}
