// Reading int8rt.QAdd / int8rt.QConcat nodes (qeltwise_params.h).
#include "engine/ops/int8/qeltwise_params.h"

#include <string>

#include "engine/layer.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

float attr_scale(const Node& node, const char* key) {
  double s = node.attrs.get_float(key, 0.0);
  if (!(s > 0.0)) throw InvalidArgument(layer_error_prefix(node) + key + " must be > 0");
  return static_cast<float>(s);
}

}  // namespace

kernels::AddParams qadd_params(const Node& node) {
  std::string act = node.attrs.get_string("act", "none");
  if (act != "none" && act != "relu") throw NotSupported(layer_error_prefix(node) + "activation '" + act + "'");
  return kernels::make_add_params(attr_scale(node, "a_scale"), attr_scale(node, "b_scale"),
                                  attr_scale(node, "out_scale"), act == "relu");
}

std::vector<float> qconcat_multipliers(const Node& node) {
  std::vector<double> scales = node.attrs.get_floats("in_scales", {});
  float s_out = attr_scale(node, "out_scale");
  if (scales.size() != node.inputs.size()) {
    throw InvalidArgument(layer_error_prefix(node) + "needs one input scale per input");
  }
  std::vector<float> out;
  for (double s : scales) out.push_back(kernels::rescale_multiplier(static_cast<float>(s), s_out));
  return out;
}

}  // namespace engine
}  // namespace int8rt
