// int8rt._testing.kernels: the BF16 GEMM family (kernels/gemm_bf16.h) with a
// chosen or named kernel, and the FP32 -> BF16 conversion (kernels/ref/bf16.h),
// for tests and benchmarks. Thin: convert, call, release the GIL around the run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>

#include "kernels/gemm_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/registry.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

// weights_left: y = op(w) @ op(x); else y = op(x) @ op(w). float32 in and out.
py::array_t<float> gemm_bf16(const py::handle& x_obj, const py::handle& w_obj, bool weights_left,
                             bool trans_x, bool trans_w, const py::object& c_obj,
                             const std::optional<std::string>& kernel, bool parallel) {
  F32Array x = float_arg(x_obj, "x", 2), w = float_arg(w_obj, "w", 2);
  const int64_t wr = trans_w ? w.shape(1) : w.shape(0), wc = trans_w ? w.shape(0) : w.shape(1);
  const int64_t xr = trans_x ? x.shape(1) : x.shape(0), xc = trans_x ? x.shape(0) : x.shape(1);
  if (weights_left ? wc != xr : xc != wr) throw InvalidArgument("x and w: inner dimensions differ");
  const int64_t M = weights_left ? wr : xr, N = weights_left ? xc : wc;
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmBf16Kernel>(kernel);
  auto packed = k.pack({w.data(), wr, wc, w.shape(1), trans_w, weights_left});
  bool accumulate = false;
  py::array_t<float> y = gemm_output(c_obj, M, N, &accumulate);
  float* yp = y.mutable_data();
  const kernels::GemmOperand gx{x.data(), x.shape(1), trans_x};
  py::gil_scoped_release release;
  packed->run(weights_left ? N : M, gx, yp, N, accumulate, parallel);
  return y;
}

// y = op(a) @ op(b) (+ c) with both operands activations (run_activations).
py::array_t<float> matmul_bf16(const py::handle& a_obj, const py::handle& b_obj, bool trans_a, bool trans_b,
                               const py::object& c_obj, const std::optional<std::string>& kernel, bool parallel) {
  F32Array a = float_arg(a_obj, "a", 2), b = float_arg(b_obj, "b", 2);
  const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
  if (K != kb) throw InvalidArgument("a and b: inner dimensions differ");
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmBf16Kernel>(kernel);
  bool accumulate = false;
  py::array_t<float> y = gemm_output(c_obj, M, N, &accumulate);
  float* yp = y.mutable_data();
  const kernels::GemmOperand ga{a.data(), a.shape(1), trans_a}, gb{b.data(), b.shape(1), trans_b};
  py::gil_scoped_release release;
  k.run_activations(M, N, K, ga, gb, yp, N, accumulate, parallel);
  return y;
}

// y[m][p] = conv2d(x[C][H][W], w[M][C][kh][kw]) through the im2col view (group 1),
// the weights packed with packed_taps taps (Bf16Weights::taps; -1: kh * kw).
py::array_t<float> conv2d_bf16(const py::handle& x_obj, const py::handle& w_obj, int64_t stride,
                               int64_t pad, int64_t dilation, const std::optional<std::string>& kernel,
                               int64_t packed_taps) {
  F32Array x = float_arg(x_obj, "x", 3), w = float_arg(w_obj, "w", 4);
  const int64_t C = x.shape(0), H = x.shape(1), W = x.shape(2), M = w.shape(0), kh = w.shape(2),
                kw = w.shape(3);
  if (w.shape(1) != C) throw InvalidArgument("w: expected [M, C, kh, kw] with x's C");
  const int64_t oh = (H + 2 * pad - dilation * (kh - 1) - 1) / stride + 1;
  const int64_t ow = (W + 2 * pad - dilation * (kw - 1) - 1) / stride + 1;
  if (oh <= 0 || ow <= 0) throw InvalidArgument("the window does not fit the image");
  const int64_t K = C * kh * kw;
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmBf16Kernel>(kernel);
  auto packed = k.pack({w.data(), M, K, K, false, /*left=*/true, packed_taps < 0 ? kh * kw : packed_taps});
  py::array_t<float> y({M, oh * ow});
  float* yp = y.mutable_data();
  kernels::Im2colView view{x.data(), H, W, kh, kw, stride, stride, dilation, dilation, pad, pad, oh, ow};
  kernels::GemmOperand gx;
  gx.im2col = &view;
  py::gil_scoped_release release;
  packed->run(oh * ow, gx, yp, oh * ow, false, true);
  return y;
}

