// The AVX2 pair-sum u8 tile (x86/avx2/igemm_6x16c4u2.cc) and its packing
// (x86/packing_pairs.cc, pack_pair_residuals):
//   - the packer keeps packed + residual == the weights byte for byte, leaves
//     every four weights of a pair inside the rule (positives <= 258,
//     negatives >= -258) and moves nothing that already was, at the rule's
//     edges of both signs;
//   - the tile, driven by the library's igemm driver over that packing with
//     no residual budget (so uniform weights, with residual groups in most
//     blocks, and all-127 / all--128 weights run it too), equals
//     ref::conv2d_s8 byte for byte on inputs in [0, 127], with guard bytes,
//     over reductions around every group and pair edge (kc 1..17, 31..33,
//     63..65), channel counts around the blocks, 1x1 / 3x3 / strided / the
//     merged C = 3 stem, int8 and float outputs, residual epilogues.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace k = int8rt::kernels;

namespace {

using int8rt::testing::expect_same;
using int8rt::testing::run_guarded;
using int8rt::testing::uniform_f32;

// Weights like a quantizer's: a bell per output channel scaled to 127.
std::vector<int8_t> bell_weights(int K, int per_channel, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<int8_t> w(static_cast<size_t>(K) * per_channel);
  for (int k = 0; k < K; ++k) {
    std::vector<float> v(static_cast<size_t>(per_channel));
    float amax = 1e-6f;
    for (float& x : v) amax = std::max(amax, std::abs(x = d(gen)));
    for (int i = 0; i < per_channel; ++i) {
      w[static_cast<size_t>(k) * per_channel + i] = static_cast<int8_t>(std::lrint(v[i] / amax * 127.0f));
    }
  }
  return w;
}

std::vector<int8_t> uniform_weights(size_t n, uint32_t seed) { return int8rt::testing::random_s8(n, seed); }

std::vector<int8_t> nonneg_input(size_t n, uint32_t seed) {
  std::vector<int8_t> x = int8rt::testing::random_s8(n, seed);
  for (int8_t& v : x) v = static_cast<int8_t>(v & 127);
  return x;
}

// The four weights of channel l, pair p, position m of tap t in a packed block.
void quad(const int8_t* block, const k::x86::IgemmLayout& L, int t, int p, int l, int m, int (&v)[4]) {
  const int8_t* s0 = block + (static_cast<int64_t>(t) * L.q + 2 * p) * 32 + l * 4 + 2 * m;
  v[0] = s0[0];
  v[1] = s0[1];
  v[2] = s0[32];
  v[3] = s0[33];
}

// Packs w ([K][cg][taps]) as block 8, c4, moves the residuals, and checks the
// packer's contract; returns the residual groups.
int64_t check_packing(const std::vector<int8_t>& w, int K, int cg, int taps, const std::string& what) {
  const k::x86::IgemmLayout L(1, K, cg, taps, 8, 4, 1);
  const k::x86::PackedIgemmWeights plain = k::x86::pack_igemm_weights(L, w.data(), false);
  k::x86::PackedIgemmWeights pairs = k::x86::pack_igemm_weights(L, w.data(), false);
  const int64_t made = k::x86::pack_pair_residuals(pairs);
  EXPECT_EQ(made, static_cast<int64_t>(pairs.res.size())) << what;
  EXPECT_EQ(pairs.res_begin.size(), static_cast<size_t>(L.nbk) + 1) << what;
  const int q_full = cg / 4, tail = cg % 4;
  for (int b = 0; b < L.nbk; ++b) {
    // packed + residual, rebuilt per byte, must equal the plain packing.
    std::vector<int> sum(pairs.block_ptr(0, b), pairs.block_ptr(0, b) + L.block_stride);
    int prev_step = -1;
    for (int e = 0; e < pairs.res_count(0, b); ++e) {
      const k::x86::IgemmResidual& r = pairs.res_ptr(0, b)[e];
      const int q = r.offset / 4, step = r.tap * L.q + q;
      EXPECT_GT(step, prev_step) << what << ": residual groups in (tap, group) order";
      prev_step = step;
      EXPECT_EQ(r.offset % 4, 0) << what;
      EXPECT_EQ(r.n, q < q_full ? 4 : tail) << what << " group " << q;
      EXPECT_TRUE(std::any_of(r.w, r.w + 32, [](int8_t v) { return v != 0; })) << what << ": empty residual";
      for (int i = 0; i < 32; ++i) sum[static_cast<size_t>(step) * 32 + i] += r.w[i];
    }
    const int8_t* orig = plain.block_ptr(0, b);
    for (int64_t i = 0; i < L.block_stride; ++i) {
      if (sum[static_cast<size_t>(i)] != orig[i]) {
        ADD_FAILURE() << what << ": block " << b << " byte " << i << ": packed + residual "
                      << sum[static_cast<size_t>(i)] << ", weight " << int{orig[i]};
        return made;
      }
    }
    for (int t = 0; t < taps; ++t) {
      for (int p = 0; p < L.q / 2; ++p) {
        for (int l = 0; l < 8; ++l) {
          for (int m = 0; m < 2; ++m) {
            int v[4], o[4];
            quad(pairs.block_ptr(0, b), L, t, p, l, m, v);
            quad(orig, L, t, p, l, m, o);
            int pos = 0, neg = 0, opos = 0, oneg = 0;
            for (int i = 0; i < 4; ++i) {
              pos += std::max(v[i], 0), neg += std::min(v[i], 0);
              opos += std::max(o[i], 0), oneg += std::min(o[i], 0);
            }
            EXPECT_LE(pos, 258) << what;
            EXPECT_GE(neg, -258) << what;
            if (opos <= 258 && oneg >= -258) {
              for (int i = 0; i < 4; ++i) EXPECT_EQ(v[i], o[i]) << what << ": a weight inside the rule moved";
            }
          }
        }
      }
    }
  }
  return made;
}

k::ConvShape conv_shape(int C, int H, int W, int K, int R, int S, int stride, int pad) {
  k::ConvShape s;
  s.C = C; s.H = H; s.W = W; s.K = K; s.R = R; s.S = S;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = pad;
  s.pad_bottom = pad + 1;  // asymmetric
  s.pad_right = pad;
  return s;
}

}  // namespace

