// int8rt.Bf16Attention (graph/passes/fuse_bf16_attention.cc): a BF16
// engine's softmax(q kt [+ mask]) v, inputs q [..., M, K], kt [..., K, N],
// v [..., N, Dv] and an optional float32 mask broadcasting to the scores
// [..., M, N] (never widening them), every operand's batch dims the scores'
// own; attribute int8rt_nan_to_zero = 1: a NaN probability becomes +0.
// Output [..., M, Dv], float32, or bfloat16 when the engine marked it so
// (engine/bf16_layers.h: read only through Transposes / Reshapes as a BF16
// Linear MatMul's A): each product's FP32 p v rounded by the GEMM kernel's
// own activation conversion (GemmBf16Kernel::to_bf16), the one that MatMul
// applied to those values before (the moves between change no value).
//
// One product of the batch at a time (the int8 twin, int8rt.QAttention, does
// the same): its scores [M][N] go to a per-thread buffer that stays in L2
// (64 KB for BERT's 128 tokens) instead of a [batch, heads, M, N] tensor
// that at batch 8 is 6 MB per layer, written by the first product, read and
// written by the Softmax, read by the second. Each step is the unfused
// layer's own call, so the output is bit for bit the unfused BF16 chain's
// (tests/test_attention_softmax_fusion.py checks ==):
//   scores = q_t kt_t     GemmBf16Kernel::run_activations, as the BF16 MatMul
//                         layer calls it per product (engine/ops/gemm_f32.cc)
//   rows                  the softmax family's attention rows: + mask, the
//                         softmax rule, the NaN guard (engine/ops/softmax_f32.cc's
//                         fused form)
//   y_t = p v_t           run_activations again
// (the tiling of a product never changes a bit: kernels/gemm_bf16.cc).
//
// int8rt_heads = 1 (the pass's fold of the heads' moves): the inputs are the
// tensors before the Transposes, q [B, M, H, K], keys [B, N, H, K] (kt's
// rows: kt = Transpose(keys, [0, 2, 3, 1])) and v [B, N, H, Dv], and the
// products run over (b, h) with q / v rows H * K / H * Dv apart and each
// product's keys transposed into a per-thread kt block [K][N] (the
// transpose_f32 kernel, 32 KiB for BERT's 128 x 64, in L1 / L2 while the
// product reads it): the values the moved tensors held, so the same bits.
// int8rt_q_scale / _k_scale / _v_scale = s: that operand's values times s
// (the folded Mul's one float multiply, x * s) as they are gathered into
// such a block. The output is [B, H, M, Dv] as before.
//
// Where the attention_bf16 family (kernels/attention_bf16.h) has a
// candidate on the tile of the gemm_bf16 kernel chosen here (every
// VDPBF16PS tier and the reference; not AMX), the products run on it
// instead: the operands (keys, q, v, scaled) converted once straight into
// the tile's layouts, blocks of q's rows through q kt, the softmax family's
// attention rows above and p v, the output rounded in the tile's store:
// the same values in the same order, so the same bits (RESULTS.md section
// 257). Products run across threads when there are several (T), else a
// product's blocks of rows do.
#include <algorithm>
#include <optional>
#include <vector>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"
#include "engine/value.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"
#include "kernels/attention_bf16.h"
#include "kernels/aligned_buffer.h"
#include "kernels/binary_f32.h"
#include "kernels/softmax_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {
namespace {

class Bf16AttentionLayer : public Layer {
 public:
  Bf16AttentionLayer(const Network& net, const Node& node)
      : prefix_(layer_error_prefix(node)),
        y16_(!node.outputs.empty() && node.outputs[0] >= 0 &&
             net.tensor(node.outputs[0]).dtype == DataType::kBFloat16),
        masked_(node.inputs.size() > 3 && node.inputs[3] >= 0),
        nan_to_zero_(node.attrs.get_int("int8rt_nan_to_zero", 0) != 0),
        heads_(node.attrs.get_int("int8rt_heads", 0) != 0), q_scale_(scale_attr(node, "int8rt_q_scale")),
        k_scale_(scale_attr(node, "int8rt_k_scale")), v_scale_(scale_attr(node, "int8rt_v_scale")),
        softmax_(&kernels::choose<kernels::SoftmaxF32Kernel>()) {
    bf16_.choose();
    products_ = &kernels::choose<kernels::AttentionBf16Kernel>();
    if (std::string(products_->gemm) != bf16_.kernel->name()) products_ = nullptr;  // another tile's bits
  }

