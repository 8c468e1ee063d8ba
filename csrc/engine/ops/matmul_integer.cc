// MatMulInteger (ONNX opset 10) and QLinearMatMul (opsets 10, 21) on the
// integer product of integer_gemm.h (u8 x s8 kernels, exact):
//
//   MatMulInteger: Y = (A - a_zero_point) @ (B - b_zero_point), int32
//     (onnx/reference/ops/op_matmul_integer.py), numpy matmul shapes: batch
//     dims broadcast, a 1-D A or B promoted and its axis dropped.
//   QLinearMatMul: Y = clamp(round_half_even(C * (a_scale * b_scale / y_scale)
//     + y_zero_point)), C as above; the multiplier formed in the scales' type
//     (float32, or float16 rounded after each operation), the product and the
//     zero point added in float64, as op_qlinear_matmul.py's numpy promotion
//     does; Y has y_zero_point's type (else A's).
//
//   MatMulIntegerToFloat (com.microsoft, ONNX Runtime's fusion and quantize_dynamic's output):
//     Y = float(C) * (a_scale * b_scale) + bias, float32, the multiplier per column where b_scale is
//     (contrib_ops/cpu/quantization/matmul_integer_to_float.cc); formed by the kernel's epilogue as it
//     stores C (kernels/gemm_u8s8.h, GemmU8S8Epilogue), together with the zero-point terms. The importer also writes ONNX's
//     MatMulInteger -> Cast(float) -> Mul(s) [-> Add(bias)] as this op with a_scale = s and
//     b_scale = 1 (_contrib.py): float(C) * (s * 1) + bias is the same float32 arithmetic.
//
// Zero points: per tensor (one element) or per row of A (M values, or batch x
// M for a batched A) and per column of B (N values, or batch x N), as the spec
// allows. b_scale may be per column (N values). A constant 2-D B is packed
// once, when the layer is made.
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/integer_gemm.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

// Input positions of the two ops.
struct MatMulSlots {
  size_t a, za, b, zb;
  enum class Out { kInt32, kQLinear, kFloat } out;
};

// MatMulIntegerToFloat's per-column multiplier a_scale * b_scale and bias (module comment),
// with the scales read.
struct FloatEpilogue {
  std::vector<float> mult, bias, sa, sb;
  bool has_bias = false;
};

struct MatMulGeometry {
  Shape out;             // output shape
  int64_t M = 0, K = 0, N = 0;
  Shape batch;           // broadcast batch dims
  Shape a_batch, b_batch;
};

// The geometry of A x B into g, its shapes' storage reused (a run allocates nothing once sized).
void matmul_geometry_into(const Shape& a, const Shape& b, const std::string& prefix, MatMulGeometry* g) {
  if (a.empty() || b.empty()) throw InvalidArgument(prefix + "A and B must have rank >= 1");
  // A 1-D A is [1, K] and a 1-D B [K, 1] (numpy), their batches empty.
  g->M = a.size() == 1 ? 1 : a[a.size() - 2];
  g->K = a.back();
  g->N = b.size() == 1 ? 1 : b.back();
  if ((b.size() == 1 ? b[0] : b[b.size() - 2]) != g->K) {
    throw InvalidArgument(prefix + "A " + shape_str(a) + " and B " + shape_str(b) + " do not multiply");
  }
  g->a_batch.assign(a.begin(), a.size() > 2 ? a.end() - 2 : a.begin());
  g->b_batch.assign(b.begin(), b.size() > 2 ? b.end() - 2 : b.begin());
  // broadcast_shapes (op_util.h), in place.
  const size_t ra = g->a_batch.size(), rb = g->b_batch.size(), r = std::max(ra, rb);
  g->batch.clear();
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ra ? 1 : g->a_batch[i - (r - ra)];
    const int64_t db = i < r - rb ? 1 : g->b_batch[i - (r - rb)];
    if (da != db && da != 1 && db != 1) broadcast_shapes(g->a_batch, g->b_batch, prefix);  // throws its message
    g->batch.push_back(da == 1 ? db : da);
  }
  g->out.assign(g->batch.begin(), g->batch.end());
  if (a.size() > 1) g->out.push_back(g->M);
  if (b.size() > 1) g->out.push_back(g->N);
}

