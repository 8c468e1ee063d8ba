// The private extension module int8rt._core. Users import int8rt, never this.
#include "python/bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "int8rt's compiled core (private: import int8rt instead)";
  int8rt::python::bind_errors(m);
  int8rt::python::bind_threading(m);
  int8rt::python::bind_isa(m);
  int8rt::python::bind_histogram(m);
  int8rt::python::bind_methods(m);
  int8rt::python::bind_quantization(m);
  int8rt::python::bind_cache_collector(m);
  int8rt::python::bind_network(m);
  int8rt::python::bind_engine(m);
  int8rt::python::bind_int8_plan(m);
}
