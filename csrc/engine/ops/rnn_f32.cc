// Recurrent layers with ONNX semantics: LSTM, GRU and RNN (opset 7-22), float32.
//
// Inputs X [seq, batch, input] (layout 1: [batch, seq, input]), W [dirs, G*H,
// input], R [dirs, G*H, H], optional B [dirs, 2*G*H] (Wb then Rb),
// sequence_lens [batch], initial_h [dirs, batch, H] (layout 1: [batch, dirs,
// H]), and for LSTM initial_c and peepholes P [dirs, 3*H] (i, o, f). Outputs
// Y [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]), Y_h and, for
// LSTM, Y_c [dirs, batch, H] (layout 1: [batch, dirs, H]). G gates, in the
// spec's order: LSTM i, o, f, c; GRU z, r, h; RNN one. With f = Sigmoid,
// g = h = Tanh (LSTM, GRU) or f = Tanh (RNN), per step t and direction:
//   LSTM  i = f(x Wi' + H Ri' + Pi.C + Wbi + Rbi)     f_ = f(x Wf' + H Rf' + Pf.C + Wbf + Rbf)
//         c = g(x Wc' + H Rc' + Wbc + Rbc)            C' = f_.C + i.c   (input_forget: f_ = 1 - i)
//         o = f(x Wo' + H Ro' + Po.C' + Wbo + Rbo)    H' = o.h(C')
//   GRU   z = f(x Wz' + H Rz' + Wbz + Rbz)            r = f(x Wr' + H Rr' + Wbr + Rbr)
//         n = g(x Wh' + (r.H) Rh' + Rbh + Wbh)        (linear_before_reset: g(x Wh' + r.(H Rh' + Rbh) + Wbh))
//         H' = (1 - z).n + z.H
//   RNN   H' = f(x Wi' + H Ri' + Wbi + Rbi)
// `clip` bounds every gate's input to [-clip, clip]. The reverse direction
// runs t = len-1 .. 0. With sequence_lens, steps at or past a batch entry's
// length leave its state unchanged and write zeros to Y (ONNX Runtime's
// behaviour); Y_h / Y_c hold the state after its last step.
//
// x W' for every step is one GEMM before the loop (all T*B rows; layout 1:
// one per batch entry, its T rows written B rows apart); H R' is one GEMM
// per step (kernels/sgemm_f32.h). Constant W and R are packed into the SGEMM
// kernel's panels once per direction, when the layer is made
// (kernels::pack_b_once: the same arithmetic), so a step does not repack the
// whole of R for its one row of H (Silero VAD's 128-unit LSTM: 256 KB per
// step; ddddocr's bidirectional LSTM, H = 512: 4 MiB per direction and step).
// The common LSTM cell (no peepholes, coupled gates or clip) runs its Sigmoid / Tanh on
// the unary_f32 kernels (lstm_gates.h). Custom `activations` lists are refused at
// import (string-list attributes), so only the defaults exist here.
//
// int8rt.QLSTM / QGRU / QRNN (the INT8 lowering, contracts.h QRnnAttrs) are
// the same layers with X in int8 and those GEMMs on int8 kernels
// (ops/int8/qrnn_gemms.h): x W' always, H R' when the node has h_scale (LSTM
// and RNN; GRU's reset gate multiplies H before its candidate GEMM, so its
// recurrent GEMMs stay float32). Everything after the GEMMs is the float code.
//
// com.microsoft DynamicQuantizeLSTM (ONNX Runtime's quantize_dynamic output) is
// the LSTM layer with W and R quantized ([dirs, input or hidden, 4H], scales
// and zero points at inputs 8-11) and both GEMMs on u8 x s8 kernels, X and each
// step's H quantized dynamically as ONNX Runtime does (dynamic_quant_rnn_gemms.h).
//
// An LSTM marked int8rt_precision="bf16" (engine/bf16_layers.h) runs both GEMMs
// in BF16 (rnn_bf16_gemms.h): the input projection of every direction as one
// GEMM before the direction loop (xw then holds each row's dirs * 4H values),
// the recurrent product per step; the cell is this float code (its common form
// lstm_gates.h's).
#include <algorithm>
#include <cmath>
#include <memory>

