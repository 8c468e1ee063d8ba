// int8rt.QAttention (contracts.h, QAttentionAttrs): softmax(q k + mask) v
// with int8 operands, one product of the batch at a time so that its scores
// [M, N] and probabilities stay in cache instead of going to memory twice
// (at batch 8 a ViT-Tiny's scores are 3.7 MB per layer). Each step is the
// unfused layer's own code or operation: Int8Products (int8rt.QMatMul); the
// softmax kernel family's attention rows (kernels/ref/softmax_f32.h: the
// float Mul's / Div's s * c or s / c, the float Add's s + m, the Softmax
// layer's rule, Where(IsNaN(p), 0, p)); with a second mask, the scaling
// and the first mask run before those rows as the binary_f32 family's Mul /
// Div and Add (the float layers' own kernel), the rows adding the second;
// the QuantizeS8 kernel
// (int8rt.Quantize), or with a zero point on the probabilities (the
// unsigned grid) int8rt.Quantize's zero-point arithmetic,
// ref::quantize_value(p, 1 / scale, z) (where the softmax kernel has
// attention_s8, that quantization in its last pass: ref::ProbsGrid, the same
// codes), and the product with v taking that
// zero point as int8rt.QMatMul's a_zero_point does. So the result is bit
// for bit the unfused chain, which the tests check with ==. Where the
// probabilities' grid follows the key count (probs_calibrated_keys,
// probs_keys.h), both the quantization and the product with v take the
// rule's scale at N, the keys of this run, as the chain's Quantize and
// QMatMul do.
//
// With talking heads (head_mix.h: CaiT's mixes over the heads before and
// after the softmax) a row's softmax reads every head's scores at that row,
// so the heads of one batch element run together, a block of query rows at
// a time (kBlockValues floats per buffer, in L2): each head's scores as
// above (times scores_factor as the float Mul / Div), the scores' mix
// (kernels/ref/softmax_f32.h, head_mix_loop), the Softmax layer's rows, the
// probabilities' mix, their quantization as above, each head's product
// with v.
#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/head_mix.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/int8/int8_products.h"
#include "engine/ops/int8/probs_keys.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"
#include "kernels/binary_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/softmax_f32.h"

namespace int8rt {
namespace engine {
namespace {

class QAttentionLayer : public Layer {
 public:
  explicit QAttentionLayer(const Node& node)
      : prefix_(layer_error_prefix(node)),
        a_(QAttentionAttrs::from_attrs(node)),
        probs_keys_(ProbsKeys::from_attrs(node)),
        heads_(TalkingHeads::from_attrs(node)),
        scores_(prefix_, a_.q_scale, a_.k_scale, 0.0),
        context_(prefix_, a_.probs_scale, a_.v_scale, a_.out_scale, static_cast<int32_t>(a_.probs_zero_point),
                 probs_keys_),
        softmax_(&kernels::choose<kernels::SoftmaxF32Kernel>()),
        quantize_(&kernels::choose<kernels::QuantizeS8Kernel>()),
        binary_(&kernels::choose<kernels::BinaryF32Kernel>()) {}

