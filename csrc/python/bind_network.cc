// _core.Network: the network IR (int8rt/network.h) for Python. Tensors and
// nodes are addressed by integer id as in C++; inspection returns plain
// dicts; constants cross as NumPy arrays (copied); pickling goes through
// the state tuple of network_convert.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "int8rt/branch_scope.h"
#include "int8rt/error.h"
#include "int8rt/network.h"
#include "python/bindings.h"
#include "python/network_convert.h"
#include "python/numpy_convert.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

namespace {
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::vector<float> to_vector(const FloatArray& a) { return std::vector<float>(a.data(), a.data() + a.size()); }
std::vector<float> optional_vector(const py::object& a) {
  return a.is_none() ? std::vector<float>() : to_vector(numpy_array_of<float>(a));
}
}  // namespace

void bind_network(py::module_& m) {
  m.def("branch_scope", &branch_scope, py::arg("node"), py::arg("branch"),
        "The prefix naming If node `node`'s `branch` tensors outside it: 'node/branch/' (int8rt/branch_scope.h).");
  py::class_<Network>(m, "Network", "A DAG of ONNX-semantics nodes over named tensors (int8rt/network.h).")
      .def(py::init<>())
      .def("add_input",
           [](Network& n, const std::string& name, std::optional<std::vector<int64_t>> shape,
              const std::string& dtype) {
             // None: any rank (Tensor::any_rank), for subgraph inputs
             return shape ? n.add_input(name, std::move(*shape), dtype_from_name(dtype))
                          : n.add_input_any_rank(name, dtype_from_name(dtype));
           },
           py::arg("name"), py::arg("shape"), py::arg("dtype") = "float32")
      .def("add_constant", &add_constant_array, py::arg("name"), py::arg("data"))
      .def("add_node",
           [](Network& n, const std::string& op, const std::string& name, const std::vector<int>& inputs,
              const py::dict& attrs, const std::vector<std::string>& output_names) {
             return n.add_node(op, name, inputs, attributes_from_dict(attrs), output_names);
           },
           py::arg("op"), py::arg("name"), py::arg("inputs"), py::arg("attrs"), py::arg("output_names"))
      .def("mark_output", &Network::mark_output, py::arg("tensor"))
      .def("set_shape", &Network::set_shape, py::arg("tensor"), py::arg("shape"))
      .def("set_dtype", [](Network& n, int tensor, const std::string& dtype) { n.tensor(tensor).dtype = dtype_from_name(dtype); },
           py::arg("tensor"), py::arg("dtype"), "Declares a computed tensor's data type ('float32', 'int64', ...).")
      .def("set_shape_range",
           [](Network& n, const std::string& input, std::vector<int64_t> min, std::vector<int64_t> opt,
              std::vector<int64_t> max) { n.set_shape_range(input, {std::move(min), std::move(opt), std::move(max)}); },
           py::arg("input"), py::arg("min"), py::arg("opt"), py::arg("max"),
           "Sets the optimization profile of an input (TensorRT's IOptimizationProfile.set_shape).")
      .def("shape_range",
           [](const Network& n, const std::string& input) -> py::object {
             const ShapeRange* r = n.shape_range(input);
             if (!r) return py::none();
             return py::make_tuple(r->min, r->opt, r->max);
           },
           py::arg("input"), "(min, opt, max) of an input's optimization profile, or None.")
      .def("add_convolution",
           [](Network& n, int input, int64_t num_outputs, std::vector<int64_t> kernel, const FloatArray& weights,
              const py::object& bias, std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t groups,
              std::vector<int64_t> dilations, const std::string& name) {
             return n.add_convolution(input, num_outputs, std::move(kernel), to_vector(weights),
                                      optional_vector(bias), std::move(strides), std::move(pads), groups,
                                      std::move(dilations), name);
           },
           py::arg("input"), py::arg("num_outputs"), py::arg("kernel"), py::arg("weights"),
           py::arg("bias") = py::none(), py::arg("strides") = std::vector<int64_t>{1, 1},
           py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0}, py::arg("groups") = 1,
           py::arg("dilations") = std::vector<int64_t>{1, 1}, py::arg("name") = "")
      .def("add_activation", &Network::add_activation, py::arg("input"), py::arg("kind"), py::arg("alpha") = 0.0,
           py::arg("beta") = 0.0, py::arg("name") = "")
      .def("add_fully_connected",
           [](Network& n, int input, int64_t num_outputs, const FloatArray& weights, const py::object& bias,
              const std::string& name) {
             return n.add_fully_connected(input, num_outputs, to_vector(weights), optional_vector(bias), name);
           },
           py::arg("input"), py::arg("num_outputs"), py::arg("weights"), py::arg("bias") = py::none(),
           py::arg("name") = "")
      .def("add_pooling", &Network::add_pooling, py::arg("input"), py::arg("kind"), py::arg("kernel"),
           py::arg("strides"), py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0}, py::arg("name") = "")
      .def("add_elementwise", &Network::add_elementwise, py::arg("a"), py::arg("b"), py::arg("op"),
           py::arg("name") = "")
      .def("add_concatenation", &Network::add_concatenation, py::arg("inputs"), py::arg("axis") = 1,
           py::arg("name") = "")
      .def("tensors",
           [](const Network& n) {
             py::list out;
             for (const Tensor& t : n.tensors()) out.append(tensor_to_dict(t));
             return out;
           })
      .def("tensor", [](const Network& n, int id) { return tensor_to_dict(n.tensor(id)); }, py::arg("id"))
      .def("nodes",
           [](const Network& n) {
             py::list out;
             for (const Node& node : n.nodes()) out.append(node_to_dict(node));
             return out;
           })
      .def("node",
           [](const Network& n, int id) {
             if (id < 0 || id >= static_cast<int>(n.nodes().size())) {
               throw InvalidArgument("node id " + std::to_string(id) + " does not exist");
             }
             return node_to_dict(n.nodes()[id]);
           },
           py::arg("id"))
      .def("inputs", [](const Network& n) { return n.inputs(); })
      .def("outputs", [](const Network& n) { return n.outputs(); })
      .def("find_tensor", &Network::find_tensor, py::arg("name"))
      .def("constant_data", [](const Network& n, int id) { return constant_array(n.tensor(id)); }, py::arg("tensor"))
      .def("validate", &Network::validate)
      .def(py::pickle([](const Network& n) { return network_state(n); },
                      [](const py::tuple& state) { return network_from_state(state); }));
}

}  // namespace python
}  // namespace int8rt
