// Argument conversion for the kernel bindings (bind_kernels.cc): NumPy arrays
// checked for dtype and rank with errors naming the argument, and the small
// tuples (stride, pads, dilation) turned into kernel shapes. No kernel logic.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "int8rt/error.h"
#include "kernels/kernel_types.h"
#include "python/numpy_convert.h"

namespace int8rt {
namespace python {

using I8Array = pybind11::array_t<int8_t, pybind11::array::c_style>;
using F32Array = pybind11::array_t<float, pybind11::array::c_style | pybind11::array::forcecast>;

// An int8 C-contiguous array of rank `ndim` (-1: any); other dtypes raise.
inline I8Array int8_arg(const pybind11::handle& obj, const std::string& name, int ndim) {
  namespace py = pybind11;
  py::array arr = numpy_array(obj);
  if (!arr.dtype().equal(py::dtype::of<int8_t>())) {
    throw InvalidArgument(name + ": expected a NumPy int8 array");
  }
  if (ndim >= 0 && arr.ndim() != ndim) {
    throw InvalidArgument(name + ": expected " + std::to_string(ndim) + " dimensions, got " +
                          std::to_string(arr.ndim()));
  }
  return numpy_array_of<int8_t, py::array::c_style>(arr);
}

// A float32 C-contiguous array (float64 and other real inputs are converted).
inline F32Array float_arg(const pybind11::handle& obj, const std::string& name, int ndim) {
  F32Array arr = numpy_array_of<float>(obj);
  if (ndim >= 0 && arr.ndim() != ndim) {
    throw InvalidArgument(name + ": expected " + std::to_string(ndim) + " dimensions, got " +
                          std::to_string(arr.ndim()));
  }
  return arr;
}

// A float32 [M, N] output for a GEMM binding: a copy of `c` when one is given
// (the kernel then accumulates into it; *accumulate is set), else uninitialised.
inline pybind11::array_t<float> gemm_output(const pybind11::object& c_obj, int64_t M, int64_t N, bool* accumulate) {
  pybind11::array_t<float> y({M, N});
  *accumulate = !c_obj.is_none();
  if (*accumulate) {
    F32Array c = float_arg(c_obj, "c", 2);
    if (c.shape(0) != M || c.shape(1) != N) throw InvalidArgument("c: expected shape [M, N]");
    std::copy(c.data(), c.data() + M * N, y.mutable_data());
  }
  return y;
}

// Checks a per-channel vector's length.
inline void check_length(const pybind11::array& a, int64_t n, const std::string& name) {
  if (a.ndim() != 1 || a.shape(0) != n) {
    throw InvalidArgument(name + ": expected a 1-D array of length " + std::to_string(n));
  }
}

inline kernels::OutputType parse_out_dtype(const std::string& s) {
  if (s == "int8") return kernels::OutputType::kInt8;
  if (s == "float32") return kernels::OutputType::kFloat32;
  throw InvalidArgument("out_dtype: expected 'int8' or 'float32', got '" + s + "'");
}

// ConvShape from input (H, W, C), weights (K, C/groups, R, S) and the window
// arguments; pads are (top, left, bottom, right) as in ONNX.
inline kernels::ConvShape conv_shape(int C, int H, int W, int K, int R, int S,
                                     std::array<int, 2> stride, std::array<int, 4> pads,
                                     std::array<int, 2> dilation, int groups) {
  kernels::ConvShape s;
  s.C = C; s.H = H; s.W = W; s.K = K; s.R = R; s.S = S;
  s.stride_h = stride[0]; s.stride_w = stride[1];
  s.pad_top = pads[0]; s.pad_left = pads[1]; s.pad_bottom = pads[2]; s.pad_right = pads[3];
  s.dilation_h = dilation[0]; s.dilation_w = dilation[1];
  s.groups = groups;
  s.validate();
  return s;
}

inline kernels::PoolShape pool_shape(int C, int H, int W, std::array<int, 2> kernel,
                                     std::array<int, 2> stride, std::array<int, 4> pads,
                                     bool count_include_pad) {
  kernels::PoolShape p;
  p.C = C; p.H = H; p.W = W; p.R = kernel[0]; p.S = kernel[1];
  p.stride_h = stride[0]; p.stride_w = stride[1];
  p.pad_top = pads[0]; p.pad_left = pads[1]; p.pad_bottom = pads[2]; p.pad_right = pads[3];
  p.count_include_pad = count_include_pad;
  p.validate();
  return p;
}

}  // namespace python
}  // namespace int8rt
