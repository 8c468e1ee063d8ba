// int8rt._testing.kernels, part 3: a conv / GEMM packed once and run many times
// (benchmarks and tests of the packed path; the one-shot conv2d_s8 / gemm_s8
// in bind_kernels.cc pack on every call). Thin: the object holds the packed
// weights and the epilogue arrays; run() converts, releases the GIL, runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/conv_gemm_s8.h"
#include "kernels/registry.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using kernels::Epilogue;
using kernels::OutputType;

// Epilogue arrays owned by a packed object; the residual comes per run.
struct OwnedEpilogue {
  F32Array scale, bias;
  Epilogue ep;

  OwnedEpilogue(const py::handle& scale_obj, const py::object& bias_obj, int64_t channels,
                std::optional<float> lo, std::optional<float> hi, const std::string& out_dtype) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    ep.out_type = parse_out_dtype(out_dtype);
    const bool int8_out = ep.out_type == OutputType::kInt8;
    scale = float_arg(scale_obj, "scale", 1);
    check_length(scale, channels, "scale");
    ep.scale = scale.data();
    if (!bias_obj.is_none()) {
      bias = float_arg(bias_obj, "bias", 1);
      check_length(bias, channels, "bias");
      ep.bias = bias.data();
    }
    ep.clamp_lo = lo.value_or(int8_out ? -128.0f : -kInf);
    ep.clamp_hi = hi.value_or(int8_out ? 127.0f : kInf);
    kernels::check_epilogue(ep, "epilogue");
  }

  // The epilogue for one run, with the residual (if any) checked against the
  // output shape.
  Epilogue with_residual(const py::object& residual, float residual_scale,
                         const std::vector<py::ssize_t>& out_shape,
                         std::optional<I8Array>& holder) const {
    Epilogue e = ep;
    if (!residual.is_none()) {
      holder = int8_arg(residual, "residual", static_cast<int>(out_shape.size()));
      for (size_t d = 0; d < out_shape.size(); ++d) {
        if (holder->shape(d) != out_shape[d]) {
          throw InvalidArgument("residual: must have the output's shape");
        }
      }
      e.residual = holder->data();
      e.residual_scale = residual_scale;
    }
    return e;
  }

  py::array make_output(const std::vector<py::ssize_t>& shape) const {
    if (ep.out_type == OutputType::kInt8) return py::array_t<int8_t>(shape);
    return py::array_t<float>(shape);
  }
};

class PackedConv2d {
 public:
  PackedConv2d(const py::handle& w_obj, int H, int W, const py::handle& scale,
               const py::object& bias, std::optional<float> lo, std::optional<float> hi,
               std::array<int, 2> stride, std::array<int, 4> pads, std::array<int, 2> dilation,
               int groups, const std::string& out_dtype, const std::optional<std::string>& kernel,
               int pad_value, bool nonneg_input)
      : epi_(scale, bias, int8_arg(w_obj, "w", 4).shape(0), lo, hi, out_dtype) {
    I8Array w = int8_arg(w_obj, "w", 4);
    if (pad_value < -128 || pad_value > 127) throw InvalidArgument("pad_value: must lie in [-128, 127]");
    shape_ = conv_shape(static_cast<int>(w.shape(1)) * groups, H, W, static_cast<int>(w.shape(0)),
                        static_cast<int>(w.shape(2)), static_cast<int>(w.shape(3)), stride, pads,
                        dilation, groups);
    shape_.pad_value = static_cast<int8_t>(pad_value);
    shape_.nonneg_input = nonneg_input;  // ConvShape's promise, not checked
    const auto& k =
        kernels::kernel_by_name_or_choose<kernels::ConvKernel>(kernel, shape_, epi_.ep.out_type);
    name_ = k.name();
    packed_ = k.pack(shape_, w.data());
  }

  py::array run(const py::handle& x_obj, const py::object& residual, float residual_scale) const {
    I8Array x = int8_arg(x_obj, "x", 4);
    if (x.shape(1) != shape_.H || x.shape(2) != shape_.W || x.shape(3) != shape_.C) {
      throw InvalidArgument("x: expected [N, " + std::to_string(shape_.H) + ", " +
                            std::to_string(shape_.W) + ", " + std::to_string(shape_.C) + "]");
    }
    std::vector<py::ssize_t> out_shape = {x.shape(0), shape_.out_h(), shape_.out_w(), shape_.K};
    std::optional<I8Array> holder;
    Epilogue e = epi_.with_residual(residual, residual_scale, out_shape, holder);
    py::array y = epi_.make_output(out_shape);
    void* yp = y.mutable_data();
    const int N = static_cast<int>(x.shape(0));
    py::gil_scoped_release release;
    packed_->run(N, x.data(), e, yp);
    return y;
  }

  const std::string& kernel() const { return name_; }

 private:
  OwnedEpilogue epi_;
  kernels::ConvShape shape_;
  std::string name_;
  std::unique_ptr<kernels::PackedConv> packed_;
};

