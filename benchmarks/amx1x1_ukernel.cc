// A / B timing of the AMX int8 microkernel (csrc/kernels/x86/amx/
// igemm_32x32c4.cc, compiled in from this tree's source) against a base
// version of the same file (another commit's copy, its namespace renamed by
// the build line below), in one process, calls alternating, on GEMM shapes
// driven as x86/conv_amx.cc drives a 1x1 conv read in place on one thread:
// A [M][K] (K a multiple of 64), calls of ROWS rows (128 unless set) against
// all N channels. CODES=u8 runs the ResNet-50 case of RESULTS.md section 176:
// u8-coded input (gemm_tile_u8 from -128 * sum(w)) and int8 output, with a
// u8-coded residual (RES=u8, the default there; RES=s8: int8-coded; RES=none);
// CODES=s8 (default) int8 codes, no residual unless RES says. LO=0 clamps at 0
// (ReLU; default -128).
// Random bytes (timing only; tests/cpp check values). Prints per shape the
// medians and the best thread-CPU times of both, the tree's fraction of the peak and
// base / tree (the speed-up).
// Build (repository root; BASE a commit; the sed puts the base copy in a
// nested namespace `base` of the kernels' one; -O3 as the library's Release
// build: at -O2 GCC leaves the base's u8 xor loops scalar, which made them
// look 2-3x slower than they are in the library):
//   git show BASE:csrc/kernels/x86/amx/igemm_32x32c4.cc | sed -e 's|^namespace INT8RT_AMX_NS {|& namespace base {|' -e 's|}  // namespace INT8RT_AMX_NS|}}|' > /tmp/base_igemm.cc
//   g++ -O3 -DNDEBUG -ffp-contract=off -std=c++17 -Icsrc -mamx-tile -mamx-int8 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -DAMX1X1_BASE='"/tmp/base_igemm.cc"' benchmarks/amx1x1_ukernel.cc -o /tmp/amx1x1_uk
// Run: [CODES=u8] [RES=u8|s8|none] [ROWS=128] /tmp/amx1x1_uk [peak_gops] [M N K ...]
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <ctime>
#include <vector>

#include "../csrc/kernels/x86/amx/igemm_32x32c4.cc"
#include AMX1X1_BASE

namespace {

namespace kx = int8rt::kernels::x86;

struct Buffer {
  explicit Buffer(size_t n) : p(static_cast<int8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64))) {}
  ~Buffer() { std::free(p); }
  int8_t* p;
};

void run_shape(int M, int N, int K, double peak, int rows, bool u8, int res_mode) {
  const int kchunks = (K + 63) / 64;
  const int nbk = (N + 15) / 16;
  const int64_t block_stride = int64_t{kchunks} * 1024;
  std::mt19937 rng(1);
  const size_t a_bytes = static_cast<size_t>(M) * kchunks * 64, w_bytes = static_cast<size_t>(nbk) * block_stride;
  Buffer a(a_bytes), w(w_bytes), res(static_cast<size_t>(M) * N), y(static_cast<size_t>(M) * N);
  for (size_t i = 0; i < a_bytes; ++i) a.p[i] = static_cast<int8_t>(rng());
  for (size_t i = 0; i < w_bytes; ++i) w.p[i] = static_cast<int8_t>(rng());
  for (size_t i = 0; i < static_cast<size_t>(M) * N; ++i) res.p[i] = static_cast<int8_t>(rng());
  std::vector<float> scale(N, 1e-4f), bias(N, 0.5f);
  std::vector<int32_t> comp(static_cast<size_t>(nbk) * 16, -128 * 40);
  auto once = [&](auto fn) {
    for (int p0 = 0; p0 < M; p0 += rows) {
      kx::AmxTile t;
      t.a = a.p + static_cast<int64_t>(p0) * kchunks * 64;
      t.a_stride = kchunks * 64;
      t.mr = std::min(rows, M - p0);
      t.kchunks = kchunks;
      t.w = w.p;
      t.w_block_stride = block_stride;
      t.nc = N;
      t.acc_init = u8 ? comp.data() : nullptr;
      t.ep.scale = scale.data();
      t.ep.bias = bias.data();
      t.ep.lo = std::getenv("LO") ? static_cast<float>(std::atof(std::getenv("LO"))) : -128.0f;
      t.ep.hi = 127.0f;
      t.ep.y = y.p + static_cast<int64_t>(p0) * N;
      t.ep.y_stride = N;
      if (u8) t.ep.out_xor = 0x80;
      if (res_mode > 0) {
        t.ep.residual = res.p + static_cast<int64_t>(p0) * N;
        t.ep.residual_stride = N;
        t.ep.residual_scale = 0.7f;
        t.ep.residual_xor = res_mode == 2 ? 0x80 : 0;
      }
      fn(t);
    }
  };
  auto tree = [&] { once(u8 ? kx::amx::gemm_tile_u8 : kx::amx::gemm_tile); };
  auto base = [&] { once(u8 ? kx::amx::base::gemm_tile_u8 : kx::amx::base::gemm_tile); };
  for (int i = 0; i < 5; ++i) tree(), base();
  std::vector<double> tt, tb;
  auto clock = [](auto f) {  // thread CPU time: a shared machine's preemptions left out
    timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    f();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  };
  auto start = std::chrono::steady_clock::now();
  while (tt.size() < 30 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0) {
    tt.push_back(clock(tree));
    tb.push_back(clock(base));
  }
  std::sort(tt.begin(), tt.end());
  std::sort(tb.begin(), tb.end());
  const double mt = tt[tt.size() / 2], mb = tb[tb.size() / 2];
  const double ops = 2.0 * M * N * K / 1e9;
  static const char* const what[2][3] = {{"s8     ", "s8+res ", "s8+ures"}, {"u8     ", "u8+sres", "u8+res "}};
  std::printf("%s M%-6d N%-5d K%-5d tree %8.1f us (%5.1f%% peak, best %5.1f%%)  base %8.1f us (%5.1f%%)  "
              "base/tree %.2f (best %.2f), %zu pairs\n",
              what[u8][res_mode], M, N, K, mt * 1e6, 100 * ops / mt / peak, 100 * ops / tt[0] / peak, mb * 1e6,
              100 * ops / mb / peak, mb / mt, tb[0] / tt[0], tt.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  const double peak = argc > 1 ? std::atof(argv[1]) : 7764.0;
  const int rows = std::getenv("ROWS") ? std::atoi(std::getenv("ROWS")) : 128;
  const bool u8 = std::getenv("CODES") && std::strcmp(std::getenv("CODES"), "u8") == 0;
  const char* res = std::getenv("RES");
  const int res_mode = !res ? (u8 ? 2 : 0) : std::strcmp(res, "u8") == 0 ? 2 : std::strcmp(res, "s8") == 0 ? 1 : 0;
  std::vector<int> dims;
  for (int i = 2; i < argc; ++i) dims.push_back(std::atoi(argv[i]));
  // ResNet-50's 1x1s at batch 8 (M = 8 * H * W) and BERT's FFN GEMM at 8 x 128 tokens.
  if (dims.empty()) dims = {25088, 256, 64, 25088, 64, 256, 6272, 512, 128, 1568, 256, 1024, 1568, 1024, 256, 1024, 3072, 768};
  double loadavg[1] = {0};
  if (getloadavg(loadavg, 1) == 1) std::printf("load %.1f\n", loadavg[0]);
  for (size_t i = 0; i + 2 < dims.size(); i += 3) run_shape(dims[i], dims[i + 1], dims[i + 2], peak, rows, u8, res_mode);
}
