// kernels/x86/amx/amx_emulation.h against scalar formulas written here from
// the Intel SDM (vol. 2, LDTILECFG, TILELOADD, TILESTORED, TDPB*D,
// TDPBF16PS): configuration checks (#GP), shapes (#UD), loads and stores
// honouring rows / colsb / stride, the four int8 dot products with wrap-around
// accumulation, and TDPBF16PS's two partial sums, DAZ / FTZ and rounding.
// The header runs on any CPU, so these tests always run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/x86/amx/amx_emulation.h"

namespace emu = int8rt::amx_emulation;

namespace {

struct Fault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void throw_fault(const char* message) { throw Fault(message); }

// Installs a throwing fault handler for one test and releases the tiles.
class AmxEmulation : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = emu::fault_handler();
    emu::fault_handler() = throw_fault;
    emu::tile_release();
  }
  void TearDown() override {
    emu::tile_release();
    emu::fault_handler() = saved_;
  }
  emu::FaultHandler saved_ = nullptr;
};

// The 64-byte configuration as the SDM lays it out.
struct Config {
  uint8_t bytes[64] = {};
  Config() { bytes[0] = 1; }
  Config& tile(int t, int rows, int colsb) {
    const uint16_t c = static_cast<uint16_t>(colsb);
    std::memcpy(bytes + 16 + 2 * t, &c, 2);
    bytes[48 + t] = static_cast<uint8_t>(rows);
    return *this;
  }
};

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(gen));
  return v;
}

TEST_F(AmxEmulation, ConfigFaults) {
  Config ok;
  ok.tile(0, 16, 64).tile(7, 1, 4);
  EXPECT_NO_THROW(emu::tile_loadconfig(ok.bytes));

  Config bad_palette = ok;
  bad_palette.bytes[0] = 2;
  EXPECT_THROW(emu::tile_loadconfig(bad_palette.bytes), Fault);
  Config reserved = ok;
  reserved.bytes[9] = 1;
  EXPECT_THROW(emu::tile_loadconfig(reserved.bytes), Fault);
  EXPECT_THROW(emu::tile_loadconfig(Config().tile(1, 17, 4).bytes), Fault);
  EXPECT_THROW(emu::tile_loadconfig(Config().tile(1, 4, 65).bytes), Fault);
  EXPECT_THROW(emu::tile_loadconfig(Config().tile(1, 0, 4).bytes), Fault);
  EXPECT_THROW(emu::tile_loadconfig(Config().tile(1, 4, 0).bytes), Fault);
  EXPECT_THROW(emu::tile_loadconfig(Config().tile(8, 4, 4).bytes), Fault);

  // Palette 0 releases: every tile instruction then faults.
  Config zero;
  zero.bytes[0] = 0;
  emu::tile_loadconfig(zero.bytes);
  uint8_t buf[64] = {};
  EXPECT_THROW(emu::tile_loadd(0, buf, 64), Fault);
  EXPECT_THROW(emu::tile_zero(0), Fault);
  emu::tile_loadconfig(ok.bytes);
  emu::tile_release();
  EXPECT_THROW(emu::tile_stored(0, buf, 64), Fault);
  // A tile left unconfigured (rows = colsb = 0) cannot be loaded.
  emu::tile_loadconfig(ok.bytes);
  EXPECT_THROW(emu::tile_loadd(3, buf, 64), Fault);
  EXPECT_THROW(emu::tile_loadd(8, buf, 64), Fault);
}

