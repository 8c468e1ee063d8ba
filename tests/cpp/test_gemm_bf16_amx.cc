// The AMX-BF16 kernel (csrc/kernels/x86/amx/gemm_bf16_32x32.cc) compiled
// against the AMX emulation header (tests/cpp/CMakeLists.txt: the amx/*.cc
// twin, namespace x86::emulated::amx) and driven by the library's BF16 GEMM
// driver (kernels/gemm_bf16.h) with the reference converters:
//  - == (bits) against the AMX order of abi/gemm_bf16.h written out here
//    from the SDM's TDPBF16PS (per block of 16 pairs: even and odd partial
//    sums from 0, one fused step per pair, then C + (even + odd); DAZ/FTZ),
//    over shapes around the 16 x 16 tiles and the 16-pair block, both weight
//    sides, transposes, accumulation, an im2col view, and a MatMul of two
//    activations (run_activations);
//  - against the reference kernel (the VDPBF16PS order) within the FP32
//    summation bound 2 (K + 2) 2^-24 sum|a b|: both sum the same exact BF16
//    products, in different orders;
//  - the runs of column tiles (Bf16Tile::col_tiles, the driver's column
//    chunks and row blocks for right weights): == the AMX order over several
//    tiles, chunks and row blocks, serial and parallel, with the column bias
//    and Gelu epilogue of a BERT Linear layer;
//  - bfloat16 A and C at a Linear layer's boundary (run_bf16_io): == the
//    FP32 run on the same values, C rounded.
// The twin is baseline x86-64 code, so it runs on any x86-64 CPU; the
// native AMX kernel runs only where the CPU has AMX-BF16 (this test says
// which ran).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "int8rt/isa.h"
#include "kernels/abi/gemm_bf16.h"
#include "kernels/aligned_buffer.h"
#include "kernels/gemm_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/ref/clip_f32.h"
#include "kernels/registry.h"
#include "kernels/unary_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace amx {
void gemm_bf16_32x32(const Bf16Tile& t);  // amx/gemm_bf16_32x32.cc, emulated
}  // namespace amx
}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;
namespace bf = int8rt::kernels::bf16;

namespace {

// The twin as the library registers the native kernel (col_runs: runs of
// column tiles per call), or one tile per call (`runs` false).
const k::Bf16PanelKernel& emulated(bool runs = true) {
  static const k::Bf16PanelKernel with_runs("gemm_bf16_32x32_amx(emulated)", k::Isa::kRef, k::x86::amx::kBf16MR,
                                            k::x86::amx::kBf16NR, k::x86::emulated::amx::gemm_bf16_32x32,
                                            k::ref::bf16_pairs, k::ref::bf16_rows, k::x86::amx::kBf16PairBlock,
                                            k::Bf16Needs::kNothing, nullptr, /*col_runs=*/true);
  static const k::Bf16PanelKernel one_tile("gemm_bf16_32x32_amx(emulated, one tile)", k::Isa::kRef,
                                           k::x86::amx::kBf16MR, k::x86::amx::kBf16NR,
                                           k::x86::emulated::amx::gemm_bf16_32x32, k::ref::bf16_pairs,
                                           k::ref::bf16_rows, k::x86::amx::kBf16PairBlock, k::Bf16Needs::kNothing);
  return runs ? with_runs : one_tile;
}

// The AMX kernels to hold to the AMX order: both twins and, where it runs, the native one.
std::vector<const k::GemmBf16Kernel*> amx_kernels() {
  std::vector<const k::GemmBf16Kernel*> amx = {&emulated(true), &emulated(false)};
  for (const k::GemmBf16Kernel* c : k::candidates<k::GemmBf16Kernel>()) {
    if (std::string(c->name()) == "gemm_bf16_32x32_amx" && k::decline_reason(*c).empty()) amx.push_back(c);
  }
  return amx;
}

// C[M][N] = A[M][K] * B[K][N] in the AMX order (see the top of the file).
std::vector<float> amx_order(const std::vector<float>& A, const std::vector<float>& B, int M, int N, int K) {
  auto at = [](const std::vector<float>& v, size_t i) { return bf::flush_denormal(bf::to_f32(bf::from_f32(v[i]))); };
  std::vector<float> C(static_cast<size_t>(M) * N);
  const int pairs = (K + 1) / 2;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      float c = 0.0f;
      for (int p0 = 0; p0 < pairs; p0 += 16) {
        float even = 0.0f, odd = 0.0f;
        for (int p = p0; p < p0 + 16 && p < pairs; ++p) {
          const int ke = 2 * p, ko = 2 * p + 1;
          even = bf::flush_denormal(std::fma(at(A, m * K + ke), at(B, ke * N + n), even));
          if (ko < K) odd = bf::flush_denormal(std::fma(at(A, m * K + ko), at(B, ko * N + n), odd));
        }
        c = bf::flush_denormal(bf::flush_denormal(c) + bf::flush_denormal(even + odd));
      }
      C[m * N + n] = c;
    }
  }
  return C;
}