  // Batch dims and the product's sizes; throws naming the layer when the operands do not fit.
  struct Plan {
    int64_t T = 1, M = 0, K = 0, N = 0, Dv = 0;
    int64_t H = 1;  // heads (int8rt_heads: T = B * H)
  };
  Plan plan(const std::vector<const Value*>& in) const {
    const Value& q = require_input(in, 0, DataType::kFloat32, prefix_);
    const Value& kt = require_input(in, 1, DataType::kFloat32, prefix_);
    const Value& v = require_input(in, 2, DataType::kFloat32, prefix_);
    const Shape &sq = q.shape(), &sk = kt.shape(), &sv = v.shape();
    if (heads_) {  // q [B, M, H, K], keys [B, N, H, K], v [B, N, H, Dv]
      if (sq.size() != 4 || sk.size() != 4 || sv.size() != 4 || sk[0] != sq[0] || sv[0] != sq[0] ||
          sk[2] != sq[2] || sv[2] != sq[2] || sk[3] != sq[3] || sv[1] != sk[1]) {
        throw InvalidArgument(prefix_ + "q " + shape_str(sq) + ", keys " + shape_str(sk) + " and v " + shape_str(sv) +
                              " are not [B, S, H, D] heads of one batch of products");
      }
      Plan p;
      p.H = sq[2];
      p.T = sq[0] * sq[2];
      p.M = sq[1];
      p.K = sq[3];
      p.N = sk[1];
      p.Dv = sv[3];
      return p;
    }
    const size_t r = sq.size();
    if (r < 2 || sk.size() != r || sv.size() != r || !std::equal(sq.begin(), sq.end() - 2, sk.begin()) ||
        !std::equal(sq.begin(), sq.end() - 2, sv.begin()) || sk[r - 2] != sq[r - 1] || sv[r - 2] != sk[r - 1]) {
      throw InvalidArgument(prefix_ + "q " + shape_str(sq) + ", kt " + shape_str(sk) + " and v " + shape_str(sv) +
                            " are not one batch of products");
    }
    Plan p;
    for (size_t d = 0; d + 2 < r; ++d) p.T *= sq[d];
    p.M = sq[r - 2];
    p.K = sq[r - 1];
    p.N = sk[r - 1];
    p.Dv = sv[r - 1];
    return p;
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Plan p = plan(in);
    Shape out = in[0]->shape();
    out.back() = in[2]->shape().back();
    Shape scores = in[0]->shape();
    scores.back() = in[1]->shape().back();
    if (heads_) {
      out = {in[0]->shape()[0], p.H, p.M, p.Dv};
      scores = {in[0]->shape()[0], p.H, p.M, p.N};
    }
    if (masked_) {
      const Value& mask = require_input(in, 3, DataType::kFloat32, prefix_);
      if (broadcast_shapes(scores, mask.shape(), prefix_) != scores) {
        throw InvalidArgument(prefix_ + "the mask must broadcast to the scores' shape");
      }
    }
    return {{y16_ ? DataType::kBFloat16 : DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Plan p = plan(in);
    if (p.T * p.M * p.Dv == 0) return;
    const float* q = in[0]->data<float>();
    const float* kt = in[1]->data<float>();
    const float* v = in[2]->data<float>();
    float* y = y16_ ? nullptr : out[0]->data<float>();
    uint16_t* y16 = y16_ ? out[0]->data<uint16_t>() : nullptr;
    BroadcastDims scores_shape;  // q's shape with N last, held in place: a run allocates nothing
    if (heads_) {
      for (int64_t d : {in[0]->shape()[0], p.H, p.M, p.N}) scores_shape.push_back(d);
    } else {
      for (int64_t d : in[0]->shape()) scores_shape.push_back(d);
      scores_shape.back() = p.N;
    }
    BroadcastDims strides;
    if (masked_) broadcast_strides_into(in[3]->shape(), scores_shape, strides);
    const float* mask = masked_ ? in[3]->data<float>() : nullptr;
    if (products_) return run_products(p, q, kt, v, y, y16, scores_shape, strides, mask);
    auto one = [&](int64_t t, bool parallel) {
      thread_local kernels::AlignedBuffer<float> scores_buf;  // per thread, grown, never shrunk
      if (scores_buf.size() < p.M * p.N) scores_buf = kernels::AlignedBuffer<float>(p.M * p.N);
      float* s = scores_buf.data();
      kernels::GemmOperand a{q + t * p.M * p.K, p.K, false}, b{kt + t * p.K * p.N, p.N, false},
          c{v + t * p.N * p.Dv, p.Dv, false};
      if (heads_) {
        thread_local kernels::AlignedBuffer<float> qs, ks, vs;  // the scaled operands, per thread, grown
        const int64_t bt = t / p.H, h = t % p.H;
        a = heads_operand(q + (bt * p.M * p.H + h) * p.K, p.M, p.K, p.H * p.K, q_scale_, qs);
        b = keys_operand(kt + (bt * p.N * p.H + h) * p.K, p.N, p.K, p.H * p.K, ks);
        c = heads_operand(v + (bt * p.N * p.H + h) * p.Dv, p.N, p.Dv, p.H * p.Dv, v_scale_, vs);
      }
      bf16_.kernel->run_activations(p.M, p.N, p.K, a, b, s, p.N, false, parallel);
      if (p.N > 0) softmax_->attention(p.M, p.N, attention_rows(t, scores_shape, strides, mask), s);
      thread_local kernels::AlignedBuffer<float> out_buf;  // a bfloat16 output's FP32 product
      if (y16 && out_buf.size() < p.M * p.Dv) out_buf = kernels::AlignedBuffer<float>(p.M * p.Dv);
      float* const yt = y16 ? out_buf.data() : y + t * p.M * p.Dv;
      bf16_.kernel->run_activations(p.M, p.Dv, p.N, {s, p.N, false}, c, yt, p.Dv, false, parallel);
      if (y16) bf16_.kernel->to_bf16(yt, p.M * p.Dv, y16 + t * p.M * p.Dv);
    };
    // As the MatMul layer splits a batch of products (gemm_f32.cc): small ones across threads, large ones inside.
    if (p.M * p.N * p.K < (1 << 20) && p.T > 1) {
      parallel_for(p.T, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) one(t, false);
      });
    } else {
      for (int64_t t = 0; t < p.T; ++t) one(t, true);
    }
  }

