// int8rt.kernels' controls (int8rt/isa.h): the ISA cap and the CPU feature
// report, as plain Python values. Thin: conversion only.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "int8rt/isa.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

py::dict cpu_features_dict() {
  const CpuFeatures& f = cpu_features();
  py::dict d;
  d["avx2"] = f.avx2; d["fma"] = f.fma; d["f16c"] = f.f16c;
  d["avx512f"] = f.avx512f; d["avx512bw"] = f.avx512bw; d["avx512vl"] = f.avx512vl;
  d["avx512dq"] = f.avx512dq; d["avx512_vnni"] = f.avx512_vnni; d["avx_vnni"] = f.avx_vnni;
  d["avx512vbmi"] = f.avx512vbmi;
  d["avx512_bf16"] = f.avx512_bf16;
  d["amx_tile"] = f.amx_tile; d["amx_int8"] = f.amx_int8; d["amx_bf16"] = f.amx_bf16;
  d["os_saves_ymm"] = f.os_saves_ymm; d["os_saves_zmm"] = f.os_saves_zmm;
  d["os_saves_tiles"] = f.os_saves_tiles; d["amx_permission"] = f.amx_permission;
  d["vendor"] = f.vendor;
  return d;
}

}  // namespace

void bind_isa(py::module_& m) {
  using namespace pybind11::literals;
  m.def("cpu_features", &cpu_features_dict, "Usable CPU features (CPUID + OS state) as a dict.");
  m.def("get_max_isa", &get_max_isa,
        "Effective ISA cap: min(CPU, INT8RT_MAX_ISA, set_max_isa()).");
  m.def("set_max_isa", &set_max_isa, "isa"_a,
        "Cap kernel selection at an ISA name; None removes the cap.");
  m.def("isa_info", [] {
    py::dict d;
    for (const IsaInfo& i : isa_info()) {
      d[py::str(i.name)] = py::dict("cpu"_a = i.cpu, "compiled"_a = i.compiled,
                                    "enabled"_a = i.enabled);
    }
    return d;
  }, "Per ISA, lowest first: supported by the CPU, kernels compiled in, allowed under the cap.");
}

}  // namespace python
}  // namespace int8rt
