// int8rt.QConvTranspose: the int8 transposed convolution layer. Shape,
// weights and epilogue come from qlinear_params.h; the registry picks the
// conv_transpose_s8 kernel (kernels/conv_transpose_s8.h), which packs the
// weights. A layer whose input height or width is dynamic packs once per
// input size it meets (the phase convs' shapes depend on it), kept for
// later runs.
#include <climits>
#include <map>
#include <mutex>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qlinear_params.h"
#include "int8rt/error.h"
#include "kernels/conv_transpose_s8.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

class QConvTransposeLayer : public Layer {
 public:
  QConvTransposeLayer(const Network& net, const Node& node)
      : name_(node.name), p_(qconv_transpose_params(net, node)) {
    const kernels::ConvTransposeKernel& k = kernels::choose<kernels::ConvTransposeKernel>(p_.shape, OutputType::kInt8);
    kernel_ = &k;
    if (!p_.dynamic_size) packed_ = k.pack(p_.shape, OutputType::kInt8, p_.weights);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const kernels::ConvTransposeShape c = shape_for(in[0]->shape());
    return {{DataType::kInt8, Shape{in[0]->shape()[0], c.out_h(), c.out_w(), c.K}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    packed_for(s).run(static_cast<int>(s[0]), in[0]->data<int8_t>(), p_.requant.epilogue(), out[0]->data<int8_t>());
  }

  std::string describe() const override {
    return std::string(kernel_->name()) + (p_.dynamic_size ? " (any input size)" : "");
  }

 private:
  kernels::ConvTransposeShape shape_for(const Shape& s) const {
    const kernels::ConvTransposeShape& c = p_.shape;
    const bool fits = s.size() == 4 && s[3] == c.C && s[0] <= INT_MAX &&
                      (p_.dynamic_size ? s[1] <= INT_MAX && s[2] <= INT_MAX : s[1] == c.H && s[2] == c.W);
    if (!fits) throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    if (!p_.dynamic_size) return c;
    kernels::ConvTransposeShape r = c;
    r.H = static_cast<int>(s[1]);
    r.W = static_cast<int>(s[2]);
    try {
      r.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("node '" + name_ + "': input " + shape_str(s) + ": " + e.what());
    }
    return r;
  }

  const kernels::PackedConvTranspose& packed_for(const Shape& s) const {
    if (!p_.dynamic_size) return *packed_;
    const std::pair<int64_t, int64_t> key{s[1], s[2]};
    std::lock_guard<std::mutex> lock(sizes_mutex_);
    auto it = by_size_.find(key);
    if (it == by_size_.end()) {
      it = by_size_.emplace(key, kernel_->pack(shape_for(s), OutputType::kInt8, p_.weights)).first;
    }
    return *it->second;  // entries are never erased, so the reference stays valid
  }

  std::string name_;
  QConvTransposeParams p_;  // weights point into the network, which outlives the layer
  const kernels::ConvTransposeKernel* kernel_ = nullptr;
  std::unique_ptr<kernels::PackedConvTranspose> packed_;  // static input size
  mutable std::mutex sizes_mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, std::unique_ptr<kernels::PackedConvTranspose>> by_size_;
};

INT8RT_REGISTER_LAYER(QConvTransposeAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QConvTransposeLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