std::vector<float> data(std::mt19937& gen, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

std::vector<float> transposed(const std::vector<float>& v, int rows, int cols) {
  std::vector<float> t(v.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t[c * rows + r] = v[r * cols + c];
  return t;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// y = op(W) * op(X) (left) or op(X) * op(W) through the driver with `kernel`.
std::vector<float> run(const k::GemmBf16Kernel& kernel, const std::vector<float>& A, const std::vector<float>& B,
                       int M, int N, int K, bool left, bool tx, bool tw, const std::vector<float>* c) {
  // left: W = A [M][K], X = B [K][N]; right: X = A, W = B.
  const std::vector<float>& W = left ? A : B;
  const std::vector<float>& X = left ? B : A;
  const int wr = left ? M : K, wc = left ? K : N, xr = left ? K : M, xc = left ? N : K;
  const std::vector<float> ws = tw ? transposed(W, wr, wc) : W, xs = tx ? transposed(X, xr, xc) : X;
  auto packed = kernel.pack({ws.data(), wr, wc, tw ? wr : wc, tw, left});
  std::vector<float> y = c ? *c : std::vector<float>(static_cast<size_t>(M) * N, -7.0f);
  k::GemmOperand gx{xs.data(), tx ? xr : xc, tx};
  packed->run(left ? N : M, gx, y.data(), N, c != nullptr);
  return y;
}

// One shape through `kernel`: == the AMX order, and within the FP32
// summation bound of the reference kernel's result `r`.
void expect_amx(const k::GemmBf16Kernel& kernel, const std::vector<float>& A, const std::vector<float>& B,
                const std::vector<float>& c0, int M, int N, int K, bool left, bool tx, bool tw, bool acc) {
  std::vector<float> want = amx_order(A, B, M, N, K);
  const std::vector<float> r = run(k::reference_kernel<k::GemmBf16Kernel>(), A, B, M, N, K, left, tx, tw,
                                   acc ? &c0 : nullptr);
  const std::vector<float> got = run(kernel, A, B, M, N, K, left, tx, tw, acc ? &c0 : nullptr);
  const std::string what = std::string(kernel.name()) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                           " K=" + std::to_string(K) + " left=" + std::to_string(left) + " trans_x=" +
                           std::to_string(tx) + " trans_w=" + std::to_string(tw) + " acc=" + std::to_string(acc);
  for (int i = 0; i < M * N; ++i) {
    if (acc) want[i] = c0[i] + want[i];
    ASSERT_EQ(bits(got[i]), bits(want[i])) << what << " index " << i << ": " << got[i] << " vs " << want[i];
    double mag = acc ? std::fabs(c0[i]) : 0.0;
    const int m = i / N, n = i % N;
    for (int kk = 0; kk < K; ++kk) {
      mag += std::fabs(double(bf::to_f32(bf::from_f32(A[m * K + kk]))) * bf::to_f32(bf::from_f32(B[kk * N + n])));
    }
    ASSERT_LE(std::fabs(double(got[i]) - r[i]), 2.0 * (K + 2) * std::ldexp(1.0, -24) * mag + 1e-30)
        << what << " index " << i << ": amx " << got[i] << " ref " << r[i];
  }
}

TEST(AmxBf16Emulated, EqualsTheAmxOrderAndStaysWithinTheBoundOfTheReference) {
  const std::vector<const k::GemmBf16Kernel*> amx = amx_kernels();
  std::mt19937 gen(7);
  int variant = 0;
  for (int M : {1, 15, 16, 17, 32, 33}) {
    for (int N : {1, 15, 16, 17, 32, 33}) {
      for (int K : {1, 2, 31, 32, 33, 64, 70}) {
        const bool left = variant % 2, tx = variant % 3 == 0, tw = variant % 5 == 0, acc = variant % 4 == 1;
        ++variant;
        const std::vector<float> A = data(gen, static_cast<size_t>(M) * K), B = data(gen, static_cast<size_t>(K) * N);
        const std::vector<float> c0 = data(gen, static_cast<size_t>(M) * N);
        for (const k::GemmBf16Kernel* kernel : amx) {
          expect_amx(*kernel, A, B, c0, M, N, K, left, tx, tw, acc);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(AmxBf16Emulated, Im2colViewEqualsTheAmxOrder) {
  std::mt19937 gen(8);
  const int C = 5, H = 9, W = 7, M = 20, kh = 3, s = 2, pad = 1;
  const int oh = (H + 2 * pad - kh) / s + 1, ow = (W + 2 * pad - kh) / s + 1, K = C * kh * kh, P = oh * ow;
  const std::vector<float> x = data(gen, static_cast<size_t>(C) * H * W), w = data(gen, static_cast<size_t>(M) * K);
  std::vector<float> col(static_cast<size_t>(K) * P, 0.0f);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kh; ++j)
        for (int oy = 0; oy < oh; ++oy)
          for (int ox = 0; ox < ow; ++ox) {
            const int iy = oy * s - pad + i, ix = ox * s - pad + j;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) col[((c * kh + i) * kh + j) * P + oy * ow + ox] = x[(c * H + iy) * W + ix];
          }
  auto packed = emulated().pack({w.data(), M, K, K, false, true});
  k::Im2colView view{x.data(), H, W, kh, kh, s, s, 1, 1, pad, pad, oh, ow};
  k::GemmOperand gx;
  gx.im2col = &view;
  std::vector<float> y(static_cast<size_t>(M) * P);
  packed->run(P, gx, y.data(), P, false);
  const std::vector<float> want = amx_order(w, col, M, P, K);
  for (int i = 0; i < M * P; ++i) ASSERT_EQ(bits(y[i]), bits(want[i])) << "index " << i;
}

// A MatMul between two activations (run_activations: B packed on each call
// with the converters): == the AMX order, around the tile edges, with
// transposed operands and accumulation; the native kernel too where it runs.
TEST(AmxBf16Emulated, ActivationMatMulEqualsTheAmxOrder) {
  const std::vector<const k::GemmBf16Kernel*> amx = amx_kernels();
  std::mt19937 gen(9);
  int variant = 0;
  for (int M : {1, 16, 17, 33, 64}) {
    for (int N : {1, 15, 32, 33}) {
      for (int K : {1, 31, 33, 64, 129}) {
        const bool ta = variant % 2, tb = variant % 3 == 0, acc = variant % 4 == 1;
        ++variant;
        const std::vector<float> A = data(gen, static_cast<size_t>(M) * K), B = data(gen, static_cast<size_t>(K) * N);
        const std::vector<float> c0 = data(gen, static_cast<size_t>(M) * N);
        const std::vector<float> as = ta ? transposed(A, M, K) : A, bs = tb ? transposed(B, K, N) : B;
        std::vector<float> want = amx_order(A, B, M, N, K);
        for (const k::GemmBf16Kernel* kernel : amx) {
          std::vector<float> y = acc ? c0 : std::vector<float>(static_cast<size_t>(M) * N, -7.0f);
          kernel->run_activations(M, N, K, {as.data(), ta ? M : K, ta}, {bs.data(), tb ? K : N, tb}, y.data(), N, acc);
          for (int i = 0; i < M * N; ++i) {
            const float w = acc ? c0[i] + want[i] : want[i];
            ASSERT_EQ(bits(y[i]), bits(w)) << kernel->name() << " M=" << M << " N=" << N << " K=" << K
                                           << " trans_a=" << ta << " trans_b=" << tb << " acc=" << acc
                                           << " index " << i << ": " << y[i] << " vs " << w;
          }
        }
      }
    }
  }
}

// The tile epilogue (row bias, then a residual with its own row stride, then
// clip) on a left-weights run: == the AMX order plus bias plus residual,
// clipped as SgemmEpilogue says (ref::clip_f32: a NaN residual stays NaN);
// a bfloat16 residual (run_bf16_io's r16, which the AMX driver widens
// before its FP32 epilogue) adds its BF16 values. The emulated twin and,
// where it runs, the native kernel (its AVX-512 epilogue: masked past the
// tile's valid columns, guard values after the output).
TEST(AmxBf16Emulated, TileEpilogueEqualsTheAmxOrderBiasedAndClipped) {
  const std::vector<const k::GemmBf16Kernel*> amx = amx_kernels();
  std::mt19937 gen(10);
  for (const k::GemmBf16Kernel* kernel : amx) {
    for (const auto& [M, N] : {std::pair{1, 37}, std::pair{5, 50}, std::pair{17, 37}, std::pair{40, 50}}) {
      const int K = 45;  // N 37 / 50: the last tile's valid columns end in its first / second 16-column half
      const std::vector<float> W = data(gen, static_cast<size_t>(M) * K), X = data(gen, static_cast<size_t>(K) * N);
      const std::vector<float> bias = data(gen, static_cast<size_t>(M));
      std::vector<float> residual = data(gen, static_cast<size_t>(M) * (N + 3));
      residual[static_cast<size_t>(M - 1) * (N + 3) + 33] = std::nanf("");  // the second 16-column half
      auto packed = kernel->pack({W.data(), M, K, K, false, true});
      k::SgemmEpilogue ep;
      ep.row_bias = bias.data();
      ep.residual = residual.data();
      ep.ldr = N + 3;
      ep.clip = true;
      ep.lo = -0.25f;
      ep.hi = 0.5f;
      const std::string what = std::string(kernel->name()) + " M=" + std::to_string(M) + " N=" + std::to_string(N);
      std::vector<float> y(static_cast<size_t>(M) * N + 4, -7.0f);
      packed->run(N, {X.data(), N, false}, y.data(), N, false, true, &ep);
      const std::vector<float> want = amx_order(W, X, M, N, K);
      for (int i = 0; i < M * N; ++i) {
        float v = want[i] + bias[i / N];
        v = v + residual[(i / N) * (N + 3) + i % N];
        v = k::ref::clip_f32(v, ep.lo, ep.hi);
        ASSERT_EQ(bits(y[i]), bits(v)) << what << " index " << i << ": " << y[i] << " vs " << v;
      }
      for (size_t i = static_cast<size_t>(M) * N; i < y.size(); ++i) ASSERT_EQ(bits(y[i]), bits(-7.0f)) << what << " guard";
      std::vector<uint16_t> r16(residual.size());
      for (size_t i = 0; i < r16.size(); ++i) r16[i] = k::bf16::from_f32(residual[i]);
      k::SgemmEpilogue ep16 = ep;
      ep16.residual = nullptr;
      std::vector<float> y16(static_cast<size_t>(M) * N + 4, -7.0f);
      packed->run_bf16_io(N, {X.data(), N, false}, nullptr, y16.data(), nullptr, N, true, &ep16, r16.data());
      for (int i = 0; i < M * N; ++i) {
        float v = want[i] + bias[i / N];
        v = v + k::bf16::to_f32(r16[(i / N) * (N + 3) + i % N]);
        v = k::ref::clip_f32(v, ep.lo, ep.hi);
        ASSERT_EQ(bits(y16[i]), bits(v)) << what << " bf16 residual index " << i << ": " << y16[i] << " vs " << v;
      }
      for (size_t i = static_cast<size_t>(M) * N; i < y16.size(); ++i) ASSERT_EQ(bits(y16[i]), bits(-7.0f)) << "guard";
    }
  }
}

// Right weights over many column tiles (a Linear layer: C = X W + bias,
// then Gelu): several tiles per call with a short last one, several column
// chunks (K past 2048: a chunk of 4 tiles), several row blocks (parallel
// runs split M), M = 1 and M not a multiple of 16, K not a multiple of 32;
// the bias as one residual row (row stride 0, offset per tile), a clip, and
// the Gelu applied to each finished block: == the AMX order, then + bias,
// clipped, then the same unary kernel over the whole output.
TEST(AmxBf16Emulated, ColumnRunsEqualTheAmxOrderWithBiasAndGelu) {
  const k::UnaryF32Kernel& gelu = k::reference_kernel<k::UnaryF32Kernel>();
  std::mt19937 gen(11);
  struct Case {
    int M, N, K;
    bool parallel, clip, unary;
  };
  const Case cases[] = {{1, 97, 33, false, false, true},   {45, 130, 64, false, true, false},
                        {70, 40, 100, true, false, true},  {17, 300, 2200, false, false, true},
                        {33, 161, 2100, true, true, true}, {16, 64, 1, false, false, false},
                        // serial, 2 row blocks (224 rows at K = 2200) x 3 column chunks
                        {230, 300, 2200, false, false, true},
                        // 13 tiles per call at K = 600 with a 17-row panel; K 512 / 511 (256 pairs), 8 rows
                        {49, 650, 600, false, true, true}, {40, 100, 512, true, false, true},
                        {8, 300, 511, false, false, false}};
  for (const k::GemmBf16Kernel* kernel : amx_kernels()) {
    for (const Case& cs : cases) {
      const int M = cs.M, N = cs.N, K = cs.K;
      const std::vector<float> X = data(gen, static_cast<size_t>(M) * K), W = data(gen, static_cast<size_t>(K) * N);
      const std::vector<float> bias = data(gen, static_cast<size_t>(N));
      auto packed = kernel->pack({W.data(), K, N, N, false, /*left=*/false});
      k::SgemmEpilogue ep;
      ep.residual = bias.data();
      ep.ldr = 0;
      ep.clip = cs.clip;
      ep.lo = -0.75f;
      ep.hi = 0.5f;
      if (cs.unary) ep.unary = &gelu;
      std::vector<float> y(static_cast<size_t>(M) * N + 4, -7.0f);
      packed->run(M, {X.data(), K, false}, y.data(), N, false, cs.parallel, &ep);
      std::vector<float> want = amx_order(X, W, M, N, K);
      for (int i = 0; i < M * N; ++i) {
        want[i] = want[i] + bias[i % N];
        if (cs.clip) want[i] = k::ref::clip_f32(want[i], ep.lo, ep.hi);
      }
      if (cs.unary) gelu.apply(k::ref::UnaryF32::kGelu, M * N, want.data(), want.data());
      const std::string what = std::string(kernel->name()) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                               " K=" + std::to_string(K) + " parallel=" + std::to_string(cs.parallel);
      for (int i = 0; i < M * N; ++i) {
        ASSERT_EQ(bits(y[i]), bits(want[i])) << what << " row " << i / N << " col " << i % N << ": " << y[i]
                                              << " vs " << want[i];
      }
      for (size_t i = static_cast<size_t>(M) * N; i < y.size(); ++i) ASSERT_EQ(bits(y[i]), bits(-7.0f)) << what << " guard";
    }
  }
}

// bfloat16 tensors at a Linear layer's boundary (run_bf16_io, right
// weights: engine/bf16_layers.h's tensors between BF16 MatMuls): A given as
// its BF16 bits (read in place when k is a multiple of 32 and the rows
// 64-byte aligned; copied when not, or when the pointer is off a line)
// and C rounded after the bias and Gelu == the FP32 run on A's FP32 values
// with its C rounded by bf16::from_f32, bit for bit; every BF16 kernel
// (both twins, the native AMX one where it runs, the registry's others),
// serial and parallel, guard elements after C untouched.
TEST(AmxBf16Emulated, BfloatTensorsAtARightWeightsBoundaryEqualTheFp32Run) {
  const k::UnaryF32Kernel& gelu = k::reference_kernel<k::UnaryF32Kernel>();
  std::mt19937 gen(23);
  std::vector<const k::GemmBf16Kernel*> kernels = amx_kernels();
  for (const k::GemmBf16Kernel* c : k::candidates<k::GemmBf16Kernel>()) {
    if (std::string(c->name()) != "gemm_bf16_32x32_amx" && k::decline_reason(*c).empty()) kernels.push_back(c);
  }
  struct Case {
    int M, N, K, offset;  // offset: x16 starts this many elements past a 64-byte line
    bool parallel;
  };
  const Case cases[] = {{70, 96, 64, 0, false}, {33, 130, 40, 0, true}, {1, 40, 96, 0, false},
                        {45, 64, 64, 1, false}, {230, 300, 2200, 0, true}, {17, 33, 3, 0, false}};
  for (const k::GemmBf16Kernel* kernel : kernels) {
    for (const Case& cs : cases) {
      const int M = cs.M, N = cs.N, K = cs.K;
      const std::vector<float> X0 = data(gen, static_cast<size_t>(M) * K), W = data(gen, static_cast<size_t>(K) * N);
      const std::vector<float> bias = data(gen, static_cast<size_t>(N));
      k::AlignedBuffer<uint16_t> x16_store(static_cast<int64_t>(M) * K + cs.offset);
      uint16_t* x16 = x16_store.data() + cs.offset;
      std::vector<float> X(X0.size());  // the FP32 values whose conversion is x16
      for (size_t i = 0; i < X0.size(); ++i) {
        x16[i] = bf::from_f32(X0[i]);
        X[i] = bf::to_f32(x16[i]);
      }
      auto packed = kernel->pack({W.data(), K, N, N, false, /*left=*/false});
      k::SgemmEpilogue ep;
      ep.residual = bias.data();
      ep.ldr = 0;
      ep.unary = &gelu;
      std::vector<float> y(static_cast<size_t>(M) * N);
      packed->run(M, {X.data(), K, false}, y.data(), N, false, cs.parallel, &ep);
      std::vector<uint16_t> c16(static_cast<size_t>(M) * N + 4, 0xABCD);
      packed->run_bf16_io(M, {nullptr, K, false}, x16, nullptr, c16.data(), N, cs.parallel, &ep);
      std::vector<float> y32(static_cast<size_t>(M) * N + 4, -7.0f);  // A in BF16, C in FP32
      packed->run_bf16_io(M, {nullptr, K, false}, x16, y32.data(), nullptr, N, cs.parallel, &ep);
      std::vector<uint16_t> from32(static_cast<size_t>(M) * N + 4, 0xABCD);  // A in FP32, C in BF16
      packed->run_bf16_io(M, {X.data(), K, false}, nullptr, nullptr, from32.data(), N, cs.parallel, &ep);
      const std::string what = std::string(kernel->name()) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                               " K=" + std::to_string(K) + " offset=" + std::to_string(cs.offset);
      for (int i = 0; i < M * N; ++i) {
        const uint16_t want = bf::from_f32(y[i]);
        ASSERT_EQ(c16[i], want) << what << " row " << i / N << " col " << i % N << ": " << bf::to_f32(c16[i])
                                << " vs " << y[i];
        ASSERT_EQ(from32[i], want) << what << " (FP32 A) row " << i / N << " col " << i % N;
        ASSERT_EQ(bits(y32[i]), bits(y[i])) << what << " (FP32 C) row " << i / N << " col " << i % N;
      }
      for (size_t i = static_cast<size_t>(M) * N; i < c16.size(); ++i) {
        ASSERT_EQ(c16[i], 0xABCD) << what << " guard";
        ASSERT_EQ(from32[i], 0xABCD) << what << " guard";
        ASSERT_EQ(bits(y32[i]), bits(-7.0f)) << what << " guard";
      }
    }
  }
}

TEST(AmxBf16Emulated, WhichRan) {
  const bool native = int8rt::cpu_features().amx_bf16 && int8rt::cpu_features().avx512_bf16;
  std::printf("AMX-BF16 kernel: emulated twin ran; native gemm_bf16_32x32_amx %s\n",
              native ? "can run here (chosen by dispatch)" : "not run (CPU lacks AMX-BF16)");
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