#include "core/checked_math.h"
#include "engine/bf16_layers.h"
#include "engine/layer.h"
#include "engine/ops/dynamic_quant_rnn_gemms.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qrnn_gemms.h"
#include "engine/ops/lstm_gates.h"
#include "engine/ops/op_util.h"
#include "engine/ops/rnn_bf16_gemms.h"
#include "kernels/ref/math_f32.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::ref::exp_f32;
using kernels::ref::tanh_f32;

enum class Cell { kLstm, kGru, kRnn };
// Where the GEMMs' weights come from: float32 W and R, a QLSTM's int8 ones, or
// a DynamicQuantizeLSTM's quantized ones with dynamic activation quantization.
// (A float LSTM marked bf16 runs its GEMMs in BF16: Gemms::kFloat, wants_bf16.)
enum class Gemms { kFloat, kInt8, kDynamic };

int gates(Cell cell) { return cell == Cell::kLstm ? 4 : cell == Cell::kGru ? 3 : 1; }

inline float sigmoid(float v) { return 1.f / (1.f + exp_f32(-v)); }

class RnnLayer : public Layer {
 public:
  RnnLayer(const Network& net, const Node& node, Cell cell, Gemms gemms)
      : cell_(cell), hidden_(node.attrs.get_int("hidden_size", 0)), layout_(node.attrs.get_int("layout", 0)),
        clip_(static_cast<float>(node.attrs.get_float("clip", 0.0))),
        input_forget_(node.attrs.get_int("input_forget", 0) != 0),
        linear_before_reset_(node.attrs.get_int("linear_before_reset", 0) != 0),
        num_outputs_(node.outputs.size()), uk_(kernels::choose<kernels::SgemmKernel>()), prefix_(layer_error_prefix(node)) {
    const std::string dir = node.attrs.get_string("direction", "forward");
    if (dir == "forward" || dir == "reverse") {
      dirs_ = 1;
      reverse_first_ = dir == "reverse";
    } else if (dir == "bidirectional") {
      dirs_ = 2;
    } else {
      throw InvalidArgument(prefix_ + "direction '" + dir + "' is not forward, reverse or bidirectional");
    }
    if (layout_ != 0 && layout_ != 1) throw InvalidArgument(prefix_ + "layout must be 0 or 1");
    if (node.attrs.has("clip") && !(clip_ > 0.f)) throw InvalidArgument(prefix_ + "clip must be positive");
    for (const char* key : {"activations", "activation_alpha", "activation_beta"}) {
      if (node.attrs.has(key)) throw NotSupported(prefix_ + "attribute '" + key + "': only the default activations are supported");
    }
    if (num_outputs_ > static_cast<size_t>(cell == Cell::kLstm ? 3 : 2)) {
      throw InvalidArgument(prefix_ + "too many outputs");
    }
    if (gemms == Gemms::kDynamic) {
      if (layout_ != 0) throw InvalidArgument(prefix_ + "DynamicQuantizeLSTM has no layout attribute");
      dq_ = std::make_unique<DynamicQuantRnnGemms>(net, node, dirs_);
      return;
    }
    if (gemms == Gemms::kFloat && wants_bf16(net, node)) {  // an LSTM (GRU and RNN are refused there)
      bf16_ = std::make_unique<Bf16RnnGemms>(net, node, dirs_);
      return;
    }
    if (gemms == Gemms::kInt8) {
      const Tensor& w = constant_input(net, node, 1, "W");
      const int64_t gate_rows = w.shape.size() == 3 ? w.shape[1] : 0;
      q_ = std::make_unique<QRnnGemms>(net, node, dirs_, gate_rows, cell != Cell::kGru);
    }
    pack_constant_weights(net, node);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Dims d = dims(in);
    std::vector<std::pair<DataType, Shape>> out;
    const Shape y = layout_ == 0 ? Shape{d.seq, dirs_, d.batch, d.hidden} : Shape{d.batch, d.seq, dirs_, d.hidden};
    const Shape state = layout_ == 0 ? Shape{dirs_, d.batch, d.hidden} : Shape{d.batch, dirs_, d.hidden};
    for (size_t o = 0; o < num_outputs_; ++o) out.push_back({DataType::kFloat32, o == 0 ? y : state});
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Dims d = dims(in);
    const int64_t G = gates(cell_), H = d.hidden, B = d.batch, T = d.seq, I = d.input;
    std::vector<int64_t> lens(static_cast<size_t>(B), T);
    if (present(in, 4)) {
      lens = int64_values(*in[4], prefix_, "sequence_lens");
      for (int64_t len : lens) {
        if (len < 0 || len > T) {
          throw InvalidArgument(prefix_ + "sequence_lens value " + std::to_string(len) + " outside [0, " +
                                std::to_string(T) + "]");
        }
      }
    }
    float* y = num_outputs_ > 0 && out[0] ? out[0]->data<float>() : nullptr;
    if (y) std::fill(y, y + out[0]->numel(), 0.f);
    // Scratch: x W' + biases for every step [T*B][G*H] (each step's gates computed in place; BF16:
    // [T*B][dirs*G*H], every direction's projection, the row stride ldx, a step's gates copied out to
    // `gate`), the biases of every direction, the state.
    const int64_t ldx = bf16_ ? dirs_ * G * H : G * H;
    std::vector<float> xw(static_cast<size_t>(T * B * ldx)), gate(bf16_ ? static_cast<size_t>(B * G * H) : 0);
    // Wb + Rb of every direction: the BF16 projection adds them in its tile epilogue, the others after theirs.
    std::vector<float> bias(static_cast<size_t>(dirs_ * G * H));
    for (int64_t dir = 0; dir < dirs_; ++dir) direction_bias(in, dir, H, bias.data() + dir * G * H);
    std::vector<float> h(static_cast<size_t>(B * H)), c(static_cast<size_t>(B * H)), rh(static_cast<size_t>(B * H));
    Scratch scratch;
    if (q_) {
      scratch.hq.resize(static_cast<size_t>(B * H));
      scratch.product.resize(static_cast<size_t>(B * G * H));
      if (layout_ == 1) scratch.rows.resize(xw.size());
    }
    if (bf16_) project_bf16(in, T, B, I, ldx, present(in, 3) ? bias.data() : nullptr, xw.data());
    for (int64_t dir = 0; dir < dirs_; ++dir) {
      const bool reverse = dirs_ == 2 ? dir == 1 : reverse_first_;
      const float* r = (q_ && q_->recurrent()) || dq_ || bf16_ ? nullptr : in[2]->data<float>() + dir * G * H * H;
      const float* rb = present(in, 3) ? in[3]->data<float>() + (dir * 2 + 1) * G * H : nullptr;
      float* xd = xw.data() + (bf16_ ? dir * G * H : 0);  // this direction's columns
      if (!bf16_) {
        project(in, dir, T, B, G * H, I, xw.data(), scratch);
        const float* bd = bias.data() + dir * G * H;
        for (int64_t row = 0; row < T * B; ++row) {  // one add per value, as a loop the compiler vectorizes
          float* v = xd + row * ldx;
          for (int64_t k = 0; k < G * H; ++k) v[k] += bd[k];
        }
      }
      load_state(in, 5, dir, B, H, h.data());
      if (cell_ == Cell::kLstm) load_state(in, 6, dir, B, H, c.data());
      const float* p = cell_ == Cell::kLstm && present(in, 7) ? in[7]->data<float>() + dir * 3 * H : nullptr;
      for (int64_t step = 0; step < T; ++step) {
        const int64_t t = reverse ? T - 1 - step : step;
        float* g = xd + t * B * ldx;  // step t's gates, in place
        if (bf16_) {  // the rows of every direction's projection: this direction's copied out
          for (int64_t b = 0; b < B; ++b) std::copy_n(xd + (t * B + b) * ldx, G * H, gate.begin() + b * G * H);
          g = gate.data();
        }
        this->step(t, dir, lens, B, H, r, rb, p, g, h.data(), c.data(), rh.data(), scratch);
        if (y) {
          for (int64_t b = 0; b < B; ++b) {
            if (!active(t, b, lens)) continue;
            float* dst = layout_ == 0 ? y + ((t * dirs_ + dir) * B + b) * H : y + ((b * T + t) * dirs_ + dir) * H;
            std::copy(h.begin() + b * H, h.begin() + (b + 1) * H, dst);
          }
        }
      }
      for (size_t o = 1; o < num_outputs_; ++o) {
        if (!out[o]) continue;
        const std::vector<float>& s = o == 1 ? h : c;
        float* dst = out[o]->data<float>();
        for (int64_t b = 0; b < B; ++b) {
          float* row = layout_ == 0 ? dst + (dir * B + b) * H : dst + (b * dirs_ + dir) * H;
          std::copy(s.begin() + b * H, s.begin() + (b + 1) * H, row);
        }
      }
    }
  }

