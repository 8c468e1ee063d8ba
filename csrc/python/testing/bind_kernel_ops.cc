// int8rt._testing.kernels, part 2: the element-wise int8 ops (quantize, pools,
// add, concat: the reference kernels, or with impl="<name>" one candidate
// of the op's family in kernels/eltwise_s8.h), QAttention's softmax rows, the FP32 reference kernels and make_epilogue, on
// NumPy arrays, for tests. Thin: convert, call, release the GIL around the run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant_params.h"
#include "kernels/softmax_f32.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

namespace ref = kernels::ref;
using Pair = std::array<int, 2>;
using Quad = std::array<int, 4>;
using ImplName = std::optional<std::string>;

// The named candidate of element-wise family K, or its reference one when
// none is named.
template <class K>
const K& eltwise(const ImplName& name) {
  return name ? kernels::kernel_by_name<K>(*name) : kernels::reference_kernel<K>();
}

kernels::Activation parse_activation(const std::string& s) {
  if (s == "none") return kernels::Activation::kNone;
  if (s == "relu") return kernels::Activation::kRelu;
  if (s == "relu6") return kernels::Activation::kRelu6;
  if (s == "clip") return kernels::Activation::kClip;
  throw InvalidArgument("activation: expected none, relu, relu6 or clip, got '" + s + "'");
}

py::dict make_epilogue(float s_in, const py::handle& s_w_obj, const py::object& bias_obj,
                      float s_out, const std::string& out_dtype, const std::string& activation,
                      float clip_min, float clip_max) {
  F32Array s_w = float_arg(s_w_obj, "s_w", 1);
  F32Array bias;
  if (!bias_obj.is_none()) {
    bias = float_arg(bias_obj, "bias", 1);
    check_length(bias, s_w.shape(0), "bias");
  }
  kernels::EpilogueStorage rq = kernels::make_epilogue(
      s_in, s_w.data(), s_w.shape(0), bias_obj.is_none() ? nullptr : bias.data(), s_out,
      parse_out_dtype(out_dtype), parse_activation(activation), clip_min, clip_max);
  py::dict d;
  d["scale"] = py::array_t<float>(rq.scale.size(), rq.scale.data());
  d["bias"] = py::array_t<float>(rq.bias.size(), rq.bias.data());
  d["lo"] = rq.clamp_lo;
  d["hi"] = rq.clamp_hi;
  return d;
}

