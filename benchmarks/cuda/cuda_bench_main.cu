// GPU driver of benchmarks/cuda_bench.py (built there with nvcc against the
// installed libint8rt): for each layer, checks the DP4A kernel's output
// against the reference kernel bit for bit, then times it with CUDA events
// (median of --runs) and prints int8 TOPS and the fraction of the measured
// DP4A peak (dp4a_peak_tops: independent __dp4a chains in registers on every
// SM). Each conv line is followed by a "# conv ..." line with its shape, which
// cuda_bench.py reads to time PyTorch on the same layers. Exit status: 0 ok,
// 1 mismatch, 2 no usable GPU (message on stderr). --check-only skips the
// timing (the GPU test in tests/test_cuda_gpu.py runs that).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.h"
#include "kernels/ref/ref_kernels.h"

namespace k = int8rt::kernels;
namespace kc = int8rt::kernels::cuda;

namespace {

std::vector<int8_t> random_s8(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(gen));
  return v;
}

k::ConvShape conv(int C, int H, int K, int R, int stride, int pad, int groups) {
  k::ConvShape s;
  s.C = C; s.H = s.W = H; s.K = K; s.R = s.S = R;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.groups = groups;
  return s;
}

double g_peak_tops = 0.0;  // measured by dp4a_peak_tops() before the layers

// 8 independent accumulator chains per thread so the DP4A pipes stay full.
__global__ void dp4a_peak_kernel(int iters, int32_t seed, int32_t* out) {
  int32_t acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = seed + j + static_cast<int32_t>(threadIdx.x);
  const int32_t a = seed * 0x01010101, b = (seed + 1) * 0x01010101;
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[j] = __dp4a(a, b, acc[j]);
  }
  int32_t sum = 0;
  for (int j = 0; j < 8; ++j) sum += acc[j];
  if (sum == 0x7fffffff) out[0] = sum;  // keeps the loop alive
}

template <typename F>
double median_ms(int runs, F&& launch);

double dp4a_peak_tops(int multiprocessors, int runs) {
  const int iters = 4096, threads = 256, blocks = multiprocessors * 8;
  kc::DeviceBuffer out(4, "peak sink");
  const double ms = median_ms(runs, [&] {
    dp4a_peak_kernel<<<blocks, threads>>>(iters, 3, static_cast<int32_t*>(out.data()));
  });
  const double dp4a = static_cast<double>(blocks) * threads * iters * 8;
  return dp4a * 8.0 / (ms * 1e-3) / 1e12;  // one dp4a = 4 MACs = 8 ops
}

