// _core.Histogram: calib::Histogram for Python. Policies cross as strings
// ("extend" | "power_of_two" | "two_pass", "error" | "skip"); arrays go
// through to_array_view (no copy for float32/float16); collect, observe_range
// and merge release the GIL. Pickles as its from_state() tuple.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "python/array_view.h"
#include "python/bindings.h"
#include "python/calib_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using calib::Histogram;
using calib::NonFinitePolicy;
using calib::RangePolicy;


using CountsArray = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>;

Histogram from_state(const CountsArray& counts, float bin_width, float max_abs,
                     const std::string& policy, int64_t initial_num_bins,
                     const std::string& nonfinite, uint64_t nonfinite_skipped,
                     uint64_t pending_zeros) {
  if (counts.ndim() != 1) throw InvalidArgument("Histogram.from_state: counts must be 1-d");
  std::vector<uint64_t> c(counts.data(), counts.data() + counts.size());
  return Histogram::from_state(std::move(c), bin_width, max_abs,
                               parse_policy(policy), initial_num_bins,
                               parse_nonfinite(nonfinite),
                               nonfinite_skipped, pending_zeros);
}

py::tuple state(const Histogram& h) {
  const std::vector<uint64_t>& c = h.counts();
  return py::make_tuple(py::array_t<uint64_t>(static_cast<py::ssize_t>(c.size()), c.data()),
                        h.bin_width(), h.max_abs(), policy_name(h.policy()),
                        h.initial_num_bins(), nonfinite_name(h.nonfinite_policy()),
                        h.nonfinite_skipped(), h.pending_zeros());
}

}  // namespace

void bind_histogram(py::module_& m) {
  py::class_<Histogram>(m, "Histogram", "Histogram of |x| (see int8rt.calib.Histogram).")
      .def(py::init([](int64_t num_bins, const std::string& policy, const std::string& nonfinite) {
             return Histogram(num_bins, parse_policy(policy),
                              parse_nonfinite(nonfinite));
           }),
           py::arg("num_bins") = 2048, py::arg("policy") = "extend", py::arg("nonfinite") = "error")
      .def("collect",
           [](Histogram& h, const py::handle& x) {
             HeldArrayView held = to_array_view(x, "Histogram.collect");
             py::gil_scoped_release release;
             h.collect(held.view);
           },
           py::arg("array"))
      .def("observe_range",
           [](Histogram& h, const py::handle& x) {
             HeldArrayView held = to_array_view(x, "Histogram.observe_range");
             py::gil_scoped_release release;
             h.observe_range(held.view);
           },
           py::arg("array"))
      .def("merge",
           [](Histogram& h, const Histogram& other) {
             py::gil_scoped_release release;
             h.merge(other);
           },
           py::arg("other"))
      .def("copy", [](const Histogram& h) { return Histogram(h); })
      .def_property_readonly("counts",
                             [](const Histogram& h) {
                               const std::vector<uint64_t>& c = h.counts();
                               return py::array_t<uint64_t>(static_cast<py::ssize_t>(c.size()),
                                                            c.data());
                             })
      .def_property_readonly("edges",
                             [](const Histogram& h) {
                               std::vector<float> e = h.edges();
                               return py::array_t<float>(static_cast<py::ssize_t>(e.size()),
                                                         e.data());
                             })
      .def_property_readonly("bin_width", &Histogram::bin_width)
      .def_property_readonly("max_abs", &Histogram::max_abs)
      .def_property_readonly("total_count", &Histogram::total_count)
      .def_property_readonly("nonfinite_skipped", &Histogram::nonfinite_skipped)
      .def_property_readonly("pending_zeros", &Histogram::pending_zeros)
      .def_property_readonly("num_bins", &Histogram::num_bins)
      .def_property_readonly("initial_num_bins", &Histogram::initial_num_bins)
      .def_property_readonly("policy",
                             [](const Histogram& h) { return policy_name(h.policy()); })
      .def_property_readonly(
          "nonfinite", [](const Histogram& h) { return nonfinite_name(h.nonfinite_policy()); })
      .def("state", &state,
           "(counts, bin_width, max_abs, policy, initial_num_bins, nonfinite, "
           "nonfinite_skipped, pending_zeros), the arguments of from_state")
      .def_static("from_state", &from_state, py::arg("counts"), py::arg("bin_width"),
                  py::arg("max_abs"), py::arg("policy") = "extend",
                  py::arg("initial_num_bins") = 0, py::arg("nonfinite") = "error",
                  py::arg("nonfinite_skipped") = 0, py::arg("pending_zeros") = 0)
      .def(py::pickle(&state, [](const py::tuple& t) {
        if (t.size() != 8) throw InvalidArgument("Histogram: bad pickle state");
        return from_state(t[0].cast<CountsArray>(), t[1].cast<float>(), t[2].cast<float>(),
                          t[3].cast<std::string>(), t[4].cast<int64_t>(),
                          t[5].cast<std::string>(), t[6].cast<uint64_t>(),
                          t[7].cast<uint64_t>());
      }));
}

}  // namespace python
}  // namespace int8rt
