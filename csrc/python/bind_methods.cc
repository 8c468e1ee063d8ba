// Bindings for the threshold (amax) methods: compute_amax, entropy_divergences,
// and the test helpers _amax_from_counts / _entropy_divergences_from_counts,
// which build a Histogram from a counts array (Histogram::from_state) so the
// golden tests can feed exact histograms. The GIL is released for the search.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "python/bindings.h"
#include "python/calib_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using calib::Histogram;
using calib::MethodOptions;


Histogram histogram_from_counts(const py::array_t<uint64_t, py::array::c_style |
                                                              py::array::forcecast>& counts,
                                float bin_width, float max_abs) {
  if (counts.ndim() != 1) throw InvalidArgument("counts: expected a 1-d array");
  std::vector<uint64_t> c(counts.data(), counts.data() + counts.size());
  return Histogram::from_state(std::move(c), bin_width, max_abs);
}

py::array_t<double> to_numpy(std::vector<double>&& v) {
  py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

float amax(const Histogram& h, const std::string& method, const MethodOptions& o) {
  const calib::Method m = calib::parse_method(method);
  py::gil_scoped_release release;
  return calib::compute_amax(h, m, o);
}

std::vector<double> divergences(const Histogram& h, const MethodOptions& o) {
  py::gil_scoped_release release;
  return calib::entropy_divergences(h, o);
}

}  // namespace

void bind_methods(py::module_& m) {
  m.def(
      "compute_amax",
      [](const Histogram& h, const std::string& method, int num_bits, bool is_unsigned,
         int64_t start_bin, int64_t stride, double percentile, bool reference_order) {
        return amax(h, method,
                    method_options(num_bits, is_unsigned, start_bin, stride, percentile,
                                 reference_order));
      },
      py::arg("hist"), py::arg("method"), py::kw_only(), py::arg("num_bits") = 8,
      py::arg("is_unsigned") = false, py::arg("start_bin") = 128, py::arg("stride") = 1,
      py::arg("percentile") = 99.99, py::arg("reference_order") = false,
      "Threshold (amax) of a histogram by the named method (entropy, entropy_legacy, "
      "minmax, percentile, mse, or a TensorRT algorithm name).");
  m.def(
      "entropy_divergences",
      [](const Histogram& h, int num_bits, bool is_unsigned, int64_t start_bin, int64_t stride,
         bool reference_order) {
        return to_numpy(divergences(
            h, method_options(num_bits, is_unsigned, start_bin, stride, 99.99, reference_order)));
      },
      py::arg("hist"), py::kw_only(), py::arg("num_bits") = 8, py::arg("is_unsigned") = false,
      py::arg("start_bin") = 128, py::arg("stride") = 1, py::arg("reference_order") = false,
      "KL divergence of each entropy candidate start_bin + k * stride (float64, inf allowed).");
  m.def(
      "_amax_from_counts",
      [](const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& counts,
         float bin_width, float max_abs, const std::string& method, int num_bits,
         bool is_unsigned, int64_t start_bin, int64_t stride, double percentile,
         bool reference_order) {
        return amax(histogram_from_counts(counts, bin_width, max_abs), method,
                    method_options(num_bits, is_unsigned, start_bin, stride, percentile,
                                 reference_order));
      },
      py::arg("counts"), py::arg("bin_width"), py::arg("max_abs"), py::arg("method"),
      py::kw_only(), py::arg("num_bits") = 8, py::arg("is_unsigned") = false,
      py::arg("start_bin") = 128, py::arg("stride") = 1, py::arg("percentile") = 99.99,
      py::arg("reference_order") = false,
      "Test helper: compute_amax on Histogram.from_state(counts, bin_width, max_abs).");
  m.def(
      "_entropy_divergences_from_counts",
      [](const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& counts,
         float bin_width, int num_bits, bool is_unsigned, int64_t start_bin, int64_t stride,
         bool reference_order) {
        return to_numpy(divergences(
            histogram_from_counts(counts, bin_width, 0.0f),
            method_options(num_bits, is_unsigned, start_bin, stride, 99.99, reference_order)));
      },
      py::arg("counts"), py::arg("bin_width"), py::kw_only(), py::arg("num_bits") = 8,
      py::arg("is_unsigned") = false, py::arg("start_bin") = 128, py::arg("stride") = 1,
      py::arg("reference_order") = false,
      "Test helper: entropy_divergences on Histogram.from_state(counts, bin_width, 0).");
}

}  // namespace python
}  // namespace int8rt
