// Registration functions of the _core extension, one per binding file.
// Bindings are thin: argument conversion, GIL release, nothing else. _core
// binds the public API only: these files include public headers
// (csrc/include/int8rt/), never kernels/ or engine/ internals; the test hooks
// are the separate module int8rt._testing (csrc/python/testing/).
#pragma once

#include <pybind11/pybind11.h>

namespace int8rt {
namespace python {

void bind_errors(pybind11::module_& m);
void bind_threading(pybind11::module_& m);
void bind_isa(pybind11::module_& m);
void bind_histogram(pybind11::module_& m);
void bind_methods(pybind11::module_& m);
// Quantization numerics and the calibration-method table (bind_quantization.cc).
void bind_quantization(pybind11::module_& m);
void bind_cache_collector(pybind11::module_& m);
void bind_network(pybind11::module_& m);
void bind_engine(pybind11::module_& m);
void bind_int8_plan(pybind11::module_& m);  // after bind_engine (extends Engine)

}  // namespace python
}  // namespace int8rt
