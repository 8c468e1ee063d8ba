// Float32 Gemm and MatMul (ONNX semantics) on the blocked SGEMM (kernels/sgemm_f32.h).
//
// Gemm: Y = alpha * A' * B' + beta * C with A' = transA ? A^T : A, likewise
// B', C unidirectionally broadcast to [M, N]; plus the fused activation of
// graph/passes/passes.h (int8rt_activation). When alpha == beta == 1 the
// product is accumulated onto C (one rounding per term as in MLAS), a C row
// [N] (a Linear bias) as the SGEMM's column bias with Relu / Clip in its tile
// epilogue; otherwise Y = alpha * (A'B') + beta * C elementwise after the
// product. A constant B is packed into the SGEMM's panels once.
//
// MatMul: numpy matmul: 1-D operands get a 1 prepended (A) / appended (B)
// and removed from the result, batch dimensions broadcast. A batched A times
// a 2-D B is one GEMM over the flattened rows (a constant B packed into the
// SGEMM's panels once, when the layer is created); true batched products run
// one GEMM per batch, in parallel over batches when each is small.
//
// A MatMul fused with what follows it (graph/passes/fuse_matmul_epilogue.cc,
// FP32 engines): "int8rt_bias" = 2, a constant [N] at input 2 added to
// every row after the whole product (the SGEMM epilogue's residual with row
// stride 0: the unfused Add's one addition per value), then
// "int8rt_activation" = "Gelu" (0.5 x (1 + erf(x / sqrt 2)), the unary_f32
// kernel the Gelu layer runs), on each tile while it is in cache; the bits of
// MatMul -> Add -> Gelu. Products that do not run as one GEMM over all rows
// apply both after it, with the same operations.
//
// BF16 (int8rt_precision="bf16", engine/bf16_layers.h): a constant 2-D B is
// converted and packed once here and the product runs on the BF16 GEMM;
// alpha, beta, C and the activation stay FP32 (a MatMul's fused bias is added
// in the BF16 tile's epilogue, its Gelu on each finished block of C). A MatMul whose B is an
// activation (or a batched constant) converts and packs B on each run
// (GemmBf16Kernel::run_activations), batches split as in FP32. With a
// constant 2-D B, A may be a bfloat16 tensor and the output one
// (engine/bf16_layers.h, mark_bf16_tensors): A's BF16 values are read as
// they are (PackedBf16Gemm::run_bf16_io), C is rounded after the bias and
// the Gelu; the bits of the FP32 tensors between the same layers.
#include <algorithm>
#include <limits>
#include <memory>

#include "core/thread_pool.h"
#include "engine/bf16_layers.h"
#include "engine/layer.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::GemmOperand;
using kernels::sgemm;

