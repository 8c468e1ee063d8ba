// The element-wise int8 kernels (kernels/eltwise_s8.h) from C++: for every
// op, every non-reference candidate the CPU runs (and the cap allows) against
// the op's reference kernel, byte for byte, with guard bytes before and after every
// output (masked tails must not write outside it) and two differently
// pre-filled output buffers (every element written). The wide NumPy sweeps
// live in tests/test_eltwise_kernels.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/requant_params.h"

namespace k = int8rt::kernels;

namespace {

using int8rt::testing::kGuard;
using int8rt::testing::random_s8;

std::vector<float> random_f32(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), -0.0f, 2.5f, -3.5f, 1e9f};
  for (size_t i = 0; i < n && i < 6; ++i) v[i] = specials[i];
  return v;
}

// Runs fn(out) with guards on both sides, twice with different fills;
// returns the output bytes.
std::vector<uint8_t> guarded(const std::string& what, size_t bytes,
                             const std::function<void(void*)>& fn) {
  std::vector<std::vector<uint8_t>> runs;
  for (uint8_t fill : {uint8_t{0xA5}, uint8_t{0x5A}}) {
    std::vector<uint8_t> buf(bytes + 2 * kGuard, fill);
    fn(buf.data() + kGuard);
    for (size_t i = 0; i < kGuard; ++i) {
      EXPECT_EQ(buf[i], fill) << what << ": guard byte before the output overwritten";
      EXPECT_EQ(buf[kGuard + bytes + i], fill) << what << ": guard byte " << i << " overwritten";
    }
    runs.emplace_back(buf.begin() + kGuard, buf.begin() + kGuard + bytes);
  }
  EXPECT_EQ(runs[0], runs[1]) << what << ": some output element was not written";
  return runs[0];
}

// The op's candidates that run here, reference excluded.
template <class K>
std::vector<const K*> fast() {
  return int8rt::testing::fast_candidates<K>();
}

template <class K>
const K& ref() {
  return k::reference_kernel<K>();
}

// Quantize with a zero point (the asymmetric / unsigned grids' float ->
// int8): every candidate == the reference, flat and transposing, for zero
// points 0, 128, -128, 37 and -5. The input: a ramp of quarter steps at
// scale 0.5 (x * 2 + z lands on every half-way value: round to even), wide
// enough to saturate at both ends for every z, then NaN (-> -128), +-inf,
// -0.0 and huge values; random values at scale 0.07 as well.
std::vector<float> zero_point_sweep(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 1200 - 600) * 0.25f;
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), -0.0f, 3e38f, -3e38f};
  for (int64_t i = 0; i < 6; ++i) v[(i * 97) % n] = specials[i];
  return v;
}

TEST(EltwiseKernels, QuantizeZeroPointMatchesReference) {
  for (const k::QuantizeS8Kernel* s : fast<k::QuantizeS8Kernel>()) {
    for (int32_t z : {0, 128, -128, 37, -5}) {
      for (float scale : {0.5f, 0.07f}) {
        for (int64_t n : {7, 16, 33, 64, 100, 1301}) {
          const std::string what = std::string(s->name()) + " z=" + std::to_string(z) + " scale=" +
                                   std::to_string(scale) + " n=" + std::to_string(n);
          auto x = scale == 0.5f ? zero_point_sweep(n) : random_f32(n, static_cast<uint32_t>(n + z));
          auto run_q = [&](const k::QuantizeS8Kernel& e) {
            return guarded("quantize " + what, n, [&](void* y) { e.quantize(n, x.data(), scale, z, static_cast<int8_t*>(y)); });
          };
          const auto want = run_q(ref<k::QuantizeS8Kernel>());
          EXPECT_EQ(run_q(*s), want) << "quantize " << what;
          if (n == 1301 && scale == 0.5f) {  // the sweep reaches both ends of the range
            EXPECT_NE(std::find(want.begin(), want.end(), uint8_t{0x80}), want.end()) << what;
            EXPECT_NE(std::find(want.begin(), want.end(), uint8_t{0x7f}), want.end()) << what;
          }
        }
      }
      for (auto [N, C, HW] : std::vector<std::array<int64_t, 3>>{{1, 3, 17}, {2, 17, 33}, {1, 16, 16}, {3, 65, 5}, {1, 40, 300}}) {
        const std::string what = std::string(s->name()) + " z=" + std::to_string(z) + " N,C,HW=" + std::to_string(N) +
                                 "," + std::to_string(C) + "," + std::to_string(HW);
        auto x = zero_point_sweep(N * C * HW);
        auto run_q = [&](const k::QuantizeS8Kernel& e) {
          return guarded(what, N * C * HW, [&](void* y) {
            e.quantize_nchw_to_nhwc(N, C, HW, x.data(), 0.5f, z, static_cast<int8_t*>(y));
          });
        };
        EXPECT_EQ(run_q(*s), run_q(ref<k::QuantizeS8Kernel>())) << "quantize_nchw_to_nhwc " << what;
      }
    }
  }
}

