// C++ exception types -> Python exceptions (int8rt.Error and subclasses).
// InvalidArgumentError and FormatError also derive from ValueError, and
// NotSupportedError from NotImplementedError, so generic handlers catch them.
#include <pybind11/pybind11.h>

#include "int8rt/error.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

void bind_errors(py::module_& m) {
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::tuple invalid_bases = py::make_tuple(error, py::handle(PyExc_ValueError));
  py::tuple format_bases = py::make_tuple(error, py::handle(PyExc_ValueError));
  py::tuple unsupported_bases = py::make_tuple(error, py::handle(PyExc_NotImplementedError));
  static py::object invalid = py::reinterpret_steal<py::object>(PyErr_NewException(
      "int8rt._core.InvalidArgumentError", invalid_bases.ptr(), nullptr));
  static py::object format = py::reinterpret_steal<py::object>(
      PyErr_NewException("int8rt._core.FormatError", format_bases.ptr(), nullptr));
  static py::object unsupported = py::reinterpret_steal<py::object>(PyErr_NewException(
      "int8rt._core.NotSupportedError", unsupported_bases.ptr(), nullptr));
  m.attr("InvalidArgumentError") = invalid;
  m.attr("FormatError") = format;
  m.attr("NotSupportedError") = unsupported;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid.ptr(), e.what());
    } catch (const FormatError& e) {
      PyErr_SetString(format.ptr(), e.what());
    } catch (const NotSupported& e) {
      PyErr_SetString(unsupported.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
}

}  // namespace python
}  // namespace int8rt
