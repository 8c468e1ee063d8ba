// Network IR <-> Python object conversions (network_convert.h).
#include "python/network_convert.h"

#include <set>

#include "int8rt/error.h"
#include "python/numpy_convert.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

DataType dtype_from_name(const std::string& name) {
  for (int32_t t = 0; t <= static_cast<int32_t>(kLastDataType); ++t) {
    if (name == data_type_name(static_cast<DataType>(t))) return static_cast<DataType>(t);
  }
  throw InvalidArgument("unknown dtype '" + name +
                        "' (float32, float64, float16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool)");
}

std::string dtype_name(DataType dtype) { return data_type_name(dtype); }

py::dtype numpy_dtype(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return py::dtype::of<float>();
    case DataType::kInt8: return py::dtype::of<int8_t>();
    case DataType::kInt32: return py::dtype::of<int32_t>();
    case DataType::kInt64: return py::dtype::of<int64_t>();
    case DataType::kBool: return py::dtype::of<bool>();
    case DataType::kFloat64: return py::dtype::of<double>();
    case DataType::kFloat16: return py::dtype("float16");
    case DataType::kUInt8: return py::dtype::of<uint8_t>();
    case DataType::kInt16: return py::dtype::of<int16_t>();
    case DataType::kUInt16: return py::dtype::of<uint16_t>();
    case DataType::kUInt32: return py::dtype::of<uint32_t>();
    case DataType::kUInt64: return py::dtype::of<uint64_t>();
    default: break;  // the storage types: numpy's ml_dtypes (a dependency of onnx) defines them
  }
  return py::dtype::from_args(py::module_::import("ml_dtypes").attr(dtype_name(dtype).c_str()));
}

bool has_dtype(const py::array& a, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return py::isinstance<py::array_t<float>>(a);
    case DataType::kInt8: return py::isinstance<py::array_t<int8_t>>(a);
    case DataType::kInt32: return py::isinstance<py::array_t<int32_t>>(a);
    case DataType::kInt64: return py::isinstance<py::array_t<int64_t>>(a);
    case DataType::kBool: return py::isinstance<py::array_t<bool>>(a);
    default: return a.dtype().equal(numpy_dtype(dtype));
  }
  return false;
}

namespace {
bool is_int_like(const py::handle& v) {
  return py::isinstance<py::int_>(v) || (!py::isinstance<py::float_>(v) && PyIndex_Check(v.ptr()));
}
bool is_float_like(const py::handle& v) { return py::isinstance<py::float_>(v) || PyFloat_Check(v.ptr()) ||
                                                 (PyNumber_Check(v.ptr()) && !is_int_like(v)); }
}  // namespace

Attribute attribute_from_py(const std::string& key, const py::handle& value) {
  if (py::isinstance<Network>(value)) return Attribute::of_graph(value.cast<const Network&>());  // a copy
  if (py::isinstance<py::str>(value)) return Attribute::of_string(value.cast<std::string>());
  if (is_int_like(value)) return Attribute::of_int(py::int_(py::reinterpret_borrow<py::object>(value)).cast<int64_t>());
  if (is_float_like(value)) return Attribute::of_float(py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>());
  if (py::isinstance<py::sequence>(value) && !py::isinstance<py::bytes>(value)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(value);
    bool any_float = false;
    for (py::handle item : seq) {
      if (is_int_like(item)) continue;
      if (!is_float_like(item)) {
        throw InvalidArgument("attribute '" + key + "': list items must be int or float");
      }
      any_float = true;
    }
    if (!any_float) {
      std::vector<int64_t> ints;
      for (py::handle item : seq) ints.push_back(py::int_(py::reinterpret_borrow<py::object>(item)).cast<int64_t>());
      return Attribute::of_ints(std::move(ints));
    }
    std::vector<double> floats;
    for (py::handle item : seq) floats.push_back(py::float_(py::reinterpret_borrow<py::object>(item)).cast<double>());
    return Attribute::of_floats(std::move(floats));
  }
  throw InvalidArgument("attribute '" + key + "': expected int, float, str, a list of int/float or a Network, got " +
                        std::string(py::str(py::type::of(value).attr("__name__"))));
}