  // A mask as the layer reads it: the scores' batch dims as its view has
  // them (QAttentionAttrs), and its strides per dim of [view..., M, N]
  // (0: broadcast).
  // Held in place (BroadcastDims), as the whole Plan: planned per run, it allocates nothing.
  struct MaskPlan {
    BroadcastDims view;
    BroadcastDims strides;
    // The mask's offset at product t of the batch (t decomposed over the view).
    int64_t base(int64_t t) const {
      int64_t base = 0;
      for (size_t dim = view.size(); dim-- > 0;) {
        base += (t % view[dim]) * strides[dim];
        t /= view[dim];
      }
      return base;
    }
  };
  // The two products' batches: q k over the scores' batch, then probs v.
  struct Plan {
    ProductBatch qk, pv;
    MaskPlan masks[2];  // inputs 3 and 4 where given, in the order they are added
    size_t mask_count = 0;
  };

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Plan p = plan(in);
    Shape out = p.pv.batch_shape();
    out.push_back(p.pv.M);
    out.push_back(p.pv.N);
    return {{context_.out_type() == kernels::OutputType::kInt8 ? DataType::kInt8 : DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Plan p = plan(in);
    const int64_t M = p.qk.M, N = p.qk.N, d = p.qk.K, dv = p.pv.N;
    if (p.qk.products() == 0 || M == 0 || dv == 0) return;
    if (heads_.active()) {
      run_talking_heads(p, in, out);
      return;
    }
    const int8_t* q = in[0]->data<int8_t>();
    const int8_t* k = in[1]->data<int8_t>();
    const int8_t* v = in[2]->data<int8_t>();
    char* y = out[0]->data<char>();
    const int64_t y_step = M * dv * static_cast<int64_t>(context_.out_bytes());
    const float probs_scale = static_cast<float>(probs_keys_.scale_at(a_.probs_scale, a_.probs_zero_point, N));
    kernels::ref::ProbsGrid grid;  // quantize_probs' arithmetic, for the fused rows
    grid.inv_scale = 1.0f / probs_scale;
    grid.zero_point = static_cast<float>(a_.probs_zero_point);
    const float* masks[2] = {nullptr, nullptr};
    for (size_t i = 0; i < p.mask_count; ++i) masks[i] = in[3 + i]->data<float>();
    parallel_for(p.qk.products(), 1, [&](int64_t begin, int64_t end) {
      // Per thread, grown, never shrunk: no allocation per run once sized.
      thread_local std::vector<float> scores_buf;
      thread_local std::vector<int8_t> probs_buf;
      if (scores_buf.size() < static_cast<size_t>(M * N)) {
        scores_buf.resize(static_cast<size_t>(M * N));
        probs_buf.resize(static_cast<size_t>(M * N));
      }
      float* const scores = scores_buf.data();
      int8_t* const probs = probs_buf.data();
      for (int64_t t = begin; t < end; ++t) {
        const auto [oq, ok] = p.qk.operands(t);
        scores_.run(M, N, d, q + oq * M * d, k + ok * d * N, a_.k_transposed, scores);
        kernels::ref::AttentionRows rows;
        rows.factor = a_.scores_factor;
        rows.divide = a_.scores_divide;
        rows.nan_to_zero = a_.nan_to_zero;
        if (p.mask_count == 2) {
          scale_and_add_first_mask(M, N, p.masks[0], masks[0] + p.masks[0].base(t), scores);
          rows.factor = 0.f;  // applied
        }
        if (p.mask_count > 0) {
          const MaskPlan& last = p.masks[p.mask_count - 1];
          const size_t rank = last.strides.size();
          rows.mask = masks[p.mask_count - 1] + last.base(t);
          rows.mask_row_step = last.strides[rank - 2];
          rows.mask_col_step = last.strides[rank - 1];
        }
        if (softmax_->attention_s8) {
          softmax_->attention_s8(M, N, rows, grid, scores, probs);
        } else {
          softmax_->attention(M, N, rows, scores);
          quantize_probs(M * N, scores, probs_scale, probs);
        }
        const int64_t ov = p.pv.operands(t).second;
        context_.run(M, dv, N, probs, v + ov * N * dv, a_.v_transposed, y + t * y_step);
      }
    });
  }

  std::string describe() const override {
    const std::string qk = scores_.kernel_name(), pv = context_.kernel_name();
    return std::string(heads_.active() ? "int8 talking-heads attention (scores, head mix, softmax, head mix, context)"
                                       : "int8 attention (scores, softmax, context)") +
           (qk.empty() ? std::string(" (gemm_s8 kernels chosen per sequence length at the first run)")
                       : " on " + qk + " (scores), " + pv + " (context)") +
           probs_keys_.describe();
  }

 private:
  // Talking heads (head_mix.h; the file comment): product t of the batch is
  // head t % H of batch element t / H. Rows of one element's heads at a time.
  void run_talking_heads(const Plan& p, const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    const int64_t M = p.qk.M, N = p.qk.N, d = p.qk.K, dv = p.pv.N, H = heads_.heads();
    if (p.qk.batch.size() == 0 || p.qk.batch[p.qk.batch.size() - 1] != H || p.mask_count != 0) {
      throw InvalidArgument(prefix_ + "talking heads mix " + std::to_string(H) + " heads, the last batch dim of the " +
                            "scores' batch " + shape_str(p.qk.batch_shape()) + ", with no mask");
    }
    constexpr int64_t kBlockValues = 32768;  // 128 KB of floats per buffer
    const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(M, kBlockValues / std::max<int64_t>(1, H * N)));
    const int64_t blocks = (M + rows - 1) / rows, elements = p.qk.products() / H;
    const int8_t* q = in[0]->data<int8_t>();
    const int8_t* k = in[1]->data<int8_t>();
    const int8_t* v = in[2]->data<int8_t>();
    char* y = out[0]->data<char>();
    const int64_t y_row = dv * static_cast<int64_t>(context_.out_bytes());
    const float probs_scale = static_cast<float>(probs_keys_.scale_at(a_.probs_scale, a_.probs_zero_point, N));
    const float factor = a_.scores_factor;
    parallel_for(elements * blocks, 1, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> one_buf, two_buf;  // grown, never shrunk
      thread_local std::vector<int8_t> probs_buf;
      thread_local std::vector<float*> ones, twos;
      const size_t size = static_cast<size_t>(H * rows * N);
      if (one_buf.size() < size) {
        one_buf.resize(size);
        two_buf.resize(size);
        probs_buf.resize(size);
      }
      ones.resize(static_cast<size_t>(H));
      twos.resize(static_cast<size_t>(H));
      for (int64_t it = begin; it < end; ++it) {
        const int64_t e = it / blocks, r0 = (it % blocks) * rows, R = std::min(rows, M - r0), n = R * N;
        for (int64_t h = 0; h < H; ++h) {
          ones[static_cast<size_t>(h)] = one_buf.data() + h * n;
          twos[static_cast<size_t>(h)] = two_buf.data() + h * n;
        }
        for (int64_t h = 0; h < H; ++h) {
          const auto [oq, ok] = p.qk.operands(e * H + h);
          float* s = ones[static_cast<size_t>(h)];
          scores_.run(R, N, d, q + (oq * M + r0) * d, k + ok * d * N, a_.k_transposed, s);
          if (factor != 0.f) {
            using kernels::ref::BinaryF32;
            binary_->apply(a_.scores_divide ? BinaryF32::kDiv : BinaryF32::kMul, n, s, 1, &factor, 0, s);
          }
        }
        float* const* x = ones.data();
        float* const* other = twos.data();
        if (heads_.scores.heads > 0) {
          softmax_->head_mix(H, n, heads_.scores.w.data(), heads_.scores.b.empty() ? nullptr : heads_.scores.b.data(),
                             x, other);
          std::swap(x, other);
        }
        softmax_->rows(H * R, N, x[0], x[0], false);  // the H blocks [R][N] are one buffer
        if (heads_.probs.heads > 0) {
          softmax_->head_mix(H, n, heads_.probs.w.data(), heads_.probs.b.empty() ? nullptr : heads_.probs.b.data(),
                             x, other);
          std::swap(x, other);
        }
        int8_t* const probs = probs_buf.data();
        quantize_probs(H * n, x[0], probs_scale, probs);
        for (int64_t h = 0; h < H; ++h) {
          const int64_t t = e * H + h, ov = p.pv.operands(t).second;
          context_.run(R, dv, N, probs + h * n, v + ov * N * dv, a_.v_transposed, y + (t * M + r0) * y_row);
        }
      }
    });
  }

