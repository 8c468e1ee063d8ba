// Transpose of any dtype (ONNX): y = x permuted by perm (default: reversed
// dims). Dims of size 1 are dropped and runs of dims that stay adjacent in
// the same order are merged first, so e.g. NCHW -> NHWC becomes a 3-D
// [N, C, HW] -> [N, HW, C] walk (strided_copy.h); 4-byte elements' 2-D
// tiles go through the transpose_f32 kernel chosen once per layer.
#include <algorithm>
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/strided_copy.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {
namespace {

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
    // Per thread, grown, never shrunk: no allocation per run once sized.
    thread_local std::vector<int64_t> p, stride, istride;
    thread_local Shape odims;
    perm_into(xs.size(), p);
    stride.assign(xs.size(), 1);
    for (size_t d = xs.size(); d-- > 1;) stride[d - 1] = stride[d] * xs[d];
    // Output dims with their input strides, size-1 dims dropped, mergeable runs merged.
    odims.clear();
    istride.clear();
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
    if (odims.size() <= 1) {
      std::memcpy(out[0]->data<char>(), in[0]->data<char>(), in[0]->nbytes());
      return;
    }
    strided_copy(dtype_size(in[0]->dtype()), in[0]->data<char>(), out[0]->data<char>(), odims, istride, tile_->tile);
  }

  std::string describe() const override { return "transpose"; }

 private:
  std::vector<int64_t> perm(size_t rank) const {
    std::vector<int64_t> p;
    perm_into(rank, p);
    return p;
  }
  // The permutation for an input of `rank` into p (its storage reused); throws unless valid.
  void perm_into(size_t rank, std::vector<int64_t>& p) const {
    p.assign(perm_.begin(), perm_.end());
    if (p.empty()) {
      for (size_t d = rank; d-- > 0;) p.push_back(static_cast<int64_t>(d));
    }
    bool ok = p.size() == rank;
    for (size_t i = 0; ok && i < p.size(); ++i) {  // in range and each once (no scratch: ranks are small)
      ok = p[i] >= 0 && p[i] < static_cast<int64_t>(rank) && std::count(p.begin(), p.begin() + i, p[i]) == 0;
    }
    if (!ok) throw InvalidArgument(prefix_ + "perm " + ints_str(p) + " is not a permutation of rank " + std::to_string(rank));
  }

  std::vector<int64_t> perm_;
  std::string prefix_;
  const kernels::TransposeX32Kernel* tile_ = &kernels::choose<kernels::TransposeX32Kernel>();
};

std::unique_ptr<Layer> make_transpose(const Network&, const Node& node) {
  return std::make_unique<TransposeLayer>(node);
}

INT8RT_REGISTER_LAYER("Transpose", make_transpose);

}  // namespace
}  // namespace engine
}  // namespace int8rt
