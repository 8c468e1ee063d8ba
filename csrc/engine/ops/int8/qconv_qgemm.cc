// int8rt.QConv and int8rt.QGemm: int8 convolution / fully connected layers.
// The node's shape, weights and epilogue come from qlinear_params.h; at
// creation the kernel registry picks the best kernel for this CPU (capped by
// INT8RT_MAX_ISA), which packs the canonical int8 weights once; a conv whose
// input height or width is dynamic reuses them for every input size. A
// conv's input and output bytes are held as u8_codes.h's rule says. A QConv
// without an output scale writes float32 NHWC from its accumulators (a
// network's head: lower_int8_linear.cc) with the kernel the registry picks
// for a float32 output; a fused runner takes such a one only as a block's
// projection (is_int8_stage, inverted_residual.h).
// A QGemm with a table (contracts.h) passes it to a kernel that applies it in
// its epilogue (PackedGemm::applies_table: the AMX GEMM, each step's output
// while in L1); with any other kernel it runs the lookup_s8 family's choice
// over the output after the GEMM, int8rt.QLut's own code. Either way each
// byte is table[q + 128] of the GEMM's q: the unfused QGemm -> QLut's bytes.
#include <climits>
#include <map>
#include <mutex>

#include "engine/layer.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qconv_prelu.h"
#include "engine/ops/int8/qconv_stage.h"
#include "engine/ops/int8/qlinear_params.h"
#include "engine/ops/int8/u8_codes.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

