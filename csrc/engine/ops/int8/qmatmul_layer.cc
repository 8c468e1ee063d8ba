// int8rt.QMatMul (contracts.h, QMatMulAttrs): the MatMul of two int8
// activations, attention's Q K^T and its product with V. Each [M, K] x
// [K, N] product of the broadcast batch is a QGemm whose "weights" are the
// B operand: B's slice is packed by the kernel the registry chose for
// (N, K) (pack_kn from [K, N]; pack from [N, K] when b_transposed) and run
// with the one requantization rule (kernels::make_epilogue) at weight scale
// b_scale for every column. So the result is bit for bit what int8rt.QGemm
// computes with B as constant weights, which the tests check. Packing costs
// K*N per product against M*K*N multiply-adds; the chosen kernel is cached
// per (N, K), so a sequence length that changes between runs costs one
// registry lookup per new length.
#include <map>
#include <mutex>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

class QMatMulLayer : public Layer {
 public:
  explicit QMatMulLayer(const Node& node)
      : prefix_(layer_error_prefix(node)),
        a_(QMatMulAttrs::from_attrs(node)),
        out_(a_.out_scale > 0.0 ? OutputType::kInt8 : OutputType::kFloat32) {}

  struct Plan {
    Shape out, batch, a_batch, b_batch;  // output, broadcast batch dims, the operands' batch dims
    int64_t M = 0, N = 0, K = 0;
  };

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    return {{out_ == OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32, plan(in).out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Plan p = plan(in);
    const int64_t products = shape_numel(p.batch);
    if (products == 0 || p.M == 0 || p.N == 0) return;
    const Choice& c = choice(p.N, p.K);
    const kernels::Epilogue ep = c.requant.epilogue();
    const int8_t* a = in[0]->data<int8_t>();
    const int8_t* b = in[1]->data<int8_t>();
    const size_t y_bytes = out_ == OutputType::kInt8 ? 1 : sizeof(float);
    char* y = static_cast<char*>(out_ == OutputType::kInt8 ? static_cast<void*>(out[0]->data<int8_t>())
                                                           : static_cast<void*>(out[0]->data<float>()));
    const std::vector<int64_t> sa = broadcast_strides(p.a_batch, p.batch), sb = broadcast_strides(p.b_batch, p.batch);
    const kernels::GemmShape shape{static_cast<int>(p.N), static_cast<int>(p.K)};
    parallel_for(products, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t oa = 0, ob = 0;
        for (int64_t d = static_cast<int64_t>(p.batch.size()), r = t; d-- > 0;) {
          const int64_t idx = r % p.batch[d];
          r /= p.batch[d];
          oa += idx * sa[d];
          ob += idx * sb[d];
        }
        const int8_t* bt = b + ob * p.K * p.N;  // [K][N], or [N][K] when b_transposed
        (a_.b_transposed ? c.kernel->pack(shape, bt) : c.kernel->pack_kn(shape, bt))
            ->run(p.M, a + oa * p.M * p.K, ep, y + t * p.M * p.N * y_bytes);
      }
    });
  }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return "int8 x int8 matmul" + (by_nk_.empty() ? std::string() : std::string(" on ") + by_nk_.begin()->second.kernel->name());
  }

 private:
  // The kernel and epilogue for products with N columns over K.
  struct Choice {
    const kernels::GemmKernel* kernel = nullptr;
    kernels::EpilogueStorage requant;
  };

  const Choice& choice(int64_t n, int64_t k) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_nk_.find({n, k});
    if (it != by_nk_.end()) return it->second;  // entries are never erased
    kernels::GemmShape shape;
    shape.N = checked_int(n, prefix_ + "columns of B", 1);
    shape.K = checked_int(k, prefix_ + "inner dimension", 1);
    shape.validate();
    Choice c;
    c.kernel = &kernels::choose<kernels::GemmKernel>(shape, out_);
    const std::vector<float> w_scales(static_cast<size_t>(n), static_cast<float>(a_.b_scale));
    c.requant = kernels::make_epilogue(static_cast<float>(a_.a_scale), w_scales.data(), n, nullptr,
                                       static_cast<float>(a_.out_scale), out_);
    return by_nk_.emplace(std::make_pair(n, k), std::move(c)).first->second;
  }

  Plan plan(const std::vector<const Value*>& in) const {
    const Value& A = require_input(in, 0, DataType::kInt8, prefix_);
    const Value& B = require_input(in, 1, DataType::kInt8, prefix_);
    const Shape& as = A.shape();
    const Shape& bs = B.shape();
    if (as.size() < 2 || bs.size() < 2) throw InvalidArgument(prefix_ + "int8 MatMul operands must be at least 2-D");
    Plan p;
    p.M = as[as.size() - 2];
    p.K = as.back();
    p.N = a_.b_transposed ? bs[bs.size() - 2] : bs.back();
    if ((a_.b_transposed ? bs.back() : bs[bs.size() - 2]) != p.K) {
      throw InvalidArgument(prefix_ + "inner dimensions differ: " + shape_str(as) + " x " + shape_str(bs) +
                            (a_.b_transposed ? " (b transposed)" : ""));
    }
    p.a_batch.assign(as.begin(), as.end() - 2);
    p.b_batch.assign(bs.begin(), bs.end() - 2);
    p.batch = broadcast_shapes(p.a_batch, p.b_batch, prefix_);
    p.out = p.batch;
    p.out.push_back(p.M);
    p.out.push_back(p.N);
    return p;
  }

  std::string prefix_;
  QMatMulAttrs a_;
  OutputType out_;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, Choice> by_nk_;
};

INT8RT_REGISTER_LAYER(QMatMulAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QMatMulLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
