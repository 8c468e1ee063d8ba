// Standalone timing of the AMX int8 direct-conv microkernel
// (csrc/kernels/x86/amx/conv_direct_32x32c4.cc, compiled in from its source)
// on ResNet-50's spatial conv shapes, driven as x86/conv_amx_direct.cc drives
// it on one thread (rows mode: phase planes per row stride, one tap per
// filter row, ceil(S * C / 64) chunks per tap; channel runs of at most 1 MiB
// of packed weights; items (run, image, 32-pixel tile), calls of GRAIN tiles).
// With -DBASE_SRC=<path to another copy of the microkernel> the same shapes
// also run on that copy (namespace amx_base), alternating in one process: the
// A/B check of a kernel change. Planes and weights hold random bytes (timing
// only; tests/cpp/test_amx_conv_direct.cc checks values).
// Prints per shape the median thread CPU time of each kernel, its fraction of the peak
// (first argument, GOPS) over the conv's true multiply-adds, and new / base.
// Build: g++ -O2 -std=c++17 -Icsrc -mamx-tile -mamx-int8 -mavx512f -mavx512bw
//        -mavx512vl -mavx512dq -mavx512vnni [-DBASE_SRC='"/tmp/base.cc"']
//        benchmarks/amxspatial_ukernel.cc
// Run:   [GRAIN=tiles per call] [U8_OUT=1: outputs as u8 codes] ./a.out [peak_gops] [C H K R stride batch ...]
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "../csrc/kernels/x86/amx/conv_direct_32x32c4.cc"

#ifdef BASE_SRC
namespace int8rt::kernels::x86::amx_base {
using namespace int8rt::kernels::x86::amx;  // amx_tile.h's helpers (included once)
}
#undef INT8RT_AMX_NS
#define INT8RT_AMX_NS amx_base
#include BASE_SRC
#endif

namespace {

namespace kx = int8rt::kernels::x86;
// Thread CPU time: on the shared machine a wall clock counts the time other
// processes hold the core (a long layer is preempted, a short one is not).
double now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct Shape {
  int C, H, K, R, stride, batch;
};

// One layer on one thread as the driver runs it (rows mode, pads R / 2).
class Layer {
 public:
  Layer(const Shape& sh, int grain, bool u8_out) : sh_(sh), grain_(grain), u8_out_(u8_out) {
    const int p = sh.R / 2, st = sh.stride;
    oh_ = (sh.H + 2 * p - sh.R) / st + 1;
    cchunks_ = (sh.R * sh.C + 63) / 64;
    hq_ = (sh.H + 2 * p + st - 1) / st;
    wq_ = (sh.H + 2 * p + st - 1) / st * st;
    grid_w_ = wq_ / st;
    pixel_stride_ = int64_t{st} * sh.C;
    plane_ = int64_t{hq_} * wq_ * sh.C;
    image_ = plane_ * st;
    grid_ = int64_t{oh_ - 1} * grid_w_ + oh_;
    tiles_ = (grid_ + 31) / 32;
    int64_t max_off = 0;
    for (int r = 0; r < sh.R; ++r) {
      tap_.push_back((r % st) * plane_ + int64_t{r / st} * wq_ * sh.C);
      max_off = std::max(max_off, tap_.back());
    }
    const int64_t bytes = int64_t{sh.batch - 1} * image_ +
                          std::max(image_, max_off + (tiles_ * 32 - 1) * pixel_stride_ + cchunks_ * 64) + 64;
    nbk_ = (sh.K + 15) / 16;
    block_stride_ = int64_t{sh.R} * cchunks_ * 1024;
    planes_ = alloc(bytes);
    w_ = alloc(nbk_ * block_stride_);
    y_.resize(static_cast<size_t>(sh.batch) * oh_ * oh_ * sh.K);
    scale_.assign(sh.K, 1e-4f);
    bias_.assign(sh.K, 0.0f);
    int64_t splits = (nbk_ * block_stride_ + (1 << 20) - 1) >> 20;
    const int64_t base_items = int64_t{sh.batch} * tiles_;
    if (base_items < 8) splits = std::max(splits, (8 + base_items - 1) / base_items);
    bpi_ = static_cast<int>((nbk_ + splits - 1) / splits);
    bpi_ = std::min(nbk_, std::max(2, bpi_ + (bpi_ & 1)));
  }

  double macs() const { return double(sh_.batch) * oh_ * oh_ * sh_.K * sh_.C * sh_.R * sh_.R; }

