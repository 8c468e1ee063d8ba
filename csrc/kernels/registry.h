// The kernel registry: one table of candidates keyed by (op, data type), one
// walk that chooses among them, one dispatch log, one by-name lookup
// (DESIGN.md, "Kernel selection"; after XNNPACK's per-datatype configs,
// MLAS's platform dispatch and oneDNN's ordered implementation lists).
//
// A kernel FAMILY is an abstract class deriving from Kernel that declares
//   static constexpr OpKey kKey;                     // e.g. {"conv", Dtype::kS8}
//   static void validate(const Problem&...);         // throws InvalidArgument
//   static std::string describe(const Problem&...);  // "" when there is no problem
//   virtual std::string supports(const Problem&...) const;  // "" = accepts
// plus its entry points (conv_gemm_s8.h, eltwise_s8.h, sgemm_f32.h). The
// Problem arguments are what is known when a layer is built (a ConvShape and
// an OutputType for conv; nothing for the element-wise ops and SGEMM).
//
// Each ISA has ONE provider function, register_<isa>_kernels(KernelRegistry&),
// in its folder's provider.cc (baseline code), which adds every kernel it has
// for every family, best first; a family may be left out or given a subset
// of its ops. The provider table in registry.cc lists the providers best ISA
// first, the reference provider (which supplies every op) last. So each
// family's candidate list is ordered best ISA first, reference last, with one
// measured exception: register_avx512vnni_narrow_kernels, listed ahead of
// every tier, adds AVX512-VNNI kernels that decline all but the narrow
// shapes where they beat AMX (registry.cc's table says which).
//
// choose<K>(problem...) walks K's list once per layer (at engine build or
// load, never in a hot loop): a candidate is passed over when its ISA is
// above max_isa() ("ISA <x> above cap <y>"), when the CPU lacks it ("CPU
// lacks <x>"), or when its supports() gives a reason; the first one left is
// returned. INT8RT_LOG=dispatch (a comma-separated list may name other topics
// too) prints one line per choice to stderr, the same for every family:
//   int8rt dispatch: <op> [<problem>] -> <kernel> (<isa>); passed over: <kernel>: <reason>; ...
// ("[<problem>]" is left out when the family has no problem, "; passed
// over: ..." when nothing was). A kernel that picks one of its own
// microkernels when it packs a layer's weights says so on the same topic:
//   int8rt dispatch: <kernel> packs <microkernel>: <reason>
// (x86/conv_igemm.cc: the AVX2 sign-trick tile or, for a -128 weight, the int16 one).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace int8rt {
namespace kernels {

// ---- ISA tiers and the cap ----

// Instruction-set tiers, ordered: a cap at tier T allows kernels of tiers <= T.
// Tiers are not nested CPU features: kAvxVnni (VEX) and the AVX-512 tiers are
// independent, and a CPU may have a higher tier and not a lower one (AMD Zen 4
// has avx512vnni, not avxvnni), which the per-ISA CPU check handles.
// kAvx512Bf16 is the BF16 kernels' tier (VDPBF16PS, VCVTNEPS2BF16), above
// avx512vnni: a cap at avx512vnni or below keeps every BF16 vector kernel
// out, as a cap must hold every tier above the one it names.
enum class Isa { kRef = 0, kAvx2, kAvxVnni, kAvx512, kAvx512Vnni, kAvx512Bf16, kAmx };
constexpr Isa kAllIsas[] = {Isa::kRef,        Isa::kAvx2,        Isa::kAvxVnni, Isa::kAvx512,
                            Isa::kAvx512Vnni, Isa::kAvx512Bf16, Isa::kAmx};

// "ref", "avx2", "avxvnni", "avx512", "avx512vnni", "avx512bf16", "amx".
const char* isa_name(Isa isa);
// Parses one of those names (case-insensitive); throws InvalidArgument
// listing the valid names otherwise. `what` prefixes the message.
Isa parse_isa(const std::string& name, const std::string& what = "ISA");

// Whether this CPU (and OS) can run kernels of `isa`:
//   avx2: AVX2+FMA; avxvnni: AVX2+FMA+AVX-VNNI; avx512: AVX512 F/BW/VL/DQ;
//   avx512vnni: the avx512 set + AVX512-VNNI; avx512bf16: the avx512 set +
//   AVX512-BF16;
//   amx: AMX tile+int8 with the Linux permission granted, plus the
//        avx512vnni set (the AMX kernels' epilogue is AVX-512); ref: always.
bool cpu_supports_isa(Isa isa);
// The highest tier the CPU supports.
Isa cpu_max_isa();
// The effective cap: min(cpu_max_isa(), INT8RT_MAX_ISA if set, set_max_isa()
// if set). Throws InvalidArgument if INT8RT_MAX_ISA holds an unknown name.
Isa max_isa();
// Programmatic cap (nullopt removes it). Applies to choices made after the
// call; layers already built keep their kernels. Thread-safe.
void set_max_isa(std::optional<Isa> isa);
// Whether kernels of `isa` may be chosen now: at or below max_isa() and
// supported by the CPU.
bool isa_enabled(Isa isa);
// Whether any kernel of `isa` (of any family) was compiled into this library.
bool isa_compiled(Isa isa);
// "" if kernels of `isa` may be chosen now, else "CPU lacks <x>" or
// "ISA <x> above cap <y>".
std::string isa_decline_reason(Isa isa);
// Whether INT8RT_LOG names "dispatch" (or "all").
bool dispatch_log_enabled();

// ---- keys and candidates ----

// The data type of an op's arithmetic: int8 in and out (s8), float32 (f32),
// BF16 products with FP32 accumulation, FP32 in and out (bf16).
enum class Dtype { kS8, kF32, kBf16 };

// A registry key: the op and its data type. name() is "<op>_<dtype>"
// ("conv_s8", "quantize_s8", "sgemm_f32"), the op's name in the dispatch log
// and the prefix of its kernels' names.
struct OpKey {
  const char* op;
  Dtype dtype;
  std::string name() const;
  bool operator==(const OpKey& other) const;
};

// What every candidate of every family is: a stateless singleton with a
// name (XNNPACK style, "<op>_<dtype>_<tile>_<isa>": "conv_s8_igemm_6x64c4_avx512vnni",
// "quantize_s8_ref") unique within its family, and an ISA tier.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual const char* name() const = 0;
  virtual Isa isa() const = 0;
};