TEST(EltwiseKernels, ConversionsMatchReferenceWithGuards) {
  for (const k::QuantizeS8Kernel* s : fast<k::QuantizeS8Kernel>()) {
    for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 200}) {
      const std::string what = std::string(s->name()) + " n=" + std::to_string(n);
      auto x = random_f32(n, static_cast<uint32_t>(n));
      auto run_q = [&](const k::QuantizeS8Kernel& e) {
        return guarded("quantize " + what, n, [&](void* y) { e.quantize(n, x.data(), 0.07f, 0, static_cast<int8_t*>(y)); });
      };
      EXPECT_EQ(run_q(*s), run_q(ref<k::QuantizeS8Kernel>())) << "quantize " << what;
    }
    for (auto [N, C, HW] : std::vector<std::array<int64_t, 3>>{{1, 3, 17}, {2, 17, 33}, {1, 16, 16}, {1, 65, 5}}) {
      const std::string what = std::string(s->name()) + " N,C,HW=" + std::to_string(N) + "," +
                               std::to_string(C) + "," + std::to_string(HW);
      auto x = random_f32(N * C * HW, 3);
      auto run_q = [&](const k::QuantizeS8Kernel& e) {
        return guarded(what, N * C * HW, [&](void* y) {
          e.quantize_nchw_to_nhwc(N, C, HW, x.data(), 0.05f, 0, static_cast<int8_t*>(y));
        });
      };
      EXPECT_EQ(run_q(*s), run_q(ref<k::QuantizeS8Kernel>())) << "quantize_nchw_to_nhwc " << what;
    }
  }
  for (const k::DequantizeS8Kernel* s : fast<k::DequantizeS8Kernel>()) {
    for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 200}) {
      const std::string what = std::string(s->name()) + " n=" + std::to_string(n);
      auto q = random_s8(n, static_cast<uint32_t>(n) + 1);
      auto run_d = [&](const k::DequantizeS8Kernel& e) {
        return guarded("dequantize " + what, n * 4, [&](void* y) { e.dequantize(n, q.data(), 0.07f, static_cast<float*>(y)); });
      };
      EXPECT_EQ(run_d(*s), run_d(ref<k::DequantizeS8Kernel>())) << "dequantize " << what;
    }
    for (auto [N, C, HW] : std::vector<std::array<int64_t, 3>>{{1, 3, 17}, {2, 17, 33}, {1, 16, 16}, {1, 65, 5}}) {
      const std::string what = std::string(s->name()) + " N,C,HW=" + std::to_string(N) + "," +
                               std::to_string(C) + "," + std::to_string(HW);
      auto q = random_s8(N * C * HW, 4);
      auto run_d = [&](const k::DequantizeS8Kernel& e) {
        return guarded(what, N * C * HW * 4, [&](void* y) {
          e.dequantize_nhwc_to_nchw(N, HW, C, q.data(), 0.05f, static_cast<float*>(y));
        });
      };
      EXPECT_EQ(run_d(*s), run_d(ref<k::DequantizeS8Kernel>())) << "dequantize_nhwc_to_nchw " << what;
    }
  }
}

