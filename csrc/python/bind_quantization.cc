// Bindings for the quantization numerics (int8rt/quantization.h) and the
// calibration-method table (calibration.h, method_table): the Python package
// reads both from here instead of spelling 127, the weight rounding, the
// cache's hex or the method names again (int8rt/_numerics.py, calibrator.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using FloatRows = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::tuple quantize_rows(const FloatRows& w) {
  if (w.ndim() != 2) {
    throw InvalidArgument("quantize_weights_per_channel: expected a 2-d array [channels, values per channel], got " +
                          std::to_string(w.ndim()) + " dimensions");
  }
  const int64_t channels = w.shape(0), per_channel = w.shape(1);
  quant::QuantizedWeights qw;
  {
    py::gil_scoped_release release;
    qw = quant::quantize_weights_per_channel(w.data(), channels, per_channel);
  }
  py::array_t<int8_t> q({channels, per_channel});
  std::copy(qw.values.begin(), qw.values.end(), q.mutable_data());
  py::array_t<float> scales(static_cast<py::ssize_t>(channels));
  std::copy(qw.scales.begin(), qw.scales.end(), scales.mutable_data());
  return py::make_tuple(q, scales);
}

float scale_from_hex(const std::string& hex) {
  float scale = 0.0f;
  if (!quant::scale_from_hex(hex, &scale)) {
    throw FormatError("scale '" + hex + "' is not 1 to 8 hexadecimal digits");
  }
  return scale;
}

}  // namespace

void bind_quantization(py::module_& m) {
  m.attr("INT8_MAX") = quant::kInt8Max;
  m.def("scale_from_amax", &quant::scale_from_amax, py::arg("amax"),
        "TensorRT scale of a threshold: amax / 127 in float32.");
  m.def("amax_from_scale", &quant::amax_from_scale, py::arg("scale"),
        "The threshold a scale stands for: scale * 127 in float32.");
  m.attr("UNSIGNED_ZERO_POINT") = quant::kUnsignedZeroPoint;
  m.def("unsigned_scale_from_scale", &quant::unsigned_scale_from_scale, py::arg("scale"),
        "The scale of an unsigned activation (zero point -128) with the threshold of symmetric scale `scale`: "
        "scale * 127 / 255, each step in float32.");
  m.def("lower_bounded_grid",
        [](float scale, float lo) -> py::object {
          const quant::AffineGrid g = quant::lower_bounded_grid(scale, lo);
          if (!g.ok) return py::none();
          return py::make_tuple(g.scale, g.zero_point);
        },
        py::arg("scale"), py::arg("lo"),
        "(scale, zero point) of a tensor in [lo, scale * 127] held over 256 levels: (amax - lo) / 255 and "
        "-128 - rne(lo / that scale), in float32; None when lo is not in (-amax, 0].");
  m.def("quantize_weights_per_channel", &quantize_rows, py::arg("w"),
        "Symmetric int8 weights per row of a 2-d float32 array: (q int8 [C, K], scales float32 [C]).");
  m.def("scale_to_hex", &quant::scale_to_hex, py::arg("scale"),
        "A scale as a calibration cache spells it: its float32 bits in unpadded lowercase hex.");
  m.def("scale_from_hex", &scale_from_hex, py::arg("hex"),
        "The float32 scale a cache's hex spells; FormatError unless 1 to 8 hex digits.");

  py::class_<calib::MethodInfo>(m, "MethodInfo", "One row of the calibration-method table.")
      .def_property_readonly("name", [](const calib::MethodInfo& i) { return i.name; })
      .def_property_readonly("cache_header", [](const calib::MethodInfo& i) { return i.cache_header; })
      .def_property_readonly("trt_algorithm", [](const calib::MethodInfo& i) { return i.trt_algorithm; })
      .def_property_readonly("aliases", [](const calib::MethodInfo& i) { return i.aliases; })
      .def_property_readonly("options", [](const calib::MethodInfo& i) { return i.options; })
      .def("__repr__", [](const calib::MethodInfo& i) {
        return "MethodInfo(name='" + i.name + "', cache_header='" + i.cache_header + "')";
      });
  m.def("calibration_methods", &calib::method_table, py::return_value_policy::reference,
        "The calibration-method table: every threshold method, default first.");
}

}  // namespace python
}  // namespace int8rt