  // The scores [M][N] of one product scaled as the rows rule would (s * c or
  // s / c), then plus the first of two masks (row i at mask + i *
  // row step), each as the binary_f32 family's one IEEE operation per value:
  // what the unfused Mul / Div and Add layers compute, in their order.
  void scale_and_add_first_mask(int64_t M, int64_t N, const MaskPlan& mp, const float* mask, float* s) const {
    using kernels::ref::BinaryF32;
    const size_t rank = mp.strides.size();
    const int64_t row_step = mp.strides[rank - 2], col_step = mp.strides[rank - 1];
    const float c = a_.scores_factor;
    for (int64_t i = 0; i < M; ++i, s += N) {
      if (c != 0.f) binary_->apply(a_.scores_divide ? BinaryF32::kDiv : BinaryF32::kMul, N, s, 1, &c, 0, s);
      binary_->apply(BinaryF32::kAdd, N, s, 1, mask + i * row_step, col_step, s);
    }
  }

  // The probabilities p [n] -> int8 as int8rt.Quantize computes them at
  // this scale and zero point (convert_layers.cc). With a zero point z that
  // is ref::quantize_value(p, inv, z): v = p * inv, v = v + z, clamp, round;
  // run here as the chosen kernels' passes over p in place, the same IEEE
  // operations in the same order: the binary_f32 family's Mul by inv and
  // Add of z (one rounding each), then quantize_s8 at scale 1, whose
  // multiply by 1 / 1 is exact; a chunk of kChunk values at a time, so the
  // three passes read it from L1. (Element by element in the baseline
  // build, SSE2, the loop cost LeViT's attention layer up to 19%.)
  void quantize_probs(int64_t n, float* p, float scale, int8_t* q) const {
    if (a_.probs_zero_point == 0) {
      quantize_->quantize(n, p, scale, 0, q);
      return;
    }
    constexpr int64_t kChunk = 2048;  // 8 KB of floats
    const float inv = 1.0f / scale, z = static_cast<float>(a_.probs_zero_point);
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t c = std::min(kChunk, n - i);
      binary_->apply(kernels::ref::BinaryF32::kMul, c, p + i, 1, &inv, 0, p + i);
      binary_->apply(kernels::ref::BinaryF32::kAdd, c, p + i, 1, &z, 0, p + i);
      quantize_->quantize(c, p + i, 1.0f, 0, q + i);
    }
  }

