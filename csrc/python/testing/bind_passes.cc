// _testing.run_passes: the graph passes (graph/passes/passes.h) over a
// _core.Network, in place. Options are PassOptions' fields by name.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "graph/passes/passes.h"
#include "int8rt/error.h"
#include "python/testing/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

namespace {
PassOptions options_from_dict(const py::dict& d) {
  PassOptions o;
  const std::pair<const char*, bool*> fields[] = {
      {"remove_identity", &o.remove_identity}, {"remove_qdq_pairs", &o.remove_qdq_pairs},
      {"fold_constants", &o.fold_constants},   {"fold_batchnorm", &o.fold_batchnorm},
      {"fold_pad", &o.fold_pad},               {"fold_scale_bias", &o.fold_scale_bias},
      {"fold_input_affine", &o.fold_input_affine},
      {"merge_data_movement", &o.merge_data_movement},
      {"fuse_residual", &o.fuse_residual},     {"fuse_activation", &o.fuse_activation},
      {"fuse_leaky_relu", &o.fuse_leaky_relu}, {"fuse_horizontal", &o.fuse_horizontal},
      {"fuse_horizontal_split", &o.fuse_horizontal_split}, {"fuse_gelu", &o.fuse_gelu},
      {"fuse_layernorm", &o.fuse_layernorm},
      {"fuse_add_layernorm", &o.fuse_add_layernorm},
      {"fuse_conv_integer_float", &o.fuse_conv_integer_float},       {"merge_duplicates", &o.merge_duplicates},
      {"gather_before_cast", &o.gather_before_cast},
      {"global_mean_as_pool", &o.global_mean_as_pool}, {"batchnorm_as_depthwise", &o.batchnorm_as_depthwise},
  };
  for (const auto& item : d) {
    std::string key = py::str(item.first);
    bool* target = nullptr;
    std::string known;
    for (const auto& f : fields) {
      if (key == f.first) target = f.second;
      known += std::string(known.empty() ? "" : ", ") + f.first;
    }
    if (!target) throw InvalidArgument("run_passes: unknown option '" + key + "' (known: " + known + ")");
    if (!py::isinstance<py::bool_>(item.second)) {
      throw InvalidArgument("run_passes: option '" + key + "' must be a bool");
    }
    *target = item.second.cast<bool>();
  }
  return o;
}
}  // namespace

void bind_passes(py::module_& m) {
  m.def(
      "run_passes",
      [](Network& network, const py::dict& options) {
        PassOptions o = options_from_dict(options);
        PassReport report;
        {
          py::gil_scoped_release release;
          run_default_passes(network, o, &report);
        }
        py::dict result;
        result["lines"] = report.lines;
        result["calibration_hints"] = report.calibration_hints;
        return result;
      },
      py::arg("network"), py::arg("options") = py::dict(),
      "Runs the default graph passes on `network` in place. Returns {'lines': [str], "
      "'calibration_hints': {tensor name: float32 scale}}.");
}

}  // namespace python
}  // namespace int8rt
