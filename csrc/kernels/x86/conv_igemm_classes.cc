// Class tiles (see conv_igemm_classes.h): output pixels grouped by the
// filter rows and columns their windows keep inside the input.
#include "kernels/x86/conv_igemm_classes.h"

#include <algorithm>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {
namespace {

// The filter positions [lo, hi] of a window starting at input index i0 that
// fall inside [0, extent) (lo > hi: none), taps `dilation` apart.
struct Span {
  int lo = 0, hi = -1;
  bool operator==(const Span& o) const { return lo == o.lo && hi == o.hi; }
};
Span kept(int i0, int taps, int dilation, int extent) {
  Span s{0, taps - 1};
  while (s.lo < taps && i0 + s.lo * dilation < 0) ++s.lo;
  while (s.hi >= 0 && i0 + s.hi * dilation >= extent) --s.hi;
  return s;
}

// Output positions grouped by their kept span: spans in order of first
// position, and each position's index into them (flat vectors, reused).
struct Classes {
  std::vector<Span> spans;
  std::vector<int> of;  // [out] the position's span
};
void group_positions(int out, int stride, int pad, int taps, int dilation, int extent, Classes* c) {
  c->spans.clear();
  c->of.clear();
  for (int o = 0; o < out; ++o) {
    const Span s = kept(o * stride - pad, taps, dilation, extent);
    const auto it = std::find(c->spans.begin(), c->spans.end(), s);
    c->of.push_back(static_cast<int>(it - c->spans.begin()));
    if (it == c->spans.end()) c->spans.push_back(s);
  }
}

// The positions of class k, in order, into `out` (reused).
void positions_of(const Classes& c, int k, std::vector<int>* out) {
  out->clear();
  for (int o = 0; o < static_cast<int>(c.of.size()); ++o) {
    if (c.of[static_cast<size_t>(o)] == k) out->push_back(o);
  }
}

// Cuts n items into ceil(n / mr) tiles whose sizes differ by at most one.
template <typename Emit>
void balanced(int64_t n, int mr, Emit emit) {
  if (n <= 0) return;
  const int64_t tiles = (n + mr - 1) / mr, base = n / tiles, extra = n % tiles;
  int64_t at = 0;
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t len = base + (t < extra ? 1 : 0);
    emit(at, static_cast<int>(len));
    at += len;
  }
}

bool consecutive(const std::vector<int>& v) { return v.back() - v.front() + 1 == static_cast<int>(v.size()); }

}  // namespace

void plan_class_tiles(const ConvShape& s, const SourceStrides& src, int images, int mr, bool row_taps,
                      ClassPlan* plan) {
  const int OH = s.out_h(), OW = s.out_w();
  plan->pixel.clear();
  plan->origin.clear();
  plan->tap_w.clear();
  plan->tap_off.clear();
  plan->tiles.clear();
  thread_local Classes rows, cols;
  thread_local std::vector<int> ohs, ows;
  group_positions(OH, s.stride_h, s.pad_top, s.R, s.dilation_h, s.H, &rows);
  group_positions(OW, s.stride_w, s.pad_left, s.S, s.dilation_w, s.W, &cols);
  const int64_t plane = int64_t{OH} * OW;
  const auto add_pixel = [&](int n, int oh, int ow) {
    plan->pixel.push_back(n * plane + int64_t{oh} * OW + ow);
    plan->origin.push_back(n * src.image_bytes + int64_t{oh * s.stride_h - s.pad_top} * src.row_bytes +
                           int64_t{ow * s.stride_w - s.pad_left} * src.pixel_bytes);
  };
  const auto add_tile = [&](int64_t first, int len, int32_t tap_first, int32_t taps, bool by_rows) {
    plan->tiles.push_back({static_cast<int32_t>(first), len, tap_first, taps, by_rows});
  };
  for (size_t rc = 0; rc < rows.spans.size(); ++rc) {
    const Span rspan = rows.spans[rc];
    positions_of(rows, static_cast<int>(rc), &ohs);
    for (size_t cc = 0; cc < cols.spans.size(); ++cc) {
      const Span cs = cols.spans[cc];
      positions_of(cols, static_cast<int>(cc), &ows);
      const int seg = static_cast<int>(ows.size());
      const int64_t seg_tiles = (seg + mr - 1) / mr;
      const bool by_rows = row_taps && cs.lo == 0 && cs.hi == s.S - 1 && consecutive(ows) &&
                           seg / seg_tiles >= mr - 1;
      const auto tap_first = static_cast<int32_t>(plan->tap_w.size());
      for (int r = rspan.lo; r <= rspan.hi; ++r) {
        for (int c = by_rows ? 0 : cs.lo; c <= (by_rows ? 0 : cs.hi); ++c) {
          plan->tap_w.push_back(by_rows ? r : r * s.S + c);
          plan->tap_off.push_back(int64_t{r} * s.dilation_h * src.row_bytes + int64_t{c} * s.dilation_w * src.pixel_bytes);
        }
      }
      const auto taps = static_cast<int32_t>(plan->tap_w.size()) - tap_first;
      if (by_rows) {  // one output row's segment at a time: consecutive pixels
        for (int n = 0; n < images; ++n) {
          for (const int oh : ohs) {
            const auto first = static_cast<int64_t>(plan->pixel.size());
            for (const int ow : ows) add_pixel(n, oh, ow);
            balanced(seg, mr, [&](int64_t at, int len) { add_tile(first + at, len, tap_first, taps, true); });
          }
        }
        continue;
      }
      const auto first = static_cast<int64_t>(plan->pixel.size());
      for (int n = 0; n < images; ++n) {
        for (const int oh : ohs) {
          for (const int ow : ows) add_pixel(n, oh, ow);
        }
      }
      balanced(static_cast<int64_t>(plan->pixel.size()) - first, mr,
               [&](int64_t at, int len) { add_tile(first + at, len, tap_first, taps, false); });
    }
  }
}

double padding_tap_fraction(const ConvShape& s) {
  const int OH = s.out_h(), OW = s.out_w();
  int64_t kept_rows = 0, kept_cols = 0;
  for (int oh = 0; oh < OH; ++oh) {
    const Span k = kept(oh * s.stride_h - s.pad_top, s.R, s.dilation_h, s.H);
    kept_rows += std::max(0, k.hi - k.lo + 1);
  }
  for (int ow = 0; ow < OW; ++ow) {
    const Span k = kept(ow * s.stride_w - s.pad_left, s.S, s.dilation_w, s.W);
    kept_cols += std::max(0, k.hi - k.lo + 1);
  }
  const double all = static_cast<double>(OH) * s.R * OW * s.S;
  return all > 0 ? 1.0 - static_cast<double>(kept_rows) * kept_cols / all : 0.0;
}

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