TEST(EltwiseKernels, AddConcatMatchReferenceWithGuards) {
  for (const k::AddS8Kernel* s : fast<k::AddS8Kernel>()) {
    for (int64_t n : {1, 17, 64, 65, 129}) {
      auto a = random_s8(n, 5), b = random_s8(n, 6);
      const k::AddParams p = k::make_add_params(0.03f, 0.05f, 0.04f, n % 2 == 1);
      auto run = [&](const k::AddS8Kernel& e) {
        return guarded("add", n, [&](void* y) { e.add(n, a.data(), b.data(), p, static_cast<int8_t*>(y)); });
      };
      EXPECT_EQ(run(*s), run(ref<k::AddS8Kernel>())) << s->name() << " add n=" << n;
    }
  }
  for (const k::ConcatS8Kernel* s : fast<k::ConcatS8Kernel>()) {
    for (int64_t pixels : {1, 9}) {
      auto x0 = random_s8(pixels * 5, 7), x1 = random_s8(pixels * 17, 8), x2 = random_s8(pixels * 64, 9);
      const std::vector<k::ref::ConcatInput> in = {{x0.data(), 5, 0.5f}, {x1.data(), 17, 1.0f},
                                                  {x2.data(), 64, 1.75f}};
      auto run = [&](const k::ConcatS8Kernel& e) {
        return guarded("concat", pixels * 86, [&](void* y) { e.concat(pixels, in, static_cast<int8_t*>(y)); });
      };
      EXPECT_EQ(run(*s), run(ref<k::ConcatS8Kernel>())) << s->name() << " concat pixels=" << pixels;
    }
  }
}

// Every int8 value through random tables (and the identity table, which
// catches a wrong +128 offset), every tail length around the 64-wide step.
TEST(EltwiseKernels, LookupMatchesReferenceWithGuards) {
  std::vector<int8_t> identity(256);
  for (int i = 0; i < 256; ++i) identity[i] = static_cast<int8_t>(i - 128);
  for (const k::LookupS8Kernel* s : fast<k::LookupS8Kernel>()) {
    for (int64_t n : {0, 1, 15, 63, 64, 65, 127, 256, 300}) {
      auto x = random_s8(n, static_cast<uint32_t>(n) + 11);
      for (int i = 0; i < 256 && i < n; ++i) x[i] = static_cast<int8_t>(i - 128);
      auto table = random_s8(256, static_cast<uint32_t>(n) + 12);
      auto run = [&](const k::LookupS8Kernel& e, const std::vector<int8_t>& t) {
        return guarded("lookup", n, [&](void* y) { e.lookup(n, x.data(), t.data(), static_cast<int8_t*>(y)); });
      };
      EXPECT_EQ(run(*s, table), run(ref<k::LookupS8Kernel>(), table)) << s->name() << " lookup n=" << n;
      auto same = run(*s, identity);
      EXPECT_EQ(same, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(x.data()), reinterpret_cast<uint8_t*>(x.data()) + n))
          << s->name() << " identity table n=" << n;
    }
  }
}

// The channel gate tests' cases: C around the 16-wide step, one gate row
// or one per image (N = 3), each HW of `pixels`; x holds every int8 value
// first, then seeded codes; gates of 0.03 steps, and `tie` at every fifth
// channel. fn(C, gate_batch, HW, x, gate) per case.
template <class Fn>
void for_gate_cases(std::initializer_list<int64_t> pixels, uint32_t seed, float tie, const Fn& fn) {
  for (int64_t C : {1, 15, 16, 17, 64, 70}) {
    for (int64_t gate_batch : {1, 3}) {
      for (int64_t HW : pixels) {
        auto x = random_s8(3 * HW * C, static_cast<uint32_t>(C + HW) + seed);
        for (int64_t i = 0; i < 256 && i < 3 * HW * C; ++i) x[i] = static_cast<int8_t>(i - 128);
        std::vector<float> gate(static_cast<size_t>(gate_batch * C));
        for (size_t i = 0; i < gate.size(); ++i) gate[i] = (i % 5 == 0) ? tie : 0.03f * static_cast<float>(i % 37) - 0.4f;
        fn(C, gate_batch, HW, x, gate);
      }
    }
  }
}

// The linear gate: products on .5 steps (gate 1.25 x s_x / s_y = 2.5: ties,
// round to even), beyond the int8 range, NaN and infinite gates (-> -128 /
// saturation, and 0 x inf = NaN); images of fewer and of more pixels than
// x86::kLinearTablePixels (512: the VBMI candidate's rows and its
// per-channel tables), off the 64-pixel lookup block.
TEST(EltwiseKernels, ChannelMulMatchesReferenceWithGuards) {
  for (const k::ChannelMulS8Kernel* s : fast<k::ChannelMulS8Kernel>()) {
    for_gate_cases({5, 511, 512, 513, 900}, 40, 1.25f,
                   [&](int64_t C, int64_t gate_batch, int64_t HW, const std::vector<int8_t>& x, std::vector<float> gate) {
                     if (gate.size() > 13) {
                       gate[7] = std::numeric_limits<float>::quiet_NaN();
                       gate[11] = std::numeric_limits<float>::infinity();
                       gate[13] = 9.0f;
                     }
                     auto run = [&](const k::ChannelMulS8Kernel& e) {
                       return guarded("channel_mul", 3 * HW * C, [&](void* y) {
                         e.channel_mul(3, HW, C, x.data(), gate.data(), gate_batch, 0.4f, 0.2f,
                                       static_cast<int8_t*>(y));
                       });
                     };
                     EXPECT_EQ(run(*s), run(ref<k::ChannelMulS8Kernel>()))
                         << s->name() << " channel_mul C=" << C << " HW=" << HW << " gate_batch=" << gate_batch;
                   });
  }
}

