// The conv_transpose_s8 family (conv_transpose_s8.h): the stride-phase driver
// over the conv_s8 family, and the reference candidate.
//
// The phase decomposition, along one axis (input size `in`, kernel k,
// stride s, dilation d, leading pad p): output o receives tap i from input
// (o + p - i*d) / s when that is an integer. With q = (o + p) mod s and
// t = (o + p - q) / s, the taps that reach o are those with i*d = q (mod s),
// each reading input t - a_i, a_i = (i*d - q) / s. Those taps are every
// (s / gcd(s, d))-th one, so their a_i step by d' = d / gcd(s, d): the
// outputs of phase q are an ordinary convolution of the input with the taps
// reversed, dilation d', leading pad a_max - t_first, where t_first is the
// first t whose o is inside the output. A negative leading pad becomes 0 and
// the first outputs of the phase conv are skipped; the trailing pad is what
// the phase's last output needs (never negative: surplus outputs are
// skipped). A phase with no tap (k < s) holds epilogue(0) everywhere.
#include "kernels/conv_transpose_s8.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace {

// The epilogue a packed layer accepts: valid, of its output type, no residual.
void check_run(const Epilogue& ep, OutputType packed_for, const char* what) {
  check_epilogue(ep, what);
  if (ep.out_type != packed_for) {
    throw InvalidArgument(std::string(what) + ": packed for " + output_type_name(packed_for) + " output, run with " +
                          output_type_name(ep.out_type));
  }
  if (ep.residual) throw InvalidArgument(std::string(what) + ": a residual is not supported");
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// One phase q of one axis.
struct AxisPhase {
  std::vector<int> taps;  // kernel indices i with i*d = q (mod s), ascending
  int64_t t_first = 0;    // first and count of the phase's outputs: o = t*s + q - p
  int64_t count = 0;
  int skip = 0;           // leading phase-conv outputs that are not outputs
  int pad_begin = 0, pad_end = 0, dilation = 1;  // the phase conv's
};

AxisPhase axis_phase(int in, int out, int k, int s, int d, int p, int q) {
  AxisPhase a;
  for (int i = 0; i < k; ++i) {
    if ((int64_t{i} * d) % s == q) a.taps.push_back(i);
  }
  a.t_first = floor_div(int64_t{p} - q + s - 1, s);
  a.count = floor_div(int64_t{out} - 1 + p - q, s) - a.t_first + 1;
  if (a.taps.empty() || a.count <= 0) return a;
  const int n = static_cast<int>(a.taps.size());
  a.dilation = d / std::gcd(s, d);
  const int64_t a_max = (int64_t{a.taps.back()} * d - q) / s;
  const int64_t lead = a_max - a.t_first;
  a.skip = static_cast<int>(std::max<int64_t>(0, -lead));
  a.pad_begin = static_cast<int>(std::max<int64_t>(0, lead));
  const int64_t need = a.skip + a.count;  // phase-conv outputs wanted
  a.pad_end = static_cast<int>(std::max<int64_t>(0, need - in - a.pad_begin + int64_t{a.dilation} * (n - 1)));
  return a;
}

struct Phase {
  int qy = 0, qx = 0;
  AxisPhase y, x;
  ConvShape conv;                      // valid when packed is set
  std::unique_ptr<PackedConv> packed;  // null: no tap reaches this phase
};

class PhasePackedConvTranspose final : public PackedConvTranspose {
 public:
  PhasePackedConvTranspose(const ConvTransposeShape& sh, OutputType out, const int8_t* w) : shape_(sh), out_(out) {
    const int OH = sh.out_h(), OW = sh.out_w(), Cg = sh.c_per_group(), Kg = sh.k_per_group();
    for (int qy = 0; qy < sh.stride_h; ++qy) {
      for (int qx = 0; qx < sh.stride_w; ++qx) {
        Phase ph;
        ph.qy = qy;
        ph.qx = qx;
        ph.y = axis_phase(sh.H, OH, sh.R, sh.stride_h, sh.dilation_h, sh.pad_top, qy);
        ph.x = axis_phase(sh.W, OW, sh.S, sh.stride_w, sh.dilation_w, sh.pad_left, qx);
        if (ph.y.count <= 0 || ph.x.count <= 0) continue;  // no output in this phase
        if (!ph.y.taps.empty() && !ph.x.taps.empty()) pack_phase(ph, w, Cg, Kg);
        phases_.push_back(std::move(ph));
      }
    }
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_run(ep, out_, "conv_transpose_s8_phases");
    const size_t elem = ep.out_type == OutputType::kInt8 ? 1 : 4;
    std::vector<char> buf;
    for (const Phase& ph : phases_) {
      if (!ph.packed) {
        fill_untouched(ph, batch, ep, y);
        continue;
      }
      const int COH = ph.conv.out_h(), COW = ph.conv.out_w();
      buf.resize(static_cast<size_t>(batch) * COH * COW * shape_.K * elem);
      ph.packed->run(batch, x, ep, buf.data());
      scatter(ph, batch, COH, COW, elem, buf.data(), static_cast<char*>(y));
    }
  }

  const ConvTransposeShape& shape() const override { return shape_; }

 private:
  // Phase conv weights [K][C/groups][ny][nx]: tap (r', s') is kernel tap
  // (taps_y[ny-1-r'], taps_x[nx-1-s']) of w [C][K/groups][R][S].
  void pack_phase(Phase& ph, const int8_t* w, int Cg, int Kg) {
    const ConvTransposeShape& sh = shape_;
    const int ny = static_cast<int>(ph.y.taps.size()), nx = static_cast<int>(ph.x.taps.size());
    ConvShape& c = ph.conv;
    c.C = sh.C;
    c.H = sh.H;
    c.W = sh.W;
    c.K = sh.K;
    c.R = ny;
    c.S = nx;
    c.pad_top = ph.y.pad_begin;
    c.pad_bottom = ph.y.pad_end;
    c.pad_left = ph.x.pad_begin;
    c.pad_right = ph.x.pad_end;
    c.dilation_h = ph.y.dilation;
    c.dilation_w = ph.x.dilation;
    c.groups = sh.groups;
    std::vector<int8_t> pw(static_cast<size_t>(c.weight_count()));
    for (int k = 0; k < sh.K; ++k) {
      const int g = k / Kg, kk = k - g * Kg;
      for (int ci = 0; ci < Cg; ++ci) {
        for (int r = 0; r < ny; ++r) {
          for (int s = 0; s < nx; ++s) {
            const int i = ph.y.taps[ny - 1 - r], j = ph.x.taps[nx - 1 - s];
            const int64_t src = ((static_cast<int64_t>(g * Cg + ci) * Kg + kk) * sh.R + i) * sh.S + j;
            pw[((static_cast<size_t>(k) * Cg + ci) * ny + r) * nx + s] = w[src];
          }
        }
      }
    }
    ph.packed = choose<ConvKernel>(c, out_).pack(c, pw.data());
  }

  // Output row and column of phase output (ty, tx).
  int out_row(const Phase& ph, int64_t ty) const {
    return static_cast<int>((ph.y.t_first + ty) * shape_.stride_h + ph.qy - shape_.pad_top);
  }
  int out_col(const Phase& ph, int64_t tx) const {
    return static_cast<int>((ph.x.t_first + tx) * shape_.stride_w + ph.qx - shape_.pad_left);
  }

  void scatter(const Phase& ph, int batch, int COH, int COW, size_t elem, const char* src, char* y) const {
    const int OH = shape_.out_h(), OW = shape_.out_w(), K = shape_.K;
    const int64_t rows = int64_t{batch} * ph.y.count;
    parallel_for(rows, grain_for_work(ph.x.count * K), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t n = row / ph.y.count, ty = row % ph.y.count;
        const int oy = out_row(ph, ty);
        const char* s = src + ((n * COH + ph.y.skip + ty) * COW + ph.x.skip) * K * elem;
        for (int64_t tx = 0; tx < ph.x.count; ++tx) {
          char* d = y + ((n * OH + oy) * OW + out_col(ph, tx)) * K * elem;
          std::memcpy(d, s + tx * K * elem, K * elem);
        }
      }
    });
  }

  // A phase no tap reaches: every output is the epilogue of a zero sum.
  void fill_untouched(const Phase& ph, int batch, const Epilogue& ep, void* y) const {
    const int OH = shape_.out_h(), OW = shape_.out_w(), K = shape_.K;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t ty = 0; ty < ph.y.count; ++ty) {
        for (int64_t tx = 0; tx < ph.x.count; ++tx) {
          const int64_t base = ((n * OH + out_row(ph, ty)) * OW + out_col(ph, tx)) * K;
          for (int k = 0; k < K; ++k) ref::store_output(0, k, base + k, ep, y);
        }
      }
    }
  }

  ConvTransposeShape shape_;
  OutputType out_;
  std::vector<Phase> phases_;
};