  std::string describe() const override {
    return q_ ? q_->describe() : dq_ ? dq_->describe() : bf16_ ? "bf16 gemms" + bf16_->describe() : "fp32";
  }

 private:
  // Per direction, the float32 W' and R' (GRU: R's z/r rows and its
  // candidate rows apart, as step multiplies them) in uk_'s panels, where the
  // node's W / R are float32 constants of the expected shape; empty otherwise.
  void pack_constant_weights(const Network& net, const Node& node) {
    const int64_t G = gates(cell_);
    const Tensor& w = net.tensor(node.inputs[1]);
    if (!q_ && w.is_constant && w.dtype == DataType::kFloat32 && w.shape.size() == 3 && w.shape[0] == dirs_) {
      const int64_t GH = w.shape[1], I = w.shape[2];
      for (int64_t dir = 0; dir < dirs_; ++dir) {
        packed_w_.push_back(kernels::pack_b_once(uk_, I, GH, {w.f32.data() + dir * GH * I, I, true}));
      }
    }
    const Tensor& r = net.tensor(node.inputs[2]);
    if (!r.is_constant || r.dtype != DataType::kFloat32 || r.shape.size() != 3 || r.shape[0] != dirs_ ||
        r.shape[1] != G * r.shape[2]) {
      return;
    }
    const int64_t H = r.shape[2];
    for (int64_t dir = 0; dir < dirs_; ++dir) {
      const float* rd = r.f32.data() + dir * G * H * H;
      if (cell_ == Cell::kGru) {
        packed_r_.push_back(kernels::pack_b_once(uk_, H, 2 * H, {rd, H, true}));
        packed_r_candidate_.push_back(kernels::pack_b_once(uk_, H, H, {rd + 2 * H * H, H, true}));
      } else {
        packed_r_.push_back(kernels::pack_b_once(uk_, H, G * H, {rd, H, true}));
      }
    }
  }