TEST_F(AmxEmulation, LoadStoreHonourRowsColsbAndStride) {
  const int rows = 5, colsb = 12;
  const long in_stride = 37, out_stride = 20;
  emu::tile_loadconfig(Config().tile(2, rows, colsb).tile(3, 16, 64).bytes);
  const std::vector<uint8_t> src = random_bytes(rows * in_stride, 1);
  emu::tile_loadd(2, src.data(), in_stride);
  std::vector<uint8_t> out(rows * out_stride + 64, 0xEE);
  emu::tile_stored(2, out.data(), out_stride);
  for (int r = 0; r < rows; ++r) {
    for (int b = 0; b < out_stride; ++b) {
      const uint8_t want = b < colsb ? src[r * in_stride + b] : 0xEE;
      ASSERT_EQ(out[r * out_stride + b], want) << "row " << r << " byte " << b;
    }
  }
  for (size_t i = rows * out_stride; i < out.size(); ++i) ASSERT_EQ(out[i], 0xEE) << i;

  // The bytes past colsb and rows past `rows` read as zero when the same
  // register is seen through a wider tile: state().data is the register file.
  const auto& data = emu::state().data[2];
  for (int r = 0; r < 16; ++r) {
    for (int b = 0; b < 64; ++b) {
      if (r < rows && b < colsb) continue;
      ASSERT_EQ(data[r][b], 0) << "row " << r << " byte " << b;
    }
  }
  // start_row: a restarted load begins at that row and resets it to 0.
  Config restart = Config().tile(2, rows, colsb);
  restart.bytes[1] = 3;
  emu::tile_loadconfig(restart.bytes);
  emu::tile_loadd(2, src.data(), in_stride);
  EXPECT_EQ(emu::state().start_row, 0);
  EXPECT_EQ(emu::state().data[2][0][0], 0);
  EXPECT_EQ(emu::state().data[2][3][0], src[3 * in_stride]);
}

// TILELOADDT1 (_tile_stream_loadd) is TILELOADD with a cache hint: the same
// rows, zeroing, start_row restart and faults.
TEST_F(AmxEmulation, StreamLoadIsLoadWithAHint) {
  const long stride = 45;
  // The last of 16 rows of 64 bytes ends at 15 * stride + 64 (16 * stride was 19 bytes short:
  // ASan's heap-buffer-overflow, RESULTS.md 189).
  const std::vector<uint8_t> src = random_bytes(15 * stride + 64, 9);
  for (int start_row : {0, 2}) {
    for (const auto& [rows, colsb] : {std::pair<int, int>{16, 64}, {7, 20}, {1, 4}}) {
      Config c = Config().tile(1, rows, colsb).tile(5, rows, colsb);
      c.bytes[1] = static_cast<uint8_t>(start_row);
      emu::tile_loadconfig(c.bytes);
      emu::tile_loadd(1, src.data(), stride);
      EXPECT_EQ(emu::state().start_row, 0);
      uint8_t loaded[16][64];
      std::memcpy(loaded, emu::state().data[1], sizeof(loaded));
      emu::tile_loadconfig(c.bytes);  // (zeroes the tiles, start_row again)
      emu::tile_stream_loadd(5, src.data(), stride);
      EXPECT_EQ(emu::state().start_row, 0);
      EXPECT_EQ(std::memcmp(loaded, emu::state().data[5], sizeof(loaded)), 0)
          << "rows " << rows << " colsb " << colsb << " start_row " << start_row;
    }
  }
  emu::tile_release();
  EXPECT_THROW(emu::tile_stream_loadd(0, src.data(), stride), Fault);
  emu::tile_loadconfig(Config().tile(0, 16, 64).bytes);
  EXPECT_THROW(emu::tile_stream_loadd(2, src.data(), stride), Fault);  // tile 2 not configured
}

