// Float32 pooling (ONNX): MaxPool and AveragePool over 1-D, 2-D or 3-D NC[D]HW
// windows with kernel_shape, strides, pads, auto_pad, ceil_mode, dilations
// (MaxPool, and AveragePool opset 19) and count_include_pad; GlobalMaxPool
// and GlobalAveragePool over any number of spatial dims.
//
// MaxPool with its Indices output (int64: the flat index of each maximum in
// the input, row-major; storage_order 1 makes the spatial part column-major
// for 2-D) or on float64 / float16 / int8 / uint8 runs a per-output scalar
// loop (max_pool_generic), which takes the first maximum in window order as
// ONNX's reference does; padded taps never win.
//
// AveragePool divisor: with count_include_pad the taps that fall inside the
// explicitly padded input [-pad_begin, size + pad_end) count, taps beyond it
// (ceil_mode overhang) do not (PyTorch's and the ONNX reference's rule);
// without it only taps inside the input count (op_util.h's pool_divisors,
// also the channel-blocked pool's). Windows are separable, so the
// count is count_d(oz) * count_h(oy) * count_w(ox) (count_d = 1 below 3-D).
//
// Float MaxPool over 1-D or 2-D windows runs on the maxpool_f32 kernel
// family (kernels/maxpool_f32.h), runs of output planes per call (1-D as
// one row); over a bfloat16 tensor (between BF16 layers) through
// ops/bf16_maxpool.h, the same kernel on widened planes. AveragePool and
// 3-D MaxPool loop per output plane: for each depth tap (3-D), for each
// tap (ky, kx), for each output row, the inner loop runs over output
// columns, which the compiler vectorises. 1-D and 2-D have
// depth 1. GlobalAveragePool runs on the plane_mean_f32 family
// (kernels/plane_mean_f32.h: a fixed summation order, the same bits on
// every tier), runs of planes per call.
#include <algorithm>
#include <limits>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/bf16_maxpool.h"
#include "engine/ops/op_util.h"
#include "kernels/maxpool_f32.h"
#include "kernels/plane_mean_f32.h"

namespace int8rt {
namespace engine {
namespace {

struct Dim {
  int64_t in, k, s, d, pb, pe, out;
};

// Valid output index range [lo, hi) whose tap t lands inside [0, in).
void tap_range(const Dim& g, int64_t t, int64_t* lo, int64_t* hi) {
  int64_t off = t * g.d - g.pb;
  *lo = off >= 0 ? 0 : std::min(g.out, (-off + g.s - 1) / g.s);
  *hi = std::max(*lo, g.in - off <= 0 ? 0 : std::min(g.out, (g.in - off + g.s - 1) / g.s));
}

// The AveragePool divisor's factor along one dim (op_util.h).
std::vector<float> tap_counts(const Dim& g, bool include_pad) {
  return pool_divisors(g.in, g.k, g.s, g.d, DimGeom{g.out, g.pb, g.pe}, include_pad);
}

class PoolLayer : public Layer {
 public:
  PoolLayer(const Node& node, bool is_max, WindowAttrs w, bool include_pad, bool with_indices, bool column_major)
      : is_max_(is_max),
        w_(std::move(w)),
        include_pad_(include_pad),
        with_indices_(with_indices),
        column_major_(column_major),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Dim z, h, wd;
    geometry(in, &z, &h, &wd);
    Shape os{in[0]->shape()[0], in[0]->shape()[1]};
    if (w_.kernel.size() == 3) os.push_back(z.out);
    if (w_.kernel.size() >= 2) os.push_back(h.out);
    os.push_back(wd.out);
    if (with_indices_) return {{in[0]->dtype(), os}, {DataType::kInt64, os}};
    return {{in[0]->dtype(), os}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    Dim z, h, wd;
    geometry(in, &z, &h, &wd);
    const Shape& os = out[0]->shape();  // infer()'s
    if (bf16_max(in[0]->dtype())) {  // bfloat16 tensors between BF16 layers (ops/bf16_maxpool.h)
      maxpool_bf16_planes(*maxpool_, plane_geom(h, wd), in[0]->data<uint16_t>(), out[0]->data<uint16_t>(),
                          os[0] * os[1]);
      return;
    }
    if (with_indices_ || in[0]->dtype() != DataType::kFloat32) {
      visit_numeric(in[0]->dtype(), [&](auto tag) {
        max_pool_generic<decltype(tag)>(*in[0], os, z, h, wd, out[0], with_indices_ ? out[1] : nullptr);
      });
      return;
    }
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const int64_t planes = os[0] * os[1];
    if (is_max_ && w_.kernel.size() <= 2) {
      max_planes(x, y, planes, h, wd);
      return;
    }
    const std::vector<float> count_w = tap_counts(wd, include_pad_), count_h = tap_counts(h, include_pad_),
                             count_z = tap_counts(z, include_pad_);
    const int64_t in_slice = h.in * wd.in, out_slice = h.out * wd.out;
    const float init = is_max_ ? -std::numeric_limits<float>::infinity() : 0.f;
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        std::fill(y + p * z.out * out_slice, y + (p + 1) * z.out * out_slice, init);
        for (int64_t oz = 0; oz < z.out; ++oz) {
          float* dst = y + (p * z.out + oz) * out_slice;
          for (int64_t kz = 0; kz < z.k; ++kz) {
            const int64_t iz = oz * z.s - z.pb + kz * z.d;
            if (iz < 0 || iz >= z.in) continue;
            pool_slice(x + (p * z.in + iz) * in_slice, dst, h, wd);
          }
          if (!is_max_) {
            for (int64_t oy = 0; oy < h.out; ++oy) {
              float* d = dst + oy * wd.out;
              for (int64_t ox = 0; ox < wd.out; ++ox) d[ox] = d[ox] / (count_z[oz] * count_h[oy] * count_w[ox]);
            }
          }
        }
      }
    });
  }

