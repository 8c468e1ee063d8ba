// int8rt._testing.kernels (private, for tests and tools): the registry's int8
// conv / GEMM kernels on NumPy arrays and kernel selection. The reference ops
// without a registry live in bind_kernel_ops.cc. Thin: convert, call, release the GIL around the run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv_gemm_s8.h"
#include "kernels/conv_transpose_s8.h"
#include "kernels/registry.h"
#include "kernels/requant_params.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using kernels::Epilogue;
using kernels::OutputType;

constexpr float kInf = std::numeric_limits<float>::infinity();

// The epilogue arguments shared by conv2d_s8 and gemm_s8.
struct EpilogueArgs {
  F32Array scale, bias;
  std::optional<I8Array> residual;
  Epilogue ep;
};

EpilogueArgs epilogue_args(const py::handle& scale, const py::object& bias, int64_t channels,
                           std::optional<float> lo, std::optional<float> hi,
                           const std::string& out_dtype, const py::object& residual,
                           float residual_scale, const std::vector<py::ssize_t>& out_shape) {
  EpilogueArgs a;
  a.ep.out_type = parse_out_dtype(out_dtype);
  const bool int8_out = a.ep.out_type == OutputType::kInt8;
  a.scale = float_arg(scale, "scale", 1);
  check_length(a.scale, channels, "scale");
  a.ep.scale = a.scale.data();
  if (!bias.is_none()) {
    a.bias = float_arg(bias, "bias", 1);
    check_length(a.bias, channels, "bias");
    a.ep.bias = a.bias.data();
  }
  a.ep.clamp_lo = lo.value_or(int8_out ? -128.0f : -kInf);
  a.ep.clamp_hi = hi.value_or(int8_out ? 127.0f : kInf);
  if (!residual.is_none()) {
    a.residual = int8_arg(residual, "residual", static_cast<int>(out_shape.size()));
    for (size_t d = 0; d < out_shape.size(); ++d) {
      if (a.residual->shape(d) != out_shape[d]) {
        throw InvalidArgument("residual: must have the output's shape");
      }
    }
    a.ep.residual = a.residual->data();
    a.ep.residual_scale = residual_scale;
  }
  kernels::check_epilogue(a.ep, "epilogue");
  return a;
}

py::array make_output(OutputType t, const std::vector<py::ssize_t>& shape) {
  if (t == OutputType::kInt8) return py::array_t<int8_t>(shape);
  return py::array_t<float>(shape);
}

py::array conv2d_s8(const py::handle& x_obj, const py::handle& w_obj, const py::handle& scale,
                    const py::object& bias, std::optional<float> lo, std::optional<float> hi,
                    std::array<int, 2> stride, std::array<int, 4> pads,
                    std::array<int, 2> dilation, int groups, const std::string& out_dtype,
                    const py::object& residual, float residual_scale,
                    const std::optional<std::string>& kernel, int pad_value, bool nonneg_input) {
  I8Array x = int8_arg(x_obj, "x", 4), w = int8_arg(w_obj, "w", 4);
  const int N = x.shape(0), H = x.shape(1), W = x.shape(2), C = x.shape(3);
  if (pad_value < -128 || pad_value > 127) throw InvalidArgument("pad_value: must lie in [-128, 127]");
  const int K = w.shape(0), R = w.shape(2), S = w.shape(3);
  if (groups <= 0 || w.shape(1) * groups != C) {
    throw InvalidArgument("w: expected shape [K, C/groups, R, S] with C=" + std::to_string(C) +
                          " groups=" + std::to_string(groups));
  }
  kernels::ConvShape shape = conv_shape(C, H, W, K, R, S, stride, pads, dilation, groups);
  shape.pad_value = static_cast<int8_t>(pad_value);
  shape.nonneg_input = nonneg_input;
  std::vector<py::ssize_t> out_shape = {N, shape.out_h(), shape.out_w(), K};
  EpilogueArgs e = epilogue_args(scale, bias, K, lo, hi, out_dtype, residual, residual_scale,
                                 out_shape);
  const auto& k =
      kernels::kernel_by_name_or_choose<kernels::ConvKernel>(kernel, shape, e.ep.out_type);
  py::array y = make_output(e.ep.out_type, out_shape);
  void* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.pack(shape, w.data())->run(N, x.data(), e.ep, yp);
  return y;
}