class PackedGemm {
 public:
  // b: [N, K], or [K, N] with b_kn (packed by GemmKernel::pack_kn). per_run:
  // packed as a per-run operand (GemmKernel::pack_per_run_into) into a slot
  // that held b's bytes inverted (~b) first, as a product's slot holds the
  // previous product's B.
  PackedGemm(const py::handle& b_obj, const py::handle& scale, const py::object& bias,
             std::optional<float> lo, std::optional<float> hi, const std::string& out_dtype,
             const std::optional<std::string>& kernel, bool b_kn, bool per_run)
      : epi_(scale, bias, int8_arg(b_obj, "b", 2).shape(b_kn ? 1 : 0), lo, hi, out_dtype) {
    I8Array b = int8_arg(b_obj, "b", 2);
    shape_ = {static_cast<int>(b.shape(b_kn ? 1 : 0)), static_cast<int>(b.shape(b_kn ? 0 : 1))};
    const auto& k =
        kernels::kernel_by_name_or_choose<kernels::GemmKernel>(kernel, shape_, epi_.ep.out_type);
    name_ = k.name();
    if (per_run) {
      std::vector<int8_t> other(b.data(), b.data() + int64_t{shape_.N} * shape_.K);
      for (int8_t& v : other) v = static_cast<int8_t>(~v);
      k.pack_per_run_into(shape_, other.data(), b_kn, &packed_);
      k.pack_per_run_into(shape_, b.data(), b_kn, &packed_);
    } else {
      packed_ = b_kn ? k.pack_kn(shape_, b.data()) : k.pack(shape_, b.data());
    }
  }

  py::array run(const py::handle& a_obj, const py::object& residual, float residual_scale) const {
    I8Array a = int8_arg(a_obj, "a", 2);
    if (a.shape(1) != shape_.K) {
      throw InvalidArgument("a: expected [M, " + std::to_string(shape_.K) + "]");
    }
    std::vector<py::ssize_t> out_shape = {a.shape(0), shape_.N};
    std::optional<I8Array> holder;
    Epilogue e = epi_.with_residual(residual, residual_scale, out_shape, holder);
    py::array y = epi_.make_output(out_shape);
    void* yp = y.mutable_data();
    const int64_t M = a.shape(0);
    py::gil_scoped_release release;
    packed_->run(M, a.data(), e, yp);
    return y;
  }

  const std::string& kernel() const { return name_; }

 private:
  OwnedEpilogue epi_;
  kernels::GemmShape shape_;
  std::string name_;
  std::unique_ptr<kernels::PackedGemm> packed_;
};

}  // namespace

void bind_packed_kernels(py::module_& k) {
  using namespace pybind11::literals;
  const std::array<int, 2> one{1, 1};
  const std::array<int, 4> no_pads{0, 0, 0, 0};
  py::class_<PackedConv2d>(k, "PackedConv2d",
                           "An int8 conv packed once for input size (H, W): run(x [N,H,W,C]); "
                           "padding holds pad_value; nonneg_input: ConvShape's promise that no x "
                           "value is negative (not checked).")
      .def(py::init<const py::handle&, int, int, const py::handle&, const py::object&,
                    std::optional<float>, std::optional<float>, std::array<int, 2>,
                    std::array<int, 4>, std::array<int, 2>, int, const std::string&,
                    const std::optional<std::string>&, int, bool>(),
           "w"_a, "H"_a, "W"_a, "scale"_a, "bias"_a = py::none(), "lo"_a = py::none(),
           "hi"_a = py::none(), "stride"_a = one, "pads"_a = no_pads, "dilation"_a = one,
           "groups"_a = 1, "out_dtype"_a = "int8", "kernel"_a = py::none(), "pad_value"_a = 0,
           "nonneg_input"_a = false)
      .def("run", &PackedConv2d::run, "x"_a, "residual"_a = py::none(),
           "residual_scale"_a = 0.0f)
      .def_property_readonly("kernel", &PackedConv2d::kernel);
  py::class_<PackedGemm>(k, "PackedGemm",
                         "An int8 GEMM with b [N,K] (or [K,N] with b_kn) packed once (or as a per-run operand, "
                         "per_run): run(a [M,K]).")
      .def(py::init<const py::handle&, const py::handle&, const py::object&,
                    std::optional<float>, std::optional<float>, const std::string&,
                    const std::optional<std::string>&, bool, bool>(),
           "b"_a, "scale"_a, "bias"_a = py::none(), "lo"_a = py::none(), "hi"_a = py::none(),
           "out_dtype"_a = "int8", "kernel"_a = py::none(), "b_kn"_a = false, "per_run"_a = false)
      .def("run", &PackedGemm::run, "a"_a, "residual"_a = py::none(), "residual_scale"_a = 0.0f)
      .def_property_readonly("kernel", &PackedGemm::kernel);
}

}  // namespace python
}  // namespace int8rt