template <typename F>
double median_ms(int runs, F&& launch) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  launch();  // warm-up
  std::vector<float> ms;
  for (int i = 0; i < runs; ++i) {
    cudaEventRecord(a);
    launch();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  kc::synchronize(nullptr, "timed runs");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Conv layer: reference vs GPU (int8 output, Relu), then timing. Returns mismatches.
int64_t bench_conv(const char* name, const k::ConvShape& s, int batch, int runs, bool time_it) {
  const int OH = s.out_h(), OW = s.out_w(), C4 = (s.C + 3) / 4, K4 = (s.K + 3) / 4;
  const auto x = random_s8(static_cast<size_t>(batch) * s.H * s.W * s.C, 1);
  const auto w = random_s8(static_cast<size_t>(s.weight_count()), 2);
  std::vector<float> sw(s.K), bias(s.K);
  const float red = static_cast<float>(s.c_per_group() * s.R * s.S);
  for (int i = 0; i < s.K; ++i) {
    sw[i] = 50.0f / (5476.0f * std::sqrt(red)) * (0.5f + static_cast<float>(i % 7) / 7.0f);
    bias[i] = static_cast<float>(i % 11) - 5.0f;
  }
  const k::EpilogueStorage rq = k::make_epilogue(1.0f, sw.data(), s.K, bias.data(), 1.0f, k::OutputType::kInt8,
                                        k::Activation::kRelu);
  std::vector<int8_t> ref(static_cast<size_t>(batch) * OH * OW * s.K);
  k::ref::conv2d_s8(s, batch, x.data(), w.data(), rq.epilogue(), ref.data());

  std::vector<int8_t> x4(static_cast<size_t>(batch) * C4 * s.H * s.W * 4, 0);
  for (int n = 0; n < batch; ++n)
    for (int h = 0; h < s.H; ++h)
      for (int ww = 0; ww < s.W; ++ww)
        for (int c = 0; c < s.C; ++c)
          x4[kc::nc4hw4_offset(n, c, h, ww, C4, s.H, s.W)] = x[((static_cast<size_t>(n) * s.H + h) * s.W + ww) * s.C + c];
  kc::ConvLayer layer(s, w.data(), rq);
  kc::DeviceBuffer dx(x4.size(), "input"), dy(layer.output_bytes(batch), "output");
  dx.upload(x4.data(), x4.size());
  layer.run(batch, static_cast<const int8_t*>(dx.data()), dy.data());
  kc::synchronize(nullptr, name);
  std::vector<int8_t> y(layer.output_bytes(batch));
  dy.download(y.data(), y.size());
  int64_t bad = 0;
  for (int n = 0; n < batch; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int kk = 0; kk < s.K; ++kk)
          bad += ref[((static_cast<size_t>(n) * OH + oh) * OW + ow) * s.K + kk] !=
                 y[kc::nc4hw4_offset(n, kk, oh, ow, K4, OH, OW)];
  std::printf("%-28s batch %d  %s", name, batch, bad ? "MISMATCH" : "bit-exact");
  if (time_it && !bad) {
    const double ms = median_ms(runs, [&] { layer.run(batch, static_cast<const int8_t*>(dx.data()), dy.data()); });
    const double ops = 2.0 * batch * OH * OW * s.K * s.c_per_group() * s.R * s.S;
    const double tops = ops / (ms * 1e-3) / 1e12;
    std::printf("  %8.3f ms  %7.2f int8 TOPS  %5.1f%% of dp4a peak", ms, tops,
                g_peak_tops > 0 ? 100.0 * tops / g_peak_tops : 0.0);
  }
  std::printf("\n# conv C%d H%d W%d K%d R%d S%d stride%d pad%d groups%d batch%d\n", s.C, s.H, s.W, s.K, s.R, s.S,
              s.stride_h, s.pad_top, s.groups, batch);
  return bad;
}

int64_t bench_gemm(int64_t M, int N, int K, int runs, bool time_it) {
  k::GemmShape s;
  s.N = N;
  s.K = K;
  const auto a = random_s8(static_cast<size_t>(M) * K, 3), b = random_s8(static_cast<size_t>(N) * K, 4);
  std::vector<float> sw(N, 50.0f / (5476.0f * std::sqrt(static_cast<float>(K))));
  const k::EpilogueStorage rq = k::make_epilogue(1.0f, sw.data(), N, nullptr, 1.0f, k::OutputType::kInt8);
  std::vector<int8_t> ref(static_cast<size_t>(M) * N), y(ref.size());
  k::ref::gemm_s8(s, M, a.data(), b.data(), rq.epilogue(), ref.data());
  kc::GemmLayer layer(s, b.data(), rq);
  kc::DeviceBuffer da(a.size(), "A"), dy(y.size(), "Y");
  da.upload(a.data(), a.size());
  layer.run(M, static_cast<const int8_t*>(da.data()), dy.data());
  kc::synchronize(nullptr, "gemm");
  dy.download(y.data(), y.size());
  int64_t bad = 0;
  for (size_t i = 0; i < y.size(); ++i) bad += y[i] != ref[i];
  std::printf("gemm M%-5lld N%-5d K%-5d        %s", static_cast<long long>(M), N, K, bad ? "MISMATCH" : "bit-exact");
  if (time_it && !bad) {
    const double ms = median_ms(runs, [&] { layer.run(M, static_cast<const int8_t*>(da.data()), dy.data()); });
    std::printf("  %8.3f ms  %7.2f int8 TOPS", ms, 2.0 * M * N * K / (ms * 1e-3) / 1e12);
  }
  std::printf("\n");
  return bad;
}

int64_t bench_histogram(int64_t n) {
  std::mt19937 gen(5);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = d(gen);
  int8rt::calib::Histogram cpu(2048);
  cpu.collect(int8rt::calib::ArrayView::contiguous(x.data(), n));
  kc::DeviceBuffer dx(x.size() * 4, "histogram input");
  dx.upload(x.data(), x.size() * 4);
  const kc::AbsScan scan = kc::abs_max_scan(n, static_cast<const float*>(dx.data()));
  std::vector<uint64_t> counts(2048, 0);
  kc::histogram_abs(n, static_cast<const float*>(dx.data()), cpu.bin_width(), counts);
  const int64_t bad = (counts != cpu.counts()) + (scan.max_abs != cpu.max_abs());
  std::printf("histogram n=%lld 2048 bins      %s\n", static_cast<long long>(n), bad ? "MISMATCH" : "bit-exact");
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false;
  int runs = 21;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check-only") == 0) check_only = true;
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
  }
  kc::DeviceInfo dev;
  try {
    dev = kc::require_device(0);
    std::printf("device: %s (sm_%d%d, %d SMs)\n", dev.name.c_str(), dev.major, dev.minor, dev.multiprocessors);
  } catch (const int8rt::NotSupported& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  const bool t = !check_only;
  if (t) {
    g_peak_tops = dp4a_peak_tops(dev.multiprocessors, runs);
    std::printf("dp4a peak (measured): %.2f int8 TOPS\n", g_peak_tops);
  }
  int64_t bad = 0;
  bad += bench_conv("stem 7x7/2 C3 K64", conv(3, 224, 64, 7, 2, 3, 1), 8, runs, t);
  bad += bench_conv("3x3 C64 K64 56x56", conv(64, 56, 64, 3, 1, 1, 1), 8, runs, t);
  bad += bench_conv("3x3 C128 K128 28x28", conv(128, 28, 128, 3, 1, 1, 1), 8, runs, t);
  bad += bench_conv("1x1 C256 K1024 14x14", conv(256, 14, 1024, 1, 1, 0, 1), 8, runs, t);
  bad += bench_conv("3x3/2 C13 K19 g1 odd", conv(13, 17, 19, 3, 2, 1, 1), 3, runs, t);
  bad += bench_conv("grouped 3x3 C64 K64 g8", conv(64, 28, 64, 3, 1, 1, 8), 4, runs, t);
  bad += bench_conv("depthwise 3x3 C144 56x56", conv(144, 56, 144, 3, 1, 1, 144), 8, runs, t);
  bad += bench_gemm(32, 1000, 2048, runs, t);
  bad += bench_gemm(7, 33, 130, runs, t);
  bad += bench_histogram(int64_t{1} << 24);
  return bad ? 1 : 0;
}
