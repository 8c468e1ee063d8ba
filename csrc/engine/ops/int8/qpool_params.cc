// Reading int8 pooling nodes (qpool_params.h).
#include "engine/ops/int8/qpool_params.h"

#include <climits>

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
  }
  p.dynamic_size = p.shape.H == -1 || p.shape.W == -1;
  if (!p.dynamic_size && a.kind != QPoolAttrs::Kind::kGlobalAverage) {
    try {
      p.shape.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(layer_error_prefix(node) + e.what());
    }
  }
  p.s_in = static_cast<float>(a.in_scale);
  p.s_out = static_cast<float>(a.out_scale);
  p.z_in = static_cast<int32_t>(a.in_zero_point);
  p.z_out = static_cast<int32_t>(a.out_zero_point);
  return p;
}

kernels::PoolShape pool_shape_for(const QPoolParams& p, const std::vector<int64_t>& s, const std::string& node) {
  const kernels::PoolShape& c = p.shape;
  const bool fits = s.size() == 4 && s[3] == c.C && s[1] <= INT32_MAX && s[2] <= INT32_MAX &&
                    (p.dynamic_size || (s[1] == c.H && s[2] == c.W));
  if (!fits) throw InvalidArgument("node '" + node + "': unexpected input " + shape_str(s));
  if (!p.dynamic_size) return c;
  kernels::PoolShape shape = c;
  shape.H = static_cast<int>(s[1]);
  shape.W = static_cast<int>(s[2]);
  try {
    shape.validate();  // global pooling's window is the 1x1 default, valid for any size
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("node '" + node + "': input " + shape_str(s) + ": " + e.what());
  }
  return shape;
}

}  // namespace engine
}  // namespace int8rt