// Channel gate over a float table: every int8 value in x, table entries and
// gates whose products land on .5 steps of s_y (ties), beyond the int8 range
// (saturation) and a NaN entry (-> -128, as quantize_value); images of
// fewer and of more pixels than x86::kChannelTablePixels (256: the VBMI
// candidate's rows and its per-channel tables), pixel counts off the
// 64-pixel lookup block.
TEST(EltwiseKernels, ChannelMulTableMatchesReferenceWithGuards) {
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[i] = 0.05f * static_cast<float>(i - 128) + ((i % 7 == 0) ? 0.025f : 0.0f);
  table[3] = 90.0f;
  table[250] = std::nanf("");
  for (const k::ChannelMulS8Kernel* s : fast<k::ChannelMulS8Kernel>()) {
    for_gate_cases({5, 95, 96, 200, 255, 256, 257}, 41, 2.0f,
                   [&](int64_t C, int64_t gate_batch, int64_t HW, const std::vector<int8_t>& x,
                       const std::vector<float>& gate) {
                     auto run = [&](const k::ChannelMulS8Kernel& e) {
                       return guarded("channel_mul_table", 3 * HW * C, [&](void* y) {
                         e.channel_mul_table(3, HW, C, x.data(), table.data(), gate.data(), gate_batch, 0.1f,
                                             static_cast<int8_t*>(y));
                       });
                     };
                     EXPECT_EQ(run(*s), run(ref<k::ChannelMulS8Kernel>()))
                         << s->name() << " channel_mul_table C=" << C << " HW=" << HW << " gate_batch=" << gate_batch;
                   });
  }
}

// The table form at EfficientNet-B0's gate shapes (7 x 7 x 672 / 1152 on the
// rows, 14 x 14 x 480 and 28 x 28 x 240 on the tables) and edges: 1 pixel,
// odd channel counts off the 64-channel step, batch 2 with a shared and a
// per-image gate; table entries and gates past the int8 range and past
// int32 (1e30, +-inf: the AVX-512 kernels' upper clamp before the
// conversion and the packs' saturation below), NaN gates and 0 x inf.
TEST(EltwiseKernels, ChannelMulTableAtB0ShapesAndEdges) {
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[i] = 0.07f * static_cast<float>(i - 128) / (1.0f + static_cast<float>(i % 5));
  table[5] = 1e30f;
  table[9] = -std::numeric_limits<float>::infinity();
  table[100] = std::numeric_limits<float>::infinity();
  table[128] = 0.0f;
  table[200] = std::nanf("");
  const std::pair<int64_t, int64_t> shapes[] = {{49, 672}, {49, 1152}, {196, 480}, {784, 240}, {1, 1},
                                                {1, 63},   {1, 65},    {2, 127},   {49, 129},  {96, 33}, {100, 191}};
  for (const k::ChannelMulS8Kernel* s : fast<k::ChannelMulS8Kernel>()) {
    for (const auto& [HW, C] : shapes) {
      for (int64_t gate_batch : {1, 2}) {
        auto x = random_s8(2 * HW * C, static_cast<uint32_t>(HW * 7 + C));
        for (int64_t i = 0; i < 256 && i < 2 * HW * C; ++i) x[i] = static_cast<int8_t>(i - 128);
        std::vector<float> gate(static_cast<size_t>(gate_batch * C));
        for (size_t i = 0; i < gate.size(); ++i) gate[i] = 0.011f * static_cast<float>(i % 91) - 0.2f;
        const float special[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(), 0.0f, 3e9f, -2.5f};
        for (size_t i = 0; i < 6 && 3 * i + 1 < gate.size(); ++i) gate[3 * i + 1] = special[i];
        auto run = [&](const k::ChannelMulS8Kernel& e) {
          return guarded("channel_mul_table", 2 * HW * C, [&](void* y) {
            e.channel_mul_table(2, HW, C, x.data(), table.data(), gate.data(), gate_batch, 0.05f,
                                static_cast<int8_t*>(y));
          });
        };
        EXPECT_EQ(run(*s), run(ref<k::ChannelMulS8Kernel>()))
            << s->name() << " channel_mul_table C=" << C << " HW=" << HW << " gate_batch=" << gate_batch;
      }
    }
  }
}

