// int8rt's network IR and network-definition API.
//
// A Network is a DAG of nodes over named tensors. Op types and attribute
// semantics are ONNX's (opset 11+: "Conv", "Relu", "Gemm", ...), so an ONNX
// importer maps one to one and readers can look semantics up in the ONNX
// spec; int8rt-specific attributes are prefixed "int8rt_" (for example the
// activation a fusion pass folds into a Conv). Tensors have static shapes
// except the leading batch dimension, written -1 where it is dynamic.
// Constants (weights) are float32, int64, int8 or bool and owned by the network.
//
// Thread safety: a Network is a plain value; do not mutate it concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace int8rt {

// kBool: one byte per element holding 0 or 1 (ONNX BOOL, numpy bool_): masks
// and the results of comparisons and logic ops. kFloat16 is IEEE binary16
// (its bits). The values after kBool are run-time tensor types only (graph
// inputs and outputs, computed tensors); constants are float32, int64, int8
// or bool, and the ONNX importer casts a constant of another type at run time.
// The numeric rules of each type are in engine/dtypes.h. kBFloat16 ..
// kFloat8E8M0 are storage types (one element per byte, two for bfloat16, as numpy's
// ml_dtypes holds them) that only Cast converts and data movement moves
// (core/narrow_float.h).
enum class DataType : int32_t {
  kFloat32 = 0, kInt8 = 1, kInt32 = 2, kInt64 = 3, kBool = 4,
  kFloat64 = 5, kFloat16 = 6, kUInt8 = 7, kInt16 = 8, kUInt16 = 9, kUInt32 = 10, kUInt64 = 11,
  kBFloat16 = 12, kFloat8E4M3FN = 13, kFloat8E4M3FNUZ = 14, kFloat8E5M2 = 15, kFloat8E5M2FNUZ = 16,
  kUInt4 = 17, kInt4 = 18, kFloat4E2M1 = 19, kUInt2 = 20, kInt2 = 21, kFloat8E8M0 = 22,
};
constexpr DataType kLastDataType = DataType::kFloat8E8M0;

// Bytes per element of `dtype`.
inline size_t element_size(DataType dtype) {
  switch (dtype) {
    case DataType::kInt8: case DataType::kBool: case DataType::kUInt8: return 1;
    case DataType::kFloat8E4M3FN: case DataType::kFloat8E4M3FNUZ: case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ: case DataType::kUInt4: case DataType::kInt4: case DataType::kFloat4E2M1:
    case DataType::kUInt2: case DataType::kInt2: case DataType::kFloat8E8M0: return 1;
    case DataType::kFloat16: case DataType::kInt16: case DataType::kUInt16: case DataType::kBFloat16: return 2;
    case DataType::kFloat32: case DataType::kInt32: case DataType::kUInt32: return 4;
    case DataType::kInt64: case DataType::kFloat64: case DataType::kUInt64: return 8;
  }
  return 1;
}

// The name of `dtype` as numpy / ml_dtypes spell it ("float32", "float8_e4m3fn");
// "unknown" for a value outside the enum.
inline const char* data_type_name(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return "float32";
    case DataType::kInt8: return "int8";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kBool: return "bool";
    case DataType::kFloat64: return "float64";
    case DataType::kFloat16: return "float16";
    case DataType::kUInt8: return "uint8";
    case DataType::kInt16: return "int16";
    case DataType::kUInt16: return "uint16";
    case DataType::kUInt32: return "uint32";
    case DataType::kUInt64: return "uint64";
    case DataType::kBFloat16: return "bfloat16";
    case DataType::kFloat8E4M3FN: return "float8_e4m3fn";
    case DataType::kFloat8E4M3FNUZ: return "float8_e4m3fnuz";
    case DataType::kFloat8E5M2: return "float8_e5m2";
    case DataType::kFloat8E5M2FNUZ: return "float8_e5m2fnuz";
    case DataType::kUInt4: return "uint4";
    case DataType::kInt4: return "int4";
    case DataType::kFloat4E2M1: return "float4_e2m1fn";
    case DataType::kUInt2: return "uint2";
    case DataType::kInt2: return "int2";
    case DataType::kFloat8E8M0: return "float8_e8m0fnu";
  }
  return "unknown";
}