class QConvLayer : public QConvStage {
 public:
  QConvLayer(const Network& net, const Node& node) : name_(node.name), p_(qconv_params(net, node)) {
    p_.shape.input_codes = int8_tensor_codes(net, node.inputs[0]);
    if (p_.out == OutputType::kInt8) {
      p_.shape.output_codes = int8_tensor_codes(net, node.outputs.empty() ? -1 : node.outputs[0]);
    }
    if (p_.has_residual) p_.shape.residual_codes = int8_tensor_codes(net, node.inputs[3]);
    p_.shape.any_input_size = p_.dynamic_size;
    const kernels::ConvKernel& kernel = kernels::choose<kernels::ConvKernel>(p_.shape, p_.out);
    kernel_name_ = kernel.name();
    packed_ = kernel.pack(p_.shape, p_.weights);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType dt = p_.out == OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32;
    return {{dt, qconv_output_shape(name_, shape_for(in[0]->shape()), p_.has_residual, in)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int8_t* residual = p_.has_residual ? in[3]->data<int8_t>() : nullptr;
    const Shape& s = in[0]->shape();
    void* y = p_.out == OutputType::kInt8 ? static_cast<void*>(out[0]->data<int8_t>())
                                          : static_cast<void*>(out[0]->data<float>());
    packed_for(s).run(static_cast<int>(s[0]), in[0]->data<int8_t>(), epilogue(residual), y);
  }

  const kernels::PackedConv& packed() const override { return *packed_; }
  bool dynamic_size() const override { return p_.dynamic_size; }
  bool has_residual() const override { return p_.has_residual; }
  bool is_int8_stage() const override { return p_.out == OutputType::kInt8; }
  kernels::Epilogue epilogue(const int8_t* residual) const override {
    return p_.requant.epilogue(residual, p_.residual_scale);
  }

  std::string describe() const override {
    const auto u8 = [](kernels::Codes c) { return c == kernels::Codes::kU8; };
    return kernel_name_ + (p_.shape.nonneg_input ? " (input >= 0)" : "") +
           (u8(p_.shape.input_codes) ? " (input u8 codes)" : "") +
           (u8(p_.shape.residual_codes) ? " (residual u8 codes)" : "") +
           (u8(p_.shape.output_codes) ? " (output u8 codes)" : "") + (p_.dynamic_size ? " (any input size)" : "") +
           (p_.out == OutputType::kInt8 ? "" : " (float32 output)");
  }

 private:
  // The conv shape for an NHWC input of shape s; InvalidArgument naming the
  // node when s does not fit (rank, channels, a static size, no output).
  kernels::ConvShape shape_for(const Shape& s) const {
    const kernels::ConvShape& c = p_.shape;
    const bool fits = s.size() == 4 && s[3] == c.C &&
                      (p_.dynamic_size ? s[1] <= INT32_MAX && s[2] <= INT32_MAX : s[1] == c.H && s[2] == c.W);
    if (!fits) throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    if (!p_.dynamic_size) return c;
    try {
      return kernels::with_input_size(c, static_cast<int>(s[1]), static_cast<int>(s[2]));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("node '" + name_ + "': input " + shape_str(s) + ": " + e.what());
    }
  }

  // The packed conv for this input size: the one made at creation, or a
  // copy for another size sharing its packed weights, made once per size.
  const kernels::PackedConv& packed_for(const Shape& s) const {
    if (!p_.dynamic_size || (s[1] == p_.shape.H && s[2] == p_.shape.W)) return *packed_;
    const std::pair<int64_t, int64_t> key{s[1], s[2]};
    std::lock_guard<std::mutex> lock(sizes_mutex_);
    auto it = by_size_.find(key);
    if (it == by_size_.end()) {
      it = by_size_.emplace(key, packed_->with_input_size(static_cast<int>(s[1]), static_cast<int>(s[2]))).first;
    }
    return *it->second;  // entries are never erased, so the reference stays valid
  }

  std::string name_;
  QConvParams p_;  // weights point into the network, which outlives the layer
  std::string kernel_name_;
  std::unique_ptr<kernels::PackedConv> packed_;
  mutable std::mutex sizes_mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, std::unique_ptr<kernels::PackedConv>> by_size_;
};

class QGemmLayer : public Layer {
 public:
  QGemmLayer(const Network& net, const Node& node) : name_(node.name), p_(qgemm_params(net, node)) {
    const kernels::GemmKernel& kernel = kernels::choose<kernels::GemmKernel>(p_.shape, p_.out);
    kernel_name_ = kernel.name();
    packed_ = kernel.pack(p_.shape, p_.weights);
    if (p_.table && !packed_->applies_table()) lookup_ = &kernels::choose<kernels::LookupS8Kernel>();
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Shape s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() < 2 || s.back() != p_.shape.K) {
      throw InvalidArgument("node '" + name_ + "': unexpected input " + shape_str(s));
    }
    s.back() = p_.shape.N;
    return {{p_.out == OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int64_t m = in[0]->numel() / p_.shape.K;
    void* y = p_.out == OutputType::kInt8 ? static_cast<void*>(out[0]->data<int8_t>())
                                          : static_cast<void*>(out[0]->data<float>());
    kernels::Epilogue ep = p_.requant.epilogue();
    if (p_.table && !lookup_) ep.table = p_.table;  // applied by the kernel
    packed_->run(m, in[0]->data<int8_t>(), ep, y);
    if (lookup_) {
      int8_t* q = out[0]->data<int8_t>();
      for_element_chunks(out[0]->numel(), [&](int64_t b, int64_t e) { lookup_->lookup(e - b, q + b, p_.table, q + b); });
    }
  }

  std::string describe() const override {
    if (!p_.table) return kernel_name_;
    return kernel_name_ + (lookup_ ? " + table (" + std::string(lookup_->name()) + " after the GEMM)"
                                   : " + table (in the epilogue)");
  }

 private:
  std::string name_;
  QGemmParams p_;
  std::string kernel_name_;
  std::unique_ptr<kernels::PackedGemm> packed_;
  const kernels::LookupS8Kernel* lookup_ = nullptr;  // the table's kernel where the GEMM's does not apply it
};

INT8RT_REGISTER_LAYER(QConvAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  if (node.attrs.has("slopes")) return make_qconv_prelu_layer(net, node);  // a fused PRelu (qconv_prelu.cc)
  return std::make_unique<QConvLayer>(net, node);
});
INT8RT_REGISTER_LAYER(QGemmAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QGemmLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
