// The private extension module int8rt._testing: test hooks into the kernels
// and the engine's internals, for tests, tools and benchmarks only (the
// public package never imports it). It links the same libint8rt as _core, so
// both share one copy of the library's state (the ISA cap, the thread pool).
#include "python/testing/bindings.h"

PYBIND11_MODULE(_testing, m) {
  m.doc() = "int8rt's test hooks (private, not part of the API)";
  // _core registers what these hooks take and raise: the Network type and
  // the translation of int8rt's C++ exceptions to int8rt.Error and kin.
  pybind11::module_::import("int8rt._core");
  int8rt::python::bind_kernels(m);
  int8rt::python::bind_executor_testing(m);
  int8rt::python::bind_executor(m);
  int8rt::python::bind_passes(m);
}
