// Nearest Resize source indices from the FP32 layer (nearest_sources.h).
#include "engine/ops/int8/nearest_sources.h"

#include "engine/executor.h"

namespace int8rt {
namespace engine {

bool nearest_sources(const Node& resize, const std::vector<const Tensor*>& params, int64_t H, int64_t W,
                     NearestSources* out) {
  Network mini;
  std::vector<int> ins{mini.add_input("x", {1, 1, H, W})};
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor* t = params[i];
    if (!t) {
      ins.push_back(-1);
    } else if (t->dtype == DataType::kFloat32) {
      ins.push_back(mini.add_constant(t->name, t->shape, t->f32));
    } else if (t->dtype == DataType::kInt64) {
      std::vector<int64_t> v = t->i64;
      if (i == 2 && v.size() == 4) v[0] = v[1] = 1;  // sizes: N and C of the index image
      ins.push_back(mini.add_constant_i64(t->name, t->shape, v));
    } else {
      return false;
    }
  }
  mini.mark_output(mini.add_node(resize.op, resize.name, ins, resize.attrs, {"y"})[0]);
  Executor ex(std::move(mini));
  std::vector<float> image(static_cast<size_t>(H * W));
  for (int64_t i = 0; i < H * W; ++i) image[i] = static_cast<float>(i);
  auto state = ex.make_state();
  ex.run(*state, {{ex.network().inputs()[0], DataType::kFloat32, {1, 1, H, W}, image.data()}});
  const Value& y = ex.value(*state, ex.network().outputs()[0]);
  if (y.shape().size() != 4 || y.shape()[0] != 1 || y.shape()[1] != 1) return false;
  const int64_t OH = y.shape()[2], OW = y.shape()[3];
  const float* v = y.data<float>();
  out->src_y.clear();
  out->src_x.clear();
  for (int64_t oy = 0; oy < OH; ++oy) out->src_y.push_back(static_cast<int64_t>(v[oy * OW]) / W);
  for (int64_t ox = 0; ox < OW; ++ox) out->src_x.push_back(static_cast<int64_t>(v[ox]) % W);
  for (int64_t oy = 0; oy < OH; ++oy) {
    for (int64_t ox = 0; ox < OW; ++ox) {
      if (v[oy * OW + ox] != static_cast<float>(out->src_y[oy] * W + out->src_x[ox])) return false;
    }
  }
  return true;
}

}  // namespace engine
}  // namespace int8rt