// The offset (in matrices) of batch index i of `out` in a batch shape `part` broadcast to it
// (broadcast_strides, op_util.h, walked in place).
int64_t batch_offset(const Shape& part, const Shape& out, int64_t i) {
  int64_t off = 0, stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {  // from the last dim
    const int64_t dim = out[out.size() - 1 - k];
    const int64_t idx = i % dim;
    i /= dim;
    if (k < part.size()) {
      const int64_t p = part[part.size() - 1 - k];
      if (p != 1) off += idx * stride;
      stride *= p;
    }
  }
  return off;
}

// The zero points of matrix `index` of `count` matrices whose rows (or columns) number `len`:
// z itself, or that matrix's part of z copied into *slice.
const std::vector<int32_t>& zero_point_slice(const std::vector<int32_t>& z, int64_t len, int64_t count,
                                             int64_t index, const std::string& prefix, const char* what,
                                             std::vector<int32_t>* slice) {
  if (z.size() == 1 || static_cast<int64_t>(z.size()) == len) return z;
  if (static_cast<int64_t>(z.size()) == len * count) {
    slice->assign(z.begin() + index * len, z.begin() + (index + 1) * len);
    return *slice;
  }
  throw InvalidArgument(prefix + what + " has " + std::to_string(z.size()) + " elements; expected 1, " +
                        std::to_string(len) + " or " + std::to_string(len * count));
}

std::vector<double> as_doubles(const Value& v) {
  std::vector<double> out(static_cast<size_t>(v.numel()));
  visit_dtype(v.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < out.size(); ++i) out[i] = convert_element<double>(v.data<T>()[i]);
  });
  return out;
}

// a * b / c rounded after each operation to `t` (float32, or float16).
double scale_ratio(DataType t, double a, double b, double c) {
  if (t == DataType::kFloat16) {
    auto r = [](double x) { return convert_element<double>(convert_element<Half>(x)); };
    return r(r(a * b) / c);
  }
  if (t == DataType::kFloat64) return a * b / c;
  return static_cast<double>(static_cast<float>(static_cast<float>(a) * static_cast<float>(b)) /
                             static_cast<float>(c));
}