class GemmLayer : public Layer {
 public:
  GemmLayer(const Network& net, const Node& node)
      : alpha_(static_cast<float>(node.attrs.get_float("alpha", 1.0))),
        beta_(static_cast<float>(node.attrs.get_float("beta", 1.0))),
        trans_a_(node.attrs.get_int("transA", 0) != 0),
        trans_b_(node.attrs.get_int("transB", 0) != 0),
        act_(parse_fused_activation(node)),
        prefix_(layer_error_prefix(node)) {
    if (wants_bf16(net, node)) {
      const Tensor& b = net.tensor(node.inputs[1]);
      const int64_t K = b.shape[trans_b_ ? 1 : 0], N = b.shape[trans_b_ ? 0 : 1];
      bf16_.add({b.f32.data(), K, N, b.shape[1], trans_b_, /*left=*/false});
    } else {
      pack_constant_b(net.tensor(node.inputs[1]));
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    int64_t M, N, K;
    dims(in, &M, &N, &K);
    return {{DataType::kFloat32, {M, N}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int64_t M, N, K;
    dims(in, &M, &N, &K);
    const Value& A = *in[0];
    const Value& B = *in[1];
    const Value* C = in.size() > 2 ? in[2] : nullptr;
    float* y = out[0]->data<float>();
    GemmOperand a{A.data<float>(), A.shape()[1], trans_a_};
    GemmOperand b{B.data<float>(), B.shape()[1], trans_b_};
    if (packed_b_ && packed_b_->K == K && packed_b_->N == N) b.packed_b = packed_b_.get();
    const bool has_c = C && beta_ != 0.f;
    int64_t cs[2] = {0, 0};  // C's strides viewed as [M, N] (dims() checked that it broadcasts)
    if (has_c) {
      const Shape& c = C->shape();
      cs[1] = !c.empty() && c.back() != 1 ? 1 : 0;
      cs[0] = c.size() == 2 && c[0] != 1 ? c[1] : 0;
    }
    auto c_at = [&](int64_t i, int64_t j) { return C->data<float>()[i * cs[0] + j * cs[1]]; };
    if (has_c && alpha_ == 1.f && beta_ == 1.f && cs[0] == 0 && cs[1] == 1 && bf16_.empty()) {
      // A Linear layer's bias (C a row [N]): the SGEMM's column bias and
      // Relu / Clip on each tile while in cache. The bias joins after the
      // first K slice, as when C is copied into y first and accumulated
      // onto (the first addition is the same either way): the same bits.
      kernels::SgemmEpilogue ep = clip_epilogue(act_);
      ep.col_bias = C->data<float>();
      sgemm(*uk_, M, N, K, a, b, y, N, false, true, &ep);
      if (!ep.clip) act_.apply(y, M * N);
      return;
    }
    if (has_c && alpha_ == 1.f && beta_ == 1.f) {
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) y[i * N + j] = c_at(i, j);
      }
      product(M, N, K, a, b, y, true);
    } else {
      product(M, N, K, a, b, y, false);
      if (alpha_ != 1.f || has_c) {
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = 0; j < N; ++j) {
            float v = alpha_ * y[i * N + j];
            y[i * N + j] = has_c ? v + beta_ * c_at(i, j) : v;
          }
        }
      }
    }
    act_.apply(y, M * N);
  }

  std::string describe() const override {
    return std::string(bf16_.empty() ? "fp32" : "bf16") + " gemm" + act_.describe() + bf16_.describe();
  }
  bool accepts_empty_inputs() const override { return true; }  // K = 0: beta * C (or 0), then the activation

 private:
  // A constant B (a Linear layer's weight, transB = 1 from PyTorch, or
  // not) packed once into the SGEMM's [kc][nr] panels, so that no run
  // transposes or re-packs it (MatMul does the same). Same values in the
  // order the driver reads them: the same sums.
  void pack_constant_b(const Tensor& b) {
    if (!b.is_constant || b.dtype != DataType::kFloat32 || b.shape.size() != 2) return;
    if (b.shape[0] * b.shape[1] != static_cast<int64_t>(b.f32.size())) return;
    const int64_t K = b.shape[trans_b_ ? 1 : 0], N = b.shape[trans_b_ ? 0 : 1];
    packed_b_ = std::make_unique<kernels::PackedB>(
        kernels::pack_b_once(*uk_, K, N, {b.f32.data(), b.shape[1], trans_b_}));
  }

  // Relu / Clip as the SGEMM epilogue's clip (none for other activations).
  static kernels::SgemmEpilogue clip_epilogue(const FusedActivation& act) {
    kernels::SgemmEpilogue ep;
    ep.clip = act.as_clip(&ep.lo, &ep.hi);
    return ep;
  }

  void product(int64_t M, int64_t N, int64_t K, const GemmOperand& a, const GemmOperand& b, float* y,
               bool accumulate) const {
    if (!bf16_.empty()) {
      bf16_.packed[0]->run(M, a, y, N, accumulate);
    } else {
      sgemm(*uk_, M, N, K, a, b, y, N, accumulate);
    }
  }

  void dims(const std::vector<const Value*>& in, int64_t* M, int64_t* N, int64_t* K) const {
    const Value& A = require_input(in, 0, DataType::kFloat32, prefix_);
    const Value& B = require_input(in, 1, DataType::kFloat32, prefix_);
    if (A.shape().size() != 2 || B.shape().size() != 2) {
      throw InvalidArgument(prefix_ + "A " + shape_str(A.shape()) + " and B " + shape_str(B.shape()) +
                            " must be 2-D");
    }
    *M = A.shape()[trans_a_ ? 1 : 0];
    *K = A.shape()[trans_a_ ? 0 : 1];
    int64_t kb = B.shape()[trans_b_ ? 1 : 0];
    *N = B.shape()[trans_b_ ? 0 : 1];
    if (kb != *K) {
      throw InvalidArgument(prefix_ + "inner dimensions differ: A " + shape_str(A.shape()) + ", B " +
                            shape_str(B.shape()) + " (transA=" + std::to_string(trans_a_) +
                            ", transB=" + std::to_string(trans_b_) + ")");
    }
    if (in.size() > 2 && in[2]) {
      const Value& C = require_input(in, 2, DataType::kFloat32, prefix_);
      // Each of C's dims (rank <= 2, aligned right) 1 or [M, N]'s; checked
      // in place, as this runs on every run.
      const Shape& c = C.shape();
      bool fits = c.size() <= 2;
      for (size_t i = 0; fits && i < c.size(); ++i) {
        const int64_t want = i + 2 - c.size() == 0 ? *M : *N;
        fits = c[i] == 1 || c[i] == want;
      }
      if (!fits) {
        throw InvalidArgument(prefix_ + "C " + shape_str(c) + " does not broadcast to " + shape_str({*M, *N}));
      }
    }
  }

  float alpha_, beta_;
  bool trans_a_, trans_b_;
  FusedActivation act_;
  std::string prefix_;
  const kernels::SgemmKernel* uk_ = &kernels::choose<kernels::SgemmKernel>();  // once per layer
  Bf16Gemm bf16_;  // empty unless the node runs in BF16
  std::unique_ptr<kernels::PackedB> packed_b_;  // a constant B in uk_'s panels, or null
};

