// int8rt._testing.kernels: the gemm_u8s8 family (kernels/gemm_u8s8.h) with a
// chosen or named kernel, both ways of holding the operands, for tests and
// benchmarks. Thin: convert, pack, run (GIL released), return.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/gemm_u8s8.h"
#include "kernels/registry.h"
#include "python/numpy_convert.h"
#include "python/testing/bindings.h"
#include "python/testing/kernel_args.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

using U8Array = py::array_t<uint8_t, py::array::c_style>;

U8Array uint8_arg(const py::handle& obj, const std::string& name) {
  py::array arr = numpy_array(obj);
  if (!arr.dtype().equal(py::dtype::of<uint8_t>()) || arr.ndim() != 2) {
    throw InvalidArgument(name + ": expected a 2-D NumPy uint8 array");
  }
  return numpy_array_of<uint8_t, py::array::c_style>(arr);
}

// c = a @ b, a uint8 [M, K], b int8 [K, N] packed once (pack), int32 wrapping; the product run
// `runs` times on one packing (benchmarks time the run, not the packing).
py::array_t<int32_t> gemm_u8s8(const py::handle& a_obj, const py::handle& b_obj,
                               const std::optional<std::string>& kernel, int runs) {
  U8Array a = uint8_arg(a_obj, "a");
  I8Array b = int8_arg(b_obj, "b", 2);
  if (a.shape(1) != b.shape(0)) throw InvalidArgument("b: inner dimension differs from a's");
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  const kernels::GemmU8S8Shape shape{K, N};
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmU8S8Kernel>(kernel, shape);
  const auto packed = k.pack(shape, b.data(), N);
  py::array_t<int32_t> c({M, N});
  int32_t* cp = c.mutable_data();
  py::gil_scoped_release release;
  for (int r = 0; r < std::max(1, runs); ++r) packed->run(M, a.data(), K, cp, N);
  return c;
}

// (c, col_sums): c = a @ b with a uint8 [M, K] packed once (pack_a) and b [K, N] given per run,
// int8 or uint8 (read as value - 128); col_sums = sum_k of b's values as read.
std::tuple<py::array_t<int32_t>, py::array_t<int32_t>> gemm_u8s8_packed_a(
    const py::handle& a_obj, const py::handle& b_obj, const std::optional<std::string>& kernel, int runs) {
  U8Array a = uint8_arg(a_obj, "a");
  const bool b_u8 = numpy_array(b_obj).dtype().equal(py::dtype::of<uint8_t>());
  // Bytes as the kernel reads them: uint8 storage, or int8's (the kernel reads them as s8).
  const py::array bb = b_u8 ? py::array(uint8_arg(b_obj, "b")) : py::array(int8_arg(b_obj, "b", 2));
  const auto* bp = static_cast<const uint8_t*>(bb.data());
  if (a.shape(1) != bb.shape(0)) throw InvalidArgument("b: inner dimension differs from a's");
  const int64_t M = a.shape(0), K = a.shape(1), N = bb.shape(1);
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmU8S8Kernel>(kernel, kernels::GemmU8S8Shape{K, M});
  const auto packed = k.pack_a(M, K, a.data(), K);
  py::array_t<int32_t> c({M, N}), sums(N);
  int32_t* cp = c.mutable_data();
  int32_t* sp = sums.mutable_data();
  py::gil_scoped_release release;
  for (int r = 0; r < std::max(1, runs); ++r) packed->run(N, bp, N, b_u8, cp, N, sp);
  return {c, sums};
}

// a @ b (b packed once) with the epilogue of kernels/gemm_u8s8.h (GemmU8S8Epilogue): the rank-1
// terms row_a x col_a and row_b x col_b (int32; each pair given or None), then, with scale, float32
// float(C) * scale (+ bias). Returns int32 [M, N], or float32 with scale.
py::array gemm_u8s8_epilogue(const py::handle& a_obj, const py::handle& b_obj, const py::object& row_a,
                             const py::object& col_a, const py::object& row_b, const py::object& col_b,
                             const py::object& scale, const py::object& bias, const std::optional<std::string>& kernel,
                             int runs) {
  U8Array a = uint8_arg(a_obj, "a");
  I8Array b = int8_arg(b_obj, "b", 2);
  if (a.shape(1) != b.shape(0)) throw InvalidArgument("b: inner dimension differs from a's");
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  using I32Array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
  const auto vec_i32 = [](const py::object& o, int64_t n, const char* name) -> std::optional<I32Array> {
    if (o.is_none()) return std::nullopt;
    I32Array v = numpy_array_of<int32_t>(o);
    if (v.ndim() != 1 || v.shape(0) != n) throw InvalidArgument(std::string(name) + ": expected " + std::to_string(n) + " values");
    return v;
  };
  const auto vec_f32 = [](const py::object& o, int64_t n, const char* name) -> std::optional<F32Array> {
    if (o.is_none()) return std::nullopt;
    F32Array v = float_arg(o, name, 1);
    if (v.shape(0) != n) throw InvalidArgument(std::string(name) + ": expected " + std::to_string(n) + " values");
    return v;
  };
  const auto ra = vec_i32(row_a, M, "row_a"), ca = vec_i32(col_a, N, "col_a");
  const auto rb = vec_i32(row_b, M, "row_b"), cb = vec_i32(col_b, N, "col_b");
  const auto sc = vec_f32(scale, N, "scale"), bi = vec_f32(bias, N, "bias");
  if (ra.has_value() != ca.has_value() || rb.has_value() != cb.has_value()) {
    throw InvalidArgument("row_a / col_a and row_b / col_b come in pairs");
  }
  if (bi && !sc) throw InvalidArgument("bias needs scale");
  kernels::GemmU8S8Epilogue e;
  if (ra) {
    e.row_a = ra->data();
    e.col_a = ca->data();
  }
  if (rb) {
    e.row_b = rb->data();
    e.col_b = cb->data();
  }
  if (sc) e.scale = sc->data();
  if (bi) e.bias = bi->data();
  const kernels::GemmU8S8Shape shape{K, N};
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmU8S8Kernel>(kernel, shape);
  const auto packed = k.pack(shape, b.data(), N);
  py::array_t<int32_t> c({M, N});
  int32_t* cp = c.mutable_data();
  {
    py::gil_scoped_release release;
    for (int r = 0; r < std::max(1, runs); ++r) packed->run(M, a.data(), K, cp, N, &e);
  }
  if (!sc) return std::move(c);
  return c.attr("view")(py::dtype::of<float>());
}

