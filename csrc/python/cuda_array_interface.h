// Device arrays across the Python boundary, by the CUDA Array Interface
// (version 3, numba.readthedocs.io/en/stable/cuda/cuda_array_interface.html),
// the protocol CuPy, PyTorch and Numba share device memory by.
//
// No bare device address crosses the bindings: run_on_device takes the array
// objects themselves (the caller's dict holds them for the call) and reads
// their interface here; a DeviceAllocation publishes its memory only as an
// interface over a shape that fits in it. Float32, C-contiguous only (the
// engine's tensors). Errors name the tensor.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "int8rt/engine.h"
#include "int8rt/error.h"

namespace int8rt {
namespace python {

namespace cai_detail {

// The number of elements of `shape`; InvalidArgument for a negative
// dimension or a count that overflows.
inline int64_t element_count(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
      throw InvalidArgument(what + ": bad device array shape");
    }
  }
  return n;
}

inline std::string tuple_text(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

}  // namespace cai_detail

// The float32 C-contiguous device tensor `obj` exposes; `name` is the tensor's.
inline DeviceTensorView device_view(const std::string& name, const pybind11::handle& obj) {
  namespace py = pybind11;
  const std::string what = "'" + name + "'";
  if (!py::hasattr(obj, "__cuda_array_interface__")) {
    throw InvalidArgument(what + ": expected a device array (__cuda_array_interface__)");
  }
  py::object cai = obj.attr("__cuda_array_interface__");
  if (!py::isinstance<py::dict>(cai)) {
    throw InvalidArgument(what + ": __cuda_array_interface__ is not a dict");
  }
  py::dict d = cai.cast<py::dict>();
  DeviceTensorView v;
  v.shape = d["shape"].cast<std::vector<int64_t>>();
  const int64_t count = cai_detail::element_count(v.shape, what);
  const std::string typestr = d.contains("typestr") ? std::string(py::str(d["typestr"])) : "";
  if (typestr != "<f4") {
    throw InvalidArgument(what + ": expected a float32 device array, got typestr '" + typestr + "'");
  }
  if (d.contains("strides") && !d["strides"].is_none() && count > 1) {
    std::vector<int64_t> strides = d["strides"].cast<std::vector<int64_t>>();
    std::vector<int64_t> c_order(v.shape.size());
    int64_t step = 4;
    for (size_t i = v.shape.size(); i-- > 0;) {
      c_order[i] = step;
      step *= v.shape[i];
    }
    if (strides != c_order) {
      throw InvalidArgument(what + ": device array must be C-contiguous (strides " +
                            cai_detail::tuple_text(strides) + ")");
    }
  }
  const uintptr_t address = py::tuple(d["data"])[0].cast<uintptr_t>();
  if (address == 0 && count > 0) throw InvalidArgument(what + ": device array has a null pointer");
  v.data = reinterpret_cast<void*>(address);
  return v;
}

// device_view of every {name: array} item.
inline std::map<std::string, DeviceTensorView> device_views(const pybind11::dict& arrays) {
  std::map<std::string, DeviceTensorView> out;
  for (const auto& kv : arrays) {
    const std::string name = pybind11::str(kv.first);
    out[name] = device_view(name, kv.second);
  }
  return out;
}

// The interface of a float32 array of `shape` at the start of `a`;
// InvalidArgument when the shape needs more bytes than `a` holds.
inline pybind11::dict cuda_array_interface(const DeviceAllocation& a, const std::vector<int64_t>& shape) {
  namespace py = pybind11;
  const int64_t count = cai_detail::element_count(shape, "device array");
  if (count > static_cast<int64_t>(a.bytes() / sizeof(float))) {
    throw InvalidArgument("device array of shape " + cai_detail::tuple_text(shape) + " needs " +
                          std::to_string(count) + " float32 values; the allocation holds " +
                          std::to_string(a.bytes() / sizeof(float)));
  }
  py::dict d;
  d["shape"] = py::tuple(py::cast(shape));
  d["typestr"] = "<f4";
  d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(a.data()), false);
  d["strides"] = py::none();
  d["version"] = 3;
  d["stream"] = py::none();
  return d;
}

}  // namespace python
}  // namespace int8rt
