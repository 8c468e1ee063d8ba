// Reading int8 pooling nodes (qpool_params.h).
#include "engine/ops/int8/qpool_params.h"

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/window_attrs.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

QPoolParams qpool_params(const Network& net, const Node& node) {
  const QPoolAttrs a = QPoolAttrs::from_attrs(node);
  QPoolParams p;
  const Tensor& x = net.tensor(node.inputs.at(0));
  if (x.shape.size() != 4) throw InvalidArgument(layer_error_prefix(node) + "input must be NHWC rank 4");
  p.shape.H = static_cast<int>(x.shape[1]);
  p.shape.W = static_cast<int>(x.shape[2]);
  p.shape.C = static_cast<int>(x.shape[3]);
  if (a.kind != QPoolAttrs::Kind::kGlobalAverage) {
    apply_window(a.window, a.window.kernel_shape, layer_error_prefix(node), p.shape);
    p.shape.count_include_pad = a.count_include_pad;
    try {
      p.shape.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(layer_error_prefix(node) + e.what());
    }
  }
  p.s_in = static_cast<float>(a.in_scale);
  p.s_out = static_cast<float>(a.out_scale);
  return p;
}

}  // namespace engine
}  // namespace int8rt
