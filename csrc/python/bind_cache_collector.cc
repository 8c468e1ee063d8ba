// Bindings for TensorRT's calibration cache (calib/cache_format.cc) and the
// Collector (calib/collector.cc). Tensor names cross as UTF-8 bytes; names read
// from a cache are decoded with "surrogateescape" so that a name that is not
// valid UTF-8 survives a read -> write round trip byte for byte (the Python
// side encodes with the same handler).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "int8rt/calibration.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

py::str decode_name(const std::string& name) {
  PyObject* s = PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()),
                                     "surrogateescape");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

py::list named_floats(const std::vector<std::pair<std::string, float>>& items) {
  py::list out;
  for (const auto& item : items) out.append(py::make_tuple(decode_name(item.first), item.second));
  return out;
}

void bind_cache(py::module_& m) {
  m.def("cache_algorithm_name",
        py::overload_cast<const std::string&>(&calib::cache_algorithm_name),
        py::arg("method_or_header"),
        "TensorRT cache header name for a method name or header name.");
  m.def(
      "write_cache",
      [](const std::string& algorithm, int64_t version,
         std::vector<std::pair<std::string, float>> scales) {
        calib::CalibrationCache cache;
        cache.algorithm = algorithm;
        cache.version = version;
        cache.scales = std::move(scales);
        std::string text = calib::write_cache(cache);
        return py::bytes(text);
      },
      py::arg("algorithm"), py::arg("version"), py::arg("scales"),
      "TensorRT calibration cache bytes; scales is a list of (utf-8 name bytes, scale).");
  m.def(
      "read_cache",
      [](const py::bytes& data) {
        calib::CalibrationCache cache = calib::read_cache(std::string(data));
        return py::make_tuple(cache.algorithm, cache.version, named_floats(cache.scales));
      },
      py::arg("data"), "(algorithm, version, [(name, scale), ...]) from cache bytes.");
}

}  // namespace

void bind_cache_collector(py::module_& m) { bind_cache(m); }

}  // namespace python
}  // namespace int8rt