// The form the kernel packs b (int8 [K, N]) in: kernels/gemm_u8s8.h, PackedGemmU8S8::form; or, with
// packed_a, the form it packs a (uint8 [M, K]) in as the left operand.
std::string gemm_u8s8_form(const py::handle& b_obj, const std::optional<std::string>& kernel, bool packed_a) {
  if (packed_a) {
    U8Array a = uint8_arg(b_obj, "a");
    const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmU8S8Kernel>(
        kernel, kernels::GemmU8S8Shape{a.shape(1), a.shape(0)});
    return k.pack_a(a.shape(0), a.shape(1), a.data(), a.shape(1))->form();
  }
  I8Array b = int8_arg(b_obj, "b", 2);
  const kernels::GemmU8S8Shape shape{b.shape(0), b.shape(1)};
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmU8S8Kernel>(kernel, shape);
  return k.pack(shape, b.data(), shape.N)->form();
}

// The form the gemm_s8 kernel packs w (int8 [N, K], constant) in: kernels/conv_gemm_s8.h, PackedGemm::form.
std::string gemm_s8_form(const py::handle& w_obj, const std::optional<std::string>& kernel) {
  I8Array w = int8_arg(w_obj, "w", 2);
  kernels::GemmShape shape{static_cast<int>(w.shape(0)), static_cast<int>(w.shape(1))};
  shape.validate();
  const auto& k = kernels::kernel_by_name_or_choose<kernels::GemmKernel>(kernel, shape, kernels::OutputType::kInt8);
  return k.pack(shape, w.data())->form();
}

}  // namespace

void bind_gemm_u8s8(py::module_& k) {
  using namespace pybind11::literals;
  k.def("gemm_u8s8", &gemm_u8s8, "a"_a, "b"_a, "kernel"_a = py::none(), "runs"_a = 1,
        "a (uint8 [M,K]) @ b (int8 [K,N], packed once) in int32, wrapping; kernel names a candidate; "
        "runs: the product repeated on one packing.");
  k.def("gemm_u8s8_packed_a", &gemm_u8s8_packed_a, "a"_a, "b"_a, "kernel"_a = py::none(), "runs"_a = 1,
        "(a @ b, column sums of b): a uint8 [M,K] packed once, b int8 or uint8 (read as b - 128) [K,N] "
        "given per run; int32, wrapping.");
  k.def("gemm_u8s8_epilogue", &gemm_u8s8_epilogue, "a"_a, "b"_a, "row_a"_a = py::none(), "col_a"_a = py::none(),
        "row_b"_a = py::none(), "col_b"_a = py::none(), "scale"_a = py::none(), "bias"_a = py::none(),
        "kernel"_a = py::none(), "runs"_a = 1,
        "a @ b (b packed once) + row_a x col_a + row_b x col_b (int32, wrapping), then with scale "
        "float32(C) * scale (+ bias): kernels/gemm_u8s8.h's GemmU8S8Epilogue. int32 or float32 [M,N].");
  k.def("gemm_u8s8_form", &gemm_u8s8_form, "b"_a, "kernel"_a = py::none(), "packed_a"_a = false,
        "How the kernel holds b (int8 [K,N]) packed once: 'pairs', 'shifted' or '' (it does not choose); "
        "packed_a: how it holds b as A (uint8 [M,K]) packed once.");
  k.def("gemm_s8_form", &gemm_s8_form, "w"_a, "kernel"_a = py::none(),
        "How the gemm_s8 kernel holds w (int8 [N,K]) packed once: 'pairs' (x86/gemm_s8_pairs.h) or ''.");
  k.def("gemm_u8s8_candidates", [](int64_t K, int64_t N) {
    return kernels::candidate_report<kernels::GemmU8S8Kernel>(kernels::GemmU8S8Shape{K, N});
  }, "K"_a, "N"_a, "[(name, isa, reason)] of every compiled gemm_u8s8 kernel, best first.");
}

}  // namespace python
}  // namespace int8rt
