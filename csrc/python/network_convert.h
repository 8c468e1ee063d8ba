// Conversions between int8rt's network IR and Python objects, shared by the
// Network and Executor bindings: dtype names, attribute values, constant
// data as NumPy arrays, tensor/node descriptions as dicts, and the pickle
// state tuple. Conversion only; no graph logic.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "int8rt/network.h"

namespace int8rt {
namespace python {

// "float32", "int8", "int32", "int64" <-> DataType; an unknown name throws InvalidArgument.
DataType dtype_from_name(const std::string& name);
std::string dtype_name(DataType dtype);
pybind11::dtype numpy_dtype(DataType dtype);
// Whether the array's dtype is equivalent to `dtype` (int64 matches long and long long).
bool has_dtype(const pybind11::array& a, DataType dtype);

// int (bool included) -> kInt, float -> kFloat, str -> kString,
// sequence of ints -> kInts (empty too), sequence with a float -> kFloats,
// a Network -> kGraph (copied; read back as a copy).
Attribute attribute_from_py(const std::string& key, const pybind11::handle& value);
pybind11::object attribute_to_py(const Attribute& a);
Attributes attributes_from_dict(const pybind11::dict& attrs);
pybind11::dict attributes_to_dict(const Attributes& attrs);

// Adds a constant copied from a float32 / int64 / int8 array (any strides).
int add_constant_array(Network& net, const std::string& name, const pybind11::array& data);
// A copy of a constant's data with its shape and dtype.
pybind11::array constant_array(const Tensor& t);

pybind11::dict tensor_to_dict(const Tensor& t);
pybind11::dict node_to_dict(const Node& n);

// Pickle state: (version, tensors, nodes, inputs, outputs); restoring keeps
// every tensor id, node id, name and the input / output order.
pybind11::tuple network_state(const Network& net);
Network network_from_state(const pybind11::tuple& state);

}  // namespace python
}  // namespace int8rt
