// ProbsKeys (probs_keys.h): the probabilities' grid at a row's key count.
#include "engine/ops/int8/probs_keys.h"

#include <algorithm>

#include "engine/layer.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

double ProbsKeys::scale_at(double scale, int64_t zero_point, int64_t keys) const {
  const double top = scale * static_cast<double>(127 - zero_point);  // the grid's largest value, T
  if (calibrated <= 0 || keys <= 0 || keys >= calibrated || !(top < 1.0)) return scale;
  const double others_cal = static_cast<double>(calibrated - 1), others = static_cast<double>(keys - 1);
  return scale * others_cal / (top * others_cal + others * (1.0 - top));
}

std::string ProbsKeys::describe() const {
  return active() ? "; probabilities' grid scaled below " + std::to_string(calibrated) + " keys" : std::string();
}

void ProbsKeys::add_to(Attributes& a) const {
  if (active()) a.set(kAttr, Attribute::of_int(calibrated));
}

ProbsKeys ProbsKeys::from_attrs(const Node& node) {
  ProbsKeys k;
  try {
    k.calibrated = node.attrs.get_int(kAttr, 0);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(layer_error_prefix(node) + e.what());
  }
  if (k.calibrated < 0) throw InvalidArgument(layer_error_prefix(node) + kAttr + " must be >= 0");
  return k;
}

}  // namespace engine
}  // namespace int8rt