py::array conv_transpose2d_s8(const py::handle& x_obj, const py::handle& w_obj, const py::handle& scale,
                              const py::object& bias, std::optional<float> lo, std::optional<float> hi,
                              std::array<int, 2> stride, std::array<int, 4> pads, std::array<int, 2> out_pad,
                              std::array<int, 2> dilation, int groups, const std::string& out_dtype,
                              const std::optional<std::string>& kernel) {
  I8Array x = int8_arg(x_obj, "x", 4), w = int8_arg(w_obj, "w", 4);
  if (groups <= 0 || w.shape(0) != x.shape(3)) {
    throw InvalidArgument("w: expected shape [C, K/groups, R, S] with C=" + std::to_string(x.shape(3)));
  }
  kernels::ConvTransposeShape shape;
  shape.C = static_cast<int>(x.shape(3));
  shape.H = static_cast<int>(x.shape(1));
  shape.W = static_cast<int>(x.shape(2));
  shape.K = static_cast<int>(w.shape(1)) * groups;
  shape.R = static_cast<int>(w.shape(2));
  shape.S = static_cast<int>(w.shape(3));
  shape.stride_h = stride[0];
  shape.stride_w = stride[1];
  shape.pad_top = pads[0];
  shape.pad_left = pads[1];
  shape.pad_bottom = pads[2];
  shape.pad_right = pads[3];
  shape.out_pad_h = out_pad[0];
  shape.out_pad_w = out_pad[1];
  shape.dilation_h = dilation[0];
  shape.dilation_w = dilation[1];
  shape.groups = groups;
  shape.validate();
  const int N = static_cast<int>(x.shape(0));
  std::vector<py::ssize_t> out_shape = {N, shape.out_h(), shape.out_w(), shape.K};
  EpilogueArgs e = epilogue_args(scale, bias, shape.K, lo, hi, out_dtype, py::none(), 0.0f, out_shape);
  const auto& k = kernels::kernel_by_name_or_choose<kernels::ConvTransposeKernel>(kernel, shape, e.ep.out_type);
  py::array y = make_output(e.ep.out_type, out_shape);
  void* yp = y.mutable_data();
  py::gil_scoped_release release;
  k.pack(shape, e.ep.out_type, w.data())->run(N, x.data(), e.ep, yp);
  return y;
}

py::array gemm_s8(const py::handle& a_obj, const py::handle& b_obj, const py::handle& scale,
                  const py::object& bias, std::optional<float> lo, std::optional<float> hi,
                  const std::string& out_dtype, const py::object& residual, float residual_scale,
                  const std::optional<std::string>& kernel, int runs) {
  if (runs < 1) throw InvalidArgument("runs must be >= 1");
  I8Array a = int8_arg(a_obj, "a", 2), b = int8_arg(b_obj, "b", 2);
  if (a.shape(1) != b.shape(1)) throw InvalidArgument("b: expected shape [N, K] with a's K");
  kernels::GemmShape shape{static_cast<int>(b.shape(0)), static_cast<int>(b.shape(1))};
  shape.validate();
  const int64_t M = a.shape(0);
  std::vector<py::ssize_t> out_shape = {a.shape(0), b.shape(0)};
  EpilogueArgs e = epilogue_args(scale, bias, shape.N, lo, hi, out_dtype, residual,
                                 residual_scale, out_shape);
  const auto& k =
      kernels::kernel_by_name_or_choose<kernels::GemmKernel>(kernel, shape, e.ep.out_type);
  py::array y = make_output(e.ep.out_type, out_shape);
  void* yp = y.mutable_data();
  py::gil_scoped_release release;
  const auto packed = k.pack(shape, b.data());
  for (int r = 0; r < runs; ++r) packed->run(M, a.data(), e.ep, yp);
  return y;
}

}  // namespace

