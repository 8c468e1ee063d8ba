// The AVX512-BF16 kernel file (csrc/kernels/x86/avx512bf16/gemm_bf16_8x32.cc)
// compiled against the AVX-512 emulation header (tests/cpp/CMakeLists.txt:
// namespace x86::emulated::avx512bf16, baseline flags, so it runs on any
// x86-64 CPU) and driven by the library's BF16 GEMM driver
// (kernels/gemm_bf16.h):
//  - its tile, with its own pair converter, == (bits) the reference kernel
//    (both are the vector order of abi/gemm_bf16.h: one chain of
//    VDPBF16PS steps per output), over shapes around the 8 x 32 tile, odd K,
//    both weight sides, transposes, accumulation, the tile epilogue (bias,
//    clip) and a MatMul of two activations;
//  - a convolution through an im2col view (the direct path, stride phases,
//    dropped columns) == the reference kernel, natively too where the CPU
//    has AVX512-BF16;
//  - its converters == the reference converters (ref::bf16_pairs /
//    ref::bf16_rows) on every special value (zeros, denormals, infinities,
//    NaNs, rounding ties) and random bit patterns.
// The native kernel is tested against the reference where the CPU has
// AVX512-BF16 (tests/test_bf16_kernels.py).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/abi/gemm_bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avx512bf16 {
void gemm_bf16_8x32(const Bf16Tile& t);  // avx512bf16/gemm_bf16_8x32.cc, emulated
void bf16_pairs(const float* src, int64_t kc, int n, uint16_t* dst);
void bf16_rows(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld);
void bf16_interleave(const uint16_t* even, const uint16_t* odd, int64_t n, uint16_t* dst);
}  // namespace avx512bf16
}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;

