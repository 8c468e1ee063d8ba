// The int8 plan (int8rt/int8_plan.h) as read-only Python records, and
// Engine.int8_plan() returning it (None for float32 and loaded engines).
// Registered after bind_engine, whose Engine class it extends.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "int8rt/engine.h"
#include "int8rt/int8_plan.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

void bind_int8_plan(py::module_& m) {
  py::class_<Int8TensorPlan>(m, "Int8TensorPlan", "A tensor the engine holds in int8.")
      .def_readonly("tensor", &Int8TensorPlan::tensor)
      .def_readonly("int8_tensor", &Int8TensorPlan::int8_tensor)
      .def_readonly("scale", &Int8TensorPlan::scale)
      .def_readonly("producer", &Int8TensorPlan::producer)
      .def_readonly("produced_in_int8", &Int8TensorPlan::produced_in_int8)
      .def_readonly("readers", &Int8TensorPlan::readers)
      .def("__repr__", [](const Int8TensorPlan& t) {
        return "Int8TensorPlan('" + t.tensor + "', scale=" + std::to_string(t.scale) + ", producer='" + t.producer +
               "')";
      });
  py::class_<Int8LayerPlan>(m, "Int8LayerPlan", "A layer that runs in int8 and the source nodes it computes.")
      .def_readonly("name", &Int8LayerPlan::name)
      .def_readonly("op", &Int8LayerPlan::op)
      .def_readonly("sources", &Int8LayerPlan::sources)
      .def("__repr__", [](const Int8LayerPlan& l) { return "Int8LayerPlan('" + l.name + "', " + l.op + ")"; });
  py::class_<Int8ConvertPlan>(m, "Int8ConvertPlan", "A Quantize or Dequantize the lowering inserted, and why.")
      .def_readonly("name", &Int8ConvertPlan::name)
      .def_readonly("op", &Int8ConvertPlan::op)
      .def_readonly("tensor", &Int8ConvertPlan::tensor)
      .def_readonly("scale", &Int8ConvertPlan::scale)
      .def_readonly("readers", &Int8ConvertPlan::readers)
      .def_readonly("network_output", &Int8ConvertPlan::network_output)
      .def_readonly("reason", &Int8ConvertPlan::reason)
      .def("__repr__", [](const Int8ConvertPlan& c) { return "Int8ConvertPlan('" + c.name + "', " + c.op + ")"; });
  py::class_<Int8Plan>(m, "Int8Plan", "What the INT8 lowering decided (int8rt/int8_plan.h).")
      .def_readonly("tensors", &Int8Plan::tensors)
      .def_readonly("layers", &Int8Plan::layers)
      .def_readonly("converts", &Int8Plan::converts);

  py::object engine = m.attr("Engine");
  engine.attr("int8_plan") = py::cpp_function(
      [](const Engine& e) -> py::object {
        const Int8Plan* plan = e.int8_plan();
        return plan ? py::cast(*plan) : py::none();
      },
      py::name("int8_plan"), py::is_method(engine),
      "The int8 plan of an INT8 engine built in this process; None for float32 and loaded engines.");
}

}  // namespace python
}  // namespace int8rt