class MatMulLayer : public Layer {
 public:
  MatMulLayer(const Network& net, const Node& node) : prefix_(layer_error_prefix(node)) {
    parse_epilogue(net, node);
    if (node.inputs.size() < 2 || node.inputs[1] < 0) return;  // run() reports the missing operand
    const Tensor& b = net.tensor(node.inputs[1]);
    if (wants_bf16(net, node)) {
      if (is_constant_2d(b)) {
        bf16_.add({b.f32.data(), b.shape[0], b.shape[1], b.shape[1], false, /*left=*/false});
        y16_ = net.tensor(node.outputs[0]).dtype == DataType::kBFloat16;
      } else {
        bf16_.choose();  // B converted and packed on each run
      }
    } else if (is_constant_2d(b)) {
      // A constant 2-D B (a Linear layer's weights) is packed into the
      // SGEMM's panels once here, not read a row of B apart on every run.
      packed_b_ = std::make_unique<kernels::PackedB>(
          kernels::pack_b_once(*uk_, b.shape[0], b.shape[1], {b.f32.data(), b.shape[1], false}));
    }
  }

  // One product's geometry, made per run into a kept (per-thread) instance: its
  // vectors are assigned in place, so a run allocates nothing once sized.
  struct Plan {
    Shape out, batch;      // output shape; broadcast batch dims
    int64_t M, N, K;
    Shape a_batch, b_batch;  // operands' batch dims (rank-aligned to batch)
    std::vector<int64_t> sa, sb;  // a batched product's: a_batch's and b_batch's strides over batch
  };

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Plan p;
    plan(in, p);
    return {{y16_ ? DataType::kBFloat16 : DataType::kFloat32, p.out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    thread_local Plan kept;
    Plan& p = kept;  // what the lambdas below capture (a helper thread reads this thread's plan)
    plan(in, p);
    const bool a16 = in[0]->dtype() == DataType::kBFloat16;
    const float* a = a16 ? nullptr : in[0]->data<float>();
    const float* b = in[1]->data<float>();
    float* y = y16_ ? nullptr : out[0]->data<float>();
    int64_t nb = shape_numel(p.batch), b_count = shape_numel(p.b_batch);
    if (b_count == 1) {  // B shared by every batch: one GEMM over all rows of A
      int64_t a_count = shape_numel(p.a_batch);
      if (a_count == nb) {
        if (!bf16_.packed.empty()) {
          kernels::SgemmEpilogue ep;
          ep.residual = bias(in, p.N);  // one row, row stride 0: the bias in the BF16 tile's epilogue
          if (gelu_) ep.unary = unary_;  // then the Gelu on each finished block (right weights)
          const kernels::SgemmEpilogue* use = ep.residual || ep.unary ? &ep : nullptr;
          if (a16 || y16_) {
            bf16_.packed[0]->run_bf16_io(nb * p.M, {a, p.K, false}, a16 ? in[0]->data<uint16_t>() : nullptr, y,
                                         y16_ ? out[0]->data<uint16_t>() : nullptr, p.N, true, use);
          } else {
            bf16_.packed[0]->run(nb * p.M, {a, p.K, false}, y, p.N, false, true, use);
          }
          return;
        } else if (!bf16_.empty()) {
          bf16_.kernel->run_activations(nb * p.M, p.N, p.K, {a, p.K, false}, {b, p.N, false}, y, p.N, false);
        } else {
          GemmOperand bo{b, p.N, false};
          if (packed_b_ && packed_b_->K == p.K && packed_b_->N == p.N) bo.packed_b = packed_b_.get();
          kernels::SgemmEpilogue ep;
          ep.residual = bias(in, p.N);  // one row, row stride 0: the bias after the whole product
          if (gelu_) ep.unary = unary_;
          sgemm(*uk_, nb * p.M, p.N, p.K, {a, p.K, false}, bo, y, p.N, false, true,
                ep.residual || ep.unary ? &ep : nullptr);
          return;
        }
        apply_epilogue(in, p, y);
        return;
      }
      if (!bf16_.packed.empty()) throw Error(prefix_ + "a constant 2-D B has no batch");
    }
    broadcast_strides_into(p.a_batch, p.batch, p.sa);
    broadcast_strides_into(p.b_batch, p.batch, p.sb);
    const std::vector<int64_t>&sa = p.sa, &sb = p.sb;
    auto one = [&](int64_t t, bool parallel) {
      int64_t oa = 0, ob = 0, r = t;
      for (size_t d = p.batch.size(); d-- > 0;) {
        int64_t idx = r % p.batch[d];
        r /= p.batch[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      const GemmOperand at{a + oa * p.M * p.K, p.K, false}, bt{b + ob * p.K * p.N, p.N, false};
      if (!bf16_.empty()) {
        bf16_.kernel->run_activations(p.M, p.N, p.K, at, bt, y + t * p.M * p.N, p.N, false, parallel);
      } else {
        sgemm(*uk_, p.M, p.N, p.K, at, bt, y + t * p.M * p.N, p.N, false, parallel);
      }
    };
    if (p.M * p.N * p.K < (1 << 20) && nb > 1) {
      parallel_for(nb, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) one(t, false);
      });
    } else {
      for (int64_t t = 0; t < nb; ++t) one(t, true);
    }
    apply_epilogue(in, p, y);
  }

  std::string describe() const override {
    return std::string(bf16_.empty() ? "fp32" : "bf16") + " matmul" + (has_bias_ ? " + bias" : "") +
           (gelu_ ? " + gelu" : "") + (y16_ ? " -> bfloat16" : "") + bf16_.describe();
  }
  bool accepts_empty_inputs() const override { return true; }  // K = 0: zeros (then the epilogue)

 private:
  // The fused epilogue's attributes (contract at the top of this file).
  void parse_epilogue(const Network& net, const Node& node) {
    if (node.attrs.has("int8rt_bias")) {
      const int64_t slot = node.attrs.get_int("int8rt_bias", -1);
      if (slot != 2 || node.inputs.size() != 3 || node.inputs[2] < 0) {
        throw InvalidArgument(prefix_ + "int8rt_bias must be 2, with the bias as input 2");
      }
      const Tensor& t = net.tensor(node.inputs[2]);
      if (!t.is_constant || t.dtype != DataType::kFloat32 || t.shape.size() != 1) {
        throw InvalidArgument(prefix_ + "the fused bias must be a 1-D float32 constant");
      }
      has_bias_ = true;
    } else if (node.inputs.size() > 2) {
      throw InvalidArgument(prefix_ + "MatMul takes 2 inputs (3 with int8rt_bias)");
    }
    if (node.attrs.has("int8rt_activation")) {
      const std::string act = node.attrs.get_string("int8rt_activation", "");
      if (act != "Gelu") throw NotSupported(prefix_ + "MatMul has no fused activation '" + act + "'");
      gelu_ = true;
    }
  }

  // The fused bias [N] (input 2), or nullptr when there is none.
  const float* bias(const std::vector<const Value*>& in, int64_t n) const {
    if (!has_bias_) return nullptr;
    const Value& b = require_input(in, 2, DataType::kFloat32, prefix_);
    if (b.numel() != n) {
      throw InvalidArgument(prefix_ + "the fused bias has " + std::to_string(b.numel()) + " values for " +
                            std::to_string(n) + " output columns");
    }
    return b.data<float>();
  }

  // The epilogue after a product that did not take it: y = y + bias per
  // row, then Gelu; the operations of the SGEMM epilogue, in its order.
  void apply_epilogue(const std::vector<const Value*>& in, const Plan& p, float* y) const {
    const int64_t total = shape_numel(p.out);
    if (total == 0) return;
    const int64_t n = p.N;  // 1 when B is a vector
    if (const float* b = bias(in, n)) {
      for (int64_t i = 0; i < total; i += n) {
        for (int64_t j = 0; j < n; ++j) y[i + j] = y[i + j] + b[j];
      }
    }
    if (gelu_) unary_->apply(kernels::ref::UnaryF32::kGelu, total, y, y);
  }

  // The product's geometry into p (numpy matmul: a 1-D A is [1, K], a 1-D B [K, 1]).
  void plan(const std::vector<const Value*>& in, Plan& p) const {
    // A bfloat16 A only where a constant 2-D B is packed (mark_bf16_tensors gives no other).
    const bool a16 = !bf16_.packed.empty() && require_any(in, 0, prefix_).dtype() == DataType::kBFloat16;
    const Value& A = require_input(in, 0, a16 ? DataType::kBFloat16 : DataType::kFloat32, prefix_);
    const Value& B = require_input(in, 1, DataType::kFloat32, prefix_);
    const Shape &as = A.shape(), &bs = B.shape();
    if (as.empty() || bs.empty()) throw InvalidArgument(prefix_ + "MatMul operands must be at least 1-D");
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    const size_t ar = as.size(), br = bs.size();
    p.M = a_vec ? 1 : as[ar - 2];
    p.K = as.back();
    p.N = b_vec ? 1 : bs.back();
    if ((b_vec ? bs[0] : bs[br - 2]) != p.K) {
      throw InvalidArgument(prefix_ + "inner dimensions differ: " + shape_str(A.shape()) + " x " +
                            shape_str(B.shape()));
    }
    p.a_batch.assign(as.begin(), as.end() - (a_vec ? 1 : 2));
    p.b_batch.assign(bs.begin(), bs.end() - (b_vec ? 1 : 2));
    broadcast_shapes_into(p.a_batch, p.b_batch, prefix_, &p.batch);
    p.out.assign(p.batch.begin(), p.batch.end());
    if (!a_vec) p.out.push_back(p.M);
    if (!b_vec) p.out.push_back(p.N);
  }

  static bool is_constant_2d(const Tensor& b) {
    return b.is_constant && b.dtype == DataType::kFloat32 && b.shape.size() == 2 &&
           static_cast<int64_t>(b.f32.size()) == b.shape[0] * b.shape[1] && b.shape[0] > 0 && b.shape[1] > 0;
  }

  std::string prefix_;
  bool has_bias_ = false, gelu_ = false;  // the fused epilogue
  bool y16_ = false;  // the output is a bfloat16 tensor (a packed B only)
  const kernels::SgemmKernel* uk_ = &kernels::choose<kernels::SgemmKernel>();  // once per layer
  const kernels::UnaryF32Kernel* unary_ = &kernels::choose<kernels::UnaryF32Kernel>();  // the Gelu's
  Bf16Gemm bf16_;  // empty unless the node runs in BF16 (packed: a constant 2-D B)
  std::unique_ptr<kernels::PackedB> packed_b_;  // a constant 2-D B in uk_'s panels, or null
};

std::unique_ptr<Layer> make_gemm(const Network& net, const Node& node) {
  require_inputs(node, 2);  // the constructor reads B (a forged node with one input read past its inputs)
  return std::make_unique<GemmLayer>(net, node);
}
std::unique_ptr<Layer> make_matmul(const Network& net, const Node& node) {
  return std::make_unique<MatMulLayer>(net, node);
}

INT8RT_REGISTER_LAYER("Gemm", make_gemm);
INT8RT_REGISTER_LAYER("MatMul", make_matmul);

}  // namespace
}  // namespace engine
}  // namespace int8rt
