// The AVX2 emulation of VEX vpdpbusd / vpdpwssd
// (kernels/x86/emulation/avxvnni_emulation.h) against the SDM's formulas
// written out here (ZeroExtend(u8) * SignExtend(s8) in groups of four,
// SignExtend(s16) * SignExtend(s16) in pairs, summed into the int32
// accumulator mod 2^32), == on every lane, over random bytes, the extremes
// (255 x -128, 255 x 127, 0x80 words) and accumulators near the int32
// limits (wrap-around). Where the CPU has AVX512-VNNI the hardware EVEX
// instructions take the same cases, so the formulas themselves are checked
// against silicon there. Through tests/cpp/twins/avxvnni_dot_probe.cc.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avxvnni {
void dpbusd_probe(const int32_t* acc, const uint8_t* u8, const int8_t* s8, int32_t* out);
void dpwssd_probe(const int32_t* acc, const int16_t* a, const int16_t* b, int32_t* out);
}  // namespace avxvnni
}  // namespace emulated
namespace avxvnni_evex {
void dpbusd_probe(const int32_t* acc, const uint8_t* u8, const int8_t* s8, int32_t* out);
void dpwssd_probe(const int32_t* acc, const int16_t* a, const int16_t* b, int32_t* out);
}  // namespace avxvnni_evex
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;

namespace {

struct Probe {
  const char* name;
  void (*dpbusd)(const int32_t*, const uint8_t*, const int8_t*, int32_t*);
  void (*dpwssd)(const int32_t*, const int16_t*, const int16_t*, int32_t*);
};

std::vector<Probe> probes() {
  std::vector<Probe> v;
  if (k::cpu_supports_isa(k::Isa::kAvx2)) {
    v.push_back({"emulated (AVX2)", k::x86::emulated::avxvnni::dpbusd_probe,
                 k::x86::emulated::avxvnni::dpwssd_probe});
  }
  if (k::cpu_supports_isa(k::Isa::kAvx512Vnni)) {
    v.push_back({"EVEX hardware", k::x86::avxvnni_evex::dpbusd_probe, k::x86::avxvnni_evex::dpwssd_probe});
  }
  return v;
}

// The SDM's VPDPBUSD on one dword.
int32_t dpbusd_formula(int32_t acc, const uint8_t* u8, const int8_t* s8) {
  uint32_t sum = static_cast<uint32_t>(acc);
  for (int j = 0; j < 4; ++j) sum += static_cast<uint32_t>(int32_t{u8[j]} * int32_t{s8[j]});
  return static_cast<int32_t>(sum);
}

// The SDM's VPDPWSSD on one dword (products as int64, then mod 2^32).
int32_t dpwssd_formula(int32_t acc, const int16_t* a, const int16_t* b) {
  const int64_t sum = int64_t{acc} + int64_t{a[0]} * b[0] + int64_t{a[1]} * b[1];
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
}

struct Case {
  int32_t acc[8];
  uint8_t bytes_a[32];
  uint8_t bytes_b[32];
};

std::vector<Case> cases() {
  std::mt19937 gen(13);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int32_t> word(INT32_MIN, INT32_MAX);
  std::vector<Case> v;
  for (int n = 0; n < 200; ++n) {
    Case c;
    for (int32_t& a : c.acc) a = word(gen);
    for (uint8_t& b : c.bytes_a) b = static_cast<uint8_t>(byte(gen));
    for (uint8_t& b : c.bytes_b) b = static_cast<uint8_t>(byte(gen));
    v.push_back(c);
  }
  // Extremes: every byte pattern pair from {0x00, 0x7F, 0x80, 0xFF}, with
  // accumulators at and near the int32 limits (the sums must wrap).
  const uint8_t ext[4] = {0x00, 0x7F, 0x80, 0xFF};
  for (uint8_t x : ext) {
    for (uint8_t y : ext) {
      Case c;
      const int32_t accs[8] = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MAX - 100, INT32_MIN + 100, 12345};
      for (int i = 0; i < 8; ++i) c.acc[i] = accs[i];
      for (uint8_t& b : c.bytes_a) b = x;
      for (uint8_t& b : c.bytes_b) b = y;
      v.push_back(c);
    }
  }
  return v;
}

TEST(AvxVnniEmulation, DpbusdEqualsSdmFormula) {
  const std::vector<Probe> ps = probes();
  if (ps.empty()) GTEST_SKIP() << "CPU lacks AVX2 (the emulation's ISA)";
  for (const Probe& p : ps) {
    for (const Case& c : cases()) {
      const int8_t* s8 = reinterpret_cast<const int8_t*>(c.bytes_b);
      int32_t got[8];
      p.dpbusd(c.acc, c.bytes_a, s8, got);
      for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(got[i], dpbusd_formula(c.acc[i], c.bytes_a + 4 * i, s8 + 4 * i))
            << p.name << " lane " << i << " acc " << c.acc[i] << " u8 " << int{c.bytes_a[4 * i]} << " s8 "
            << int{s8[4 * i]};
      }
    }
  }
}

TEST(AvxVnniEmulation, DpwssdEqualsSdmFormula) {
  const std::vector<Probe> ps = probes();
  if (ps.empty()) GTEST_SKIP() << "CPU lacks AVX2 (the emulation's ISA)";
  for (const Probe& p : ps) {
    for (const Case& c : cases()) {
      int16_t a[16], b[16];
      std::memcpy(a, c.bytes_a, 32);
      std::memcpy(b, c.bytes_b, 32);
      int32_t got[8];
      p.dpwssd(c.acc, a, b, got);
      for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(got[i], dpwssd_formula(c.acc[i], a + 2 * i, b + 2 * i))
            << p.name << " lane " << i << " acc " << c.acc[i] << " a " << a[2 * i] << "," << a[2 * i + 1]
            << " b " << b[2 * i] << "," << b[2 * i + 1];
      }
    }
  }
}

TEST(AvxVnniEmulation, WhichRan) {
  std::printf("vpdpbusd/vpdpwssd: AVX2 emulation %s; EVEX hardware %s\n",
              k::cpu_supports_isa(k::Isa::kAvx2) ? "ran" : "not run (CPU lacks AVX2)",
              k::cpu_supports_isa(k::Isa::kAvx512Vnni) ? "ran" : "not run (CPU lacks AVX512-VNNI)");
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