  void run(kx::AmxConvStripFn fn) {
    const int runs = (nbk_ + bpi_ - 1) / bpi_;
    const int64_t items = int64_t{sh_.batch} * tiles_ * runs;
    for (int64_t item = 0; item < items;) {
      const int64_t nr = item / tiles_, tile0 = item % tiles_;
      const int64_t tile1 = std::min(tiles_, tile0 + grain_);
      item += tile1 - tile0;
      const int n = static_cast<int>(nr % sh_.batch), b0 = static_cast<int>(nr / sh_.batch) * bpi_;
      kx::AmxConvStrip t;
      t.image = planes_.get() + n * image_;
      t.tap_offset = tap_.data();
      t.taps = sh_.R;
      t.cchunks = cchunks_;
      t.pixel_stride = pixel_stride_;
      t.p_begin = tile0 * 32;
      t.p_end = std::min(grid_, tile1 * 32);
      t.grid_w = grid_w_;
      t.out_w = oh_;
      t.w = w_.get() + b0 * block_stride_;
      t.w_block_stride = block_stride_;
      t.nc = std::min(bpi_ * 16, sh_.K - b0 * 16);
      t.ep.scale = scale_.data() + b0 * 16;
      t.ep.bias = bias_.data() + b0 * 16;
      t.ep.lo = 0.0f;
      t.ep.hi = 127.0f;
      t.ep.y = y_.data() + int64_t{n} * oh_ * oh_ * sh_.K + b0 * 16;
      t.ep.y_stride = sh_.K;
      t.ep.out_xor = u8_out_ ? 0x80 : 0;
      fn(t);
    }
  }

 private:
  using Buf = std::unique_ptr<int8_t, decltype(&std::free)>;
  static Buf alloc(int64_t bytes) {
    Buf b(static_cast<int8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)), &std::free);
    std::mt19937 rng(1);
    for (int64_t i = 0; i < bytes; ++i) b.get()[i] = static_cast<int8_t>(rng() & 0x7f);
    return b;
  }

  Shape sh_;
  int grain_;
  bool u8_out_;
  int oh_ = 0, cchunks_ = 0, hq_ = 0, wq_ = 0, grid_w_ = 0, nbk_ = 0, bpi_ = 0;
  int64_t pixel_stride_ = 0, plane_ = 0, image_ = 0, grid_ = 0, tiles_ = 0, block_stride_ = 0;
  std::vector<int64_t> tap_;
  Buf planes_{nullptr, &std::free}, w_{nullptr, &std::free};
  std::vector<int8_t> y_;
  std::vector<float> scale_, bias_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run_shape(const Shape& sh, double peak, int grain, bool u8_out) {
  Layer layer(sh, grain, u8_out);
  std::vector<kx::AmxConvStripFn> fns = {kx::amx::conv_direct_strip};
#ifdef BASE_SRC
  fns.push_back(kx::amx_base::conv_direct_strip);
#endif
  std::vector<std::vector<double>> times(fns.size());
  for (int i = 0; i < 5; ++i)
    for (auto fn : fns) layer.run(fn);
  const double start = now();
  while (times[0].size() < 40 || now() - start < 0.6) {
    for (size_t f = 0; f < fns.size(); ++f) {
      const double t0 = now();
      layer.run(fns[f]);
      times[f].push_back(now() - t0);
    }
  }
  std::printf("%4d->%-4d %dx%d s%d @%-3d b%d:", sh.C, sh.K, sh.R, sh.R, sh.stride, sh.H, sh.batch);
  for (size_t f = 0; f < fns.size(); ++f) {
    const double s = median(times[f]);
    std::printf("  %s %8.1f us %5.1f%%", f == 0 ? "new" : "base", s * 1e6, 100 * 2 * layer.macs() / s / 1e9 / peak);
  }
  if (fns.size() > 1) std::printf("  new/base %.3f", median(times[0]) / median(times[1]));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  const double peak = argc > 1 ? std::atof(argv[1]) : 7764.0;
  const int grain = std::getenv("GRAIN") ? std::atoi(std::getenv("GRAIN")) : 8;
  const bool u8_out = std::getenv("U8_OUT") && std::atoi(std::getenv("U8_OUT")) != 0;
  std::vector<int> d;
  for (int i = 2; i < argc; ++i) d.push_back(std::atoi(argv[i]));
  if (d.empty()) {
    for (int b : {1, 8}) {
      const int rn50[][5] = {{64, 56, 64, 3, 1},  {128, 56, 128, 3, 2}, {128, 28, 128, 3, 1}, {256, 28, 256, 3, 2},
                             {256, 14, 256, 3, 1}, {512, 14, 512, 3, 2}, {512, 7, 512, 3, 1},   {3, 224, 64, 7, 2}};
      for (const auto& l : rn50) d.insert(d.end(), {l[0], l[1], l[2], l[3], l[4], b});
    }
  }
  for (size_t i = 0; i + 5 < d.size(); i += 6) run_shape({d[i], d[i + 1], d[i + 2], d[i + 3], d[i + 4], d[i + 5]}, peak, grain, u8_out);
}