  // The B operand op(B) = stored^T (stored [N][K], row stride K), through
  // `packed` when it was packed for these K and N.
  static kernels::GemmOperand transposed(const float* stored, int64_t K, int64_t N,
                                         const std::vector<kernels::PackedB>& packed, int64_t dir) {
    kernels::GemmOperand b{stored, K, true};
    if (static_cast<size_t>(dir) < packed.size() && packed[dir].K == K && packed[dir].N == N) {
      b.packed_b = &packed[dir];
    }
    return b;
  }

  struct Dims {
    int64_t seq, batch, input, hidden;
  };

  // The int8 path's per-run buffers: h in int8, one recurrent product, and
  // the projection in X's [b][t] row order (layout 1) before it is reordered.
  struct Scratch {
    std::vector<int8_t> hq;
    std::vector<float> product, rows;
  };

  // xw [T*B][GH], rows step-major (t * B + b): x W' for direction dir.
  void project(const std::vector<const Value*>& in, int64_t dir, int64_t T, int64_t B, int64_t GH, int64_t I, float* xw,
               Scratch& scratch) const {
    if (dq_) {  // layout 0 only: X [t][b] is xw's row order
      dq_->project(dir, T * B, in[0]->data<float>(), xw);
      return;
    }
    if (q_) {
      // All T*B rows in one int8 GEMM; layout 1's rows come [b][t] and are reordered.
      const int8_t* x = in[0]->data<int8_t>();
      if (layout_ == 0) {
        q_->project(dir, T * B, x, xw);
        return;
      }
      q_->project(dir, T * B, x, scratch.rows.data());
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t t = 0; t < T; ++t) {
          std::copy_n(scratch.rows.data() + (b * T + t) * GH, GH, xw + (t * B + b) * GH);
        }
      }
      return;
    }
    const float* x = in[0]->data<float>();
    const kernels::GemmOperand w = transposed(in[1]->data<float>() + dir * GH * I, I, GH, packed_w_, dir);
    if (layout_ == 0) {  // X [t][b] is already in xw's row order: every step in one GEMM
      kernels::sgemm(uk_, T * B, GH, I, kernels::GemmOperand{x, I, false}, w, xw, GH, false);
      return;
    }
    // Layout 1 stores X as [b][t]: entry b's T rows go to xw rows t * B + b.
    for (int64_t b = 0; b < B; ++b) {
      kernels::sgemm(uk_, T, GH, I, kernels::GemmOperand{x + b * T * I, I, false}, w, xw + b * GH, B * GH, false);
    }
  }

  // bias [G*H] = Wb + Rb of direction dir (zeros without B); GRU with linear_before_reset keeps Rbh
  // inside the reset product.
  void direction_bias(const std::vector<const Value*>& in, int64_t dir, int64_t H, float* bias) const {
    const int64_t GH = gates(cell_) * H;
    const float* wb = present(in, 3) ? in[3]->data<float>() + dir * 2 * GH : nullptr;
    const float* rb = wb ? wb + GH : nullptr;
    for (int64_t k = 0; k < GH; ++k) {
      const bool keep_rb = cell_ == Cell::kGru && linear_before_reset_ && k >= 2 * H;
      bias[k] = (wb ? wb[k] : 0.f) + (rb && !keep_rb ? rb[k] : 0.f);
    }
  }

  // The BF16 projection: xw [T*B][ldx] (rows step-major) = x W' + bias (every direction's; null: none).
  // Layout 1 stores X as [b][t]: entry b's T rows go to xw rows t * B + b.
  void project_bf16(const std::vector<const Value*>& in, int64_t T, int64_t B, int64_t I, int64_t ldx,
                    const float* bias, float* xw) const {
    const float* x = in[0]->data<float>();
    if (layout_ == 0) {
      bf16_->project(T * B, x, I, xw, ldx, bias);
      return;
    }
    for (int64_t b = 0; b < B; ++b) bf16_->project(T, x + b * T * I, I, xw + b * ldx, B * ldx, bias);
  }

  static bool present(const std::vector<const Value*>& in, size_t i) { return in.size() > i && in[i]; }

  // Whether step t updates batch entry b (a reverse pass so starts at its own last step).
  static bool active(int64_t t, int64_t b, const std::vector<int64_t>& lens) { return t < lens[static_cast<size_t>(b)]; }

  Dims dims(const std::vector<const Value*>& in) const {
    const DataType weights = q_ ? DataType::kInt8 : DataType::kFloat32;
    const Shape& xs = require_input(in, 0, weights, prefix_).shape();
    const Shape& rs = dq_ ? Shape{dirs_, gates(cell_) * dq_->hidden_size(), dq_->hidden_size()}
                          : require_input(in, 2, q_ && q_->recurrent() ? DataType::kInt8 : DataType::kFloat32, prefix_).shape();
    if (xs.size() != 3) throw InvalidArgument(prefix_ + "X must have 3 dimensions, got " + shape_str(xs));
    const int64_t G = gates(cell_);
    Dims d{layout_ == 0 ? xs[0] : xs[1], layout_ == 0 ? xs[1] : xs[0], xs[2], hidden_};
    if (d.hidden <= 0 && rs.size() == 3) d.hidden = rs[2];
    const int64_t H = d.hidden;
    auto expect = [&](size_t i, const char* what, const Shape& want) {
      if (!present(in, i)) return;
      const DataType dtype = i == 4 ? in[i]->dtype() : i == 1 || (i == 2 && q_ && q_->recurrent()) ? weights
                                                                                                   : DataType::kFloat32;
      const Value& v = require_input(in, i, dtype, prefix_);
      if (v.shape() != want) {
        throw InvalidArgument(prefix_ + what + " is " + shape_str(v.shape()) + ", expected " + shape_str(want));
      }
    };
    if (H <= 0) throw InvalidArgument(prefix_ + "hidden_size must be positive");
    // The weights' expected shapes hold G H, 2 G H (B) and 3 H (P): a hidden_size whose 2 G H overflows
    // (a forged 2^62) is refused before they are formed.
    checked_mul(2 * G, H, prefix_ + "hidden_size");
    if (dq_) {  // W and R were checked when the layer was made
      if (d.input != dq_->input_size() || H != dq_->hidden_size()) {
        throw InvalidArgument(prefix_ + "X " + shape_str(xs) + " and hidden_size " + std::to_string(H) +
                              " do not match the quantized W and R");
      }
    } else {
      expect(1, "W", {dirs_, G * H, d.input});
      expect(2, "R", {dirs_, G * H, H});
    }
    expect(3, "B", {dirs_, 2 * G * H});
    expect(4, "sequence_lens", {d.batch});
    const Shape state = layout_ == 0 ? Shape{dirs_, d.batch, H} : Shape{d.batch, dirs_, H};
    expect(5, "initial_h", state);
    if (cell_ == Cell::kLstm) {
      expect(6, "initial_c", state);
      expect(7, "P", {dirs_, 3 * H});
    }
    return d;
  }

  void load_state(const std::vector<const Value*>& in, size_t i, int64_t dir, int64_t B, int64_t H, float* s) const {
    if (!present(in, i)) {
      std::fill(s, s + B * H, 0.f);
      return;
    }
    const float* src = in[i]->data<float>();
    for (int64_t b = 0; b < B; ++b) {
      const float* row = layout_ == 0 ? src + (dir * B + b) * H : src + (b * dirs_ + dir) * H;
      std::copy(row, row + H, s + b * H);
    }
  }

  float clipped(float v) const { return clip_ > 0.f ? std::min(clip_, std::max(-clip_, v)) : v; }

  // One step: `gate` holds x W' + biases for step t; adds H R' and applies the cell.
  void step(int64_t t, int64_t dir, const std::vector<int64_t>& lens, int64_t B, int64_t H, const float* r,
            const float* rb, const float* p, float* gate, float* h, float* c, float* rh, Scratch& scratch) const {
    const int64_t G = gates(cell_);
    if (cell_ == Cell::kGru) {
      // z and r from H R'; the candidate's recurrent term needs r first.
      kernels::sgemm(uk_, B, 2 * H, H, kernels::GemmOperand{h, H, false}, transposed(r, H, 2 * H, packed_r_, dir), gate,
                     G * H, true);
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < H; ++k) gate[b * G * H + H + k] = sigmoid(clipped(gate[b * G * H + H + k]));
      }
      if (linear_before_reset_) {
        kernels::sgemm(uk_, B, H, H, kernels::GemmOperand{h, H, false},
                       transposed(r + 2 * H * H, H, H, packed_r_candidate_, dir), rh, H, false);
        for (int64_t b = 0; b < B; ++b) {
          for (int64_t k = 0; k < H; ++k) {
            const float rt = gate[b * G * H + H + k];
            gate[b * G * H + 2 * H + k] += rt * (rh[b * H + k] + (rb ? rb[2 * H + k] : 0.f));
          }
        }
      } else {
        for (int64_t b = 0; b < B; ++b) {
          for (int64_t k = 0; k < H; ++k) rh[b * H + k] = gate[b * G * H + H + k] * h[b * H + k];
        }
        kernels::sgemm(uk_, B, H, H, kernels::GemmOperand{rh, H, false},
                       transposed(r + 2 * H * H, H, H, packed_r_candidate_, dir), gate + 2 * H, G * H, true);
      }
      for (int64_t b = 0; b < B; ++b) {
        if (!active(t, b, lens)) continue;
        const float* g = gate + b * G * H;
        for (int64_t k = 0; k < H; ++k) {
          const float z = sigmoid(clipped(g[k]));
          const float n = tanh_f32(clipped(g[2 * H + k]));
          h[b * H + k] = (1.f - z) * n + z * h[b * H + k];
        }
      }
      return;
    }
    if (q_ && q_->recurrent()) {
      q_->add_recurrent(dir, B, h, gate, G * H, scratch.hq.data(), scratch.product.data());
    } else if (dq_) {
      dq_->add_recurrent(dir, B, h, gate, G * H);
    } else if (bf16_) {
      bf16_->add_recurrent(dir, B, h, gate, G * H);
    } else {
      kernels::sgemm(uk_, B, G * H, H, kernels::GemmOperand{h, H, false}, transposed(r, H, G * H, packed_r_, dir), gate,
                     G * H, true);
    }
    for (int64_t b = 0; b < B; ++b) {
      if (!active(t, b, lens)) continue;
      const float* g = gate + b * G * H;
      float* hb = h + b * H;
      if (cell_ == Cell::kRnn) {
        for (int64_t k = 0; k < H; ++k) hb[k] = tanh_f32(clipped(g[k]));
        continue;
      }
      float* cb = c + b * H;
      if (!p && !input_forget_ && clip_ <= 0.f) {  // the common LSTM, on vector kernels (lstm_gates.h)
        gates_.apply(H, gate + b * G * H, cb, hb);
        continue;
      }
      for (int64_t k = 0; k < H; ++k) {
        const float i = sigmoid(clipped(g[k] + (p ? p[k] * cb[k] : 0.f)));
        const float f = input_forget_ ? 1.f - i : sigmoid(clipped(g[2 * H + k] + (p ? p[2 * H + k] * cb[k] : 0.f)));
        const float cand = tanh_f32(clipped(g[3 * H + k]));
        const float cn = f * cb[k] + i * cand;
        const float o = sigmoid(clipped(g[H + k] + (p ? p[H + k] * cn : 0.f)));
        cb[k] = cn;
        hb[k] = o * tanh_f32(cn);
      }
    }
  }

  Cell cell_;
  int64_t hidden_, layout_;
  float clip_;
  bool input_forget_, linear_before_reset_;
  int64_t dirs_ = 1;
  bool reverse_first_ = false;
  size_t num_outputs_;
  const kernels::SgemmKernel& uk_;  // chosen once per layer
  std::vector<kernels::PackedB> packed_w_, packed_r_, packed_r_candidate_;  // per direction (pack_constant_weights)
  std::string prefix_;
  std::unique_ptr<QRnnGemms> q_;  // the int8 GEMMs of a QLSTM / QGRU / QRNN node, else null
  std::unique_ptr<DynamicQuantRnnGemms> dq_;  // a DynamicQuantizeLSTM's GEMMs, else null
  LstmGates gates_;  // the common LSTM cell
  std::unique_ptr<Bf16RnnGemms> bf16_;  // a BF16 LSTM's GEMMs, else null
};