void bind_kernels(py::module_& m) {
  py::module_ k = m.def_submodule("kernels", "Kernel-level access for tests and benchmarks (private).");
  using namespace pybind11::literals;
  const std::array<int, 2> one{1, 1};
  const std::array<int, 4> no_pads{0, 0, 0, 0};

  k.def("conv2d_s8", &conv2d_s8, "x"_a, "w"_a, "scale"_a, "bias"_a = py::none(),
        "lo"_a = py::none(), "hi"_a = py::none(), "stride"_a = one, "pads"_a = no_pads,
        "dilation"_a = one, "groups"_a = 1, "out_dtype"_a = "int8", "residual"_a = py::none(),
        "residual_scale"_a = 0.0f, "kernel"_a = py::none(), "pad_value"_a = 0, "nonneg_input"_a = false,
        "int8 conv: x [N,H,W,C] int8, w [K,C/groups,R,S] int8 -> [N,OH,OW,K]; pads "
        "(top,left,bottom,right) hold pad_value (the input's zero point); kernel=None picks by "
        "dispatch, else the named kernel. nonneg_input: the promise of ConvShape::nonneg_input, "
        "not checked (a broken one shows the unshifted kernel ran).");
  k.def("conv_transpose2d_s8", &conv_transpose2d_s8, "x"_a, "w"_a, "scale"_a, "bias"_a = py::none(),
        "lo"_a = py::none(), "hi"_a = py::none(), "stride"_a = one, "pads"_a = no_pads,
        "out_pad"_a = std::array<int, 2>{0, 0}, "dilation"_a = one, "groups"_a = 1, "out_dtype"_a = "int8",
        "kernel"_a = py::none(),
        "int8 transposed conv: x [N,H,W,C] int8, w [C,K/groups,R,S] int8 -> [N,OH,OW,K]; pads "
        "(top,left,bottom,right); kernel=None picks by dispatch (conv_transpose_s8_phases, "
        "conv_transpose_s8_ref).");
  k.def("gemm_s8", &gemm_s8, "a"_a, "b"_a, "scale"_a, "bias"_a = py::none(),
        "lo"_a = py::none(), "hi"_a = py::none(), "out_dtype"_a = "int8",
        "residual"_a = py::none(), "residual_scale"_a = 0.0f, "kernel"_a = py::none(), "runs"_a = 1,
        "int8 GEMM: a [M,K] x b [N,K] -> [M,N] with the per-n epilogue; runs: the product repeated "
        "on one packing.");

  // The cap itself is public (int8rt.set_max_isa / get_max_isa, bind_isa.cc).
  k.def("cpu_max_isa", [] { return std::string(kernels::isa_name(kernels::cpu_max_isa())); },
        "The highest ISA tier this CPU supports.");

  k.def("conv_candidates", [](int C, int H, int W, int K, int R, int S, std::array<int, 2> stride,
                              std::array<int, 4> pads, std::array<int, 2> dilation, int groups,
                              const std::string& out_dtype) {
    kernels::ConvShape s = conv_shape(C, H, W, K, R, S, stride, pads, dilation, groups);
    return kernels::candidate_report<kernels::ConvKernel>(s, parse_out_dtype(out_dtype));
  }, "C"_a, "H"_a, "W"_a, "K"_a, "R"_a, "S"_a, "stride"_a = one, "pads"_a = no_pads,
     "dilation"_a = one, "groups"_a = 1, "out_dtype"_a = "int8",
     "[(name, isa, reason)] best first; reason '' means eligible.");
  k.def("choose_conv", [](int C, int H, int W, int K, int R, int S, std::array<int, 2> stride,
                          std::array<int, 4> pads, std::array<int, 2> dilation, int groups,
                          const std::string& out_dtype) {
    kernels::ConvShape s = conv_shape(C, H, W, K, R, S, stride, pads, dilation, groups);
    return std::string(kernels::choose<kernels::ConvKernel>(s, parse_out_dtype(out_dtype)).name());
  }, "C"_a, "H"_a, "W"_a, "K"_a, "R"_a, "S"_a, "stride"_a = one, "pads"_a = no_pads,
     "dilation"_a = one, "groups"_a = 1, "out_dtype"_a = "int8");
  k.def("gemm_candidates", [](int N, int K, const std::string& out_dtype) {
    return kernels::candidate_report<kernels::GemmKernel>(kernels::GemmShape{N, K},
                                                          parse_out_dtype(out_dtype));
  }, "N"_a, "K"_a, "out_dtype"_a = "int8");
  k.def("choose_gemm", [](int N, int K, const std::string& out_dtype) {
    return std::string(
        kernels::choose<kernels::GemmKernel>(kernels::GemmShape{N, K}, parse_out_dtype(out_dtype))
            .name());
  }, "N"_a, "K"_a, "out_dtype"_a = "int8");

  bind_kernel_ops(k);
  bind_packed_kernels(k);
  bind_fp32_gemm(k);
  bind_bf16_gemm(k);
  bind_gemm_u8s8(k);
}

}  // namespace python
}  // namespace int8rt
