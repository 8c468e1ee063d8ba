// int8rt._testing.kernels: the FP32 SGEMM (kernels/sgemm_f32.h) with
// a chosen or named microkernel, for tests and benchmarks. Thin: convert,
// call, release the GIL around the run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

// y = op(a) @ op(b) (+ c when given), float32.
py::array_t<float> sgemm(const py::handle& a_obj, const py::handle& b_obj, bool trans_a,
                         bool trans_b, const py::object& c_obj,
                         const std::optional<std::string>& kernel, bool parallel) {
  F32Array a = float_arg(a_obj, "a", 2), b = float_arg(b_obj, "b", 2);
  const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
  const int64_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
  if (K != Kb) throw InvalidArgument("b: inner dimension differs from a's");
  // The named candidate (NotSupported when it cannot run now) or the choice.
  const auto& uk = kernels::kernel_by_name_or_choose<kernels::SgemmKernel>(kernel);
  bool accumulate = false;
  py::array_t<float> y = gemm_output(c_obj, M, N, &accumulate);
  float* yp = y.mutable_data();
  kernels::GemmOperand ga{a.data(), a.shape(1), trans_a}, gb{b.data(), b.shape(1), trans_b};
  py::gil_scoped_release release;
  kernels::sgemm(uk, M, N, K, ga, gb, yp, N, accumulate, parallel);
  return y;
}

}  // namespace

void bind_fp32_gemm(py::module_& k) {
  using namespace pybind11::literals;
  k.def("sgemm", &sgemm, "a"_a, "b"_a, "trans_a"_a = false, "trans_b"_a = false,
        "c"_a = py::none(), "kernel"_a = py::none(), "parallel"_a = true,
        "op(a) @ op(b) (+ c) with the engine's FP32 GEMM; kernel names a microkernel.");
  k.def("sgemm_candidates", [] { return kernels::candidate_report<kernels::SgemmKernel>(); },
        "[(name, isa, reason)] of every compiled FP32 GEMM microkernel, best first; "
        "reason '' means eligible.");
  k.def("choose_sgemm", [] { return std::string(kernels::choose<kernels::SgemmKernel>().name()); });
}

}  // namespace python
}  // namespace int8rt
