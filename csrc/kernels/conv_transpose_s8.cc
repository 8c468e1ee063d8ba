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
// skipped). A phase with no tap (k < s) holds epilogue(0) everywhere. When
// every phase's conv has the same shape (kernel a multiple of the stride,
// as k = s upsampling), they run as one conv whose output channels are the
// phases' side by side, group by group.
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

// One pixel's channels; a single int8 channel (an upsampling to one map)
// without a memcpy call per pixel.
inline void copy_block(char* d, const char* s, size_t bytes) {
  if (bytes == 1) {
    *d = *s;
  } else {
    std::memcpy(d, s, bytes);
  }
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
  bool has_taps = false;               // some kernel tap reaches this phase
  ConvShape conv;                      // valid when has_taps
  std::unique_ptr<PackedConv> packed;  // its own conv (null when merged or no tap)
};

class PhasePackedConvTranspose final : public PackedConvTranspose {
 public:
  PhasePackedConvTranspose(const ConvTransposeShape& sh, OutputType out, const int8_t* w) : shape_(sh), out_(out) {
    const int OH = sh.out_h(), OW = sh.out_w();
    std::vector<std::vector<int8_t>> weights;
    for (int qy = 0; qy < sh.stride_h; ++qy) {
      for (int qx = 0; qx < sh.stride_w; ++qx) {
        Phase ph;
        ph.qy = qy;
        ph.qx = qx;
        ph.y = axis_phase(sh.H, OH, sh.R, sh.stride_h, sh.dilation_h, sh.pad_top, qy);
        ph.x = axis_phase(sh.W, OW, sh.S, sh.stride_w, sh.dilation_w, sh.pad_left, qx);
        if (ph.y.count <= 0 || ph.x.count <= 0) continue;  // no output in this phase
        weights.push_back(phase_weights(ph, w));
        phases_.push_back(std::move(ph));
      }
    }
    // Phases whose convs have one shape (k a multiple of the stride, e.g.
    // k = s) run as ONE conv with every phase's output channels side by
    // side, so a layer with few output channels still fills a tile.
    bool same = phases_.size() > 1;
    for (const Phase& ph : phases_) same = same && ph.has_taps && same_conv(ph.conv, phases_[0].conv);
    if (same) {
      merged_ = phases_[0].conv;
      merged_.K = sh.K * static_cast<int>(phases_.size());
      const int nph = static_cast<int>(phases_.size()), Kg = sh.k_per_group();
      const size_t per_k = static_cast<size_t>(merged_.c_per_group()) * merged_.R * merged_.S;
      std::vector<int8_t> mw(static_cast<size_t>(merged_.weight_count()));
      for (int p = 0; p < nph; ++p) {
        for (int k = 0; k < sh.K; ++k) {
          const int g = k / Kg, kk = k - g * Kg;
          std::memcpy(mw.data() + merged_channel(g, p, kk) * per_k, weights[p].data() + k * per_k, per_k);
        }
      }
      merged_packed_ = choose<ConvKernel>(merged_, out_).pack(merged_, mw.data());
      return;
    }
    for (size_t p = 0; p < phases_.size(); ++p) {
      Phase& ph = phases_[p];
      if (ph.has_taps) ph.packed = choose<ConvKernel>(ph.conv, out_).pack(ph.conv, weights[p].data());
    }
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_run(ep, out_, "conv_transpose_s8_phases");
    const size_t elem = ep.out_type == OutputType::kInt8 ? 1 : 4;
    thread_local std::vector<char> buf;  // the calling thread's, grown once (fresh pages per run otherwise)
    if (merged_packed_) {
      run_merged(batch, x, ep, elem, buf, static_cast<char*>(y));
      return;
    }
    for (const Phase& ph : phases_) {
      if (!ph.packed) {
        fill_untouched(ph, batch, ep, y);
        continue;
      }
      const int COH = ph.conv.out_h(), COW = ph.conv.out_w();
      buf.resize(static_cast<size_t>(batch) * COH * COW * shape_.K * elem);
      ph.packed->run(batch, x, ep, buf.data());
      scatter(ph, batch, COH, COW, shape_.K, 0, elem, buf.data(), static_cast<char*>(y));
    }
  }

  const ConvTransposeShape& shape() const override { return shape_; }

 private:
  // Sets ph.conv and returns its weights [K][C/groups][ny][nx]: tap (r', s')
  // is kernel tap (taps_y[ny-1-r'], taps_x[nx-1-s']) of w [C][K/groups][R][S].
  // Empty for a phase no tap reaches.
  std::vector<int8_t> phase_weights(Phase& ph, const int8_t* w) const {
    const ConvTransposeShape& sh = shape_;
    const int Cg = sh.c_per_group(), Kg = sh.k_per_group();
    ph.has_taps = !ph.y.taps.empty() && !ph.x.taps.empty();
    if (!ph.has_taps) return {};
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
    return pw;
  }