// A candidate whose name and tier are data given at construction: one driver
// class serves several ISAs (and the reference) this way.
template <class Family>
class NamedKernel : public Family {
 public:
  NamedKernel(const char* name, Isa isa) : name_(name), isa_(isa) {}
  const char* name() const override { return name_; }
  Isa isa() const override { return isa_; }

 private:
  const char* name_;
  Isa isa_;
};

// A family as a value, for code that loops over families:
// f(FamilyTag<ConvKernel>{}) and, inside, typename decltype(tag)::Family.
template <class K>
struct FamilyTag {
  using Family = K;
};

// The candidates as providers add them. Providers call add(kernel, ...),
// where each kernel's type names its family (K::kKey); the registry keeps
// the pointers (kernels are singletons with static storage).
class KernelRegistry {
 public:
  // add(a, b, ...) keeps the order given.
  template <class... K>
  void add(const K&... kernels) {
    (add_entry(K::kKey, &kernels), ...);
  }
  // The kernels added under `key`, in the order they were added.
  std::vector<const Kernel*> candidates(const OpKey& key) const;
  template <class K>
  std::vector<const K*> candidates() const {
    std::vector<const K*> out;
    for (const Kernel* k : candidates(K::kKey)) out.push_back(static_cast<const K*>(k));
    return out;
  }
  const std::vector<std::pair<OpKey, const Kernel*>>& entries() const { return entries_; }

 private:
  void add_entry(const OpKey& key, const Kernel* kernel);
  std::vector<std::pair<OpKey, const Kernel*>> entries_;
};

// The library's registry: every provider of the table in registry.cc, called
// once (thread-safe), best ISA first, reference last.
const KernelRegistry& kernel_registry();