py::object attribute_to_py(const Attribute& a) {
  switch (a.kind) {
    case Attribute::Kind::kInt: return py::int_(a.i);
    case Attribute::Kind::kFloat: return py::float_(a.f);
    case Attribute::Kind::kString: return py::str(a.s);
    case Attribute::Kind::kInts: return py::cast(a.ints);
    case Attribute::Kind::kFloats: return py::cast(a.floats);
    case Attribute::Kind::kGraph: return py::cast(Network(*a.graph));  // a copy: the IR's subgraphs are immutable
  }
  return py::none();
}

Attributes attributes_from_dict(const py::dict& attrs) {
  Attributes out;
  for (auto kv : attrs) {
    std::string key = py::str(kv.first);
    out.set(key, attribute_from_py(key, kv.second));
  }
  return out;
}

py::dict attributes_to_dict(const Attributes& attrs) {
  py::dict d;
  for (const auto& kv : attrs.values()) d[py::str(kv.first)] = attribute_to_py(kv.second);
  return d;
}

namespace {
template <typename T>
std::pair<std::vector<int64_t>, std::vector<T>> copy_array(const py::array& data) {
  auto arr = numpy_array_of<T>(data);
  std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
  std::vector<T> values(arr.data(), arr.data() + arr.size());
  return {std::move(shape), std::move(values)};
}
}  // namespace

int add_constant_array(Network& net, const std::string& name, const py::array& data) {
  if (has_dtype(data, DataType::kFloat32)) {
    auto sv = copy_array<float>(data);
    return net.add_constant(name, std::move(sv.first), std::move(sv.second));
  }
  if (has_dtype(data, DataType::kInt64)) {
    auto sv = copy_array<int64_t>(data);
    return net.add_constant_i64(name, std::move(sv.first), std::move(sv.second));
  }
  if (has_dtype(data, DataType::kInt8)) {
    auto sv = copy_array<int8_t>(data);
    return net.add_constant_i8(name, std::move(sv.first), std::move(sv.second));
  }
  if (has_dtype(data, DataType::kBool)) {  // read as bytes: any non-zero byte is true, as numpy reads it
    auto sv = copy_array<uint8_t>(py::array(data).view("uint8"));
    std::vector<int8_t> bytes(sv.second.size());
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = sv.second[i] != 0;
    return net.add_constant_bool(name, std::move(sv.first), std::move(bytes));
  }
  throw InvalidArgument("constant '" + name + "': data must be float32, int64, int8 or bool, got " +
                        std::string(py::str(data.dtype())));
}