  Plan plan(const std::vector<const Value*>& in) const {
    const Shape& qs = require_input(in, 0, DataType::kInt8, prefix_).shape();
    const Shape& ks = require_input(in, 1, DataType::kInt8, prefix_).shape();
    const Shape& vs = require_input(in, 2, DataType::kInt8, prefix_).shape();
    Plan p;
    p.qk = ProductBatch::of(qs, ks, a_.k_transposed, prefix_);
    BroadcastDims probs = p.qk.batch;
    probs.push_back(p.qk.M);
    probs.push_back(p.qk.N);
    p.pv = ProductBatch::of(probs, vs, a_.v_transposed, prefix_);
    if (!same_dims(p.pv.batch, p.qk.batch)) {
      throw InvalidArgument(prefix_ + "v " + shape_str(vs) + " widens the batch of the scores " +
                            shape_str(as_shape(probs)));
    }
    for (size_t i = 3; i < in.size() && i < 5; ++i) {
      if (!in[i]) {
        if (i == 3 && in.size() > 4 && in[4]) throw InvalidArgument(prefix_ + "mask2 is given without a mask");
        continue;
      }
      const Shape& ms = require_input(in, i, DataType::kFloat32, prefix_).shape();
      MaskPlan& m = p.masks[p.mask_count++];
      viewed_batch(i == 3 ? a_.mask_view : a_.mask2_view, p.qk, m.view);
      BroadcastDims full = m.view;
      full.push_back(p.qk.M);
      full.push_back(p.qk.N);
      // The mask must broadcast to the scores and not widen them: each of its dims (aligned
      // right) 1 or the scores'.
      bool fits = ms.size() <= full.size();
      for (size_t k = 0; fits && k < ms.size(); ++k) {
        const int64_t d = ms[ms.size() - 1 - k];
        fits = d == 1 || d == full[full.size() - 1 - k];
      }
      if (!fits) {
        if (ms.size() <= full.size()) broadcast_shapes(ms, as_shape(full), prefix_);  // its message where it throws
        throw InvalidArgument(prefix_ + (i == 3 ? "mask " : "mask2 ") + shape_str(ms) +
                              " does not broadcast to the scores " + shape_str(as_shape(full)));
      }
      broadcast_strides_into(ms, full, m.strides);
    }
    return p;
  }

  static bool same_dims(const BroadcastDims& a, const BroadcastDims& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  static Shape as_shape(const BroadcastDims& d) { return Shape(d.data(), d.data() + d.size()); }

  // The scores' batch dims as `view` regroups them (empty: as they are),
  // into out; its -1 takes what is left. Throws unless the view's product
  // is the scores' number of products.
  void viewed_batch(const std::vector<int64_t>& view, const ProductBatch& qk, BroadcastDims& out) const {
    if (view.empty()) {
      out = qk.batch;
      return;
    }
    const int64_t products = qk.products();
    int64_t known = 1;
    for (int64_t d : view) known = d == -1 ? known : checked_mul(known, d, prefix_ + "mask view");
    const bool free_dim = std::find(view.begin(), view.end(), -1) != view.end();
    out.assign_zeros(0);  // (its dims are >= 1 or -1, from_attrs: known > 0)
    for (int64_t d : view) out.push_back(d == -1 ? products / known : d);
    if (products != 0 && (free_dim ? products % known != 0 : known != products)) {  // (empty: nothing read)
      throw InvalidArgument(prefix_ + "a mask's view " + shape_str(view) + " does not regroup the scores' batch " +
                            shape_str(qk.batch_shape()));
    }
  }

  std::string prefix_;
  QAttentionAttrs a_;
  ProbsKeys probs_keys_;
  TalkingHeads heads_;
  Int8Products scores_, context_;
  const kernels::SoftmaxF32Kernel* softmax_;
  const kernels::QuantizeS8Kernel* quantize_;
  const kernels::BinaryF32Kernel* binary_;
};

INT8RT_REGISTER_LAYER(QAttentionAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 3);
  return std::make_unique<QAttentionLayer>(node);  // inputs 3 and 4, the masks, are optional
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
