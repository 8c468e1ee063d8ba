// TensorRT-style convenience builders on Network (INetworkDefinition's
// add_convolution, add_activation, ...), each emitting one ONNX-semantics node.
#include "int8rt/error.h"
#include "int8rt/network.h"

namespace int8rt {

namespace {
std::vector<int64_t> oihw_shape(int64_t k, int64_t c_per_group, const std::vector<int64_t>& kernel) {
  std::vector<int64_t> shape = {k, c_per_group};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  return shape;
}
}  // namespace

int Network::add_convolution(int input, int64_t num_outputs, std::vector<int64_t> kernel,
                             std::vector<float> weights, std::vector<float> bias,
                             std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t groups,
                             std::vector<int64_t> dilations, const std::string& name) {
  if (kernel.size() != 2) throw InvalidArgument("add_convolution: kernel must have 2 dimensions");
  int64_t spatial = kernel[0] * kernel[1];
  if (num_outputs <= 0 || groups <= 0 || spatial <= 0 ||
      weights.size() % static_cast<size_t>(num_outputs * spatial) != 0) {
    throw InvalidArgument("add_convolution: weights size does not match num_outputs x C/groups x kernel");
  }
  int64_t c_per_group = static_cast<int64_t>(weights.size()) / (num_outputs * spatial);
  std::string node_name = name.empty() ? "" : name;
  std::vector<int> ins = {input, add_constant(unique_name((name.empty() ? "conv" : name) + "_weight"),
                                              oihw_shape(num_outputs, c_per_group, kernel),
                                              std::move(weights))};
  if (!bias.empty()) {
    if (static_cast<int64_t>(bias.size()) != num_outputs) {
      throw InvalidArgument("add_convolution: bias must have num_outputs values");
    }
    ins.push_back(add_constant(unique_name((name.empty() ? "conv" : name) + "_bias"), {num_outputs},
                               std::move(bias)));
  }
  Attributes a;
  a.set("kernel_shape", Attribute::of_ints(kernel));
  a.set("strides", Attribute::of_ints(std::move(strides)));
  a.set("pads", Attribute::of_ints(std::move(pads)));
  a.set("dilations", Attribute::of_ints(std::move(dilations)));
  a.set("group", Attribute::of_int(groups));
  return add_node("Conv", node_name, ins, std::move(a), {""})[0];
}

int Network::add_activation(int input, const std::string& kind, double alpha, double beta,
                            const std::string& name) {
  Attributes a;
  std::vector<int> ins = {input};
  if (kind == "LeakyRelu") {
    a.set("alpha", Attribute::of_float(alpha));
  } else if (kind == "Clip") {
    ins.push_back(add_constant(unique_name("clip_min"), {}, {static_cast<float>(alpha)}));
    ins.push_back(add_constant(unique_name("clip_max"), {}, {static_cast<float>(beta)}));
  } else if (kind != "Relu" && kind != "Sigmoid" && kind != "Tanh") {
    throw InvalidArgument("add_activation: unknown kind '" + kind +
                          "' (Relu, Sigmoid, Tanh, LeakyRelu, Clip)");
  }
  return add_node(kind, name, ins, std::move(a), {""})[0];
}

int Network::add_fully_connected(int input, int64_t num_outputs, std::vector<float> weights,
                                 std::vector<float> bias, const std::string& name) {
  if (num_outputs <= 0 || weights.size() % static_cast<size_t>(num_outputs) != 0) {
    throw InvalidArgument("add_fully_connected: weights must be [num_outputs][K]");
  }
  int64_t k = static_cast<int64_t>(weights.size()) / num_outputs;
  std::string stem = name.empty() ? "fc" : name;
  std::vector<int> ins = {input, add_constant(unique_name(stem + "_weight"), {num_outputs, k}, std::move(weights))};
  if (!bias.empty()) {
    if (static_cast<int64_t>(bias.size()) != num_outputs) {
      throw InvalidArgument("add_fully_connected: bias must have num_outputs values");
    }
    ins.push_back(add_constant(unique_name(stem + "_bias"), {num_outputs}, std::move(bias)));
  }
  Attributes a;
  a.set("transB", Attribute::of_int(1));
  return add_node("Gemm", name, ins, std::move(a), {""})[0];
}

int Network::add_pooling(int input, const std::string& kind, std::vector<int64_t> kernel,
                         std::vector<int64_t> strides, std::vector<int64_t> pads, const std::string& name) {
  if (kind != "MaxPool" && kind != "AveragePool") {
    throw InvalidArgument("add_pooling: kind must be MaxPool or AveragePool, got '" + kind + "'");
  }
  Attributes a;
  a.set("kernel_shape", Attribute::of_ints(std::move(kernel)));
  a.set("strides", Attribute::of_ints(std::move(strides)));
  a.set("pads", Attribute::of_ints(std::move(pads)));
  return add_node(kind, name, {input}, std::move(a), {""})[0];
}

int Network::add_elementwise(int a, int b, const std::string& op, const std::string& name) {
  if (op != "Add" && op != "Sub" && op != "Mul" && op != "Div" && op != "Pow") {
    throw InvalidArgument("add_elementwise: op must be Add, Sub, Mul, Div or Pow, got '" + op + "'");
  }
  return add_node(op, name, {a, b}, {}, {""})[0];
}

int Network::add_concatenation(const std::vector<int>& inputs, int64_t axis, const std::string& name) {
  Attributes a;
  a.set("axis", Attribute::of_int(axis));
  return add_node("Concat", name, inputs, std::move(a), {""})[0];
}

}  // namespace int8rt