  std::string describe() const override { return is_max_ ? "fp32 maxpool" : "fp32 avgpool"; }

 private:
  // MaxPool on any numeric T, optionally with the Indices output (see the header comment).
  template <typename T>
  void max_pool_generic(const Value& xv, const Shape& os, const Dim& z, const Dim& h, const Dim& wd, Value* yv,
                        Value* iv) const {
    const T* x = xv.data<T>();
    T* y = yv->data<T>();
    int64_t* idx = iv ? iv->data<int64_t>() : nullptr;
    const int64_t in_plane = z.in * h.in * wd.in, out_plane = z.out * h.out * wd.out;
    parallel_for(os[0] * os[1], 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        for (int64_t o = 0; o < out_plane; ++o) {
          const int64_t oz = o / (h.out * wd.out), oy = o / wd.out % h.out, ox = o % wd.out;
          bool found = false;
          typename Arith<T>::C best{};
          int64_t at = 0;
          for (int64_t kz = 0; kz < z.k; ++kz) {
            const int64_t iz = oz * z.s - z.pb + kz * z.d;
            if (iz < 0 || iz >= z.in) continue;
            for (int64_t ky = 0; ky < h.k; ++ky) {
              const int64_t iy = oy * h.s - h.pb + ky * h.d;
              if (iy < 0 || iy >= h.in) continue;
              for (int64_t kx = 0; kx < wd.k; ++kx) {
                const int64_t ix = ox * wd.s - wd.pb + kx * wd.d;
                if (ix < 0 || ix >= wd.in) continue;
                const auto v = Arith<T>::load(x[p * in_plane + (iz * h.in + iy) * wd.in + ix]);
                if (!found || v > best) {
                  found = true;
                  best = v;
                  at = column_major_ ? (iz * wd.in + ix) * h.in + iy : (iz * h.in + iy) * wd.in + ix;
                }
              }
            }
          }
          // A window with no tap inside the input (only possible with huge pads) gives the lowest value.
          y[p * out_plane + o] = found ? Arith<T>::store(best) : Arith<T>::store(std::numeric_limits<
                                                                     typename Arith<T>::C>::lowest());
          if (idx) idx[p * out_plane + o] = p * in_plane + at;
        }
      }
    });
  }

  // A 1-D / 2-D MaxPool without Indices over a bfloat16 input.
  bool bf16_max(DataType t) const {
    return t == DataType::kBFloat16 && is_max_ && !with_indices_ && w_.kernel.size() <= 2;
  }

  // The maxpool kernel's plane geometry (no planes, no pointers).
  static kernels::MaxPoolF32Planes plane_geom(const Dim& h, const Dim& wd) {
    kernels::MaxPoolF32Planes p;
    p.H = h.in; p.W = wd.in; p.oh = h.out; p.ow = wd.out;
    p.kh = h.k; p.kw = wd.k; p.sh = h.s; p.sw = wd.s; p.dh = h.d; p.dw = wd.d; p.ph = h.pb; p.pw = wd.pb;
    return p;
  }

  // 1-D / 2-D MaxPool on the kernel, runs of about 16 KiB of output planes per call.
  void max_planes(const float* x, float* y, int64_t planes, const Dim& h, const Dim& wd) const {
    kernels::MaxPoolF32Planes p = plane_geom(h, wd);
    p.x = x; p.y = y;
    const int64_t run = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, h.out * wd.out));
    parallel_for(planes, run, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; t += run) {
        kernels::MaxPoolF32Planes part = p;
        part.first = t;
        part.count = std::min(run, end - t);
        maxpool_->planes(part);
      }
    });
  }

  // One input slice's 2-D taps (ky, kx) folded into one output slice.
  void pool_slice(const float* src, float* dst, const Dim& h, const Dim& wd) const {
    for (int64_t ky = 0; ky < h.k; ++ky) {
      int64_t ylo, yhi;
      tap_range(h, ky, &ylo, &yhi);
      for (int64_t kx = 0; kx < wd.k; ++kx) {
        int64_t xlo, xhi;
        tap_range(wd, kx, &xlo, &xhi);
        int64_t xoff = kx * wd.d - wd.pb;
        for (int64_t oy = ylo; oy < yhi; ++oy) {
          const float* row = src + (oy * h.s - h.pb + ky * h.d) * wd.in + xoff;
          float* d = dst + oy * wd.out;
          if (is_max_) {
            for (int64_t ox = xlo; ox < xhi; ++ox) d[ox] = std::max(d[ox], row[ox * wd.s]);
          } else {
            for (int64_t ox = xlo; ox < xhi; ++ox) d[ox] += row[ox * wd.s];
          }
        }
      }
    }
  }

  // The window along each spatial dim (unit dims where the kernel has fewer), checked.
  void geometry(const std::vector<const Value*>& in, Dim* z, Dim* h, Dim* wd) const {
    const Value& X = require_any(in, 0, prefix_);
    if (X.dtype() != DataType::kFloat32 && !bf16_max(X.dtype()) &&
        !(is_max_ && (is_float_dtype(X.dtype()) || X.dtype() == DataType::kInt8 || X.dtype() == DataType::kUInt8))) {
      throw InvalidArgument(prefix_ + "input 0 must be float32" + (is_max_ ? ", float64, float16, int8 or uint8" : "") +
                            (is_max_ && !with_indices_ && w_.kernel.size() <= 2 ? " or bfloat16" : "") +
                            ", got " + dtype_name(X.dtype()));
    }
    const Shape& xs = X.shape();
    size_t rank = w_.kernel.size();
    if (xs.size() != rank + 2) {
      throw InvalidArgument(prefix_ + "input " + shape_str(xs) + " must be " + std::to_string(rank + 2) +
                            "-D for a " + std::to_string(rank) + "-D kernel");
    }
    auto dim = [&](size_t d) {
      DimGeom g = window_geometry(w_, d, xs[2 + d], prefix_);
      return Dim{xs[2 + d], w_.kernel[d], w_.strides[d], w_.dilations[d], g.pad_begin, g.pad_end, g.out};
    };
    const Dim unit{1, 1, 1, 1, 0, 0, 1};
    *wd = dim(rank - 1);
    *h = rank >= 2 ? dim(rank - 2) : unit;
    *z = rank == 3 ? dim(0) : unit;
  }

  bool is_max_;
  WindowAttrs w_;
  bool include_pad_;
  bool with_indices_;
  bool column_major_;
  std::string prefix_;
  const kernels::MaxPoolF32Kernel* maxpool_ = &kernels::choose<kernels::MaxPoolF32Kernel>();  // once per layer
};

