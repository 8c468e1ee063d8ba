// device_runtime.h for the C++ (emulated) build of the CUDA backend: "device"
// memory is 256-byte aligned host memory, copies are memcpy, streams are
// tokens, and launches ran synchronously inside simt::launch, whose first
// kernel fault (misaligned word access, divergent barrier) is rethrown
// there. It reports one device, named so that nobody mistakes it for a GPU.
// Linked only by the tests (tests/cpp/CMakeLists.txt), never into libint8rt:
// it lets the engine's CUDA runner and cuda_backend.cu run, unchanged, on a
// machine without a GPU.
#include <cstdlib>
#include <cstring>
#include <string>

#include "int8rt/error.h"
#include "kernels/cuda/device_runtime.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace runtime {
namespace {
int stream_token = 0;  // streams are distinct non-null pointers to nothing
}  // namespace

int device_count() noexcept { return 1; }

DeviceInfo select_device(int index) {
  if (index != 0) {
    throw NotSupported("CUDA: device " + std::to_string(index) + " requested, 1 present");
  }
  DeviceInfo info;
  info.name = "SIMT emulation on the CPU (not a GPU)";
  info.major = 8;
  info.minor = 6;
  info.multiprocessors = 1;
  return info;
}

void* allocate(size_t bytes, const char* what) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  if (!p) throw Error("emulated device: out of memory allocating " + std::to_string(bytes) +
                      " bytes for " + what);
  return p;
}

void release(void* ptr) noexcept { std::free(ptr); }

void fill_zero(void* dev, size_t bytes, void*) { std::memset(dev, 0, bytes); }

void copy_to_device(void* dev, const void* host, size_t bytes, void*) {
  if (bytes) std::memcpy(dev, host, bytes);
}

void copy_to_host(void* host, const void* dev, size_t bytes, void*) {
  if (bytes) std::memcpy(host, dev, bytes);
}

void copy_on_device(void* dst, const void* src, size_t bytes, void*) {
  if (bytes) std::memmove(dst, src, bytes);
}

void* create_stream() { return &stream_token; }
void destroy_stream(void*) noexcept {}
void synchronize(void*, const std::string&) {}
void check_launch(const std::string&) {}

}  // namespace runtime
}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