// A pooling shape with padding, strides and a window clipped at the edges.
k::PoolShape pool_shape(int C) {
  k::PoolShape p;
  p.C = C; p.H = 7; p.W = 6; p.R = 3; p.S = 2; p.stride_h = 2; p.stride_w = 1;
  p.pad_top = 1; p.pad_left = 1; p.pad_bottom = 1; p.pad_right = 0;
  return p;
}

TEST(EltwiseKernels, PoolsMatchReferenceWithGuards) {
  const int batch = 2;
  for (int C : {1, 17, 64, 65}) {
    k::PoolShape p = pool_shape(C);
    auto x = random_s8(static_cast<size_t>(batch) * p.H * p.W * C, static_cast<uint32_t>(C));
    const size_t out = static_cast<size_t>(batch) * p.out_h() * p.out_w() * C;
    for (const k::MaxPoolS8Kernel* s : fast<k::MaxPoolS8Kernel>()) {
      auto run_max = [&](const k::MaxPoolS8Kernel& e) {
        return guarded("maxpool", out, [&](void* y) { e.maxpool(p, batch, x.data(), static_cast<int8_t*>(y)); });
      };
      EXPECT_EQ(run_max(*s), run_max(ref<k::MaxPoolS8Kernel>())) << s->name() << " maxpool C=" << C;
    }
    for (const k::AvgPoolS8Kernel* s : fast<k::AvgPoolS8Kernel>()) {
      for (bool cip : {false, true}) {
        p.count_include_pad = cip;
        auto run_avg = [&](const k::AvgPoolS8Kernel& e) {
          return guarded("avgpool", out, [&](void* y) {
            e.avgpool(p, batch, x.data(), 0.1f, 0.03f, static_cast<int8_t*>(y), 0, 0);
          });
        };
        EXPECT_EQ(run_avg(*s), run_avg(ref<k::AvgPoolS8Kernel>())) << s->name() << " avgpool C=" << C << " cip=" << cip;
      }
    }
    for (const k::GlobalAvgPoolS8Kernel* s : fast<k::GlobalAvgPoolS8Kernel>()) {
      auto run_g = [&](const k::GlobalAvgPoolS8Kernel& e) {
        return guarded("global", static_cast<size_t>(batch) * C, [&](void* y) {
          e.global_avgpool(batch, p.H * p.W, C, x.data(), 0.1f, 0.02f, static_cast<int8_t*>(y));
        });
      };
      EXPECT_EQ(run_g(*s), run_g(ref<k::GlobalAvgPoolS8Kernel>())) << s->name() << " global_avgpool C=" << C;
    }
  }
}

// Global average pooling over a float table: every int8 value among the
// inputs, table values of mixed sign and size (so the float sum's order
// shows), HW of 1 and of 300, C around the 16 and 64 steps.
TEST(EltwiseKernels, GlobalAvgPoolTableMatchesReferenceWithGuards) {
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[i] = 0.37f * static_cast<float>(i - 128) + ((i % 3 == 0) ? 1e3f : -0.001f);
  const int batch = 2;
  for (int C : {1, 15, 16, 17, 64, 65, 130}) {
    for (int64_t HW : {1, 7, 300}) {
      auto x = random_s8(static_cast<size_t>(batch * HW * C), static_cast<uint32_t>(C * 7 + HW));
      for (int64_t i = 0; i < 256 && i < batch * HW * C; ++i) x[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
      for (const k::GlobalAvgPoolS8Kernel* s : fast<k::GlobalAvgPoolS8Kernel>()) {
        auto run = [&](const k::GlobalAvgPoolS8Kernel& e) {
          return guarded("global_table", static_cast<size_t>(batch) * C, [&](void* y) {
            e.global_avgpool_table(batch, HW, C, x.data(), table.data(), 8.0f, static_cast<int8_t*>(y));
          });
        };
        EXPECT_EQ(run(*s), run(ref<k::GlobalAvgPoolS8Kernel>()))
            << s->name() << " global_avgpool_table C=" << C << " HW=" << HW;
      }
    }
  }
}

}  // namespace
