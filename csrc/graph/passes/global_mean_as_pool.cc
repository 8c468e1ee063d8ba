// global_mean_as_pool (passes.h): a ReduceMean over every spatial axis of an
// NC... float32 tensor, keeping the reduced dims, becomes the
// GlobalAveragePool it computes. torch.onnx's default (dynamo) exporter
// writes `adaptive_avg_pool2d(x, 1)` and `x.mean((2, 3), keepdim=True)` as
// ReduceMean (axes as an input since opset 18): the squeeze-excitation
// blocks of EfficientNet, RegNetY and MobileNetV3 and the classifier heads of
// torchvision's GoogLeNet, SqueezeNet and DenseNet. The INT8 lowering has
// int8 forms of GlobalAveragePool (and of the channel gate it feeds), none of
// ReduceMean, so left alone each such block leaves int8 for float32 and
// comes back.
//
// Same value: both are the mean of each (n, c) plane; float32 rounding may
// differ in the last bits (different summation orders). With keepdims = 0
// (MNASNet's `x.mean([2, 3])`) the pool writes a new tensor
// `<output>_pooled` of shape [N, C, 1, ...] and a Flatten(axis = 1) writes
// the ReduceMean's output from it (a byte mover, int8 too): the one
// non-constant tensor this pass names (passes.h).
#include <algorithm>
#include <string>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// The node's reduced axes (attribute, or the constant second input), or false.
bool constant_axes(const Network& net, const Node& node, std::vector<int64_t>* axes) {
  if (node.attrs.has("axes")) {
    if (passes::input_at(node, 1) >= 0) return false;
    *axes = node.attrs.get_ints("axes", {});
    return true;
  }
  if (passes::input_at(node, 1) < 0) return false;  // no axes: every dim, batch included
  const Tensor* t = passes::constant_or_null(net, node.inputs[1]);
  if (!t || t->dtype != DataType::kInt64) return false;
  *axes = t->i64;
  return true;
}

// Whether `axes` are exactly the dims 2 .. rank-1 (negative axes counted from the end).
bool spatial_axes(std::vector<int64_t> axes, int64_t rank) {
  if (rank < 3 || static_cast<int64_t>(axes.size()) != rank - 2) return false;
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  for (int64_t i = 0; i < rank - 2; ++i) {
    if (axes[static_cast<size_t>(i)] != i + 2) return false;
  }
  return true;
}

}  // namespace

void global_mean_as_pool(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    Node& node = net.nodes()[n];
    if (node.op != "ReduceMean" || node.inputs.empty() || node.outputs.size() != 1) continue;
    const Tensor& x = net.tensor(node.inputs[0]);
    if (x.dtype != DataType::kFloat32 || x.any_rank || x.is_constant) continue;
    std::vector<int64_t> axes;
    if (!constant_axes(net, node, &axes) || !spatial_axes(axes, static_cast<int64_t>(x.shape.size()))) continue;
    const std::string name = node.name;
    if (node.attrs.get_int("keepdims", 1) != 0) {
      node.op = "GlobalAveragePool";
      node.inputs.resize(1);
      node.attrs = Attributes();
      if (report) report->add("ReduceMean '" + name + "' over the spatial axes is a GlobalAveragePool");
      continue;
    }
    const int input = node.inputs[0], y = node.outputs[0];
    std::vector<int64_t> pooled_shape(x.shape.size(), 1);
    pooled_shape[0] = x.shape[0];
    pooled_shape[1] = x.shape[1];
    const std::string pooled_name = passes::fresh_name(net, net.tensor(y).name + "_pooled");
    passes::kill_node(net, static_cast<int>(n));
    const int pooled = net.add_node("GlobalAveragePool", name, {input}, Attributes(), {pooled_name})[0];
    net.tensor(pooled).shape = std::move(pooled_shape);
    Attributes flatten;
    flatten.set("axis", Attribute::of_int(1));
    passes::add_node_writing(net, "Flatten", name + "_flatten", {pooled}, std::move(flatten), {y});
    if (report) report->add("ReduceMean '" + name + "' over the spatial axes is a GlobalAveragePool and a Flatten");
  }
  net.compact();
}

}  // namespace int8rt