class IntegerMatMulLayer : public Layer {
 public:
  IntegerMatMulLayer(const Network& net, const Node& node, MatMulSlots slots)
      : slots_(slots), prefix_(layer_error_prefix(node)) {
    require_inputs(node, slots.b + 1);
    const Tensor& b = net.tensor(node.inputs[slots.b]);
    if (b.is_constant && b.shape.size() == 2 && (b.dtype == DataType::kInt8 || b.dtype == DataType::kInt64)) {
      std::vector<int8_t> s8(static_cast<size_t>(b.shape[0] * b.shape[1]));
      tensor_to_s8(b, s8.data());
      packed_.emplace(b.shape[0], b.shape[1], s8.data(), b.shape[1]);
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, slots_.a, prefix_);
    const Value& b = require_any(in, slots_.b, prefix_);
    int_kind(a.dtype(), prefix_, "A");
    int_kind(b.dtype(), prefix_, "B");
    MatMulGeometry g;
    matmul_geometry_into(a.shape(), b.shape(), prefix_, &g);
    return {{slots_.out == MatMulSlots::Out::kQLinear ? output_dtype(in) : slots_.out == MatMulSlots::Out::kFloat ? DataType::kFloat32 : DataType::kInt32, g.out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[slots_.a];
    const Value& b = *in[slots_.b];
    // Per thread, grown, never shrunk: a steady-state run allocates nothing here.
    thread_local MatMulGeometry g;
    thread_local std::vector<int32_t> za, zb, za_slice, zb_slice;
    thread_local std::vector<uint8_t> a_copy;
    thread_local std::vector<int8_t> b_copy;
    thread_local std::vector<int32_t> acc_store;
    thread_local FloatEpilogue to_float;
    matmul_geometry_into(a.shape(), b.shape(), prefix_, &g);
    const bool a_s8 = int_kind(a.dtype(), prefix_, "A") == IntKind::kS8;
    const bool b_s8 = int_kind(b.dtype(), prefix_, "B") == IntKind::kS8;
    const Value* za_v = in.size() > slots_.za ? in[slots_.za] : nullptr;
    const Value* zb_v = in.size() > slots_.zb ? in[slots_.zb] : nullptr;
    zero_point_values_into(za_v, a_s8 ? 128 : 0, &za);
    zero_point_values_into(zb_v, b_s8 ? 0 : -128, &zb);
    const int64_t a_count = shape_numel(g.a_batch), b_count = shape_numel(g.b_batch);
    const int64_t count = shape_numel(g.batch), MN = g.M * g.N;

    const uint8_t* a_u8 = a.data<uint8_t>();
    if (a.dtype() != DataType::kUInt8) {
      a_copy.resize(static_cast<size_t>(a.numel()));
      to_u8(a, a_copy.data());
      a_u8 = a_copy.data();
    }
    if (!packed_) {
      b_copy.resize(static_cast<size_t>(b.numel()));
      to_s8(b, b_copy.data());
    }
    int32_t* acc = nullptr;
    if (slots_.out == MatMulSlots::Out::kQLinear) {
      acc_store.resize(static_cast<size_t>(count * MN));
      acc = acc_store.data();
    } else {  // int32 output, or float32 converted in place (same element size)
      acc = reinterpret_cast<int32_t*>(out[0]->data<float>());
    }
    const bool floats = slots_.out == MatMulSlots::Out::kFloat;
    if (floats) float_epilogue(in, g.N, &to_float);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t ai = batch_offset(g.a_batch, g.batch, i), bi = batch_offset(g.b_batch, g.batch, i);
      std::optional<IntegerProduct> local;
      if (!packed_) local.emplace(g.K, g.N, b_copy.data() + bi * g.K * g.N, g.N);
      const IntegerProduct& product = packed_ ? *packed_ : *local;
      int32_t* c = acc + i * MN;
      IntegerProduct::FloatOutput float_out;  // the conversion is the kernel's epilogue
      if (floats) {
        float_out.scale = to_float.mult.data();
        float_out.bias = to_float.has_bias ? to_float.bias.data() : nullptr;
      }
      product.run(g.M, a_u8 + ai * g.M * g.K, g.K,
                  zero_point_slice(za, g.M, a_count, ai, prefix_, "a_zero_point", &za_slice),
                  zero_point_slice(zb, g.N, b_count, bi, prefix_, "b_zero_point", &zb_slice), c, g.N,
                  floats ? &float_out : nullptr);
    }
    if (slots_.out == MatMulSlots::Out::kQLinear) requantize(in, g, acc, *out[0]);
  }

  std::string describe() const override {
    const char* what = slots_.out == MatMulSlots::Out::kQLinear ? "qlinear matmul"
                       : slots_.out == MatMulSlots::Out::kFloat ? "matmul integer to float" : "matmul integer";
    if (!packed_) return std::string(what) + " (B packed per run)";
    const std::string form = packed_->form();
    return std::string(what) + " (" + packed_->kernel_name() + (form.empty() ? "" : ", " + form) + ")";
  }

 private:
  DataType output_dtype(const std::vector<const Value*>& in) const {
    const Value* zy = in.size() > 7 ? in[7] : nullptr;
    const DataType t = zy ? zy->dtype() : in[0]->dtype();
    return int_kind(t, prefix_, "y_zero_point") == IntKind::kS8 ? DataType::kInt8 : DataType::kUInt8;
  }

  // MatMulIntegerToFloat's per-column multiplier a_scale * b_scale and bias (module comment), into
  // *e, its storage reused.
  void float_epilogue(const std::vector<const Value*>& in, int64_t N, FloatEpilogue* e) const {
    float_values_into(require_any(in, 2, prefix_), prefix_, "a_scale", &e->sa);
    float_values_into(require_any(in, 3, prefix_), prefix_, "b_scale", &e->sb);
    const std::vector<float>& sa = e->sa;
    const std::vector<float>& sb = e->sb;
    if (sa.size() != 1 || (sb.size() != 1 && static_cast<int64_t>(sb.size()) != N)) {
      throw InvalidArgument(prefix_ + "a_scale must have one element and b_scale 1 or N (" + std::to_string(N) + ")");
    }
    e->mult.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) e->mult[n] = sa[0] * sb[sb.size() == 1 ? 0 : n];
    e->has_bias = in.size() > 6 && in[6];
    if (e->has_bias) {
      float_values_into(*in[6], prefix_, "bias", &e->bias);
      if (static_cast<int64_t>(e->bias.size()) != N) throw InvalidArgument(prefix_ + "bias must have N elements");
    }
  }