py::array_t<int8_t> quantize(const py::handle& x_obj, float scale, int32_t zero_point, const ImplName& kernel) {
  F32Array x = float_arg(x_obj, "x", -1);
  const auto& k = eltwise<kernels::QuantizeS8Kernel>(kernel);
  py::array_t<int8_t> q(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  int8_t* qp = q.mutable_data();
  py::gil_scoped_release release;
  k.quantize(x.size(), x.data(), scale, zero_point, qp);
  return q;
}

// y = table[x + 128] (lookup_s8; table: 256 int8 values).
py::array_t<int8_t> lookup(const py::handle& x_obj, const py::handle& table_obj, const ImplName& kernel) {
  I8Array x = int8_arg(x_obj, "x", -1);
  I8Array table = int8_arg(table_obj, "table", 1);
  if (table.size() != 256) throw InvalidArgument("lookup: table must hold 256 values");
  const auto& k = eltwise<kernels::LookupS8Kernel>(kernel);
  py::array_t<int8_t> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  int8_t* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.lookup(x.size(), x.data(), table.data(), yp);
  return y;
}

py::array_t<float> dequantize(const py::handle& q_obj, float scale, const ImplName& kernel) {
  I8Array q = int8_arg(q_obj, "q", -1);
  const auto& k = eltwise<kernels::DequantizeS8Kernel>(kernel);
  py::array_t<float> x(std::vector<py::ssize_t>(q.shape(), q.shape() + q.ndim()));
  float* xp = x.mutable_data();
  py::gil_scoped_release release;
  k.dequantize(q.size(), q.data(), scale, xp);
  return x;
}

// float [N, C, H, W] -> int8 [N, H, W, C].
py::array_t<int8_t> quantize_nchw_to_nhwc(const py::handle& x_obj, float scale, int32_t zero_point,
                                          const ImplName& kernel) {
  F32Array x = float_arg(x_obj, "x", 4);
  const auto& k = eltwise<kernels::QuantizeS8Kernel>(kernel);
  py::array_t<int8_t> q({x.shape(0), x.shape(2), x.shape(3), x.shape(1)});
  int8_t* qp = q.mutable_data();
  py::gil_scoped_release release;
  k.quantize_nchw_to_nhwc(x.shape(0), x.shape(1), x.shape(2) * x.shape(3), x.data(), scale, zero_point, qp);
  return q;
}

// int8 [N, H, W, C] -> float [N, C, H, W].
py::array_t<float> dequantize_nhwc_to_nchw(const py::handle& q_obj, float scale,
                                           const ImplName& kernel) {
  I8Array q = int8_arg(q_obj, "q", 4);
  const auto& k = eltwise<kernels::DequantizeS8Kernel>(kernel);
  py::array_t<float> x({q.shape(0), q.shape(3), q.shape(1), q.shape(2)});
  float* xp = x.mutable_data();
  py::gil_scoped_release release;
  k.dequantize_nhwc_to_nchw(q.shape(0), q.shape(1) * q.shape(2), q.shape(3), q.data(), scale, xp);
  return x;
}

// QAttention's scores-to-probabilities rows (kernels/ref/softmax_f32.h,
// AttentionRows) on a copy of s [rows, n]; mask [rows, n] or None, read with
// row step n and column step 1 (a dim of 1, broadcast: step 0); impl: a
// softmax_f32 kernel by name.
// attention_rows returns the float probabilities; attention_rows_s8 the
// kernel's fused int8 codes on the grid (inv_scale, zero_point)
// (ref::ProbsGrid; a kernel without the fused form is an error).
struct AttentionRowsCall {
  F32Array scores, mask;
  kernels::ref::AttentionRows a;
  const kernels::SoftmaxF32Kernel* kernel = nullptr;
  int64_t rows = 0, n = 0;
};

AttentionRowsCall attention_rows_call(const py::handle& s_obj, float factor, bool divide, const py::object& mask_obj,
                                      bool nan_to_zero, const ImplName& impl) {
  AttentionRowsCall c;
  c.scores = float_arg(s_obj, "s", 2);
  c.rows = c.scores.shape(0);
  c.n = c.scores.shape(1);
  c.a.factor = factor;
  c.a.divide = divide;
  c.a.nan_to_zero = nan_to_zero;
  if (!mask_obj.is_none()) {
    c.mask = float_arg(mask_obj, "mask", 2);
    const int64_t mr = c.mask.shape(0), mc = c.mask.shape(1);
    if ((mr != c.rows && mr != 1) || (mc != c.n && mc != 1)) {
      throw InvalidArgument("attention_rows: mask must broadcast to s's shape");
    }
    c.a.mask = c.mask.data();
    c.a.mask_row_step = mr == 1 ? 0 : mc;  // a dim of 1 broadcast: step 0
    c.a.mask_col_step = mc == 1 ? 0 : 1;
  }
  c.kernel = impl ? &kernels::kernel_by_name<kernels::SoftmaxF32Kernel>(*impl)
                  : &kernels::reference_kernel<kernels::SoftmaxF32Kernel>();
  return c;
}

py::array_t<float> attention_rows(const py::handle& s_obj, float factor, bool divide, const py::object& mask_obj,
                                  bool nan_to_zero, const ImplName& impl) {
  const AttentionRowsCall c = attention_rows_call(s_obj, factor, divide, mask_obj, nan_to_zero, impl);
  py::array_t<float> y({c.rows, c.n});
  float* yp = y.mutable_data();
  std::copy(c.scores.data(), c.scores.data() + c.rows * c.n, yp);
  py::gil_scoped_release release;
  c.kernel->attention(c.rows, c.n, c.a, yp);
  return y;
}

py::array_t<int8_t> attention_rows_s8(const py::handle& s_obj, float inv_scale, float zero_point, float factor,
                                      bool divide, const py::object& mask_obj, bool nan_to_zero,
                                      const ImplName& impl) {
  const AttentionRowsCall c = attention_rows_call(s_obj, factor, divide, mask_obj, nan_to_zero, impl);
  if (!c.kernel->attention_s8) throw InvalidArgument(std::string(c.kernel->name()) + " has no attention_s8");
  kernels::ref::ProbsGrid g;
  g.inv_scale = inv_scale;
  g.zero_point = zero_point;
  std::vector<float> scratch(c.scores.data(), c.scores.data() + c.rows * c.n);
  py::array_t<int8_t> q({c.rows, c.n});
  int8_t* qp = q.mutable_data();
  py::gil_scoped_release release;
  c.kernel->attention_s8(c.rows, c.n, c.a, g, scratch.data(), qp);
  return q;
}

// int8 pools: x [N,H,W,C] -> [N,OH,OW,C].
py::array_t<int8_t> pool_s8(const py::handle& x_obj, Pair kernel, Pair stride, Quad pads,
                            bool count_include_pad, float s_in, float s_out, bool average,
                            const ImplName& impl, int32_t z_in = 0, int32_t z_out = 0) {
  I8Array x = int8_arg(x_obj, "x", 4);
  const kernels::AvgPoolS8Kernel* avg =
      average ? &eltwise<kernels::AvgPoolS8Kernel>(impl) : nullptr;
  const kernels::MaxPoolS8Kernel* max =
      average ? nullptr : &eltwise<kernels::MaxPoolS8Kernel>(impl);
  const int N = x.shape(0);
  kernels::PoolShape p = pool_shape(x.shape(3), x.shape(1), x.shape(2), kernel, stride, pads,
                                    count_include_pad);
  py::array_t<int8_t> y({N, p.out_h(), p.out_w(), p.C});
  int8_t* yp = y.mutable_data();
  py::gil_scoped_release release;
  if (avg) {
    avg->avgpool(p, N, x.data(), s_in, s_out, yp, z_in, z_out);
  } else {
    max->maxpool(p, N, x.data(), yp);
  }
  return y;
}

py::array_t<int8_t> global_avgpool_s8(const py::handle& x_obj, float s_in, float s_out,
                                      const ImplName& kernel) {
  I8Array x = int8_arg(x_obj, "x", 4);
  const auto& k = eltwise<kernels::GlobalAvgPoolS8Kernel>(kernel);
  const int N = x.shape(0), C = x.shape(3);
  py::array_t<int8_t> y({N, C});
  int8_t* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.global_avgpool(N, x.shape(1) * x.shape(2), C, x.data(), s_in, s_out, yp);
  return y;
}

py::array_t<int8_t> add_s8(const py::handle& a_obj, const py::handle& b_obj, float s_a,
                           float s_b, float s_y, bool relu, int32_t z_a, int32_t z_b, int32_t z_y,
                           const ImplName& kernel) {
  I8Array a = int8_arg(a_obj, "a", -1), b = int8_arg(b_obj, "b", -1);
  const auto& k = eltwise<kernels::AddS8Kernel>(kernel);
  if (a.ndim() != b.ndim() || !std::equal(a.shape(), a.shape() + a.ndim(), b.shape())) {
    throw InvalidArgument("add_s8: a and b must have the same shape");
  }
  kernels::AddParams p = kernels::make_add_params(s_a, s_b, s_y, relu, z_a, z_b, z_y);
  py::array_t<int8_t> y(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  int8_t* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.add(a.size(), a.data(), b.data(), p, yp);
  return y;
}

// NHWC tensors [..., C_i] with equal leading dims -> [..., sum C_i].
py::array_t<int8_t> concat_s8(const std::vector<py::object>& xs, const std::vector<float>& scales,
                              float s_out, const ImplName& kernel) {
  const auto& k = eltwise<kernels::ConcatS8Kernel>(kernel);
  if (xs.empty() || xs.size() != scales.size()) {
    throw InvalidArgument("concat_s8: need one scale per input and at least one input");
  }
  std::vector<I8Array> held;
  std::vector<ref::ConcatInput> inputs;
  std::vector<py::ssize_t> out_shape;
  for (size_t i = 0; i < xs.size(); ++i) {
    held.push_back(int8_arg(xs[i], "inputs[" + std::to_string(i) + "]", -1));
    const I8Array& x = held.back();
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
    if (i == 0) {
      out_shape = shape;
      out_shape.back() = 0;
    } else if (shape.size() != out_shape.size() ||
               !std::equal(shape.begin(), shape.end() - 1, out_shape.begin())) {
      throw InvalidArgument("concat_s8: inputs[" + std::to_string(i) +
                            "] differs from inputs[0] outside the channel axis");
    }
    out_shape.back() += shape.back();
    inputs.push_back({x.data(), static_cast<int>(shape.back()),
                      kernels::rescale_multiplier(scales[i], s_out)});
  }
  int64_t pixels = 1;
  for (size_t d = 0; d + 1 < out_shape.size(); ++d) pixels *= out_shape[d];
  py::array_t<int8_t> y(out_shape);
  int8_t* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.concat(pixels, inputs, yp);
  return y;
}

py::array_t<float> conv2d_f32(const py::handle& x_obj, const py::handle& w_obj,
                              const py::object& bias_obj, Pair stride, Quad pads, Pair dilation,
                              int groups) {
  F32Array x = float_arg(x_obj, "x", 4), w = float_arg(w_obj, "w", 4);
  const int N = x.shape(0), C = x.shape(1), K = w.shape(0);
  if (groups <= 0 || w.shape(1) * groups != C) {
    throw InvalidArgument("w: expected shape [K, C/groups, R, S]");
  }
  kernels::ConvShape s = conv_shape(C, x.shape(2), x.shape(3), K, w.shape(2), w.shape(3), stride,
                                    pads, dilation, groups);
  F32Array bias;
  if (!bias_obj.is_none()) {
    bias = float_arg(bias_obj, "bias", 1);
    check_length(bias, K, "bias");
  }
  const float* bp = bias_obj.is_none() ? nullptr : bias.data();
  py::array_t<float> y({N, K, s.out_h(), s.out_w()});
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  ref::conv2d_f32(s, N, x.data(), w.data(), bp, yp);
  return y;
}

py::array_t<float> gemm_f32(const py::handle& a_obj, const py::handle& b_obj,
                            const py::object& bias_obj) {
  F32Array a = float_arg(a_obj, "a", 2), b = float_arg(b_obj, "b", 2);
  if (a.shape(1) != b.shape(1)) throw InvalidArgument("b: expected shape [N, K] with a's K");
  kernels::GemmShape s{static_cast<int>(b.shape(0)), static_cast<int>(b.shape(1))};
  F32Array bias;
  if (!bias_obj.is_none()) {
    bias = float_arg(bias_obj, "bias", 1);
    check_length(bias, s.N, "bias");
  }
  const float* bp = bias_obj.is_none() ? nullptr : bias.data();
  py::array_t<float> y({a.shape(0), b.shape(0)});
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  ref::gemm_f32(s, a.shape(0), a.data(), b.data(), bp, yp);
  return y;
}

// float pools: x [N,C,H,W] -> [N,C,OH,OW].
py::array_t<float> pool_f32(const py::handle& x_obj, Pair kernel, Pair stride, Quad pads,
                            bool count_include_pad, bool average) {
  F32Array x = float_arg(x_obj, "x", 4);
  const int N = x.shape(0);
  kernels::PoolShape p = pool_shape(x.shape(1), x.shape(2), x.shape(3), kernel, stride, pads,
                                    count_include_pad);
  py::array_t<float> y({N, p.C, p.out_h(), p.out_w()});
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  if (average) {
    ref::avgpool_f32(p, N, x.data(), yp);
  } else {
    ref::maxpool_f32(p, N, x.data(), yp);
  }
  return y;
}

py::array_t<float> global_avgpool_f32(const py::handle& x_obj) {
  F32Array x = float_arg(x_obj, "x", 4);
  const int N = x.shape(0), C = x.shape(1);
  py::array_t<float> y({N, C});
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  ref::global_avgpool_f32(N, C, x.shape(2) * x.shape(3), x.data(), yp);
  return y;
}

}  // namespace

void bind_kernel_ops(py::module_& k) {
  using namespace pybind11::literals;
  const Pair one{1, 1};
  const Quad no_pads{0, 0, 0, 0};
  k.def("make_epilogue", &make_epilogue, "s_in"_a, "s_w"_a, "bias"_a, "s_out"_a,
        "out_dtype"_a = "int8", "activation"_a = "none", "clip_min"_a = 0.0f,
        "clip_max"_a = 6.0f, "Per-channel epilogue arrays: {scale, bias, lo, hi}.");
  // impl: a kernel of the op's family by name (eltwise_s8_candidates(op)),
  // None for the reference kernel.
  const py::arg_v impl = "impl"_a = py::none();
  k.def("attention_rows", &attention_rows, "s"_a, "factor"_a = 0.0f, "divide"_a = false, "mask"_a = py::none(),
        "nan_to_zero"_a = false, impl);
  k.def("attention_rows_s8", &attention_rows_s8, "s"_a, "inv_scale"_a, "zero_point"_a = 0.0f, "factor"_a = 0.0f,
        "divide"_a = false, "mask"_a = py::none(), "nan_to_zero"_a = false, impl);
  k.def("quantize", &quantize, "x"_a, "scale"_a, "zero_point"_a = 0, impl);
  k.def("lookup", &lookup, "x"_a, "table"_a, impl);
  k.def("dequantize", &dequantize, "q"_a, "scale"_a, impl);
  k.def("quantize_nchw_to_nhwc", &quantize_nchw_to_nhwc, "x"_a, "scale"_a, "zero_point"_a = 0, impl);
  k.def("dequantize_nhwc_to_nchw", &dequantize_nhwc_to_nchw, "q"_a, "scale"_a, impl);
  k.def("maxpool_s8", [](const py::handle& x, Pair kernel, Pair stride, Quad pads,
                         const ImplName& impl) {
    return pool_s8(x, kernel, stride, pads, false, 1.0f, 1.0f, false, impl);
  }, "x"_a, "kernel"_a, "stride"_a = one, "pads"_a = no_pads, impl);
  k.def("avgpool_s8", [](const py::handle& x, Pair kernel, Pair stride, Quad pads,
                         bool count_include_pad, float s_in, float s_out, const ImplName& impl, int32_t z_in,
                         int32_t z_out) {
    return pool_s8(x, kernel, stride, pads, count_include_pad, s_in, s_out, true, impl, z_in, z_out);
  }, "x"_a, "kernel"_a, "stride"_a = one, "pads"_a = no_pads, "count_include_pad"_a = false,
     "s_in"_a = 1.0f, "s_out"_a = 1.0f, impl, "z_in"_a = 0, "z_out"_a = 0);
  k.def("global_avgpool_s8", &global_avgpool_s8, "x"_a, "s_in"_a, "s_out"_a, impl);
  k.def("add_s8", &add_s8, "a"_a, "b"_a, "s_a"_a, "s_b"_a, "s_y"_a, "relu"_a = false, "z_a"_a = 0, "z_b"_a = 0,
        "z_y"_a = 0, impl);
  k.def("concat_s8", &concat_s8, "inputs"_a, "scales"_a, "s_out"_a, impl);
  k.def("eltwise_s8_ops", [] {
    std::vector<std::string> ops;
    kernels::for_each_eltwise_s8_op([&](auto family) {
      ops.push_back(decltype(family)::Family::kKey.name());
    });
    return ops;
  }, "The element-wise int8 ops, each a family of the kernel registry.");
  k.def("eltwise_s8_candidates", [](const std::string& op) {
    std::vector<std::tuple<std::string, std::string, std::string>> rows;
    bool known = false;
    kernels::for_each_eltwise_s8_op([&](auto family) {
      using K = typename decltype(family)::Family;
      if (op != K::kKey.name()) return;
      known = true;
      rows = kernels::candidate_report<K>();
    });
    if (!known) throw InvalidArgument("eltwise_s8_candidates: unknown op '" + op + "'");
    return rows;
  }, "op"_a, "[(name, isa, reason)] of the op's kernels, best first; reason '' means eligible.");
  k.def("choose_eltwise_s8", [](const std::string& op) {
    std::string chosen;
    kernels::for_each_eltwise_s8_op([&](auto family) {
      using K = typename decltype(family)::Family;
      if (op == K::kKey.name()) chosen = kernels::choose<K>().name();
    });
    if (chosen.empty()) throw InvalidArgument("choose_eltwise_s8: unknown op '" + op + "'");
    return chosen;
  }, "op"_a, "The kernel the registry chooses now for the op (logged under INT8RT_LOG=dispatch).");
  k.def("conv2d_f32", &conv2d_f32, "x"_a, "w"_a, "bias"_a = py::none(), "stride"_a = one,
        "pads"_a = no_pads, "dilation"_a = one, "groups"_a = 1);
  k.def("gemm_f32", &gemm_f32, "a"_a, "b"_a, "bias"_a = py::none());
  k.def("maxpool_f32", [](const py::handle& x, Pair kernel, Pair stride, Quad pads) {
    return pool_f32(x, kernel, stride, pads, false, false);
  }, "x"_a, "kernel"_a, "stride"_a = one, "pads"_a = no_pads);
  k.def("avgpool_f32", [](const py::handle& x, Pair kernel, Pair stride, Quad pads,
                          bool count_include_pad) {
    return pool_f32(x, kernel, stride, pads, count_include_pad, true);
  }, "x"_a, "kernel"_a, "stride"_a = one, "pads"_a = no_pads, "count_include_pad"_a = false);
  k.def("global_avgpool_f32", &global_avgpool_f32, "x"_a);
}

}  // namespace python
}  // namespace int8rt