TEST(X86PairSums, PackerKeepsTheWeightsAndTheRule) {
  // Edges of the rule, one quad (channel 0, pair 0, position 0: w[0], w[1],
  // w[4], w[5]) each: 258 / -258 stay, 259 / -259 move, 4 x 127 and 4 x -128.
  const std::vector<std::vector<int>> quads = {{65, 64, 65, 64},   {65, 65, 65, 64},     {-65, -64, -65, -64},
                                               {-65, -65, -65, -64}, {-128, -128, -3, 0}, {127, 127, 127, 127},
                                               {-128, -128, -128, -128}, {127, -128, 127, -128}};
  const std::vector<int> moved = {0, 1, 0, 1, 1, 1, 1, 0};
  for (size_t i = 0; i < quads.size(); ++i) {
    std::vector<int8_t> w(8 * 8, 0);  // K 1, cg 8: one pair of groups
    w[0] = static_cast<int8_t>(quads[i][0]);
    w[1] = static_cast<int8_t>(quads[i][1]);
    w[4] = static_cast<int8_t>(quads[i][2]);
    w[5] = static_cast<int8_t>(quads[i][3]);
    const int64_t made = check_packing(w, 1, 8, 1, "quad " + std::to_string(i));
    EXPECT_EQ(made > 0, moved[i] == 1) << "quad " << i;
  }
  uint32_t seed = 7;
  for (int cg : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 33, 64, 65}) {
    for (int taps : {1, 3, 9}) {
      for (int K : {1, 8, 9, 17}) {
        const size_t n = static_cast<size_t>(K) * cg * taps;
        const std::string what = "cg" + std::to_string(cg) + " taps" + std::to_string(taps) + " K" + std::to_string(K);
        check_packing(uniform_weights(n, seed++), K, cg, taps, what + " uniform");
        check_packing(bell_weights(K, cg * taps, seed++), K, cg, taps, what + " bell");
        check_packing(std::vector<int8_t>(n, 127), K, cg, taps, what + " all 127");
        check_packing(std::vector<int8_t>(n, -128), K, cg, taps, what + " all -128");
      }
    }
  }
}