  std::string describe() const override {
    return std::string("bf16 attention (") + (heads_ ? "heads in place, " : "") + "q kt, softmax" +
           (masked_ ? " + mask" : "") + (nan_to_zero_ ? " + nan guard" : "") + ", p v)" + (y16_ ? " -> bfloat16" : "") +
           bf16_.describe() + (products_ ? std::string(" products=") + products_->name() : "");
  }
  bool accepts_empty_inputs() const override { return true; }

 private:
  // The rows of the mask that product t's scores add, as the softmax family takes them.
  kernels::ref::AttentionRows attention_rows(int64_t t, const BroadcastDims& scores_shape, const BroadcastDims& strides,
                                             const float* mask) const {
    kernels::ref::AttentionRows rows;
    rows.nan_to_zero = nan_to_zero_;
    if (masked_) {
      const size_t rank = scores_shape.size();
      int64_t base = 0, rest = t;
      for (size_t d = rank - 2; d-- > 0;) {
        base += (rest % scores_shape[d]) * strides[d];
        rest /= scores_shape[d];
      }
      rows.mask = mask + base;
      rows.mask_row_step = strides[rank - 2];
      rows.mask_col_step = strides[rank - 1];
    }
    return rows;
  }

  // run() on the attention_bf16 family (top of the file).
  void run_products(const Plan& p, const float* q, const float* kt, const float* v, float* y, uint16_t* y16,
                    const BroadcastDims& scores_shape, const BroadcastDims& strides, const float* mask) const {
    auto one = [&](int64_t t, bool parallel) {
      kernels::Bf16AttentionProduct pr;
      pr.M = p.M;
      pr.N = p.N;
      pr.K = p.K;
      pr.Dv = p.Dv;
      if (heads_) {  // q [B, M, H, K], keys [B, N, H, K], v [B, N, H, Dv]
        const int64_t bt = t / p.H, h = t % p.H;
        pr.q = q + (bt * p.M * p.H + h) * p.K;
        pr.k = kt + (bt * p.N * p.H + h) * p.K;
        pr.v = v + (bt * p.N * p.H + h) * p.Dv;
        pr.ldq = pr.ldk = p.H * p.K;
        pr.ldv = p.H * p.Dv;
        pr.keys = true;
        pr.q_scale = q_scale_ ? &*q_scale_ : nullptr;
        pr.k_scale = k_scale_ ? &*k_scale_ : nullptr;
        pr.v_scale = v_scale_ ? &*v_scale_ : nullptr;
      } else {
        pr.q = q + t * p.M * p.K;
        pr.k = kt + t * p.K * p.N;
        pr.v = v + t * p.N * p.Dv;
        pr.ldq = p.K;
        pr.ldk = p.N;
        pr.ldv = p.Dv;
      }
      if (y16) {
        pr.y16 = y16 + t * p.M * p.Dv;
      } else {
        pr.y = y + t * p.M * p.Dv;
      }
      pr.ldy = p.Dv;
      const kernels::ref::AttentionRows rows = attention_rows(t, scores_shape, strides, mask);
      products_->run(pr, [&](int64_t r0, int64_t count, float* s) {
        kernels::ref::AttentionRows block = rows;
        if (block.mask) block.mask += r0 * block.mask_row_step;
        softmax_->attention(count, p.N, block, s);
      }, parallel);
    };
    // Whole products per thread when there are enough of them (or they are small), else each one's rows.
    if (p.T > 1 && (p.T >= 2 * get_num_threads() || p.M * p.N * p.K < (1 << 20))) {
      parallel_for(p.T, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) one(t, false);
      });
    } else {
      for (int64_t t = 0; t < p.T; ++t) one(t, true);
    }
  }

  // rows x cols values `ld` apart from x as a row-major operand: in place, or
  // times `scale` (the folded Mul's x * s, the Mul layer's binary_f32 kernel)
  // into `buf` when there is one.
  kernels::GemmOperand heads_operand(const float* x, int64_t rows, int64_t cols, int64_t ld,
                                     const std::optional<float>& scale, kernels::AlignedBuffer<float>& buf) const {
    if (!scale) return {x, ld, false};
    if (buf.size() < rows * cols) buf = kernels::AlignedBuffer<float>(rows * cols);
    const float f = *scale;
    float* d = buf.data();
    for (int64_t r = 0; r < rows; ++r) {
      binary_->apply(kernels::ref::BinaryF32::kMul, cols, x + r * ld, 1, &f, 0, d + r * cols);
    }
    return {d, cols, false};
  }
  // kt [K][N] of the N keys' rows (K values, `ld` apart) into `buf`: the
  // transpose kernel's 16 x 16 register blocks (the move the folded
  // Transpose made), then times k_scale_ when there is one.
  kernels::GemmOperand keys_operand(const float* keys, int64_t N, int64_t K, int64_t ld,
                                    kernels::AlignedBuffer<float>& buf) const {
    if (buf.size() < N * K) buf = kernels::AlignedBuffer<float>(N * K);
    float* d = buf.data();
    transpose_->tile(K, N, reinterpret_cast<const uint32_t*>(keys), ld, reinterpret_cast<uint32_t*>(d), N);
    if (k_scale_) {
      const float f = *k_scale_;
      binary_->apply(kernels::ref::BinaryF32::kMul, N * K, d, 1, &f, 0, d);
    }
    return {d, N, false};
  }
  static std::optional<float> scale_attr(const Node& node, const char* key) {
    if (!node.attrs.has(key)) return std::nullopt;
    return static_cast<float>(node.attrs.get_float(key, 1.0));
  }

  std::string prefix_;
  bool y16_;  // the output is a bfloat16 tensor
  bool masked_, nan_to_zero_;
  bool heads_;  // int8rt_heads: q, keys and v are [B, S, H, D], read in place
  std::optional<float> q_scale_, k_scale_, v_scale_;  // the folded scalar Muls' factors
  const kernels::TransposeX32Kernel* transpose_ = &kernels::choose<kernels::TransposeX32Kernel>();
  const kernels::BinaryF32Kernel* binary_ = &kernels::choose<kernels::BinaryF32Kernel>();
  Bf16Gemm bf16_;
  const kernels::SoftmaxF32Kernel* softmax_;
  const kernels::AttentionBf16Kernel* products_ = nullptr;  // null: run_activations per product
};

INT8RT_REGISTER_LAYER("int8rt.Bf16Attention", [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 3);
  return std::make_unique<Bf16AttentionLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
