// The few CUDA runtime services the backend needs (device discovery, device
// memory, copies, streams, error checks), behind plain C++ declarations so
// that cuda_backend.cu and the engine's CUDA runner contain no runtime calls
// of their own. Two definitions exist:
//   device_runtime.cu          - the CUDA runtime (the real backend, nvcc);
//   device_runtime_emulated.cc - host memory, for the C++ build of the
//                                kernels through simt_emulation.h; only the
//                                tests link it (tests/cpp), never libint8rt.
// Errors follow cuda_backend.h: no driver / no device / no DP4A ->
// NotSupported, out of memory -> Error naming the bytes, a failed call or
// kernel -> Error naming the operation.
#pragma once

#include <cstddef>
#include <string>

namespace int8rt {
namespace kernels {
namespace cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_bytes = 0;    // device memory
  int multiprocessors = 0;
};

namespace runtime {

// Usable devices; 0 without a driver or device (never throws).
int device_count() noexcept;
// Makes device `index` current for the calling thread and describes it.
// Throws NotSupported when it is absent or lacks DP4A (sm_61+).
DeviceInfo select_device(int index);

void* allocate(size_t bytes, const char* what);  // Error on out-of-memory
void release(void* ptr) noexcept;
void fill_zero(void* dev, size_t bytes, void* stream);

// Copies ordered on `stream` (nullptr: the default stream). copy_to_device
// may return before the copy lands but never reads `host` after returning;
// copy_to_host returns when `host` holds the bytes.
void copy_to_device(void* dev, const void* host, size_t bytes, void* stream);
void copy_to_host(void* host, const void* dev, size_t bytes, void* stream);
void copy_on_device(void* dst, const void* src, size_t bytes, void* stream);

void* create_stream();                  // a non-blocking stream of the current device
void destroy_stream(void* stream) noexcept;
// Waits for the stream; throws Error naming `what` if work on it failed.
void synchronize(void* stream, const std::string& what);
// After a launch: throws Error if the launch itself was refused.
void check_launch(const std::string& what);

}  // namespace runtime
}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