  static bool same_conv(const ConvShape& a, const ConvShape& b) {
    return a.R == b.R && a.S == b.S && a.pad_top == b.pad_top && a.pad_bottom == b.pad_bottom &&
           a.pad_left == b.pad_left && a.pad_right == b.pad_right && a.dilation_h == b.dilation_h &&
           a.dilation_w == b.dilation_w;
  }

  // Channel of the merged conv for phase p, group g, channel kk of the group:
  // each group's channels stay contiguous (a grouped conv's contract).
  int64_t merged_channel(int g, int p, int kk) const {
    return (static_cast<int64_t>(g) * static_cast<int64_t>(phases_.size()) + p) * shape_.k_per_group() + kk;
  }

  // The merged conv: its epilogue is the layer's, per merged channel.
  // `buf`: run()'s buffer for the merged conv's output.
  void run_merged(int batch, const int8_t* x, const Epilogue& ep, size_t elem, std::vector<char>& buf, char* y) const {
    const int nph = static_cast<int>(phases_.size()), Kg = shape_.k_per_group();
    thread_local std::vector<float> scale, bias;  // the calling thread's, kept as `buf`
    scale.resize(static_cast<size_t>(merged_.K));
    bias.resize(static_cast<size_t>(ep.bias ? merged_.K : 0));
    for (int p = 0; p < nph; ++p) {
      for (int k = 0; k < shape_.K; ++k) {
        const int g = k / Kg;
        const int64_t m = merged_channel(g, p, k - g * Kg);
        scale[m] = ep.scale[k];
        if (ep.bias) bias[m] = ep.bias[k];
      }
    }
    Epilogue mep = ep;
    mep.scale = scale.data();
    mep.bias = ep.bias ? bias.data() : nullptr;
    const int COH = merged_.out_h(), COW = merged_.out_w();
    buf.resize(static_cast<size_t>(batch) * COH * COW * merged_.K * elem);
    merged_packed_->run(batch, x, mep, buf.data());
    for (int p = 0; p < nph; ++p) {
      scatter(phases_[p], batch, COH, COW, merged_.K, p, elem, buf.data(), y);
    }
  }

  // Output row and column of phase output (ty, tx).
  int out_row(const Phase& ph, int64_t ty) const {
    return static_cast<int>((ph.y.t_first + ty) * shape_.stride_h + ph.qy - shape_.pad_top);
  }
  int out_col(const Phase& ph, int64_t tx) const {
    return static_cast<int>((ph.x.t_first + tx) * shape_.stride_w + ph.qx - shape_.pad_left);
  }

  // Copies phase ph's outputs from a phase-conv output of K_src channels per
  // pixel: group g's channels sit at merged_channel(g, p, 0) (p = 0 with
  // K_src = K: the phase's own conv).
  void scatter(const Phase& ph, int batch, int COH, int COW, int K_src, int p, size_t elem, const char* src,
               char* y) const {
    const int OH = shape_.out_h(), OW = shape_.out_w(), K = shape_.K, Kg = shape_.k_per_group(), G = shape_.groups;
    // Everything the inner loop reads is a local: its char stores may alias
    // any member, which would otherwise be reloaded per pixel.
    const bool own = K_src == K;
    const int64_t rows = int64_t{batch} * ph.y.count, count_x = ph.x.count;
    const size_t blk = static_cast<size_t>(Kg) * elem;
    const size_t off0 = own ? 0 : static_cast<size_t>(merged_channel(0, p, 0)) * elem;
    const size_t group_stride =
        own ? blk : static_cast<size_t>(merged_channel(1, p, 0) - merged_channel(0, p, 0)) * elem;
    const size_t d_step = static_cast<size_t>(shape_.stride_w) * K * elem, s_step = static_cast<size_t>(K_src) * elem;
    parallel_for(rows, grain_for_work(count_x * K), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t n = row / ph.y.count, ty = row % ph.y.count;
        const int oy = out_row(ph, ty);
        const char* sp = src + ((n * COH + ph.y.skip + ty) * COW + ph.x.skip) * K_src * elem + off0;
        char* d = y + ((n * OH + oy) * OW + out_col(ph, 0)) * K * elem;
        for (int64_t tx = 0; tx < count_x; ++tx, d += d_step, sp += s_step) {
          for (int g = 0; g < G; ++g) copy_block(d + g * blk, sp + g * group_stride, blk);
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
  ConvShape merged_;                          // valid when merged_packed_ is set
  std::unique_ptr<PackedConv> merged_packed_;  // all phases as one conv, or null
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