// C[m][n] += sum_k sum_i A[m][4k+i] * B[k][4n+i] (mod 2^32), bytes extended
// as signed or unsigned: the SDM's DPBD, written independently of the header.
template <bool kASigned, bool kBSigned>
void check_dot(void (*insn)(int, int, int), const char* name, uint32_t seed) {
  std::mt19937 gen(seed);
  for (int trial = 0; trial < 40; ++trial) {
    const int M = 1 + trial % 16, N = 1 + (trial * 7) % 16, K = 1 + (trial * 5) % 16;
    emu::tile_loadconfig(Config().tile(0, M, 4 * N).tile(4, M, 4 * K).tile(6, K, 4 * N).bytes);
    const std::vector<uint8_t> a = random_bytes(M * 4 * K, seed + trial);
    std::vector<uint8_t> b = random_bytes(K * 4 * N, seed + 100 + trial);
    if (trial == 1) std::fill(b.begin(), b.end(), uint8_t{0x80});  // all -128 / 128
    std::vector<uint32_t> c(M * N);
    for (auto& x : c) x = static_cast<uint32_t>(gen());
    if (trial == 2) std::fill(c.begin(), c.end(), 0x7FFFFFF0u);  // wraps past INT32_MAX
    emu::tile_loadd(4, a.data(), 4 * K);
    emu::tile_loadd(6, b.data(), 4 * N);
    emu::tile_loadd(0, c.data(), 4 * N);
    insn(0, 4, 6);
    std::vector<uint32_t> got(M * N);
    emu::tile_stored(0, got.data(), 4 * N);
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < N; ++n) {
        int64_t sum = 0;
        for (int k = 0; k < K; ++k) {
          for (int i = 0; i < 4; ++i) {
            const uint8_t xa = a[m * 4 * K + 4 * k + i], xb = b[k * 4 * N + 4 * n + i];
            sum += int64_t{kASigned ? int8_t(xa) : xa} * int64_t{kBSigned ? int8_t(xb) : xb};
          }
        }
        const uint32_t want = c[m * N + n] + static_cast<uint32_t>(sum);
        ASSERT_EQ(got[m * N + n], want)
            << name << " M=" << M << " N=" << N << " K=" << K << " at (" << m << "," << n << ")";
      }
    }
  }
}

TEST_F(AmxEmulation, Int8DotProductsMatchSdmFormula) {
  check_dot<true, true>(emu::tile_dpbssd, "tdpbssd", 10);
  check_dot<true, false>(emu::tile_dpbsud, "tdpbsud", 20);
  check_dot<false, true>(emu::tile_dpbusd, "tdpbusd", 30);
  check_dot<false, false>(emu::tile_dpbuud, "tdpbuud", 40);
}

TEST_F(AmxEmulation, DotProductShapeFaults) {
  emu::tile_loadconfig(
      Config().tile(0, 4, 16).tile(1, 4, 16).tile(2, 4, 16).tile(3, 5, 16).tile(4, 4, 8)
          .tile(5, 2, 16).tile(6, 4, 6).bytes);
  EXPECT_NO_THROW(emu::tile_dpbssd(0, 1, 2));   // M=4, K=4, N=4
  EXPECT_THROW(emu::tile_dpbssd(0, 0, 2), Fault);  // same tile twice
  EXPECT_THROW(emu::tile_dpbssd(0, 3, 2), Fault);  // A.rows != C.rows
  EXPECT_THROW(emu::tile_dpbssd(0, 4, 2), Fault);  // B.rows != A.colsb / 4
  EXPECT_NO_THROW(emu::tile_dpbssd(0, 4, 5));   // K = 2
  EXPECT_THROW(emu::tile_dpbssd(0, 1, 6), Fault);  // colsb not a multiple of 4
  EXPECT_THROW(emu::tile_dpbf16ps(0, 3, 2), Fault);
}

// BF16 helpers of the test (independent of the header's).
uint16_t bf16_bits(float f) {  // f must be exactly representable in BF16
  uint32_t u;
  std::memcpy(&u, &f, 4);
  EXPECT_EQ(u & 0xFFFFu, 0u) << f << " is not a BF16 value";
  return static_cast<uint16_t>(u >> 16);
}

float as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float daz(float x) { return std::fabs(x) < 0x1p-126f ? std::copysign(0.0f, x) : x; }

// TDPBF16PS on one M=1, N=1 tile: pairs a[k] = (a0, a1), b[k] = (b0, b1).
float dpbf16(float c, const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  const int K = static_cast<int>(a.size() / 2);
  emu::tile_loadconfig(Config().tile(0, 1, 4).tile(1, 1, 4 * K).tile(2, K, 4).bytes);
  emu::tile_loadd(1, a.data(), 4 * K);
  emu::tile_loadd(2, b.data(), 4);
  emu::tile_loadd(0, &c, 4);
  emu::tile_dpbf16ps(0, 1, 2);
  float out;
  emu::tile_stored(0, &out, 4);
  return out;
}

