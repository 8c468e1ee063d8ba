// Candidate tables, the ISA cap and the dispatch log (contract in registry.h).
//
// The tables are built once from provider functions listed best ISA first.
// An ISA's kernels are compiled in their own object library
// (csrc/kernels/<arch>/CMakeLists.txt) which defines INT8RT_HAVE_<ISA>_KERNELS
// on the int8rt target; its provider is then one guarded line below.
#include "kernels/registry.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/cpu_features.h"
#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace {

using ConvProvider = void (*)(std::vector<const ConvKernel*>&);
using GemmProvider = void (*)(std::vector<const GemmKernel*>&);

// Best ISA first; the reference provider is always last. An ISA adds one
// guarded line per op, e.g.
//   #if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
//       x86::append_conv_kernels_avx512vnni,
//   #endif
// with its provider declared in kernels/registry.h next to the ref ones.
const ConvProvider kConvProviders[] = {
#if defined(INT8RT_HAVE_AMX_KERNELS)
    x86::append_conv_kernels_amx,
#endif
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    x86::append_conv_kernels_avx512vnni,
#endif
#if defined(INT8RT_HAVE_AVXVNNI_KERNELS)
    x86::append_conv_kernels_avxvnni,
#endif
#if defined(INT8RT_HAVE_AVX2_KERNELS)
    x86::append_conv_kernels_avx2,
#endif
    append_conv_kernels_ref,
};
const GemmProvider kGemmProviders[] = {
#if defined(INT8RT_HAVE_AMX_KERNELS)
    x86::append_gemm_kernels_amx,
#endif
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    x86::append_gemm_kernels_avx512vnni,
#endif
#if defined(INT8RT_HAVE_AVXVNNI_KERNELS)
    x86::append_gemm_kernels_avxvnni,
#endif
#if defined(INT8RT_HAVE_AVX2_KERNELS)
    x86::append_gemm_kernels_avx2,
#endif
    append_gemm_kernels_ref,
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

std::string describe(const ConvShape& s, OutputType out) {
  std::ostringstream o;
  o << "C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K << " R=" << s.R
    << " S=" << s.S << " stride=" << s.stride_h << "x" << s.stride_w << " pads=" << s.pad_top
    << "," << s.pad_left << "," << s.pad_bottom << "," << s.pad_right
    << " dilation=" << s.dilation_h << "x" << s.dilation_w << " groups=" << s.groups
    << " out=" << output_type_name(out);
  return o.str();
}

std::string describe(const GemmShape& s, OutputType out) {
  return "N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " out=" + output_type_name(out);
}

std::string isa_reason(Isa isa) {
  if (!cpu_supports_isa(isa)) return std::string("CPU lacks ") + isa_name(isa);
  Isa cap = max_isa();
  if (static_cast<int>(isa) > static_cast<int>(cap)) {
    return std::string("ISA ") + isa_name(isa) + " above cap " + isa_name(cap);
  }
  return "";
}

// The shared walk over a candidate list.
template <typename Kernel, typename Shape>
const Kernel& choose(const char* op, const std::vector<const Kernel*>& list, const Shape& shape,
                     OutputType out) {
  shape.validate();
  std::string passed_over;
  for (const Kernel* k : list) {
    std::string reason = isa_reason(k->isa());
    if (reason.empty()) reason = k->supports(shape, out);
    if (reason.empty()) {
      if (log_topic_enabled("dispatch")) {
        std::fprintf(stderr, "int8rt dispatch: %s [%s] -> %s (%s)%s%s\n", op,
                     describe(shape, out).c_str(), k->name(), isa_name(k->isa()),
                     passed_over.empty() ? "" : "; passed over: ", passed_over.c_str());
      }
      return *k;
    }
    if (!passed_over.empty()) passed_over += "; ";
    passed_over += std::string(k->name()) + ": " + reason;
  }
  throw NotSupported(std::string(op) + ": no kernel accepts [" + describe(shape, out) +
                     "]: " + passed_over);
}

template <typename Kernel, typename Shape>
const Kernel& by_name(const char* op, const std::vector<const Kernel*>& list,
                      const std::string& name, const Shape& shape, OutputType out) {
  shape.validate();
  std::string known;
  for (const Kernel* k : list) {
    if (name != k->name()) {
      known += std::string(known.empty() ? "" : ", ") + k->name();
      continue;
    }
    std::string reason = isa_reason(k->isa());
    if (reason.empty()) reason = k->supports(shape, out);
    if (!reason.empty()) {
      throw NotSupported(std::string(op) + ": kernel " + name + " cannot run [" +
                         describe(shape, out) + "]: " + reason);
    }
    return *k;
  }
  throw InvalidArgument(std::string(op) + ": unknown kernel '" + name + "' (known: " + known +
                        ")");
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avxvnni";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAmx: return "amx";
  }
  return "?";
}

