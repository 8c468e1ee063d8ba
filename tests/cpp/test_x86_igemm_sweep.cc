// The igemm path (x86/conv_igemm.cc's driver and each tier's microkernel)
// on int8 outputs against ref::conv2d_s8 byte for byte, with guard bytes
// after every output, where test_x86_kernels.cc's sweep does not reach:
// reductions of one step and of a tail group only, row tails (pixel counts
// not a multiple of 6), channel tails and runs of several channel tiles,
// merged rows (the 7x7 / 2 stem), batch > 1, a residual or none, ReLU or
// full clamps, the unshifted AVX512-VNNI tile (inputs promised
// non-negative, padding value > 0), inputs and weights of -128 / 127 only,
// and 1 and 2 threads; the pointwise strips of the unshifted tile (each
// tile's epilogue inside the next tile's reduction, section 121); row taps
// (section 128). Written
// first for a deferred epilogue (each tile's
// requantization issued during the next tile's reduction) that was measured
// slower and reverted (benchmarks/RESULTS.md section 93); kept as the sweep
// any such change must pass. Every conv candidate this CPU runs is checked;
// the test fails if the AVX512-VNNI igemm was not among them on a CPU that
// has it.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "int8rt/threading.h"
#include "kernel_test_util.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"

namespace k = int8rt::kernels;
namespace t = int8rt::testing;

namespace {

struct Case {
  int C, H, W, K, R, stride, pad;
  int batch;
};

// Only -128 and 127, seeded.
std::vector<int8_t> extremes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = (gen() & 1) ? int8_t{127} : int8_t{-128};
  return v;
}

// n values in [0, 127] (a ReLU output), seeded; `top` only 0 and 127.
std::vector<int8_t> nonneg(size_t n, uint32_t seed, bool top) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(0, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(top ? ((gen() & 1) ? 127 : 0) : d(gen));
  return v;
}

// Sets the pool's thread count, and restores it on leaving the scope.
class ThreadsGuard {
 public:
  explicit ThreadsGuard(int n) : before_(int8rt::get_num_threads()) { int8rt::set_num_threads(n); }
  ~ThreadsGuard() { int8rt::set_num_threads(before_); }

 private:
  int before_;
};

}  // namespace

