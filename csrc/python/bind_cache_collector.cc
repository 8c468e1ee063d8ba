// Bindings for TensorRT's calibration cache (calib/cache_format.cc) and the
// Collector (calib/collector.cc). A Collector pickles as its settings plus
// (name, _core.Histogram) pairs. Tensor names cross as UTF-8 bytes; names read
// from a cache are decoded with "surrogateescape" so that a name that is not
// valid UTF-8 survives a read -> write round trip byte for byte (the Python
// side encodes with the same handler).
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


// [(name, array), ...] -> views that keep their arrays alive; needs the GIL.
struct HeldBatch {
  std::vector<HeldArrayView> held;
  std::vector<std::pair<std::string, calib::ArrayView>> views;
};

HeldBatch hold_batch(const std::vector<std::pair<std::string, py::object>>& items) {
  HeldBatch b;
  b.held.reserve(items.size());
  for (const auto& item : items) {
    b.held.push_back(to_array_view(item.second, "tensor '" + item.first + "'"));
    b.views.emplace_back(item.first, b.held.back().view);
  }
  return b;
}

py::tuple options_state(const calib::MethodOptions& o) {
  return py::make_tuple(o.num_bits, o.is_unsigned, o.start_bin, o.stride, o.percentile,
                        o.reference_order);
}


void bind_collector(py::module_& m) {
  using calib::Collector;
  py::class_<Collector>(m, "Collector", "One histogram per named tensor (see int8rt.calib.Collector).")
      .def(py::init([](const std::string& method, int64_t num_bins, const std::string& policy,
                       const std::string& nonfinite, int num_bits, bool is_unsigned,
                       int64_t start_bin, int64_t stride, double percentile, bool reference_order) {
             return Collector(calib::parse_method(method),
                              method_options(num_bits, is_unsigned, start_bin, stride, percentile,
                                           reference_order),
                              num_bins, parse_policy(policy), parse_nonfinite(nonfinite));
           }),
           py::arg("method") = "entropy", py::arg("num_bins") = 2048, py::arg("policy") = "extend",
           py::arg("nonfinite") = "error", py::arg("num_bits") = 8, py::arg("is_unsigned") = false,
           py::arg("start_bin") = 128, py::arg("stride") = 1, py::arg("percentile") = 99.99,
           py::arg("reference_order") = false)
      .def(
          "observe",
          [](Collector& c, const std::vector<std::pair<std::string, py::object>>& items) {
            HeldBatch b = hold_batch(items);
            py::gil_scoped_release release;
            c.observe_batch(b.views);
          },
          py::arg("items"), "Adds one batch: [(name, array), ...], all or nothing.")
      .def(
          "observe_range",
          [](Collector& c, const std::vector<std::pair<std::string, py::object>>& items) {
            HeldBatch b = hold_batch(items);
            py::gil_scoped_release release;
            c.observe_range_batch(b.views);
          },
          py::arg("items"), "two_pass first pass: [(name, array), ...], all or nothing.")
      .def_property_readonly("names", &Collector::names)
      .def("__len__", [](const Collector& c) { return c.names().size(); })
      .def("__contains__", &Collector::contains)
      .def(
          "histogram", [](const Collector& c, const std::string& name) { return c.histogram(name); },
          py::arg("name"), "A copy of the tensor's histogram.")
      .def("merge", &Collector::merge, py::arg("other"), py::call_guard<py::gil_scoped_release>())
      .def("add_histogram", &Collector::add_histogram, py::arg("name"), py::arg("histogram"),
           "Adds a histogram under a new name (InvalidArgument for a name present or another policy).")
      .def("amaxes",
           [](const Collector& c) {
             std::vector<std::pair<std::string, float>> r;
             {
               py::gil_scoped_release release;
               r = c.amaxes();
             }
             return named_floats(r);
           })
      .def("scales",
           [](const Collector& c) {
             std::vector<std::pair<std::string, float>> r;
             {
               py::gil_scoped_release release;
               r = c.scales();
             }
             return named_floats(r);
           })
      .def(
          "cache",
          [](const Collector& c, int64_t version) {
            std::string text;
            {
              py::gil_scoped_release release;
              text = calib::write_cache(c.cache(version));
            }
            return py::bytes(text);
          },
          py::arg("version") = 8601)
      .def_property_readonly("method", [](const Collector& c) { return calib::method_name(c.method()); })
      .def_property_readonly("num_bins", &Collector::num_bins)
      .def_property_readonly("policy", [](const Collector& c) { return policy_name(c.policy()); })
      .def_property_readonly("nonfinite",
                             [](const Collector& c) { return nonfinite_name(c.nonfinite_policy()); })
      .def_property_readonly("options",
                             [](const Collector& c) {
                               const calib::MethodOptions& o = c.options();
                               py::dict d;
                               d["num_bits"] = o.num_bits;
                               d["is_unsigned"] = o.is_unsigned;
                               d["start_bin"] = o.start_bin;
                               d["stride"] = o.stride;
                               d["percentile"] = o.percentile;
                               d["reference_order"] = o.reference_order;
                               return d;
                             })
      .def(py::pickle(
          [](const Collector& c) {
            py::list hists;
            for (const std::string& name : c.names()) {
              hists.append(py::make_tuple(name, calib::Histogram(c.histogram(name))));  // pickles itself
            }
            return py::make_tuple(calib::method_name(c.method()), c.num_bins(), policy_name(c.policy()),
                                  nonfinite_name(c.nonfinite_policy()), options_state(c.options()),
                                  hists);
          },
          [](const py::tuple& t) {
            if (t.size() != 6) throw InvalidArgument("Collector pickle: bad state");
            auto o = t[4].cast<py::tuple>();
            Collector c(calib::parse_method(t[0].cast<std::string>()),
                        method_options(o[0].cast<int>(), o[1].cast<bool>(), o[2].cast<int64_t>(),
                                     o[3].cast<int64_t>(), o[4].cast<double>(), o[5].cast<bool>()),
                        t[1].cast<int64_t>(), parse_policy(t[2].cast<std::string>()),
                        parse_nonfinite(t[3].cast<std::string>()));
            for (const py::handle& item : t[5].cast<py::list>()) {
              auto pair = item.cast<py::tuple>();
              c.add_histogram(pair[0].cast<std::string>(), pair[1].cast<calib::Histogram>());
            }
            return c;
          }));
}

}  // namespace

void bind_cache_collector(py::module_& m) {
  bind_cache(m);
  bind_collector(m);
}

}  // namespace python
}  // namespace int8rt
