// device_runtime.h on the CUDA runtime: the only file of the backend that
// calls it. Runtime errors become int8rt's exception types here.
#include "kernels/cuda/device_runtime.h"

#include <cuda_runtime.h>

#include <string>

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace runtime {
namespace {

std::string cuda_message(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

// Throws Error for a failed call (clearing the sticky-free error state).
void check(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw Error("CUDA " + what + " failed (" + cuda_message(err) + ")");
}

cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

}  // namespace

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

DeviceInfo select_device(int index) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (err == cudaErrorNoDevice) throw NotSupported("CUDA: no CUDA GPU available");
    if (err == cudaErrorInsufficientDriver) {
      throw NotSupported(
          "CUDA: no usable NVIDIA driver (missing or older than the CUDA runtime int8rt was "
          "built with)");
    }
    throw NotSupported("CUDA: cannot query devices (" + cuda_message(err) + ")");
  }
  if (n == 0) throw NotSupported("CUDA: no CUDA GPU available");
  if (index < 0 || index >= n) {
    throw NotSupported("CUDA: device " + std::to_string(index) + " requested, " +
                       std::to_string(n) + " present");
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.total_bytes = prop.totalGlobalMem;
  info.multiprocessors = prop.multiProcessorCount;
  if (info.major * 10 + info.minor < 61) {
    throw NotSupported("CUDA: device " + std::to_string(index) + " (" + info.name + ", sm_" +
                       std::to_string(info.major) + std::to_string(info.minor) +
                       ") has no DP4A; int8rt's CUDA kernels need sm_61 or newer");
  }
  check(cudaSetDevice(index), "cudaSetDevice");
  return info;
}

void* allocate(size_t bytes, const char* what) {
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw Error("CUDA: out of device memory allocating " + std::to_string(bytes) + " bytes for " +
                what);
  }
  check(err, std::string("cudaMalloc for ") + what);
  return ptr;
}

void release(void* ptr) noexcept {
  if (ptr) cudaFree(ptr);
}

void fill_zero(void* dev, size_t bytes, void* stream) {
  check(cudaMemsetAsync(dev, 0, bytes, as_stream(stream)), "cudaMemsetAsync");
}

void copy_to_device(void* dev, const void* host, size_t bytes, void* stream) {
  // From pageable memory the call returns once `host` has been staged.
  check(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, as_stream(stream)),
        "cudaMemcpyAsync host->device");
}

void copy_to_host(void* host, const void* dev, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, as_stream(stream)),
        "cudaMemcpyAsync device->host");
  check(cudaStreamSynchronize(as_stream(stream)), "device->host copy");
}

void copy_on_device(void* dst, const void* src, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)),
        "cudaMemcpyAsync device->device");
}

void* create_stream() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return s;
}

void destroy_stream(void* stream) noexcept {
  if (stream) cudaStreamDestroy(as_stream(stream));
}

void synchronize(void* stream, const std::string& what) {
  check(cudaStreamSynchronize(as_stream(stream)), "execution of " + what);
}

void check_launch(const std::string& what) { check(cudaGetLastError(), "launch of " + what); }

}  // namespace runtime
}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
