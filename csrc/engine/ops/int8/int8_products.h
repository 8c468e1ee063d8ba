// The int8 products of two activations that int8rt.QMatMul and
// int8rt.QAttention run: y [M][N] = a [M][K] x b ([K][N], or [N][K] when
// transposed), b packed for each product by the gemm_s8 kernel the registry
// chose for (N, K) (as pack_kn from [K][N], pack_per_run from [N][K], into this
// thread's kept buffers: GemmKernel::pack_per_run_into) and run with the
// one requantization rule (kernels::make_epilogue) at weight scale b_scale
// for every column. So a product is bit for bit what int8rt.QGemm computes
// with b as constant weights. The kernel and epilogue are chosen once per
// (N, K) and cached (a sequence length that changes between runs costs one
// registry lookup per new length); also the operands' batch broadcasting.
//
// With a zero point z_a on a (a holds (a - z_a) * a_scale: attention's
// probabilities on the unsigned grid), a product is what int8rt.QGemm
// computes for an input with in_zero_point z_a and b as its constant
// weights: the accumulator of the raw codes, a x b, through the epilogue
// kernels::apply_zero_points makes with w_sum[n] = the column sum of this
// product's b (int64, exact), so bias[n] = -(float)(z_a * w_sum[n]) *
// (a_scale * b_scale) (/ out_scale for int8 outputs). b changes with every
// product, so its column sums and that bias are computed per product
// (K * N additions, as many as packing b), in per-thread buffers.
//
// With a ProbsKeys rule (probs_keys.h: a holds attention probabilities
// whose grid follows the key count), a_scale is the rule's scale at K, the
// keys of a's rows, fixed per (N, K) with the kernel choice.
#ifndef INT8RT_ENGINE_OPS_INT8_INT8_PRODUCTS_H_
#define INT8RT_ENGINE_OPS_INT8_INT8_PRODUCTS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops/broadcast_loop.h"
#include "engine/ops/int8/probs_keys.h"
#include "engine/value.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {

class Int8Products {
 public:
  // out_scale 0: float32 outputs (acc * a_scale * b_scale). a_zero_point:
  // a's, in the int8 range (the caller's attributes checked it). a_keys:
  // a's grid at K keys (probs_keys.h); inactive: a_scale at every K.
  Int8Products(std::string prefix, double a_scale, double b_scale, double out_scale, int32_t a_zero_point = 0,
               ProbsKeys a_keys = {});

  kernels::OutputType out_type() const { return out_; }
  size_t out_bytes() const { return out_ == kernels::OutputType::kInt8 ? 1 : sizeof(float); }

  // One product: y = a x b as above.
  void run(int64_t M, int64_t N, int64_t K, const int8_t* a, const int8_t* b, bool b_transposed, void* y) const;

  // The kernels chosen for the (N, K) run so far, distinct, " / " between
  // them (for describe()); empty before the first run.
  std::string kernel_name() const;

 private:
  struct Choice {
    const kernels::GemmKernel* kernel = nullptr;
    float a_scale = 0.f;  // a's scale at this K (a_keys_)
    kernels::EpilogueStorage requant;
    std::vector<float> w_scales;  // b_scale for each of the N columns
  };
  const Choice& choice(int64_t n, int64_t k) const;
  // The epilogue of one product whose b ([K][N], or [N][K] transposed) is
  // read with a's zero point (class comment), in this thread's buffer:
  // valid until the thread's next call.
  const kernels::EpilogueStorage& zero_point_epilogue(const Choice& c, int64_t N, int64_t K, const int8_t* b,
                                                      bool b_transposed) const;

  std::string prefix_;
  double a_scale_, b_scale_, out_scale_;
  int32_t a_zero_point_;
  ProbsKeys a_keys_;
  kernels::OutputType out_;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, Choice> by_nk_;
};

// The [..., M, K] x [..., K, N] (or [..., N, K] transposed) operands of a
// batch of products: leading dims broadcast as ONNX MatMul does. Its dims are
// held in place (BroadcastDims): planned per run, it allocates nothing up to
// rank 8.
struct ProductBatch {
  BroadcastDims batch;   // the broadcast leading dims
  BroadcastDims sa, sb;  // each operand's product index stride per batch dim (0: broadcast)
  int64_t M = 0, N = 0, K = 0;

  // Throws InvalidArgument (prefix first) on ranks < 2, differing inner dims
  // or batch dims that do not broadcast. Dims: Shape or BroadcastDims.
  template <typename Dims>
  static ProductBatch of(const Dims& a, const Shape& b, bool b_transposed, const std::string& prefix);
  int64_t products() const;
  // The batch dims as a Shape (shape inference, messages).
  Shape batch_shape() const { return Shape(batch.data(), batch.data() + batch.size()); }
  // The product index of a and of b in product t of the batch.
  std::pair<int64_t, int64_t> operands(int64_t t) const;
};

}  // namespace engine
}  // namespace int8rt

#endif  // INT8RT_ENGINE_OPS_INT8_INT8_PRODUCTS_H_
