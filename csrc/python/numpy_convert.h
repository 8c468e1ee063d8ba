// The one way the bindings turn a Python object into a NumPy array.
//
// pybind11's `array::ensure` returns a null array when a conversion fails
// and clears the Python error, so a caller that forgets the check
// dereferences null (a strided view whose contiguous copy is too large made
// numpy raise MemoryError, and the process crashed). These helpers never
// return null: a failed conversion raises numpy's own exception
// (MemoryError, ValueError, TypeError) through pybind11::error_already_set.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace int8rt {
namespace python {

namespace detail {
// pybind11 keeps the raw conversion (PyArray_FromAny with ENSUREARRAY) protected.
struct ArrayFactory : pybind11::array {
  static PyObject* convert(PyObject* obj, int flags) { return raw_array(obj, flags); }
};
}  // namespace detail

// `obj` as an array of its own dtype; `flags` as pybind11::array's
// (c_style to make it C-contiguous). No copy when it already qualifies.
inline pybind11::array numpy_array(const pybind11::handle& obj, int flags = 0) {
  PyObject* p = detail::ArrayFactory::convert(obj.ptr(), flags);
  if (!p) throw pybind11::error_already_set();
  return pybind11::reinterpret_steal<pybind11::array>(p);
}

// `obj` as an array of T (converted with forcecast when Flags has it).
template <typename T, int Flags = pybind11::array::c_style | pybind11::array::forcecast>
pybind11::array_t<T, Flags> numpy_array_of(const pybind11::handle& obj) {
  return pybind11::array_t<T, Flags>(pybind11::reinterpret_borrow<pybind11::object>(obj));
}

}  // namespace python
}  // namespace int8rt
