// DepthToSpace and SpaceToDepth (ONNX) on rank-4 tensors of any dtype: pure
// data movement, each output element copied from the input position the
// spec's reshape-transpose-reshape puts there. With block size b:
//   DepthToSpace DCR: y[n, c, h, w] = x[n, ((h % b) * b + w % b) * C' + c, h / b, w / b]
//   DepthToSpace CRD: y[n, c, h, w] = x[n, c * b * b + (h % b) * b + w % b, h / b, w / b]
//   SpaceToDepth DCR: y[n, (bh * b + bw) * C + c, h, w] = x[n, c, h * b + bh, w * b + bw]
//   SpaceToDepth CRD: y[n, c * b * b + bh * b + bw, h, w] = x[n, c, h * b + bh, w * b + bw]
// where C' = C / b^2 is DepthToSpace's output channel count.
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Kind { kDepthToSpaceDcr, kDepthToSpaceCrd, kSpaceToDepthDcr, kSpaceToDepthCrd };

class DepthSpaceLayer : public Layer {
 public:
  DepthSpaceLayer(const Node& node, Kind kind, int64_t block)
      : kind_(kind), b_(block), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Shape& s = x.shape();
    if (s.size() != 4) throw InvalidArgument(prefix_ + "input must be rank 4, got " + shape_str(s));
    if (to_depth()) {
      if (s[2] % b_ || s[3] % b_) {
        throw InvalidArgument(prefix_ + "height and width of " + shape_str(s) + " must be multiples of blocksize " +
                              std::to_string(b_));
      }
      return {{x.dtype(), {s[0], s[1] * b_ * b_, s[2] / b_, s[3] / b_}}};
    }
    if (s[1] % (b_ * b_)) {
      throw InvalidArgument(prefix_ + "channels of " + shape_str(s) + " must be a multiple of blocksize^2 = " +
                            std::to_string(b_ * b_));
    }
    return {{x.dtype(), {s[0], s[1] / (b_ * b_), s[2] * b_, s[3] * b_}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& ys = out[0]->shape();
    const Shape& xs = in[0]->shape();
    const size_t es = dtype_size(in[0]->dtype());
    const char* x = in[0]->data<char>();
    char* y = out[0]->data<char>();
    const int64_t C = ys[1], H = ys[2], W = ys[3], b = b_;
    parallel_for(ys[0] * C * H, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, W)), [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) {
        const int64_t h = row % H, c = (row / H) % C, n = row / (H * C);
        for (int64_t w = 0; w < W; ++w) {
          int64_t ic, ih, iw;
          if (to_depth()) {
            const int64_t xc = xs[1], crd = kind_ == Kind::kSpaceToDepthCrd;
            const int64_t blk = crd ? c % (b * b) : c / xc;
            ic = crd ? c / (b * b) : c % xc;
            ih = h * b + blk / b;
            iw = w * b + blk % b;
          } else {
            const int64_t bh = h % b, bw = w % b;
            ic = kind_ == Kind::kDepthToSpaceDcr ? (bh * b + bw) * C + c : c * b * b + bh * b + bw;
            ih = h / b;
            iw = w / b;
          }
          const int64_t src = ((n * xs[1] + ic) * xs[2] + ih) * xs[3] + iw;
          std::memcpy(y + ((row * W) + w) * es, x + src * es, es);
        }
      }
    });
  }

  std::string describe() const override { return "data movement"; }

 private:
  bool to_depth() const { return kind_ == Kind::kSpaceToDepthDcr || kind_ == Kind::kSpaceToDepthCrd; }

  Kind kind_;
  int64_t b_;
  std::string prefix_;
};

int64_t blocksize(const Node& node) {
  const int64_t b = node.attrs.get_int("blocksize", 0);
  if (b < 1 || b > 4096) throw InvalidArgument(layer_error_prefix(node) + "blocksize must be in [1, 4096]");
  return b;
}

// mode DCR (the default) or CRD.
bool crd_mode(const Node& node) {
  const std::string mode = node.attrs.get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") throw unsupported_attr(node, "mode", "'" + mode + "'");
  return mode == "CRD";
}

INT8RT_REGISTER_LAYER("DepthToSpace", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<DepthSpaceLayer>(node, crd_mode(node) ? Kind::kDepthToSpaceCrd : Kind::kDepthToSpaceDcr,
                                           blocksize(node));
});

INT8RT_REGISTER_LAYER("SpaceToDepth", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<DepthSpaceLayer>(node, crd_mode(node) ? Kind::kSpaceToDepthCrd : Kind::kSpaceToDepthDcr,
                                           blocksize(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
