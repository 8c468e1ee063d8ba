// C++ exception types -> Python exceptions (int8rt.Error and subclasses).
// InvalidArgumentError and FormatError also derive from ValueError, and
// NotSupportedError from NotImplementedError, so generic handlers catch them.
//
// Messages quote names and text from files, which need not be UTF-8: every
// message is decoded with errors="replace" (pybind11's own translation
// decodes strictly, and a stray byte would turn the error into a
// UnicodeDecodeError that loses it), and cut to a bounded length
// (core/quote.h). The standard library's exceptions keep the Python types
// pybind11 gives them (IndexError for std::out_of_range, ...), decoded the
// same way.
#include <pybind11/pybind11.h>

#include <new>
#include <stdexcept>

#include "core/quote.h"
#include "int8rt/error.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

void set_error(PyObject* type, const char* what) {
  const std::string message = bounded_message(what);
  PyObject* text = PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace");
  if (text == nullptr) return;  // MemoryError is already set
  PyErr_SetObject(type, text);
  Py_DECREF(text);
}

}  // namespace

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
      set_error(invalid.ptr(), e.what());
    } catch (const FormatError& e) {
      set_error(format.ptr(), e.what());
    } catch (const NotSupported& e) {
      set_error(unsupported.ptr(), e.what());
    } catch (const Error& e) {
      set_error(error.ptr(), e.what());
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own types (py::value_error, ...) translate themselves
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "std::bad_alloc");
    } catch (const std::out_of_range& e) {
      set_error(PyExc_IndexError, e.what());
    } catch (const std::overflow_error& e) {
      set_error(PyExc_OverflowError, e.what());
    } catch (const std::domain_error& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const std::invalid_argument& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const std::length_error& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const std::range_error& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const std::exception& e) {
      set_error(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace python
}  // namespace int8rt