  // QLinearMatMul's output (module comment).
  void requantize(const std::vector<const Value*>& in, const MatMulGeometry& g, const int32_t* acc, Value& y) const {
    const Value& sa = require_any(in, 1, prefix_);
    const Value& sb = require_any(in, 4, prefix_);
    const Value& sy = require_any(in, 6, prefix_);
    const std::vector<double> va = as_doubles(sa), vb = as_doubles(sb), vy = as_doubles(sy);
    if (va.size() != 1 || vy.size() != 1 || (vb.size() != 1 && static_cast<int64_t>(vb.size()) != g.N)) {
      throw InvalidArgument(prefix_ + "a_scale and y_scale must have one element and b_scale 1 or N (" +
                            std::to_string(g.N) + ")");
    }
    std::vector<double> mult(vb.size());
    for (size_t n = 0; n < vb.size(); ++n) mult[n] = scale_ratio(sa.dtype(), va[0], vb[n], vy[0]);
    const Value* zy_v = in.size() > 7 ? in[7] : nullptr;
    const double zy = zy_v ? static_cast<double>(zero_point_values(zy_v, 0).at(0)) : 0.0;
    const bool s8 = y.dtype() == DataType::kInt8;
    const double lo = s8 ? -128.0 : 0.0, hi = s8 ? 127.0 : 255.0;
    const int64_t total = y.numel();
    for (int64_t i = 0; i < total; ++i) {
      const double m = mult.size() == 1 ? mult[0] : mult[i % g.N];
      double v = std::nearbyint(static_cast<double>(acc[i]) * m + zy);
      v = v < lo ? lo : (v > hi ? hi : v);
      if (s8) y.data<int8_t>()[i] = static_cast<int8_t>(v);
      else y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
  }

  MatMulSlots slots_;
  std::string prefix_;
  std::optional<IntegerProduct> packed_;  // a constant 2-D B
};

std::unique_ptr<Layer> make_matmul_integer(const Network& net, const Node& node) {
  return std::make_unique<IntegerMatMulLayer>(net, node, MatMulSlots{0, 2, 1, 3, MatMulSlots::Out::kInt32});
}

std::unique_ptr<Layer> make_qlinear_matmul(const Network& net, const Node& node) {
  require_inputs(node, 8);
  return std::make_unique<IntegerMatMulLayer>(net, node, MatMulSlots{0, 2, 3, 5, MatMulSlots::Out::kQLinear});
}

std::unique_ptr<Layer> make_matmul_integer_to_float(const Network& net, const Node& node) {
  require_inputs(node, 4);
  return std::make_unique<IntegerMatMulLayer>(net, node, MatMulSlots{0, 4, 1, 5, MatMulSlots::Out::kFloat});
}

INT8RT_REGISTER_LAYER("MatMulInteger", make_matmul_integer);
INT8RT_REGISTER_LAYER("QLinearMatMul", make_qlinear_matmul);
INT8RT_REGISTER_LAYER("MatMulIntegerToFloat", make_matmul_integer_to_float);

}  // namespace
}  // namespace engine
}  // namespace int8rt
