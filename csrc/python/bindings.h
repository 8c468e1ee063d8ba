// Registration functions of the _core extension, one per binding file.
// Bindings are thin: argument conversion, GIL release, nothing else.
#pragma once

#include <pybind11/pybind11.h>

namespace int8rt {
namespace python {

void bind_errors(pybind11::module_& m);
void bind_threading(pybind11::module_& m);
void bind_histogram(pybind11::module_& m);
void bind_methods(pybind11::module_& m);
// Quantization numerics and the calibration-method table (bind_quantization.cc).
void bind_quantization(pybind11::module_& m);
void bind_cache_collector(pybind11::module_& m);
void bind_network(pybind11::module_& m);
void bind_executor(pybind11::module_& m);
void bind_engine(pybind11::module_& m);
void bind_passes(pybind11::module_& m);
// Creates the private submodule _core.kernels and fills it (bind_kernels.cc),
// calling bind_kernel_ops (bind_kernel_ops.cc) and bind_packed_kernels
// (bind_packed_kernels.cc) on it.
void bind_kernels(pybind11::module_& m);
void bind_kernel_ops(pybind11::module_& kernels_module);
void bind_executor_testing(pybind11::module_& m);
void bind_packed_kernels(pybind11::module_& kernels_module);
// The FP32 SGEMM and its microkernels (bind_fp32_gemm.cc), on _core.kernels.
void bind_fp32_gemm(pybind11::module_& kernels_module);

}  // namespace python
}  // namespace int8rt
