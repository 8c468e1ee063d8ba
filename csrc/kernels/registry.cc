// The provider table, the ISA cap, the walk and the dispatch log (contract
// in registry.h).
//
// An ISA's kernels are compiled in their own object library
// (csrc/kernels/<arch>/CMakeLists.txt), which defines INT8RT_HAVE_<ISA>_KERNELS
// on the int8rt target and compiles the folder's provider.cc as baseline
// code; its provider is then one guarded line in kProviders below.
#include "kernels/registry.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/cpu_features.h"
#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace {

using Provider = void (*)(KernelRegistry&);

// Best ISA first; the reference provider is always last. Adding an ISA:
//   #if defined(INT8RT_HAVE_<ISA>_KERNELS)
//       x86::register_<isa>_kernels,
//   #endif
// with the provider declared in registry.h.
//
// Ahead of every tier: kernels of a lower tier that decline all but the
// shapes a measured rule gives them, because there they beat the tiers
// above. On AVX512-VNNI rather than AMX: the narrow pointwise convs (1x1,
// K <= 16, C <= 32: MobileNet-class projections at 112 x 112), where AMX's
// 32 x 32 tiles hold 16 useful channels of 32 and one partly filled 64-byte
// reduction chunk; the one-pixel 1x1 convs (squeeze-and-excitation on
// [N, C, 1, 1]) up to 64K weights, where they hold one row of 32 per
// image; and the 1x1 expansions from at most 16 unsigned input channels
// (16 -> 64 / 96 at 112 x 112) on the igemm tile (RESULTS.md section 178).
const Provider kProviders[] = {
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    x86::register_avx512vnni_narrow_kernels,
#endif
#if defined(INT8RT_HAVE_AMX_KERNELS)
    x86::register_amx_kernels,
#endif
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    x86::register_avx512vnni_kernels,
#endif
#if defined(INT8RT_HAVE_AVX512BF16_KERNELS)
    x86::register_avx512bf16_kernels,
#endif
#if defined(INT8RT_HAVE_AVX512_KERNELS)
    x86::register_avx512_kernels,
#endif
#if defined(INT8RT_HAVE_AVXVNNI_KERNELS)
    x86::register_avxvnni_kernels,
#endif
#if defined(INT8RT_HAVE_AVX2_KERNELS)
    x86::register_avx2_kernels,
#endif
    register_ref_kernels,
};

constexpr int kNoCap = -1;
std::atomic<int> g_programmatic_cap{kNoCap};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool log_topic_enabled(const char* topic) {
  const char* env = std::getenv("INT8RT_LOG");
  if (!env) return false;
  std::stringstream ss(lower(env));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == topic || item == "all") return true;
  }
  return false;
}

// " [<problem>]", or "" for a family without one.
std::string bracketed(const std::string& problem) {
  return problem.empty() ? "" : " [" + problem + "]";
}

}  // namespace

// ---- ISA tiers and the cap ----

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avxvnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAvx512Bf16: return "avx512bf16";
    case Isa::kAmx: return "amx";
  }
  return "?";
}

Isa parse_isa(const std::string& name, const std::string& what) {
  const std::string key = lower(name);
  for (Isa isa : kAllIsas) {
    if (key == isa_name(isa)) return isa;
  }
  std::string valid;  // only for the error: max_isa() parses INT8RT_MAX_ISA on every call
  for (Isa isa : kAllIsas) valid += std::string(valid.empty() ? "" : ", ") + isa_name(isa);
  throw InvalidArgument(what + ": unknown ISA '" + name + "' (expected one of: " + valid + ")");
}

bool cpu_supports_isa(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kRef: return true;
    case Isa::kAvx2: return f.avx2 && f.fma;
    case Isa::kAvxVnni: return f.avx2 && f.fma && f.avx_vnni;
    case Isa::kAvx512: return avx512;
    case Isa::kAvx512Vnni: return avx512 && f.avx512_vnni;
    case Isa::kAvx512Bf16: return avx512 && f.avx512_bf16;
    case Isa::kAmx: return f.amx_tile && f.amx_int8 && avx512 && f.avx512_vnni;
  }
  return false;
}