// The providers (one per ISA folder, in <folder>/provider.cc).
void register_ref_kernels(KernelRegistry& r);  // kernels/ref: every op
namespace x86 {
void register_amx_kernels(KernelRegistry& r);
void register_avx512vnni_kernels(KernelRegistry& r);
void register_avx512vnni_narrow_kernels(KernelRegistry& r);  // ahead of every tier
void register_avx512_kernels(KernelRegistry& r);
void register_avx512bf16_kernels(KernelRegistry& r);  // tier avx512, needs AVX512-BF16
void register_avxvnni_kernels(KernelRegistry& r);
void register_avx2_kernels(KernelRegistry& r);
}  // namespace x86

namespace detail {
// The one walk and the one by-name lookup, over any family's list; the
// templates below adapt a family's types to them.
const Kernel& walk(const OpKey& key, const std::vector<const Kernel*>& list,
                   const std::function<std::string(const Kernel&)>& supports,
                   const std::function<std::string()>& describe);
const Kernel& find_by_name(const OpKey& key, const std::vector<const Kernel*>& list,
                           const std::string& name,
                           const std::function<std::string(const Kernel&)>& supports,
                           const std::function<std::string()>& describe);
}  // namespace detail

// Family K's candidates, best first, reference last (all compiled in,
// regardless of the cap).
template <class K>
std::vector<const K*> candidates() {
  return kernel_registry().candidates<K>();
}

// The reference candidate of family K (always last, always enabled).
template <class K>
const K& reference_kernel() {
  return *candidates<K>().back();
}

// "" if `k` may be chosen now for the problem, else why not: the ISA's
// reason (isa_decline_reason) or the kernel's own.
template <class K, class... Problem>
std::string decline_reason(const K& k, const Problem&... problem) {
  std::string reason = isa_decline_reason(k.isa());
  return reason.empty() ? k.supports(problem...) : reason;
}

// (name, isa name, decline reason) of every candidate of family K, best
// first; reason "" for the eligible ones (tools, tests).
template <class K, class... Problem>
std::vector<std::tuple<std::string, std::string, std::string>> candidate_report(
    const Problem&... problem) {
  K::validate(problem...);
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  for (const K* k : candidates<K>()) {
    rows.emplace_back(k->name(), isa_name(k->isa()), decline_reason(*k, problem...));
  }
  return rows;
}

// The walk over a caller-given list (tests, tools). Validates the problem;
// throws NotSupported naming every candidate's reason if none accepts.
template <class K, class... Problem>
const K& choose_from(const std::vector<const K*>& list, const Problem&... problem) {
  K::validate(problem...);
  return static_cast<const K&>(detail::walk(
      K::kKey, std::vector<const Kernel*>(list.begin(), list.end()),
      [&](const Kernel& k) { return static_cast<const K&>(k).supports(problem...); },
      [&] { return K::describe(problem...); }));
}

// The first eligible candidate of family K (see the top of this file).
// Never fails for a valid problem: the reference kernel accepts everything.
template <class K, class... Problem>
const K& choose(const Problem&... problem) {
  return choose_from<K>(candidates<K>(), problem...);
}

// The candidate of family K called `name`; throws InvalidArgument if there
// is none (listing the known names), NotSupported if it is above the cap,
// missing from the CPU or declines the problem.
template <class K, class... Problem>
const K& kernel_by_name(const std::string& name, const Problem&... problem) {
  K::validate(problem...);
  const std::vector<const K*> list = candidates<K>();
  return static_cast<const K&>(detail::find_by_name(
      K::kKey, std::vector<const Kernel*>(list.begin(), list.end()), name,
      [&](const Kernel& k) { return static_cast<const K&>(k).supports(problem...); },
      [&] { return K::describe(problem...); }));
}

// The candidate called `name` if there is one, else the walk's choice (the
// `kernel=` argument of tools and tests).
template <class K, class... Problem>
const K& kernel_by_name_or_choose(const std::optional<std::string>& name,
                                  const Problem&... problem) {
  return name ? kernel_by_name<K>(*name, problem...) : choose<K>(problem...);
}

}  // namespace kernels
}  // namespace int8rt