class Network;

// One attribute value: exactly one of the fields is meaningful, named by kind.
// kGraph is a subgraph (ONNX's GRAPH attribute: If's branches, Loop's and
// Scan's body). A subgraph is a Network of its own that reads nothing of the
// enclosing network by name: the outer values it uses are inputs of the node
// that holds it ("captures", listed after the op's own inputs), and its
// inputs receive them in order (engine/ops/control_flow.h states each op's
// contract). It is immutable and shared between copies of the attribute.
struct Attribute {
  enum class Kind : int32_t { kInt = 0, kFloat = 1, kString = 2, kInts = 3, kFloats = 4, kGraph = 5 };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::shared_ptr<const Network> graph;

  static Attribute of_int(int64_t v);
  static Attribute of_float(double v);
  static Attribute of_string(std::string v);
  static Attribute of_ints(std::vector<int64_t> v);
  static Attribute of_floats(std::vector<double> v);
  static Attribute of_graph(Network g);
};

class Attributes {
 public:
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  void set(const std::string& key, Attribute value) { values_[key] = std::move(value); }
  void erase(const std::string& key) { values_.erase(key); }
  // Typed getters; a missing key returns the default, a key of another kind
  // throws InvalidArgument naming it.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& key, std::vector<int64_t> fallback) const;
  std::vector<double> get_floats(const std::string& key, std::vector<double> fallback) const;
  // The subgraph under `key`, or nullptr when there is none.
  const Network* get_graph(const std::string& key) const;
  const std::map<std::string, Attribute>& values() const { return values_; }

 private:
  std::map<std::string, Attribute> values_;
};

struct Tensor {
  std::string name;
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> shape;  // -1: a dynamic dimension (inputs), or one that varies with them
  bool is_constant = false;
  std::vector<float> f32;      // constant data when dtype == kFloat32
  std::vector<int64_t> i64;    // constant data when dtype == kInt64
  std::vector<int8_t> i8;      // constant data when dtype == kInt8 (quantized weights) or kBool (0 / 1)
  int producer = -1;           // node index, -1 for inputs and constants
  // An input whose rank may differ from run to run (its shape is empty and
  // unchecked): only a subgraph's input that receives a value the branches
  // of an If give with different ranks (control_flow.h).
  bool any_rank = false;

  int64_t num_elements() const;  // product of shape; -1 when dynamic
};

// A TensorRT optimization profile for one network input: every run's shape
// lies between min and max in each dimension, and opt is the shape the
// builder plans and calibrates for. Static dimensions are equal in all
// three. Networks whose inputs have dynamic dimensions other than the
// first (batch) use it to probe shapes (Executor::annotate_shapes).
struct ShapeRange {
  std::vector<int64_t> min, opt, max;
};

struct Node {
  std::string name;
  std::string op;               // ONNX op type, e.g. "Conv"
  std::vector<int> inputs;      // tensor ids; -1 for an omitted optional input
  std::vector<int> outputs;     // tensor ids
  Attributes attrs;
};