TEST(X86IgemmSweep, Int8EqualsReferenceWithGuards) {
  const std::vector<Case> cases = {
      {4, 5, 7, 64, 1, 1, 0, 1},     // one reduction step: every pending row after the loop
      {7, 3, 5, 17, 1, 1, 0, 3},     // a tail group only, channel tail
      {64, 7, 7, 64, 1, 1, 0, 2},    // 98 pixels: a 2-row last tile
      {64, 5, 5, 257, 1, 1, 0, 2},   // a run of 5 channel tiles, the last of 1 channel
      {67, 4, 9, 130, 1, 1, 0, 3},   // reduction tail, 2-channel last tile
      {256, 3, 3, 96, 1, 1, 0, 2},   // long reduction, 3-block tiles
      {32, 9, 7, 64, 1, 2, 0, 2},    // strided 1x1
      {13, 6, 5, 33, 3, 1, 1, 2},    // 3x3, odd channels
      {32, 7, 7, 96, 3, 2, 1, 3},    // 3x3 / 2
      {3, 15, 13, 64, 7, 2, 3, 2},   // the stem: merged rows
      // Pointwise strips (avx512vnni/igemm_strip_3x64c4.cc, promised inputs):
      // the least reduction (16) over 198 pixels (work chunks of 96 + 96 + 6),
      // the most (512) with 105 pixels and a partial third channel tile.
      {16, 11, 9, 128, 1, 1, 0, 2},
      {512, 5, 7, 160, 1, 1, 0, 3},
      // Row taps (conv_igemm.cc, fill_tile_row_taps: a tile clear of the
      // padding columns reads each filter row as one tap of 3C values; the
      // padding row then holds 3C values of pad_value): rows 10 wide with a
      // partial channel tile, and stride 2 over 16 columns, 130 channels.
      {32, 9, 10, 96, 3, 1, 1, 2},
      {64, 6, 16, 130, 3, 2, 1, 2},
  };
  const bool has_vnni512 = k::cpu_supports_isa(k::Isa::kAvx512Vnni) && k::max_isa() >= k::Isa::kAvx512Vnni;
  bool vnni512_ran = false;
  uint32_t seed = 500;
  for (int threads : {1, 2}) {
    ThreadsGuard tg(threads);
    for (const Case& c : cases) {
      for (int data = 0; data < 4; ++data) {  // 0 random, 1 extremes, 2 promised >= 0, 3 promised, 0 / 127 only
        for (bool with_res : {false, true}) {
          k::ConvShape s;
          s.C = c.C; s.H = c.H; s.W = c.W; s.K = c.K; s.R = s.S = c.R;
          s.stride_h = s.stride_w = c.stride;
          s.pad_top = s.pad_left = s.pad_right = c.pad;
          s.pad_bottom = c.pad + (c.pad > 0 ? 1 : 0);  // asymmetric where padded
          const bool promised = data >= 2;
          s.nonneg_input = promised;
          s.pad_value = promised ? int8_t{5} : int8_t{0};
          const int N = c.batch, OH = s.out_h(), OW = s.out_w();
          const size_t n_in = static_cast<size_t>(N) * s.H * s.W * s.C;
          const size_t n_out = static_cast<size_t>(N) * OH * OW * s.K;
          const std::vector<int8_t> x = data == 0 ? t::random_s8(n_in, seed++)
                                        : data == 1 ? extremes(n_in, seed++)
                                                    : nonneg(n_in, seed++, data == 3);
          const size_t n_w = static_cast<size_t>(s.weight_count());
          const std::vector<int8_t> w = data == 1 || data == 3 ? extremes(n_w, seed++) : t::random_s8(n_w, seed++);
          const std::vector<int8_t> res = data == 1 ? extremes(n_out, seed++) : t::random_s8(n_out, seed++);
          // Outputs spread over the int8 range for the random data; the
          // extremes push the clamps at both ends.
          const float amax = 128.0f * 128.0f * s.C * s.R * s.S;
          const std::vector<float> scale = t::uniform_f32(s.K, seed++, 20.0f / amax, 60.0f / amax);
          const std::vector<float> bias = t::uniform_f32(s.K, seed++, -10.0f, 10.0f);
          k::Epilogue ep;
          ep.scale = scale.data();
          ep.bias = data == 2 ? nullptr : bias.data();
          ep.clamp_lo = data % 2 ? -128.0f : 0.0f;
          ep.clamp_hi = 127.0f;
          if (with_res) {
            ep.residual = res.data();
            ep.residual_scale = 0.61f;
          }
          const std::vector<uint8_t> want = t::run_guarded("ref", n_out, [&](void* y) {
            k::ref::conv2d_s8(s, N, x.data(), w.data(), ep, y);
          });
          for (const k::ConvKernel* kern : k::candidates<k::ConvKernel>()) {
            if (kern->isa() == k::Isa::kRef || !k::decline_reason(*kern, s, k::OutputType::kInt8).empty()) continue;
            const std::string name = kern->name();
            if (name == "conv_s8_igemm_6x64c4_avx512vnni") vnni512_ran = true;
            auto packed = kern->pack(s, w.data());
            const std::string what = name + " C" + std::to_string(s.C) + " " + std::to_string(s.H) + "x" +
                                     std::to_string(s.W) + " K" + std::to_string(s.K) + " " +
                                     std::to_string(s.R) + "x" + std::to_string(s.R) + "/" +
                                     std::to_string(c.stride) + " N" + std::to_string(N) + " data" +
                                     std::to_string(data) + (with_res ? " residual" : "") + " threads" +
                                     std::to_string(threads);
            t::expect_same(what, t::run_guarded(what, n_out, [&](void* y) { packed->run(N, x.data(), ep, y); }), want, 1);
          }
        }
      }
    }
  }
  if (has_vnni512) {
    EXPECT_TRUE(vnni512_ran) << "the AVX512-VNNI igemm did not run";
  }
}