py::array constant_array(const Tensor& t) {
  if (!t.is_constant) throw InvalidArgument("tensor '" + t.name + "' is not a constant");
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  switch (t.dtype) {
    case DataType::kFloat32: return py::array_t<float>(shape, t.f32.data());
    case DataType::kInt64: return py::array_t<int64_t>(shape, t.i64.data());
    case DataType::kInt8: return py::array_t<int8_t>(shape, t.i8.data());
    case DataType::kBool: return py::array_t<int8_t>(shape, t.i8.data()).view("bool");
    default: break;
  }
  throw NotSupported("constant '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", which constants cannot hold");
}

py::dict tensor_to_dict(const Tensor& t) {
  py::dict d;
  d["name"] = t.name;
  d["dtype"] = dtype_name(t.dtype);
  d["shape"] = t.any_rank ? py::object(py::none()) : py::object(py::cast(t.shape));  // None: any rank
  d["is_constant"] = t.is_constant;
  d["producer"] = t.producer;
  return d;
}

py::dict node_to_dict(const Node& n) {
  py::dict d;
  d["name"] = n.name;
  d["op"] = n.op;
  d["inputs"] = py::cast(n.inputs);
  d["outputs"] = py::cast(n.outputs);
  d["attrs"] = attributes_to_dict(n.attrs);
  return d;
}

namespace {
// Version 2 added the inputs' shape ranges (a sixth field).
constexpr int kStateVersion = 2;
}

py::tuple network_state(const Network& net) {
  py::list tensors, nodes;
  for (const Tensor& t : net.tensors()) {
    py::object data = t.is_constant ? py::object(constant_array(t)) : py::object(py::none());
    py::object shape = t.any_rank ? py::object(py::none()) : py::object(py::cast(t.shape));
    tensors.append(py::make_tuple(t.name, dtype_name(t.dtype), shape, t.is_constant, t.producer, data));
  }
  for (const Node& n : net.nodes()) {
    nodes.append(py::make_tuple(n.name, n.op, py::cast(n.inputs), py::cast(n.outputs), attributes_to_dict(n.attrs)));
  }
  py::dict ranges;
  for (const auto& kv : net.shape_ranges()) {
    ranges[py::str(kv.first)] = py::make_tuple(kv.second.min, kv.second.opt, kv.second.max);
  }
  return py::make_tuple(kStateVersion, tensors, nodes, py::cast(net.inputs()), py::cast(net.outputs()), ranges);
}

Network network_from_state(const py::tuple& state) {
  if (state.size() != 6 || state[0].cast<int>() != kStateVersion) {
    throw FormatError("Network pickle state: expected version " + std::to_string(kStateVersion) + " with 6 fields");
  }
  auto inputs = state[3].cast<std::vector<int>>();
  std::set<int> input_set(inputs.begin(), inputs.end());
  Network net;
  // Tensors are re-created in id order so every id is kept; a computed
  // tensor comes into being as the output of a placeholder node, and the
  // real nodes replace the placeholders below.
  for (py::handle item : state[1].cast<py::list>()) {
    auto t = item.cast<py::tuple>();
    auto name = t[0].cast<std::string>();
    DataType dtype = dtype_from_name(t[1].cast<std::string>());
    const bool any_rank = t[2].is_none();
    auto shape = any_rank ? std::vector<int64_t>() : t[2].cast<std::vector<int64_t>>();
    int id;
    if (t[3].cast<bool>()) {
      id = add_constant_array(net, name, t[5].cast<py::array>());
    } else if (input_set.count(static_cast<int>(net.tensors().size()))) {
      id = any_rank ? net.add_input_any_rank(name, dtype) : net.add_input(name, shape, dtype);
    } else {
      id = net.add_node("int8rt_unpickling", "int8rt_unpickling", {}, {}, {name})[0];
    }
    Tensor& restored = net.tensor(id);
    restored.dtype = dtype;
    restored.shape = std::move(shape);
    restored.producer = t[4].cast<int>();
  }
  if (net.inputs() != inputs) throw FormatError("Network pickle state: inputs are not in id order");
  std::vector<Node> nodes;
  for (py::handle item : state[2].cast<py::list>()) {
    auto n = item.cast<py::tuple>();
    Node node;
    node.name = n[0].cast<std::string>();
    node.op = n[1].cast<std::string>();
    node.inputs = n[2].cast<std::vector<int>>();
    node.outputs = n[3].cast<std::vector<int>>();
    node.attrs = attributes_from_dict(n[4].cast<py::dict>());
    nodes.push_back(std::move(node));
  }
  net.nodes() = std::move(nodes);
  net.outputs() = state[4].cast<std::vector<int>>();
  for (auto kv : state[5].cast<py::dict>()) {
    auto r = kv.second.cast<py::tuple>();
    net.set_shape_range(kv.first.cast<std::string>(), {r[0].cast<std::vector<int64_t>>(),
                                                       r[1].cast<std::vector<int64_t>>(),
                                                       r[2].cast<std::vector<int64_t>>()});
  }
  return net;
}

}  // namespace python
}  // namespace int8rt
