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
namespace {

// A record class whose fields are read-only attributes: (name, member) pairs.
template <typename T>
void fields(py::class_<T>&) {}
template <typename T, typename M, typename... Rest>
void fields(py::class_<T>& cls, const char* name, M T::*member, Rest... rest) {
  cls.def_readonly(name, member);
  fields(cls, rest...);
}

}  // namespace

void bind_int8_plan(py::module_& m) {
  using T = Int8TensorPlan;
  py::class_<T> tensor(m, "Int8TensorPlan", "A tensor the engine holds in int8.");
  fields(tensor, "tensor", &T::tensor, "int8_tensor", &T::int8_tensor, "scale", &T::scale, "zero_point", &T::zero_point,
         "producer", &T::producer,
         "produced_in_int8", &T::produced_in_int8, "readers", &T::readers, "channels_last", &T::channels_last,
         "channel_scales", &T::channel_scales, "scope", &T::scope);
  tensor.def("__repr__", [](const T& t) {
    return "Int8TensorPlan('" + t.tensor + "', scale=" + std::to_string(t.scale) + ", producer='" + t.producer + "')";
  });

  using L = Int8LayerPlan;
  py::class_<L> layer(m, "Int8LayerPlan", "A layer that runs in int8 and the source nodes it computes.");
  fields(layer, "name", &L::name, "op", &L::op, "sources", &L::sources, "scope", &L::scope);
  layer.def("__repr__", [](const L& l) { return "Int8LayerPlan('" + l.name + "', " + l.op + ")"; });

  using C = Int8ConvertPlan;
  py::class_<C> convert(m, "Int8ConvertPlan", "A Quantize or Dequantize the lowering inserted, and why.");
  fields(convert, "name", &C::name, "op", &C::op, "tensor", &C::tensor, "scale", &C::scale, "readers", &C::readers,
         "network_output", &C::network_output, "reason", &C::reason, "scope", &C::scope);
  convert.def("__repr__", [](const C& c) { return "Int8ConvertPlan('" + c.name + "', " + c.op + ")"; });

  py::class_<Int8Plan> plan(m, "Int8Plan", "What the INT8 lowering decided (int8rt/int8_plan.h).");
  fields(plan, "tensors", &Int8Plan::tensors, "layers", &Int8Plan::layers, "converts", &Int8Plan::converts);

  py::object engine = m.attr("Engine");
  engine.attr("int8_plan") = py::cpp_function(
      [](const Engine& e) -> py::object {
        const Int8Plan* p = e.int8_plan();
        return p ? py::cast(*p) : py::none();
      },
      py::name("int8_plan"), py::is_method(engine),
      "The int8 plan of an INT8 engine built in this process; None for float32 and loaded engines.");
}

}  // namespace python
}  // namespace int8rt
