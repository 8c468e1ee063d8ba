// Host API of the CUDA backend: device discovery with clear errors, device
// memory, streams, and packed int8 layers that run the DP4A kernels
// (cuda_kernels.h). The engine's CUDA runner (engine/cuda/) calls it; it
// holds no graph logic. Built into libint8rt only when CMake enables CUDA
// (INT8RT_WITH_CUDA), which defines INT8RT_HAVE_CUDA_KERNELS on the int8rt
// target; the tests also build it as C++ over the emulated runtime
// (device_runtime.h). Plain C++ headers only, so any translation unit may
// include it.
//
// Errors: no CUDA driver, no device, or a device without DP4A (compute
// capability < 6.1) -> int8rt::NotSupported naming the reason; out of device
// memory -> int8rt::Error naming the bytes asked for; a failed launch or
// kernel -> int8rt::Error naming the operation. Thread safety: objects are
// not shared between threads while mutated; run() is const and may be
// called from several threads on different streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/device_runtime.h"
#include "kernels/kernel_types.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace kernels {
namespace cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device
// (never throws).
int device_count();
// The device `index`, made current for the calling thread. Throws
// NotSupported when there is no driver/device, the index is out of range,
// or the device lacks DP4A (sm_61+).
DeviceInfo require_device(int index = 0);

// Owning device allocation (move-only). Throws Error on out-of-memory.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, const char* what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  // bytes <= this->bytes(); ordered on `stream` (runtime::copy_to_device /
  // copy_to_host: upload may return before the copy lands, download waits).
  void upload(const void* host, size_t bytes, void* stream = nullptr);
  void download(void* host, size_t bytes, void* stream = nullptr) const;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Waits for all work on `stream` (nullptr: the default stream) and throws
// Error naming `what` if a launch or kernel failed.
void synchronize(void* stream, const char* what);

// An owned stream (move-only); handle() is what run() and the copies take.
class Stream {
 public:
  Stream() : handle_(runtime::create_stream()) {}
  ~Stream() { runtime::destroy_stream(handle_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return handle_; }

 private:
  void* handle_;
};

// A conv layer packed for the GPU (weights, per-channel scale and bias).
// Depthwise shapes use the depthwise kernel, all others the DP4A implicit GEMM.
class ConvLayer {
 public:
  // w: canonical OIHW int8; rq from make_epilogue(). Validates the shape.
  ConvLayer(const ConvShape& shape, const int8_t* w_oihw, const EpilogueStorage& rq);
  // x: device NC/4HW4 int8; y: device int8 NC/4HW4 or float NCHW (rq.out_type);
  // residual (device, y's layout, int8) optional. Asynchronous on `stream`.
  void run(int batch, const int8_t* x, void* y, const int8_t* residual = nullptr,
           float residual_scale = 0.0f, void* stream = nullptr) const;
  const ConvShape& shape() const { return shape_; }
  // Bytes of the NC/4HW4 int8 input / output for `batch` (output: int8 layout).
  size_t input_bytes(int batch) const;
  size_t output_bytes(int batch) const;

 private:
  ConvShape shape_;
  EpilogueStorage rq_;
  DeviceBuffer weights_, scale_, bias_;
};

// A fully connected layer packed for the GPU.
class GemmLayer {
 public:
  GemmLayer(const GemmShape& shape, const int8_t* b_nk, const EpilogueStorage& rq);
  // a: device [M][K] int8 (4-byte aligned); y: device [M][N] of rq.out_type.
  void run(int64_t M, const int8_t* a, void* y, const int8_t* residual = nullptr,
           float residual_scale = 0.0f, void* stream = nullptr) const;

 private:
  GemmShape shape_;
  EpilogueStorage rq_;
  DeviceBuffer weights_, scale_, bias_;
};

// A 256-entry int8 table on the device (int8rt.QLut): y[i] = table[x[i] + 128].
class LookupTable {
 public:
  explicit LookupTable(const std::vector<int8_t>& table);  // InvalidArgument unless 256 values
  // n bytes; x and y device pointers, 4-byte aligned. Asynchronous on `stream`.
  void run(int64_t n, const int8_t* x, int8_t* y, void* stream = nullptr) const;

 private:
  DeviceBuffer table_;
};

// int8 pooling on NC/4HW4 tensors (asynchronous on `stream`): max pooling
// (shape validated, scale unchanged), average pooling and global average pooling from s_in to
// s_out ([N, C, 1, 1] NC/4HW4 out), and the flatten of such a tensor to
// row-major [N][C].
void maxpool_nc4hw4(const PoolShape& shape, int batch, const int8_t* x, int8_t* y, void* stream = nullptr);
void avgpool_nc4hw4(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out, int8_t* y,
                    void* stream = nullptr);
void global_avgpool_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out, int8_t* y,
                           void* stream = nullptr);
void flatten_nc4(int batch, int C, const int8_t* x, int8_t* y, void* stream = nullptr);

// int8 add (ref::add_s8; `bytes` a multiple of 4, both inputs in one
// layout) and channel concat of NC/4HW4 tensors (ref::concat_s8; at most 8
// inputs: NotSupported beyond), asynchronous on `stream`.
void add_s8(int64_t bytes, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y, void* stream = nullptr);
constexpr int kMaxConcatInputs = 8;
// Channel gate (ref::channel_mul_s8): x NC/4HW4 int8, gate device float
// [gate_batch][C] (gate_batch 1 or batch).
void channel_mul_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, const float* gate, int gate_batch, float s_x,
                        float s_y, int8_t* y, void* stream = nullptr);
struct ConcatInputDev {
  const int8_t* data;  // NC/4HW4 [batch][ceil(channels/4)][HW][4]
  int channels;
  float multiplier;
};
void concat_nc4hw4(int batch, int64_t HW, const std::vector<ConcatInputDev>& inputs, int8_t* y,
                   void* stream = nullptr);

// Device FP32 NCHW <-> int8 NC/4HW4 (asynchronous on `stream`).
void quantize_nc4hw4(int batch, int C, int64_t HW, const float* x, float scale, int8_t* q,
                     void* stream = nullptr);
void dequantize_nc4hw4(int batch, int C, int64_t HW, const int8_t* q, float scale, float* x,
                       void* stream = nullptr);

// Histogram pass results for one device tensor (synchronous).
struct AbsScan {
  float max_abs = 0.0f;       // over finite values
  uint64_t nonfinite = 0;     // NaN / Inf count
};
AbsScan abs_max_scan(int64_t n, const float* x);
// Adds the counts of x (device) with Histogram's binning rule for a bin
// width w (> 0) into `counts` (host, num_bins values).
void histogram_abs(int64_t n, const float* x, float bin_width, std::vector<uint64_t>& counts);

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
