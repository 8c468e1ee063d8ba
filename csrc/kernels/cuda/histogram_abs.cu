// Activation histogram collection on the GPU, the two data passes of
// csrc/calib/histogram_passes.cc (the range policy stays on the host, in
// int8rt::calib::Histogram, which turns the scanned max into a bin width):
//   scan: max |x| over finite x (as float32 bits: non-negative finite floats
//         order like their bit patterns) and the count of NaN/Inf;
//   bin:  counts[min(num_bins - 1, int(|x| * inv_width))] += 1 for finite x,
//         |x| * inv_width one float32 multiply, int() truncation; exactly
//         Histogram's rule (int8rt/calibration.h), so counts agree bit for bit.
// Mapping (both kernels): a grid-stride loop over x, at most kMaxBlocks blocks
// of 256 threads. The bin kernel keeps a per-block histogram in shared memory
// (uint32, when num_bins <= kSharedBins) filled with shared atomics and
// merged into the global uint64 counts with one atomicAdd per non-zero bin;
// larger histograms go straight to global atomics. The scan reduces per block
// through shared atomics, then one global atomic per block. A launch covers
// at most kChunk elements, so no block's uint32 shared count can overflow.
#include <algorithm>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;
constexpr int kSharedBins = 4096;  // 16 KiB of shared memory
constexpr int64_t kChunk = int64_t{1} << 30;
constexpr uint32_t kAbsMask = 0x7fffffffu;
constexpr uint32_t kNonFiniteBits = 0x7f800000u;  // |x| bits >= this: Inf or NaN

__global__ __launch_bounds__(kThreads) void abs_max_scan_kernel(
    int64_t n, const float* __restrict__ x, uint32_t* max_abs_bits, unsigned long long* nonfinite) {
  __shared__ uint32_t block_max;
  __shared__ uint32_t block_bad;
  if (threadIdx.x == 0) {
    block_max = 0;
    block_bad = 0;
  }
  __syncthreads();
  uint32_t m = 0, bad = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const uint32_t bits = __float_as_uint(x[i]) & kAbsMask;
    if (bits >= kNonFiniteBits) {
      ++bad;
    } else {
      m = m > bits ? m : bits;
    }
  }
  atomicMax(&block_max, m);
  if (bad) atomicAdd(&block_bad, bad);
  __syncthreads();
  if (threadIdx.x == 0) {
    atomicMax(max_abs_bits, block_max);
    if (block_bad) atomicAdd(nonfinite, static_cast<unsigned long long>(block_bad));
  }
}

// The bin of a finite x: Histogram's rule in float32.
__device__ __forceinline__ int bin_of(float x, float inv_width, float last) {
  float t = __fmul_rn(fabsf(x), inv_width);
  t = t < last ? t : last;
  return __float2int_rz(t);
}

__global__ __launch_bounds__(kThreads) void histogram_abs_kernel(
    int64_t n, const float* __restrict__ x, float inv_width, int num_bins,
    unsigned long long* counts) {
  __shared__ uint32_t block_counts[kSharedBins];
  const bool use_shared = num_bins <= kSharedBins;
  const float last = static_cast<float>(num_bins - 1);
  if (use_shared) {
    for (int b = threadIdx.x; b < num_bins; b += blockDim.x) block_counts[b] = 0;
  }
  __syncthreads();
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const float v = x[i];
    if ((__float_as_uint(v) & kAbsMask) >= kNonFiniteBits) continue;  // NaN/Inf: skipped
    const int b = bin_of(v, inv_width, last);
    if (use_shared) {
      atomicAdd(&block_counts[b], 1u);
    } else {
      atomicAdd(&counts[b], 1ull);
    }
  }
  __syncthreads();
  if (use_shared) {
    for (int b = threadIdx.x; b < num_bins; b += blockDim.x) {
      if (block_counts[b]) atomicAdd(&counts[b], static_cast<unsigned long long>(block_counts[b]));
    }
  }
}

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

}  // namespace

void launch_abs_max_scan(int64_t n, const float* x, uint32_t* max_abs_bits,
                         unsigned long long* nonfinite, cudaStream_t stream) {
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - begin);
    const float* part = x + begin;
    INT8RT_LAUNCH(abs_max_scan_kernel, dim3(blocks_for(len)), dim3(kThreads), stream, len, part,
                  max_abs_bits, nonfinite);
  }
}

void launch_histogram_abs(int64_t n, const float* x, float inv_width, int num_bins,
                          unsigned long long* counts, cudaStream_t stream) {
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - begin);
    const float* part = x + begin;
    INT8RT_LAUNCH(histogram_abs_kernel, dim3(blocks_for(len)), dim3(kThreads), stream, len, part,
                  inv_width, num_bins, counts);
  }
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