namespace {

const k::Bf16PanelKernel& emulated() {
  static const k::Bf16PanelKernel kernel("gemm_bf16_8x32_avx512bf16(emulated)", k::Isa::kRef,
                                         k::x86::avx512bf16::kBf16MR, k::x86::avx512bf16::kBf16NR,
                                         k::x86::emulated::avx512bf16::gemm_bf16_8x32,
                                         k::x86::emulated::avx512bf16::bf16_pairs, nullptr, 1,
                                         k::Bf16Needs::kNothing, k::x86::emulated::avx512bf16::bf16_interleave);
  return kernel;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float> data(std::mt19937& gen, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

// y = W * X (left) or X * W through `kernel`'s driver, W packed with trans_w,
// X read with trans_x; c0 the accumulated output or nullptr.
std::vector<float> run(const k::GemmBf16Kernel& kernel, const std::vector<float>& W, const std::vector<float>& X,
                       int M, int N, int K, bool left, bool tx, bool tw, const std::vector<float>* c0,
                       const k::SgemmEpilogue* ep) {
  const int wr = left ? M : K, wc = left ? K : N, xr = left ? K : M, xc = left ? N : K;
  std::vector<float> ws(W), xs(X);
  if (tw) for (int r = 0; r < wr; ++r) for (int c = 0; c < wc; ++c) ws[c * wr + r] = W[r * wc + c];
  if (tx) for (int r = 0; r < xr; ++r) for (int c = 0; c < xc; ++c) xs[c * xr + r] = X[r * xc + c];
  auto packed = kernel.pack({ws.data(), wr, wc, tw ? wr : wc, tw, left});
  std::vector<float> y = c0 ? *c0 : std::vector<float>(static_cast<size_t>(M) * N, -7.0f);
  packed->run(left ? N : M, {xs.data(), tx ? xr : xc, tx}, y.data(), N, c0 != nullptr, true, ep);
  return y;
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(bits(got[i]), bits(want[i])) << what << " index " << i << ": " << got[i] << " vs " << want[i];
  }
}

TEST(AvxBf16Emulated, GemmEqualsTheReference) {
  const k::GemmBf16Kernel& ref = k::reference_kernel<k::GemmBf16Kernel>();
  std::mt19937 gen(21);
  int variant = 0;
  for (int M : {1, 7, 8, 9, 17}) {
    for (int N : {1, 15, 16, 17, 31, 32, 33, 65}) {
      for (int K : {1, 2, 3, 31, 64, 65}) {
        const bool left = variant % 2, tx = variant % 3 == 0, tw = variant % 5 == 0, acc = variant % 4 == 1;
        ++variant;
        const std::vector<float> W = data(gen, static_cast<size_t>(M) * K), X = data(gen, static_cast<size_t>(K) * N);
        const std::vector<float> c0 = data(gen, static_cast<size_t>(M) * N);
        // left: W [M][K] x X [K][N]; right: X [M][K] x W [K][N] (same sizes).
        const std::string what = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" +
                                 std::to_string(K) + " left=" + std::to_string(left) + " trans_x=" +
                                 std::to_string(tx) + " trans_w=" + std::to_string(tw) + " acc=" + std::to_string(acc);
        const std::vector<float>& w = left ? W : X;
        const std::vector<float>& x = left ? X : W;
        expect_same_bits(run(emulated(), w, x, M, N, K, left, tx, tw, acc ? &c0 : nullptr, nullptr),
                         run(ref, w, x, M, N, K, left, tx, tw, acc ? &c0 : nullptr, nullptr), what);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// Right weights on a small k and many rows (CaiT's talking-heads mix, k = 4:
// gap-free FP32 rows converted as one run per 8-row block, gemm_bf16.cc
// pair_rows) == the contract written out here, not through the driver (the
// reference kernel runs the same driver): per output one FP32 chain over the
// k pairs, odd element first, one rounding per step (std::fma), on BF16
// values (bf16::from_f32).
TEST(AvxBf16Emulated, SmallKManyRowsEqualTheContract) {
  std::mt19937 gen(24);
  auto bf = [](float v) { return k::bf16::to_f32(k::bf16::from_f32(v)); };
  for (int M : {1, 7, 9, 197, 1003}) {
    for (int N : {1, 4, 17, 33}) {
      for (int K : {2, 3, 4, 6, 8}) {
        const std::vector<float> X = data(gen, static_cast<size_t>(M) * K), W = data(gen, static_cast<size_t>(K) * N);
        std::vector<float> want(static_cast<size_t>(M) * N);
        for (int i = 0; i < M; ++i) {
          for (int j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (int p = 0; p < (K + 1) / 2; ++p) {
              for (int kk : {2 * p + 1, 2 * p}) {
                if (kk < K) acc = std::fma(bf(X[i * K + kk]), bf(W[kk * N + j]), acc);
              }
            }
            want[static_cast<size_t>(i) * N + j] = acc;
          }
        }
        const std::string what = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
        expect_same_bits(run(emulated(), W, X, M, N, K, false, false, false, nullptr, nullptr), want, what);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// The tile epilogue: row bias, a residual (its own row stride; M = 8 without
// one), then clip (NaN-free data), on left weights.
TEST(AvxBf16Emulated, TileEpilogueEqualsTheReference) {
  const k::GemmBf16Kernel& ref = k::reference_kernel<k::GemmBf16Kernel>();
  std::mt19937 gen(22);
  for (int M : {5, 8, 19}) {
    const int N = 37, K = 45;
    const std::vector<float> W = data(gen, static_cast<size_t>(M) * K), X = data(gen, static_cast<size_t>(K) * N);
    const std::vector<float> bias = data(gen, static_cast<size_t>(M));
    const std::vector<float> residual = data(gen, static_cast<size_t>(M) * (N + 3));
    k::SgemmEpilogue ep;
    ep.row_bias = bias.data();
    ep.residual = M == 8 ? nullptr : residual.data();
    ep.ldr = N + 3;
    ep.clip = true;
    ep.lo = -0.25f;
    ep.hi = 0.5f;
    expect_same_bits(run(emulated(), W, X, M, N, K, true, false, false, nullptr, &ep),
                     run(ref, W, X, M, N, K, true, false, false, nullptr, &ep), "epilogue M=" + std::to_string(M));
  }
}

TEST(AvxBf16Emulated, ActivationMatMulEqualsTheReference) {
  const k::GemmBf16Kernel& ref = k::reference_kernel<k::GemmBf16Kernel>();
  std::mt19937 gen(23);
  for (int M : {1, 9, 33}) {
    for (int N : {1, 31, 40}) {
      for (int K : {1, 33, 70}) {
        const std::vector<float> A = data(gen, static_cast<size_t>(M) * K), B = data(gen, static_cast<size_t>(K) * N);
        std::vector<float> got(static_cast<size_t>(M) * N, -7.0f), want = got;
        emulated().run_activations(M, N, K, {A.data(), K, false}, {B.data(), N, false}, got.data(), N, false);
        ref.run_activations(M, N, K, {A.data(), K, false}, {B.data(), N, false}, want.data(), N, false);
        expect_same_bits(got, want, "activations M=" + std::to_string(M) + " N=" + std::to_string(N) +
                                        " K=" + std::to_string(K));
      }
    }
  }
}

struct ConvCase { int C, H, W, M, kh, kw, stride, pad, dil; };

std::vector<ConvCase> conv_cases() {
  return {
      {3, 23, 23, 16, 7, 7, 2, 3, 1},   // the RGB stem: odd C, 4 phases
      {8, 9, 10, 9, 3, 3, 1, 1, 1},     // padded width 12, rows tile +1
      {5, 14, 14, 17, 3, 3, 2, 1, 1},   // stride 2, odd C, 7 x 7 out (Q 56)
      {16, 7, 7, 8, 3, 3, 1, 1, 1},     // a 7 x 7 stage, small weights: column tasks
      {256, 7, 7, 232, 3, 3, 1, 1, 1},  // 1.07 MB of weights, 29 panels (last partial): panel-group tasks
      {4, 12, 11, 8, 3, 3, 1, 2, 2},    // dilation 2
      {6, 9, 9, 8, 1, 1, 2, 0, 1},      // 1x1 stride 2: phase (0, 0) alone built
      {5, 13, 11, 9, 2, 2, 3, 1, 1},    // a 2x2 window, stride 3: 2 x 2 of the 3 x 3 phases built
      {4, 10, 12, 8, 1, 3, 2, 1, 1},    // a 1x3 window, stride 2: 1 x 2 phases
      {3, 12, 12, 8, 3, 3, 2, 2, 2},    // dilation 2, stride 2: phase rows / cols 2 (one never read)
      {7, 40, 33, 24, 3, 3, 1, 1, 1},   // Q = 40 x 35 > 8 tiles: column tasks
      {2, 5, 3, 8, 3, 3, 1, 0, 1},      // ow 1 of width 3: declined, im2col panels
      {9, 6, 8, 5, 2, 3, 1, 0, 1},      // a 2x3 window, no padding
  };
}

// A convolution through an im2col view (the direct path of
// kernels/gemm_bf16_direct.h where it applies: stride phases, tap offsets,
// dropped columns, the odd zero channel; the im2col panels where it does
// not), with the tile epilogue (bias, clip, and on every other case a
// residual: in place, gathered around dropped columns, or through the
// im2col panels): the emulated twin and, where the CPU has AVX512-BF16,
// the native kernel == the reference kernel (bits).
TEST(AvxBf16Emulated, DirectConvEqualsTheReference) {
  const k::GemmBf16Kernel& ref = k::reference_kernel<k::GemmBf16Kernel>();
  std::vector<const k::GemmBf16Kernel*> under = {&emulated()};
  for (const k::GemmBf16Kernel* c : k::candidates<k::GemmBf16Kernel>()) {
    if (std::string(c->name()) == "gemm_bf16_8x32_avx512bf16" && c->supports().empty()) under.push_back(c);
  }
  std::printf("direct BF16 conv: emulated twin ran; native %s\n", under.size() > 1 ? "ran" : "not run (no AVX512-BF16)");
  const std::vector<ConvCase> cases = conv_cases();
  std::mt19937 gen(25);
  bool with_residual = false;
  for (const ConvCase& c : cases) {
    with_residual = !with_residual;
    const int64_t oh = (c.H + 2 * c.pad - c.dil * (c.kh - 1) - 1) / c.stride + 1;
    const int64_t ow = (c.W + 2 * c.pad - c.dil * (c.kw - 1) - 1) / c.stride + 1;
    const int64_t K = static_cast<int64_t>(c.C) * c.kh * c.kw, P = oh * ow;
    const std::vector<float> x = data(gen, static_cast<size_t>(c.C) * c.H * c.W);
    const std::vector<float> w = data(gen, static_cast<size_t>(c.M * K));
    const std::vector<float> bias = data(gen, static_cast<size_t>(c.M));
    const std::vector<float> residual = data(gen, static_cast<size_t>(c.M * P));
    const k::Im2colView view{x.data(), c.H, c.W, c.kh, c.kw, c.stride, c.stride, c.dil, c.dil, c.pad, c.pad, oh, ow};
    k::GemmOperand gx;
    gx.im2col = &view;
    k::SgemmEpilogue ep;
    ep.row_bias = bias.data();
    ep.residual = with_residual ? residual.data() : nullptr;
    ep.ldr = P;
    ep.clip = c.M % 2 == 0;
    ep.lo = -0.5f;
    ep.hi = 0.75f;
    auto conv = [&](const k::GemmBf16Kernel& kernel) {
      std::vector<float> y(static_cast<size_t>(c.M * P) + 16, -7.0f);  // 16 guard floats
      kernel.pack({w.data(), c.M, K, K, false, true, c.kh * c.kw})->run(P, gx, y.data(), P, false, true, &ep);
      return y;
    };
    const std::vector<float> want = conv(ref);
    for (size_t i = static_cast<size_t>(c.M * P); i < want.size(); ++i) ASSERT_EQ(want[i], -7.0f) << "guard";
    for (const k::GemmBf16Kernel* kernel : under) {
      expect_same_bits(conv(*kernel), want,
                       std::string(kernel->name()) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
                           std::to_string(c.W) + " M" + std::to_string(c.M) + " " + std::to_string(c.kh) + "x" +
                           std::to_string(c.kw) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.pad) +
                           " d" + std::to_string(c.dil) + (with_residual ? " residual" : ""));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// bfloat16 tensors at a conv's boundary (PackedBf16Gemm::run_bf16_io): a
// BF16 image (the im2col view's or a plain pointwise B's, with an odd C),
// a BF16 output (the tile rounds), and both; against the reference kernel
// run on the image widened to FP32 and its FP32 output rounded
// (bf16::from_f32): the same bits, for the emulated twin, the native kernel
// and the reference itself (the cases the direct path declines take the
// widening fallback). A bfloat16 residual (run_bf16_io's r16: in place,
// gathered around dropped columns, or widened by the fallback) against the
// reference with that residual widened to FP32. Guards after the BF16 output.
TEST(AvxBf16Emulated, DirectConvBf16TensorsEqualTheReference) {
  const k::GemmBf16Kernel& ref = k::reference_kernel<k::GemmBf16Kernel>();
  std::vector<const k::GemmBf16Kernel*> under = {&ref, &emulated()};
  for (const k::GemmBf16Kernel* c : k::candidates<k::GemmBf16Kernel>()) {
    if (std::string(c->name()) == "gemm_bf16_8x32_avx512bf16" && c->supports().empty()) under.push_back(c);
  }
  std::vector<ConvCase> cases = conv_cases();
  cases.push_back({7, 5, 6, 9, 1, 1, 1, 0, 1});    // pointwise, odd C: a plain B read as it lies
  cases.push_back({16, 4, 16, 40, 1, 1, 1, 0, 1});  // pointwise, 64 columns: in-place tiles
  cases.push_back({6, 4, 9, 9, 1, 1, 1, 0, 1});    // pointwise, 36 columns: an in-place tile of 4 (one vector)
  std::mt19937 gen(26);
  for (const ConvCase& c : cases) {
    const int64_t oh = (c.H + 2 * c.pad - c.dil * (c.kh - 1) - 1) / c.stride + 1;
    const int64_t ow = (c.W + 2 * c.pad - c.dil * (c.kw - 1) - 1) / c.stride + 1;
    const int64_t K = static_cast<int64_t>(c.C) * c.kh * c.kw, P = oh * ow;
    const bool plain = c.kh == 1 && c.kw == 1 && c.stride == 1;
    const std::vector<float> x = data(gen, static_cast<size_t>(c.C) * c.H * c.W);
    std::vector<uint16_t> x16(x.size());
    std::vector<float> wide(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x16[i] = k::bf16::from_f32(x[i]);
      wide[i] = k::bf16::to_f32(x16[i]);
    }
    const std::vector<float> w = data(gen, static_cast<size_t>(c.M * K));
    const std::vector<float> bias = data(gen, static_cast<size_t>(c.M));
    const std::vector<float> residual = data(gen, static_cast<size_t>(c.M * P));
    k::SgemmEpilogue ep;
    ep.row_bias = bias.data();
    ep.residual = c.C % 2 ? residual.data() : nullptr;
    ep.ldr = P;
    ep.clip = c.M % 2 == 0;
    ep.lo = -0.5f;
    ep.hi = 0.75f;
    auto operand = [&](const float* image, k::Im2colView* view) {
      *view = {image, c.H, c.W, c.kh, c.kw, c.stride, c.stride, c.dil, c.dil, c.pad, c.pad, oh, ow};
      k::GemmOperand gx{image, P, false};
      if (!plain) gx.im2col = view;
      return gx;
    };
    k::Im2colView view;
    std::vector<float> want32(static_cast<size_t>(c.M * P));
    ref.pack({w.data(), c.M, K, K, false, true, c.kh * c.kw})
        ->run(P, operand(wide.data(), &view), want32.data(), P, false, true, &ep);
    std::vector<uint16_t> want16(want32.size());
    for (size_t i = 0; i < want32.size(); ++i) want16[i] = k::bf16::from_f32(want32[i]);
    // A bfloat16 residual: the reference's result with the residual's BF16 values as FP32.
    std::vector<uint16_t> r16(residual.size());
    std::vector<float> r_wide(residual.size());
    for (size_t i = 0; i < residual.size(); ++i) {
      r16[i] = k::bf16::from_f32(residual[i]);
      r_wide[i] = k::bf16::to_f32(r16[i]);
    }
    k::SgemmEpilogue ep_wide = ep, ep_r16 = ep;
    ep_wide.residual = r_wide.data();
    ep_r16.residual = nullptr;
    std::vector<float> want32r(want32.size());
    ref.pack({w.data(), c.M, K, K, false, true, c.kh * c.kw})
        ->run(P, operand(wide.data(), &view), want32r.data(), P, false, true, &ep_wide);
    std::vector<uint16_t> want16r(want32r.size());
    for (size_t i = 0; i < want32r.size(); ++i) want16r[i] = k::bf16::from_f32(want32r[i]);
    const std::string shape = "C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) +
                              " M" + std::to_string(c.M) + " " + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                              " s" + std::to_string(c.stride) + " p" + std::to_string(c.pad);
    for (const k::GemmBf16Kernel* kernel : under) {
      auto packed = kernel->pack({w.data(), c.M, K, K, false, true, c.kh * c.kw});
      for (int mode = 0; mode < 6; ++mode) {  // BF16 in, BF16 out, both; then each with a BF16 residual
        const bool in16 = mode % 3 != 1, out16 = mode % 3 != 0, res16 = mode >= 3;
        std::vector<float> y(static_cast<size_t>(c.M * P) + 8, -7.0f);
        std::vector<uint16_t> y16(static_cast<size_t>(c.M * P) + 8, 0xBEEF);
        packed->run_bf16_io(P, operand(in16 ? nullptr : wide.data(), &view), in16 ? x16.data() : nullptr,
                            out16 ? nullptr : y.data(), out16 ? y16.data() : nullptr, P, true,
                            res16 ? &ep_r16 : &ep, res16 ? r16.data() : nullptr);
        const std::string what = std::string(kernel->name()) + " " + shape + " mode " + std::to_string(mode);
        const std::vector<float>& w32 = res16 ? want32r : want32;
        const std::vector<uint16_t>& w16 = res16 ? want16r : want16;
        for (size_t i = 0; i < want32.size(); ++i) {
          if (out16) {
            ASSERT_EQ(y16[i], w16[i]) << what << " index " << i;
          } else {
            ASSERT_EQ(bits(y[i]), bits(w32[i])) << what << " index " << i;
          }
        }
        for (size_t i = want32.size(); i < y16.size(); ++i) {
          ASSERT_EQ(out16 ? uint32_t{y16[i]} : bits(y[i]), out16 ? 0xBEEFu : bits(-7.0f)) << what << " guard";
        }
      }
    }
  }
}

// Source values for the converters: specials (signed zeros, denormals,
// infinities, quiet and signalling NaNs, exact ties at even and odd BF16
// mantissas, the largest float) then random bit patterns.
std::vector<float> converter_values(size_t n) {
  std::vector<float> v;
  for (uint32_t u : {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                     0xFF800001u, 0x7F800001u, 0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7FFFFFu, 0x00800000u}) {
    v.push_back(from_bits(u));
  }
  std::mt19937 gen(24);
  while (v.size() < n) v.push_back(from_bits(static_cast<uint32_t>(gen())));
  return v;
}

TEST(AvxBf16Emulated, ConvertersEqualTheReference) {
  for (int n : {1, 15, 16, 17, 40}) {
    for (int64_t kc : {1, 2, 5}) {
      const std::vector<float> src = converter_values(static_cast<size_t>(kc) * n);
      std::vector<uint16_t> got(static_cast<size_t>((kc + 1) / 2) * n * 2, 0xAAAA), want = got;
      k::x86::emulated::avx512bf16::bf16_pairs(src.data(), kc, n, got.data());
      k::ref::bf16_pairs(src.data(), kc, n, want.data());
      ASSERT_EQ(got, want) << "bf16_pairs n=" << n << " kc=" << kc;
      const int64_t ld = kc + 3;
      std::vector<uint16_t> rgot(static_cast<size_t>(n) * ld, 0xAAAA), rwant = rgot;
      k::x86::emulated::avx512bf16::bf16_rows(src.data(), kc, n, rgot.data(), ld);
      k::ref::bf16_rows(src.data(), kc, n, rwant.data(), ld);
      ASSERT_EQ(rgot, rwant) << "bf16_rows n=" << n << " kc=" << kc;
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
