// Transpose of any dtype (ONNX): y = x permuted by perm (default: reversed
// dims). Dims of size 1 are dropped and runs of dims that stay adjacent in
// the same order are merged first, so e.g. NCHW -> NHWC becomes a 3-D
// [N, C, HW] -> [N, HW, C] walk; the output is written in order, one
// parallel task per block of output rows, the inner loop over the last
// output dim with a fixed input stride.
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

template <typename T>
void permute(const T* x, T* y, const Shape& odims, const std::vector<int64_t>& istride) {
  const size_t nd = odims.size();
  const int64_t inner = odims.back(), is = istride.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < nd; ++d) rows *= odims[d];
  parallel_for(rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t off = 0, t = r;
      for (size_t d = nd - 1; d-- > 0;) {
        off += (t % odims[d]) * istride[d];
        t /= odims[d];
      }
      const T* s = x + off;
      T* dst = y + r * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = s[i * is];
    }
  });
}

class TransposeLayer : public Layer {
 public:
  TransposeLayer(const Node& node) : perm_(node.attrs.get_ints("perm", {})), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_any(in, 0, prefix_);
    std::vector<int64_t> p = perm(X.shape().size());
    Shape out;
    for (int64_t d : p) out.push_back(X.shape()[d]);
    return {{X.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    std::vector<int64_t> p = perm(xs.size());
    std::vector<int64_t> stride(xs.size(), 1);
    for (size_t d = xs.size(); d-- > 1;) stride[d - 1] = stride[d] * xs[d];
    // Output dims with their input strides, size-1 dims dropped, mergeable runs merged.
    Shape odims;
    std::vector<int64_t> istride;
    for (int64_t d : p) {
      if (xs[d] == 1) continue;
      if (!odims.empty() && istride.back() == stride[d] * xs[d]) {
        odims.back() *= xs[d];
        istride.back() = stride[d];
        continue;
      }
      odims.push_back(xs[d]);
      istride.push_back(stride[d]);
    }
    size_t es = dtype_size(in[0]->dtype());
    if (odims.size() <= 1) {
      std::memcpy(out[0]->data<char>(), in[0]->data<char>(), in[0]->nbytes());
      return;
    }
    if (es == 4) permute(in[0]->data<int32_t>(), out[0]->data<int32_t>(), odims, istride);
    else if (es == 8) permute(in[0]->data<int64_t>(), out[0]->data<int64_t>(), odims, istride);
    else permute(in[0]->data<int8_t>(), out[0]->data<int8_t>(), odims, istride);
  }

  std::string describe() const override { return "transpose"; }

 private:
  std::vector<int64_t> perm(size_t rank) const {
    std::vector<int64_t> p = perm_;
    if (p.empty()) {
      for (size_t d = rank; d-- > 0;) p.push_back(static_cast<int64_t>(d));
    }
    std::vector<char> seen(rank, 0);
    bool ok = p.size() == rank;
    for (int64_t d : p) {
      ok = ok && d >= 0 && d < static_cast<int64_t>(rank) && !seen[d];
      if (ok) seen[d] = 1;
    }
    if (!ok) throw InvalidArgument(prefix_ + "perm " + ints_str(p) + " is not a permutation of rank " + std::to_string(rank));
    return p;
  }

  std::vector<int64_t> perm_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_transpose(const Network&, const Node& node) {
  return std::make_unique<TransposeLayer>(node);
}

INT8RT_REGISTER_LAYER("Transpose", make_transpose);

}  // namespace
}  // namespace engine
}  // namespace int8rt
