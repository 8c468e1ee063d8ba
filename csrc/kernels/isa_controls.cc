// The public kernel-selection controls (int8rt/isa.h) over the registry's
// ISA cap (kernels/registry.h): tier names in, tier names out.
#include "int8rt/isa.h"

#include "kernels/registry.h"

namespace int8rt {

std::string get_max_isa() { return kernels::isa_name(kernels::max_isa()); }

void set_max_isa(const std::optional<std::string>& isa) {
  std::optional<kernels::Isa> cap;
  if (isa) cap = kernels::parse_isa(*isa, "set_max_isa");
  kernels::set_max_isa(cap);
}

std::vector<IsaInfo> isa_info() {
  std::vector<IsaInfo> out;
  for (kernels::Isa isa : kernels::kAllIsas) {
    IsaInfo info;
    info.name = kernels::isa_name(isa);
    info.cpu = kernels::cpu_supports_isa(isa);
    info.compiled = kernels::isa_compiled(isa);
    info.enabled = kernels::isa_enabled(isa);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace int8rt