Isa cpu_max_isa() {
  Isa best = Isa::kRef;
  for (Isa isa : kAllIsas) {
    if (cpu_supports_isa(isa)) best = isa;
  }
  return best;
}

Isa max_isa() {
  int cap = static_cast<int>(cpu_max_isa());
  if (const char* env = std::getenv("INT8RT_MAX_ISA"); env && *env) {
    cap = std::min(cap, static_cast<int>(parse_isa(env, "INT8RT_MAX_ISA")));
  }
  const int programmatic = g_programmatic_cap.load();
  if (programmatic != kNoCap) cap = std::min(cap, programmatic);
  return static_cast<Isa>(cap);
}

void set_max_isa(std::optional<Isa> isa) {
  g_programmatic_cap.store(isa ? static_cast<int>(*isa) : kNoCap);
}

std::string isa_decline_reason(Isa isa) {
  if (!cpu_supports_isa(isa)) return std::string("CPU lacks ") + isa_name(isa);
  Isa cap = max_isa();
  if (static_cast<int>(isa) > static_cast<int>(cap)) {
    return std::string("ISA ") + isa_name(isa) + " above cap " + isa_name(cap);
  }
  return "";
}

bool isa_enabled(Isa isa) { return isa_decline_reason(isa).empty(); }

bool dispatch_log_enabled() { return log_topic_enabled("dispatch"); }

bool isa_compiled(Isa isa) {
  for (const auto& entry : kernel_registry().entries()) {
    if (entry.second->isa() == isa) return true;
  }
  return false;
}

// ---- keys and the registry ----

std::string OpKey::name() const {
  return std::string(op) + (dtype == Dtype::kS8 ? "_s8" : dtype == Dtype::kBf16 ? "_bf16" : "_f32");
}

bool OpKey::operator==(const OpKey& other) const {
  return dtype == other.dtype && std::strcmp(op, other.op) == 0;
}

void KernelRegistry::add_entry(const OpKey& key, const Kernel* kernel) {
  entries_.emplace_back(key, kernel);
}

std::vector<const Kernel*> KernelRegistry::candidates(const OpKey& key) const {
  std::vector<const Kernel*> out;
  for (const auto& entry : entries_) {
    if (entry.first == key) out.push_back(entry.second);
  }
  return out;
}

const KernelRegistry& kernel_registry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    for (Provider p : kProviders) p(r);
    return r;
  }();
  return registry;
}

// ---- the walk ----

namespace detail {

const Kernel& walk(const OpKey& key, const std::vector<const Kernel*>& list,
                   const std::function<std::string(const Kernel&)>& supports,
                   const std::function<std::string()>& describe) {
  std::string passed_over;
  for (const Kernel* k : list) {
    std::string reason = isa_decline_reason(k->isa());
    if (reason.empty()) reason = supports(*k);
    if (reason.empty()) {
      if (dispatch_log_enabled()) {
        std::fprintf(stderr, "int8rt dispatch: %s%s -> %s (%s)%s%s\n", key.name().c_str(),
                     bracketed(describe()).c_str(), k->name(), isa_name(k->isa()),
                     passed_over.empty() ? "" : "; passed over: ", passed_over.c_str());
      }
      return *k;
    }
    if (!passed_over.empty()) passed_over += "; ";
    passed_over += std::string(k->name()) + ": " + reason;
  }
  throw NotSupported(key.name() + ": no kernel accepts" + bracketed(describe()) + ": " +
                     passed_over);
}

const Kernel& find_by_name(const OpKey& key, const std::vector<const Kernel*>& list,
                           const std::string& name,
                           const std::function<std::string(const Kernel&)>& supports,
                           const std::function<std::string()>& describe) {
  std::string known;
  for (const Kernel* k : list) {
    if (name != k->name()) {
      known += std::string(known.empty() ? "" : ", ") + k->name();
      continue;
    }
    std::string reason = isa_decline_reason(k->isa());
    if (reason.empty()) reason = supports(*k);
    if (!reason.empty()) {
      throw NotSupported(key.name() + ": kernel " + name + " cannot run" +
                         bracketed(describe()) + ": " + reason);
    }
    return *k;
  }
  throw InvalidArgument(key.name() + ": unknown kernel '" + name + "' (known: " + known + ")");
}

}  // namespace detail
}  // namespace kernels
}  // namespace int8rt
