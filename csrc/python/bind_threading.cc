// int8rt.get_num_threads / set_num_threads.
#include <pybind11/pybind11.h>

#include "int8rt/threading.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

void bind_threading(py::module_& m) {
  m.def("get_num_threads", &get_num_threads,
        "Number of threads int8rt's parallel work may use (calling thread included).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Set the thread count; n < 1 restores the default (the CPUs this process may use).");
}

}  // namespace python
}  // namespace int8rt