LayerFactory make(Cell cell, Gemms gemms) {
  return [cell, gemms](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
    if (!has_input(node, 0) || !has_input(node, 1) || !has_input(node, 2)) {
      throw InvalidArgument(layer_error_prefix(node) + "needs X, W and R");
    }
    return std::make_unique<RnnLayer>(net, node, cell, gemms);
  };
}

INT8RT_REGISTER_LAYER("LSTM", make(Cell::kLstm, Gemms::kFloat));
INT8RT_REGISTER_LAYER("GRU", make(Cell::kGru, Gemms::kFloat));
INT8RT_REGISTER_LAYER("RNN", make(Cell::kRnn, Gemms::kFloat));
INT8RT_REGISTER_LAYER(QRnnAttrs::kLstmOp, make(Cell::kLstm, Gemms::kInt8));
INT8RT_REGISTER_LAYER("DynamicQuantizeLSTM", make(Cell::kLstm, Gemms::kDynamic));
INT8RT_REGISTER_LAYER(QRnnAttrs::kGruOp, make(Cell::kGru, Gemms::kInt8));
INT8RT_REGISTER_LAYER(QRnnAttrs::kRnnOp, make(Cell::kRnn, Gemms::kInt8));

}  // namespace
}  // namespace engine
}  // namespace int8rt