TEST(X86PairSums, TileEqualsReferenceWithGuards) {
  if (!k::cpu_supports_isa(k::Isa::kAvx2)) GTEST_SKIP() << "CPU lacks AVX2";
  // The pair tile as a conv kernel of its own: packed with its residuals
  // whatever their number (the budget applies only where the AVX2 conv
  // chooses it, conv_igemm.cc), for non-negative inputs only.
  static const k::x86::IgemmUkernel pairs = {
      k::Isa::kAvx2, "conv_s8_igemm_6x16c4u2_avx2(test)", "",
      k::x86::avx2::kMR, k::x86::avx2::kNB, k::x86::avx2::kBlock, k::x86::avx2::kCGroupU8, /*widen_s16=*/false,
      k::x86::avx2::igemm_u8_pairs_fn, /*declines_depthwise=*/false, /*interleaved=*/false,
      /*run_weight_bytes=*/1 << 16, /*unsigned_rows=*/true, /*nonneg=*/nullptr, /*abs_sign_rows=*/false,
      /*signed_alt=*/nullptr, /*pair_sums=*/true};
  const k::x86::IgemmConvKernel kern(pairs);
  std::vector<k::ConvShape> shapes;
  for (int C : {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 31, 32, 33, 63, 64, 65}) {
    shapes.push_back(conv_shape(C, 5, 7, 17, 1, 1, 1, 0));
    shapes.push_back(conv_shape(C, 6, 5, 9, 3, 3, 1, 1));
  }
  shapes.push_back(conv_shape(3, 11, 11, 33, 7, 7, 2, 3));   // merged rows (the stem)
  shapes.push_back(conv_shape(24, 9, 8, 40, 3, 3, 2, 1));
  shapes.push_back(conv_shape(256, 3, 4, 65, 1, 1, 1, 0));
  shapes.push_back(conv_shape(36, 13, 3, 8, 1, 1, 2, 0));
  uint32_t seed = 300;
  for (const k::ConvShape& s : shapes) {
    const int per_channel = s.C * s.R * s.S;
    const size_t nw = static_cast<size_t>(s.K) * per_channel;
    const std::vector<std::pair<std::string, std::vector<int8_t>>> weights = {
        {"bell", bell_weights(s.K, per_channel, seed++)},
        {"uniform", uniform_weights(nw, seed++)},
        {"all 127", std::vector<int8_t>(nw, 127)},
        {"all -128", std::vector<int8_t>(nw, -128)}};
    for (const auto& [wname, w] : weights) {
      for (k::OutputType out : {k::OutputType::kInt8, k::OutputType::kFloat32}) {
        const bool with_res = out == k::OutputType::kInt8;
        const int N = 2;
        const size_t n_out = static_cast<size_t>(N) * s.out_h() * s.out_w() * s.K;
        const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
        std::vector<int8_t> x = nonneg_input(static_cast<size_t>(N) * s.H * s.W * s.C, seed++);
        if (wname.rfind("all", 0) == 0) std::fill(x.begin(), x.end(), int8_t{127});
        std::vector<int8_t> res = int8rt::testing::random_s8(n_out, seed++);
        const float amax = 127.0f * 128.0f * per_channel;
        std::vector<float> scale = uniform_f32(s.K, seed++, 20.0f / amax, 60.0f / amax);
        std::vector<float> bias = uniform_f32(s.K, seed++, -10.0f, 10.0f);
        k::Epilogue ep;
        ep.scale = scale.data();
        ep.bias = bias.data();
        ep.out_type = out;
        ep.clamp_lo = out == k::OutputType::kInt8 ? -128.0f : -1e30f;
        ep.clamp_hi = out == k::OutputType::kInt8 ? 127.0f : 1e30f;
        if (with_res) {
          ep.residual = res.data();
          ep.residual_scale = 0.61f;
        }
        const std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
          k::ref::conv2d_s8(s, N, x.data(), w.data(), ep, y);
        });
        auto packed = kern.pack(s, w.data());
        const std::string what = std::string(kern.name()) + " C" + std::to_string(s.C) + " K" +
                                 std::to_string(s.K) + " " + std::to_string(s.R) + "x" + std::to_string(s.S) +
                                 " stride" + std::to_string(s.stride_h) + " " + wname +
                                 (eb == 1 ? " int8" : " float32");
        const std::vector<uint8_t> got =
            run_guarded(what, n_out * eb, [&](void* y) { packed->run(N, x.data(), ep, y); });
        expect_same(what, got, want, eb);
      }
    }
  }
}