Isa parse_isa(const std::string& name, const std::string& what) {
  const std::string key = lower(name);
  std::string valid;
  for (Isa isa : kAllIsas) {
    if (key == isa_name(isa)) return isa;
    valid += std::string(valid.empty() ? "" : ", ") + isa_name(isa);
  }
  throw InvalidArgument(what + ": unknown ISA '" + name + "' (expected one of: " + valid + ")");
}

bool cpu_supports_isa(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kRef: return true;
    case Isa::kAvx2: return f.avx2 && f.fma;
    case Isa::kAvxVnni: return f.avx2 && f.fma && f.avx_vnni;
    case Isa::kAvx512Vnni: return avx512 && f.avx512_vnni;
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

bool isa_enabled(Isa isa) { return isa_reason(isa).empty(); }

std::string isa_decline_reason(Isa isa) { return isa_reason(isa); }

bool dispatch_log_enabled() { return log_topic_enabled("dispatch"); }

bool isa_compiled(Isa isa) {
  for (const ConvKernel* k : conv_candidates()) {
    if (k->isa() == isa) return true;
  }
  for (const GemmKernel* k : gemm_candidates()) {
    if (k->isa() == isa) return true;
  }
  return false;
}

const std::vector<const ConvKernel*>& conv_candidates() {
  static const std::vector<const ConvKernel*> list = [] {
    std::vector<const ConvKernel*> l;
    for (ConvProvider p : kConvProviders) p(l);
    return l;
  }();
  return list;
}

const std::vector<const GemmKernel*>& gemm_candidates() {
  static const std::vector<const GemmKernel*> list = [] {
    std::vector<const GemmKernel*> l;
    for (GemmProvider p : kGemmProviders) p(l);
    return l;
  }();
  return list;
}

const ConvKernel& choose_conv(const ConvShape& shape, OutputType out) {
  return choose("conv_s8", conv_candidates(), shape, out);
}

const GemmKernel& choose_gemm(const GemmShape& shape, OutputType out) {
  return choose("gemm_s8", gemm_candidates(), shape, out);
}

const ConvKernel& choose_conv_from(const std::vector<const ConvKernel*>& list,
                                   const ConvShape& shape, OutputType out) {
  return choose("conv_s8", list, shape, out);
}

const GemmKernel& choose_gemm_from(const std::vector<const GemmKernel*>& list,
                                   const GemmShape& shape, OutputType out) {
  return choose("gemm_s8", list, shape, out);
}

const ConvKernel& conv_kernel_by_name(const std::string& name, const ConvShape& shape,
                                      OutputType out) {
  return by_name("conv_s8", conv_candidates(), name, shape, out);
}

const GemmKernel& gemm_kernel_by_name(const std::string& name, const GemmShape& shape,
                                      OutputType out) {
  return by_name("gemm_s8", gemm_candidates(), name, shape, out);
}

std::string conv_decline_reason(const ConvKernel& k, const ConvShape& shape, OutputType out) {
  std::string reason = isa_reason(k.isa());
  return reason.empty() ? k.supports(shape, out) : reason;
}

std::string gemm_decline_reason(const GemmKernel& k, const GemmShape& shape, OutputType out) {
  std::string reason = isa_reason(k.isa());
  return reason.empty() ? k.supports(shape, out) : reason;
}

}  // namespace kernels
}  // namespace int8rt