// The BF16 bits of each float (bf16::from_f32), as uint16.
py::array_t<uint16_t> bf16_from_f32(const py::handle& x_obj) {
  py::array_t<float, py::array::c_style | py::array::forcecast> x =
      py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x_obj);
  if (!x) throw InvalidArgument("x: expected a float32 array");
  py::array_t<uint16_t> out(x.request().shape);
  const float* s = x.data();
  uint16_t* d = out.mutable_data();
  for (py::ssize_t i = 0; i < x.size(); ++i) d[i] = kernels::bf16::from_f32(s[i]);
  return out;
}

// A kernel's converter on a [kc][n] float panel -> [(kc+1)/2][n][2] uint16.
py::array_t<uint16_t> bf16_pairs(const py::handle& src_obj, const std::optional<std::string>& kernel) {
  F32Array src = float_arg(src_obj, "src", 2);
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmBf16Kernel>(kernel);
  const auto* panel = dynamic_cast<const kernels::Bf16PanelKernel*>(&k);
  if (!panel) throw InvalidArgument("kernel " + std::string(k.name()) + " has no pair converter");
  const int64_t kc = src.shape(0);
  const int n = static_cast<int>(src.shape(1));
  py::array_t<uint16_t> out({(kc + 1) / 2, static_cast<int64_t>(n), int64_t{2}});
  panel->pairs(src.data(), kc, n, out.mutable_data());
  return out;
}

}  // namespace

void bind_bf16_gemm(py::module_& k) {
  using namespace pybind11::literals;
  k.def("gemm_bf16", &gemm_bf16, "x"_a, "w"_a, "weights_left"_a = false, "trans_x"_a = false,
        "trans_w"_a = false, "c"_a = py::none(), "kernel"_a = py::none(), "parallel"_a = true,
        "op(x) @ op(w) (or op(w) @ op(x) with weights_left) (+ c) on the BF16 GEMM; w packed first.");
  k.def("matmul_bf16", &matmul_bf16, "a"_a, "b"_a, "trans_a"_a = false, "trans_b"_a = false, "c"_a = py::none(),
        "kernel"_a = py::none(), "parallel"_a = true,
        "op(a) @ op(b) (+ c) on the BF16 GEMM with both operands activations (B packed per call).");
  k.def("conv2d_bf16", &conv2d_bf16, "x"_a, "w"_a, "stride"_a = 1, "pad"_a = 0, "dilation"_a = 1,
        "kernel"_a = py::none(), "packed_taps"_a = -1,
        "conv2d of x [C, H, W] by w [M, C, kh, kw] on the BF16 GEMM -> [M, OH*OW]; the weights packed with "
        "packed_taps taps (-1: the window's).");
  k.def("bf16_from_f32", &bf16_from_f32, "x"_a, "BF16 bits (uint16) of float32 values, round to nearest even.");
  k.def("bf16_pairs", &bf16_pairs, "src"_a, "kernel"_a = py::none(),
        "A kernel's activation converter: [kc, n] float32 -> [(kc+1)//2, n, 2] BF16 bits.");
  k.def("gemm_bf16_candidates", [] { return kernels::candidate_report<kernels::GemmBf16Kernel>(); },
        "[(name, isa, reason)] of every compiled BF16 GEMM kernel, best first; reason '' means eligible.");
  k.def("choose_gemm_bf16", [] { return std::string(kernels::choose<kernels::GemmBf16Kernel>().name()); });
}

}  // namespace python
}  // namespace int8rt
