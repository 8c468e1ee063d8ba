// The talking-heads mixes' attributes (head_mix.h): each mix one float list,
// its [H, H] weights row major, then its H biases where it has them.
#include "engine/ops/int8/head_mix.h"

#include <cmath>
#include <string>

#include "engine/layer.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

void add_mix(const char* key, const HeadMix& m, Attributes& a) {
  if (m.heads == 0) return;
  std::vector<double> v(m.w.begin(), m.w.end());
  v.insert(v.end(), m.b.begin(), m.b.end());
  a.set(key, Attribute::of_floats(std::move(v)));
}

HeadMix read_mix(const Node& node, const char* key) {
  std::vector<double> v;
  try {
    v = node.attrs.get_floats(key, {});
  } catch (const Error& e) {
    throw InvalidArgument(layer_error_prefix(node) + e.what());
  }
  HeadMix m;
  if (v.empty()) return m;
  const int64_t n = static_cast<int64_t>(v.size());
  int64_t h = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));  // floor: h * h <= h * h + h < (h + 1)^2
  while (h * h > n) --h;
  while ((h + 1) * (h + 1) <= n) ++h;
  if (h * h != n && h * h + h != n) {
    throw InvalidArgument(layer_error_prefix(node) + key + " must hold H * H weights and optionally H biases, got " +
                          std::to_string(n) + " values");
  }
  m.heads = h;
  for (int64_t i = 0; i < n; ++i) {
    const float f = static_cast<float>(v[static_cast<size_t>(i)]);
    if (!std::isfinite(f)) throw InvalidArgument(layer_error_prefix(node) + key + " must be finite as float32");
    (i < h * h ? m.w : m.b).push_back(f);
  }
  return m;
}

}  // namespace

void TalkingHeads::add_to(Attributes& a) const {
  add_mix(kScoresAttr, scores, a);
  add_mix(kProbsAttr, probs, a);
}

TalkingHeads TalkingHeads::from_attrs(const Node& node) {
  TalkingHeads t;
  t.scores = read_mix(node, kScoresAttr);
  t.probs = read_mix(node, kProbsAttr);
  if (t.scores.heads > 0 && t.probs.heads > 0 && t.scores.heads != t.probs.heads) {
    throw InvalidArgument(layer_error_prefix(node) + "the two head mixes are over different head counts");
  }
  return t;
}

}  // namespace engine
}  // namespace int8rt