TEST_F(AmxEmulation, Bf16TwoPartialSumsThenAccumulate) {
  // Even and odd products are summed apart, then added to C: with C = 1 and
  // two products of 2^-24, the SDM gives 1 + 2^-23 (2^-24 + 2^-24 first);
  // one running FMA chain would round each 2^-24 away (ties to even).
  const uint16_t one = bf16_bits(1.0f), tiny = bf16_bits(0x1p-24f);
  EXPECT_EQ(dpbf16(1.0f, {tiny, tiny}, {one, one}), 1.0f + 0x1p-23f);
  // Each partial sum rounds to nearest even: 1 + 2^-24 is a tie and stays 1,
  // 1 + 3 * 2^-24 (1.5 ulp) is a tie too and goes to the even 1 + 2^-22.
  EXPECT_EQ(dpbf16(0.0f, {one, 0, tiny, 0}, {one, 0, one, 0}), 1.0f);
  EXPECT_EQ(dpbf16(0.0f, {one, 0, tiny, 0}, {one, 0, bf16_bits(3.0f), 0}), 1.0f + 0x1p-22f);
}

TEST_F(AmxEmulation, Bf16DenormalsAreZero) {
  const uint16_t one = bf16_bits(1.0f), denormal = 0x0001;  // 2^-133 as BF16
  // Denormal inputs count as zero.
  EXPECT_EQ(dpbf16(0.0f, {denormal, 0}, {one, 0}), 0.0f);
  // A denormal product is flushed: 2^-70 * 2^-60 = 2^-130.
  EXPECT_EQ(dpbf16(0.0f, {bf16_bits(0x1p-70f), 0}, {bf16_bits(0x1p-60f), 0}), 0.0f);
  // A denormal accumulator in C reads as zero.
  EXPECT_EQ(dpbf16(0x1p-130f, {0, 0}, {0, 0}), 0.0f);
  EXPECT_EQ(dpbf16(as_float(0x00400000u), {one, 0}, {one, 0}), 1.0f);
}

TEST_F(AmxEmulation, Bf16MatchesSdmFormulaOnRandomTiles) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  auto to_bf16 = [](float f) {  // truncation gives some BF16 value; any will do
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return static_cast<uint16_t>(u >> 16);
  };
  auto from_bf16 = [](uint16_t h) { return daz(as_float(static_cast<uint32_t>(h) << 16)); };
  for (int trial = 0; trial < 20; ++trial) {
    const int M = 1 + trial % 16, N = 1 + (trial * 3) % 16, K = 1 + (trial * 11) % 16;
    emu::tile_loadconfig(Config().tile(0, M, 4 * N).tile(1, M, 4 * K).tile(2, K, 4 * N).bytes);
    std::vector<uint16_t> a(M * 2 * K), b(K * 2 * N);
    for (auto& v : a) v = to_bf16(d(gen));
    for (auto& v : b) v = to_bf16(d(gen));
    std::vector<float> c(M * N);
    for (auto& v : c) v = d(gen);
    emu::tile_loadd(1, a.data(), 4 * K);
    emu::tile_loadd(2, b.data(), 4 * N);
    emu::tile_loadd(0, c.data(), 4 * N);
    emu::tile_dpbf16ps(0, 1, 2);
    std::vector<float> got(M * N);
    emu::tile_stored(0, got.data(), 4 * N);
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < N; ++n) {
        float even = 0.0f, odd = 0.0f;
        for (int k = 0; k < K; ++k) {
          even = daz(std::fma(from_bf16(a[m * 2 * K + 2 * k]), from_bf16(b[k * 2 * N + 2 * n]), even));
          odd = daz(std::fma(from_bf16(a[m * 2 * K + 2 * k + 1]),
                             from_bf16(b[k * 2 * N + 2 * n + 1]), odd));
        }
        const float want = daz(daz(c[m * N + n]) + daz(even + odd));
        ASSERT_EQ(got[m * N + n], want) << "M=" << M << " N=" << N << " K=" << K << " at ("
                                        << m << "," << n << ")";
      }
    }
  }
}

}  // namespace