class PhaseConvTransposeKernel final : public ConvTransposeKernel {
 public:
  const char* name() const override { return "conv_transpose_s8_phases"; }
  Isa isa() const override { return Isa::kRef; }  // baseline code; its convs follow the cap
  std::string supports(const ConvTransposeShape&, OutputType) const override { return ""; }
  std::unique_ptr<PackedConvTranspose> pack(const ConvTransposeShape& shape, OutputType out,
                                            const int8_t* w) const override {
    shape.validate();
    return std::make_unique<PhasePackedConvTranspose>(shape, out, w);
  }
};

class RefPackedConvTranspose final : public PackedConvTranspose {
 public:
  RefPackedConvTranspose(const ConvTransposeShape& shape, OutputType out, const int8_t* w)
      : shape_(shape), out_(out), weights_(w, w + shape.weight_count()) {}
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_run(ep, out_, "conv_transpose_s8_ref");
    ref::conv_transpose2d_s8(shape_, batch, x, weights_.data(), ep, y);
  }
  const ConvTransposeShape& shape() const override { return shape_; }

 private:
  ConvTransposeShape shape_;
  OutputType out_;
  std::vector<int8_t> weights_;  // [C][K/groups][R][S]
};

class RefConvTransposeKernel final : public ConvTransposeKernel {
 public:
  const char* name() const override { return "conv_transpose_s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  std::string supports(const ConvTransposeShape&, OutputType) const override { return ""; }
  std::unique_ptr<PackedConvTranspose> pack(const ConvTransposeShape& shape, OutputType out,
                                            const int8_t* w) const override {
    shape.validate();
    return std::make_unique<RefPackedConvTranspose>(shape, out, w);
  }
};

}  // namespace

std::string describe_conv_transpose(const ConvTransposeShape& s, OutputType out) {
  auto i = [](int v) { return std::to_string(v); };
  return "C=" + i(s.C) + " H=" + i(s.H) + " W=" + i(s.W) + " K=" + i(s.K) + " R=" + i(s.R) + " S=" + i(s.S) +
         " stride=" + i(s.stride_h) + "x" + i(s.stride_w) + " pads=" + i(s.pad_top) + "," + i(s.pad_left) + "," +
         i(s.pad_bottom) + "," + i(s.pad_right) + " out_pad=" + i(s.out_pad_h) + "x" + i(s.out_pad_w) +
         " dilation=" + i(s.dilation_h) + "x" + i(s.dilation_w) + " groups=" + i(s.groups) +
         " out=" + output_type_name(out);
}

const ConvTransposeKernel& conv_transpose_s8_phases() {
  static const PhaseConvTransposeKernel k;
  return k;
}

const ConvTransposeKernel& conv_transpose_s8_ref() {
  static const RefConvTransposeKernel k;
  return k;
}

}  // namespace kernels
}  // namespace int8rt
