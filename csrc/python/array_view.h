// NumPy array -> calib::ArrayView without a copy for float32 and float16 of
// any strides; float64 is converted to float32 (a copy, kept alive by the
// returned holder). Other dtypes raise InvalidArgument naming `what`.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "python/numpy_convert.h"

namespace int8rt {
namespace python {

struct HeldArrayView {
  pybind11::array holder;  // keeps the viewed memory alive
  calib::ArrayView view;
};

inline HeldArrayView to_array_view(const pybind11::handle& obj, const std::string& what) {
  namespace py = pybind11;
  py::array arr = numpy_array(obj);
  if (arr.dtype().equal(py::dtype::of<double>())) arr = numpy_array_of<float, py::array::forcecast>(arr);
  HeldArrayView out;
  if (arr.dtype().equal(py::dtype::of<float>())) {
    out.view.dtype = calib::DType::kFloat32;
  } else if (arr.dtype().kind() == 'f' && arr.itemsize() == 2) {
    out.view.dtype = calib::DType::kFloat16;
  } else {
    throw InvalidArgument(what + ": expected float32 or float16 data, got dtype " +
                          std::string(py::str(arr.dtype())));
  }
  out.view.data = arr.data();
  for (py::ssize_t d = 0; d < arr.ndim(); ++d) {
    out.view.shape.push_back(arr.shape(d));
    out.view.strides.push_back(arr.strides(d));
  }
  out.holder = std::move(arr);
  return out;
}

}  // namespace python
}  // namespace int8rt
