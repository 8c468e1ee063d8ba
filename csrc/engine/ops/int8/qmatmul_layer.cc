// int8rt.QMatMul (contracts.h, QMatMulAttrs): the MatMul of two int8
// activations, attention's Q K^T and its product with V: each [M, K] x
// [K, N] product of the broadcast batch is one Int8Products product
// (int8_products.h: B packed per product, bit for bit int8rt.QGemm with B
// as constant weights, which the tests check). Packing costs K*N per
// product against M*K*N multiply-adds; a zero point on A (a_zero_point:
// attention's probabilities on the unsigned grid) as many additions more,
// B's column sums (int8_products.h). Where A is attention probabilities
// whose grid follows the key count (probs_calibrated_keys, probs_keys.h),
// a_scale is the rule's scale at K.
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/int8_products.h"
#include "engine/ops/int8/probs_keys.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class QMatMulLayer : public Layer {
 public:
  explicit QMatMulLayer(const Node& node)
      : prefix_(layer_error_prefix(node)),
        a_(QMatMulAttrs::from_attrs(node)),
        a_keys_(ProbsKeys::from_attrs(node)),
        products_(prefix_, a_.a_scale, a_.b_scale, a_.out_scale, static_cast<int32_t>(a_.a_zero_point), a_keys_) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const ProductBatch p = batch(in);
    Shape out = p.batch_shape();
    out.push_back(p.M);
    out.push_back(p.N);
    return {{products_.out_type() == kernels::OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const ProductBatch p = batch(in);
    if (p.products() == 0 || p.M == 0 || p.N == 0) return;
    const int8_t* a = in[0]->data<int8_t>();
    const int8_t* b = in[1]->data<int8_t>();
    char* y = out[0]->data<char>();
    const int64_t y_step = p.M * p.N * static_cast<int64_t>(products_.out_bytes());
    parallel_for(p.products(), 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const auto [oa, ob] = p.operands(t);
        products_.run(p.M, p.N, p.K, a + oa * p.M * p.K, b + ob * p.K * p.N, a_.b_transposed, y + t * y_step);
      }
    });
  }

  std::string describe() const override {
    const std::string k = products_.kernel_name();
    return "int8 x int8 matmul" +
           (k.empty() ? std::string(" (gemm_s8 kernel chosen per shape at the first run)") : " on " + k) +
           a_keys_.describe();
  }

 private:
  ProductBatch batch(const std::vector<const Value*>& in) const {
    return ProductBatch::of(require_input(in, 0, DataType::kInt8, prefix_).shape(),
                            require_input(in, 1, DataType::kInt8, prefix_).shape(), a_.b_transposed, prefix_);
  }

  std::string prefix_;
  QMatMulAttrs a_;
  ProbsKeys a_keys_;
  Int8Products products_;
};

INT8RT_REGISTER_LAYER(QMatMulAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QMatMulLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
