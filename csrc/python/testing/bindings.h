// Registration functions of the _testing extension (int8rt._testing), one
// per binding file: kernel-level and engine-internal hooks for tests, tools
// and benchmarks, never imported by the public package. These files may
// include csrc/kernels/ and csrc/engine/ internals; _core's may not
// (tests/test_binding_includes.py).
#pragma once

#include <pybind11/pybind11.h>

namespace int8rt {
namespace python {

// Creates the submodule _testing.kernels and fills it (bind_kernels.cc),
// calling bind_kernel_ops (bind_kernel_ops.cc), bind_packed_kernels
// (bind_packed_kernels.cc) and bind_fp32_gemm (bind_fp32_gemm.cc) on it.
void bind_kernels(pybind11::module_& m);
void bind_kernel_ops(pybind11::module_& kernels_module);
void bind_packed_kernels(pybind11::module_& kernels_module);
// The FP32 SGEMM and its microkernels, on _testing.kernels.
void bind_fp32_gemm(pybind11::module_& kernels_module);
// The BF16 GEMM family and the BF16 conversion, on _testing.kernels (bind_bf16_gemm.cc).
void bind_bf16_gemm(pybind11::module_& kernels_module);
// The gemm_u8s8 family, both packings, on _testing.kernels (bind_gemm_u8s8.cc).
void bind_gemm_u8s8(pybind11::module_& kernels_module);
// run_single_op / run_single_op_batches (bind_executor_testing.cc).
void bind_executor_testing(pybind11::module_& m);
// Executor, the float32 runner of a Network (bind_executor.cc).
void bind_executor(pybind11::module_& m);
// run_passes, the graph passes over a Network (bind_passes.cc).
void bind_passes(pybind11::module_& m);

}  // namespace python
}  // namespace int8rt