class Network {
 public:
  // Declares a graph input. shape[0] may be -1 (dynamic batch).
  int add_input(const std::string& name, std::vector<int64_t> shape,
                DataType dtype = DataType::kFloat32);
  // Declares an input of any rank (Tensor::any_rank).
  int add_input_any_rank(const std::string& name, DataType dtype);
  int add_constant(const std::string& name, std::vector<int64_t> shape, std::vector<float> data);
  int add_constant_i64(const std::string& name, std::vector<int64_t> shape,
                       std::vector<int64_t> data);
  int add_constant_i8(const std::string& name, std::vector<int64_t> shape, std::vector<int8_t> data);
  // A bool constant: every value must be 0 or 1 (InvalidArgument otherwise).
  int add_constant_bool(const std::string& name, std::vector<int64_t> shape, std::vector<int8_t> data);
  // Appends a node; creates its output tensors (float32, shape unknown until
  // set_shape / shape inference) and returns their ids. Names must be unique.
  std::vector<int> add_node(const std::string& op, const std::string& name,
                            const std::vector<int>& inputs, Attributes attrs,
                            const std::vector<std::string>& output_names);
  void mark_output(int tensor);
  void set_shape(int tensor, std::vector<int64_t> shape);
  // Sets (replaces) the optimization profile of the input named `input`.
  // InvalidArgument when it is not an input, a rank differs, a static
  // dimension is not its declared size, or min <= opt <= max fails.
  void set_shape_range(const std::string& input, ShapeRange range);
  // The input's profile, or nullptr when it has none.
  const ShapeRange* shape_range(const std::string& input) const;
  const std::map<std::string, ShapeRange>& shape_ranges() const { return shape_ranges_; }
  // InvalidArgument unless `shape` fits input `id`'s declaration (rank,
  // static dimensions, positive sizes; only sizes for an any_rank input) and
  // its profile where it has one.
  void check_input_shape(int id, const std::vector<int64_t>& shape) const;

  // ---- TensorRT-style convenience builders (each returns the output tensor id) ----
  // weights: OIHW float32 [num_outputs][C/groups][kh][kw]; bias may be empty.
  int add_convolution(int input, int64_t num_outputs, std::vector<int64_t> kernel,
                      std::vector<float> weights, std::vector<float> bias,
                      std::vector<int64_t> strides = {1, 1}, std::vector<int64_t> pads = {0, 0, 0, 0},
                      int64_t groups = 1, std::vector<int64_t> dilations = {1, 1},
                      const std::string& name = "");
  // kind: "Relu", "Sigmoid", "Tanh", "LeakyRelu" (alpha), "Clip" (alpha=min, beta=max)
  int add_activation(int input, const std::string& kind, double alpha = 0.0, double beta = 0.0,
                     const std::string& name = "");
  // Fully connected: y = x W^T + b with W [num_outputs][K].
  int add_fully_connected(int input, int64_t num_outputs, std::vector<float> weights,
                          std::vector<float> bias, const std::string& name = "");
  // kind: "MaxPool" or "AveragePool".
  int add_pooling(int input, const std::string& kind, std::vector<int64_t> kernel,
                  std::vector<int64_t> strides, std::vector<int64_t> pads = {0, 0, 0, 0},
                  const std::string& name = "");
  int add_elementwise(int a, int b, const std::string& op, const std::string& name = "");
  int add_concatenation(const std::vector<int>& inputs, int64_t axis = 1, const std::string& name = "");

  // ---- inspection ----
  const std::vector<Tensor>& tensors() const { return tensors_; }
  std::vector<Tensor>& tensors() { return tensors_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  std::vector<int>& outputs() { return outputs_; }
  const Tensor& tensor(int id) const;
  Tensor& tensor(int id);
  int find_tensor(const std::string& name) const;  // -1 if absent
  // Node ids that read tensor `id` (computed on demand).
  std::vector<int> consumers(int id) const;
  // Nodes in an order where producers come first; throws on a cycle.
  std::vector<int> topological_order() const;
  // Drops nodes whose outputs nobody needs and unreferenced constants, renumbering ids.
  void compact();
  // Renumbers into canonical order: inputs, then constants, then nodes in
  // topological order with their outputs (what the engine file stores).
  void canonicalize();
  // Throws InvalidArgument naming the problem (dangling ids, duplicate names, cycles).
  void validate() const;

 private:
  int add_tensor(Tensor t);
  std::string unique_name(const std::string& stem);

  std::vector<Tensor> tensors_;
  std::vector<Node> nodes_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  std::map<std::string, int> by_name_;
  std::map<std::string, ShapeRange> shape_ranges_;  // by input name
  int64_t auto_name_counter_ = 0;
};

}  // namespace int8rt
