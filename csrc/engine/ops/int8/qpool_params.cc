// Reading int8 pooling nodes (qpool_params.h).
#include "engine/ops/int8/qpool_params.h"

#include "engine/layer.h"
#include "engine/ops/int8/window_attrs.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

QPoolParams qpool_params(const Network& net, const Node& node) {
  QPoolParams p;
  const Tensor& x = net.tensor(node.inputs.at(0));
  if (x.shape.size() != 4) throw InvalidArgument(layer_error_prefix(node) + "input must be NHWC rank 4");
  p.shape.H = static_cast<int>(x.shape[1]);
  p.shape.W = static_cast<int>(x.shape[2]);
  p.shape.C = static_cast<int>(x.shape[3]);
  const bool global = node.op == "int8rt.QGlobalAveragePool";
  if (!global) {
    read_window_attrs(node, {}, p.shape);
    p.shape.count_include_pad = node.attrs.get_int("count_include_pad", 0) != 0;
    try {
      p.shape.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(layer_error_prefix(node) + e.what());
    }
  }
  p.s_in = static_cast<float>(node.attrs.get_float("in_scale", 0.0));
  p.s_out = static_cast<float>(node.attrs.get_float("out_scale", 0.0));
  if (node.op != "int8rt.QMaxPool" && !(p.s_in > 0.f && p.s_out > 0.f)) {
    throw InvalidArgument(layer_error_prefix(node) + "needs positive in_scale and out_scale");
  }
  return p;
}

}  // namespace engine
}  // namespace int8rt
