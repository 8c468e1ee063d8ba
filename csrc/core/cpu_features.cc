// x86 CPU feature detection (contract in cpu_features.h). Bit positions from
// the Intel SDM vol. 2A, CPUID instruction, and vol. 1 ch. 13 (XCR0); the
// AMX permission protocol from the Linux kernel's Documentation/arch/x86/xstate.rst.
#include "core/cpu_features.h"

#include <cstdint>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define INT8RT_X86 1
#endif
#if defined(INT8RT_X86) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace int8rt {
namespace {

#ifdef INT8RT_X86

// CPUID leaf 1, ECX.
constexpr int kLeaf1EcxFma = 12;
constexpr int kLeaf1EcxOsxsave = 27;
constexpr int kLeaf1EcxAvx = 28;
constexpr int kLeaf1EcxF16c = 29;
// CPUID leaf 7 sub-leaf 0, EBX / ECX / EDX.
constexpr int kLeaf7EbxAvx2 = 5;
constexpr int kLeaf7EbxAvx512f = 16;
constexpr int kLeaf7EbxAvx512dq = 17;
constexpr int kLeaf7EbxAvx512bw = 30;
constexpr int kLeaf7EbxAvx512vl = 31;
constexpr int kLeaf7EcxAvx512Vbmi = 1;
constexpr int kLeaf7EcxAvx512Vnni = 11;
constexpr int kLeaf7EdxAmxBf16 = 22;
constexpr int kLeaf7EdxAmxTile = 24;
constexpr int kLeaf7EdxAmxInt8 = 25;
// CPUID leaf 7 sub-leaf 1, EAX.
constexpr int kLeaf7Sub1EaxAvxVnni = 4;
constexpr int kLeaf7Sub1EaxAvx512Bf16 = 5;
// XCR0 state components.
constexpr int kXcr0Sse = 1;
constexpr int kXcr0Avx = 2;        // upper halves of YMM
constexpr int kXcr0Opmask = 5;     // k0-k7
constexpr int kXcr0ZmmHi256 = 6;   // upper halves of ZMM0-15
constexpr int kXcr0Hi16Zmm = 7;    // ZMM16-31
constexpr int kXcr0TileCfg = 17;
constexpr int kXcr0TileData = 18;  // XFEATURE_XTILEDATA
// Linux arch_prctl codes (asm/prctl.h), spelled out for older headers.
constexpr int kArchGetXcompPerm = 0x1022;
constexpr int kArchReqXcompPerm = 0x1023;

bool bit(uint32_t reg, int pos) { return (reg >> pos) & 1u; }

struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return Regs{};
  return r;
}

uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool xcr0_has(uint64_t xcr0, std::initializer_list<int> bits) {
  for (int b : bits) {
    if (!((xcr0 >> b) & 1u)) return false;
  }
  return true;
}

// Asks Linux for permission to use AMX tile data in this process.
bool request_amx_permission() {
#ifdef __linux__
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXcr0TileData) != 0) return false;
  unsigned long granted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) != 0) return false;
  return (granted >> kXcr0TileData) & 1u;
#else
  return false;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
  Regs v = cpuid(0, 0);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &v.ebx, 4);
  std::memcpy(vendor + 4, &v.edx, 4);
  std::memcpy(vendor + 8, &v.ecx, 4);
  f.vendor = vendor;
  const uint32_t max_leaf = v.eax;

  Regs l1 = cpuid(1, 0);
  if (!bit(l1.ecx, kLeaf1EcxOsxsave)) return f;  // no XGETBV: no AVX state at all
  const uint64_t xcr0 = read_xcr0();
  f.os_saves_ymm = xcr0_has(xcr0, {kXcr0Sse, kXcr0Avx});
  f.os_saves_zmm = f.os_saves_ymm && xcr0_has(xcr0, {kXcr0Opmask, kXcr0ZmmHi256, kXcr0Hi16Zmm});
  f.os_saves_tiles = xcr0_has(xcr0, {kXcr0TileCfg, kXcr0TileData});

  const bool avx = f.os_saves_ymm && bit(l1.ecx, kLeaf1EcxAvx);
  f.fma = avx && bit(l1.ecx, kLeaf1EcxFma);
  f.f16c = avx && bit(l1.ecx, kLeaf1EcxF16c);
  if (max_leaf < 7) return f;

  Regs l7 = cpuid(7, 0);
  Regs l7s1 = l7.eax >= 1 ? cpuid(7, 1) : Regs{};
  f.avx2 = avx && bit(l7.ebx, kLeaf7EbxAvx2);
  f.avx_vnni = avx && bit(l7s1.eax, kLeaf7Sub1EaxAvxVnni);
  const bool zmm = f.os_saves_zmm;
  f.avx512f = zmm && bit(l7.ebx, kLeaf7EbxAvx512f);
  f.avx512dq = f.avx512f && bit(l7.ebx, kLeaf7EbxAvx512dq);
  f.avx512bw = f.avx512f && bit(l7.ebx, kLeaf7EbxAvx512bw);
  f.avx512vl = f.avx512f && bit(l7.ebx, kLeaf7EbxAvx512vl);
  f.avx512_vnni = f.avx512f && bit(l7.ecx, kLeaf7EcxAvx512Vnni);
  f.avx512vbmi = f.avx512f && bit(l7.ecx, kLeaf7EcxAvx512Vbmi);
  f.avx512_bf16 = f.avx512f && bit(l7s1.eax, kLeaf7Sub1EaxAvx512Bf16);

  const bool amx_cpu = bit(l7.edx, kLeaf7EdxAmxTile);
  if (amx_cpu && f.os_saves_tiles) f.amx_permission = request_amx_permission();
  f.amx_tile = amx_cpu && f.os_saves_tiles && f.amx_permission;
  f.amx_int8 = f.amx_tile && bit(l7.edx, kLeaf7EdxAmxInt8);
  f.amx_bf16 = f.amx_tile && bit(l7.edx, kLeaf7EdxAmxBf16);
  return f;
}

#else

CpuFeatures detect() { return CpuFeatures{}; }

#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace int8rt