LayerFactory make_pool(bool is_max) {
  return [is_max](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    WindowAttrs w = parse_window(node, true, true);
    if (w.kernel.empty()) throw InvalidArgument(layer_error_prefix(node) + "kernel_shape is required");
    if (w.kernel.size() > 3) throw unsupported_attr(node, "kernel_shape", ints_str(w.kernel), "4-D and above pooling");
    fill_window_defaults(w, w.kernel.size(), node);
    const bool with_indices = is_max && node.outputs.size() > 1 && node.outputs[1] >= 0;
    const bool column_major = is_max && node.attrs.get_int("storage_order", 0) != 0;
    if (column_major && w.kernel.size() != 2) {
      throw unsupported_attr(node, "storage_order", "1", "column-major indices are defined for 2-D pooling");
    }
    bool include_pad = !is_max && node.attrs.get_int("count_include_pad", 0) != 0;
    return std::make_unique<PoolLayer>(node, is_max, std::move(w), include_pad, with_indices, column_major);
  };
}

class GlobalPoolLayer : public Layer {
 public:
  GlobalPoolLayer(const Node& node, bool is_max) : is_max_(is_max), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    if (X.shape().size() < 3) throw InvalidArgument(prefix_ + "input " + shape_str(X.shape()) + " must be at least 3-D");
    Shape out(X.shape().size(), 1);
    out[0] = X.shape()[0];
    out[1] = X.shape()[1];
    return {{DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    const int64_t planes = xs[0] * xs[1], size = in[0]->numel() / planes;
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    parallel_for(planes, std::max<int64_t>(1, 4096 / size), [&](int64_t begin, int64_t end) {
      if (!is_max_) {
        mean_->apply(x + begin * size, end - begin, size, y + begin);
        return;
      }
      for (int64_t p = begin; p < end; ++p) {
        const float* s = x + p * size;
        float acc = s[0];
        for (int64_t i = 1; i < size; ++i) acc = std::max(acc, s[i]);
        y[p] = acc;
      }
    });
  }

  std::string describe() const override { return is_max_ ? "fp32 global maxpool" : "fp32 global avgpool"; }

 private:
  bool is_max_;
  std::string prefix_;
  const kernels::PlaneMeanF32Kernel* mean_ = &kernels::choose<kernels::PlaneMeanF32Kernel>();  // once per layer
};

LayerFactory make_global(bool is_max) {
  return [is_max](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    return std::make_unique<GlobalPoolLayer>(node, is_max);
  };
}

INT8RT_REGISTER_LAYER("MaxPool", make_pool(true));
INT8RT_REGISTER_LAYER("AveragePool", make_pool(false));
INT8RT_REGISTER_LAYER("GlobalMaxPool", make_global(true));
INT8RT_REGISTER_LAYER("GlobalAveragePool", make_global(false));

}  // namespace
}  // namespace engine
}  // namespace int8rt
