// SIMT emulation: lets the CUDA kernel sources in this folder compile as
// plain C++ (g++ -x c++) and run on the CPU, so the SAME kernel text that
// nvcc turns into DP4A code is tested bit-exact against the reference
// kernels on a machine without a GPU (DESIGN.md, "Testing").
//
// Model (one launch at a time; launches are serialised by a mutex):
// - Blocks run one after another, in blockIdx order (x fastest).
// - The threads of a block are ucontext fibers on the calling OS thread, run
//   round-robin in threadIdx order (x fastest). A fiber runs until it reaches
//   __syncthreads() or returns; __syncthreads() is a real barrier: no fiber
//   passes it before every fiber of the block has reached it. A block in
//   which some threads return while others wait at a barrier is reported as
//   an error (undefined behaviour in CUDA).
// - __shared__ is `static`: one copy per kernel, shared by all fibers of the
//   running block (blocks never overlap, so a copy per block is not needed).
//   As in CUDA its contents at block start are unspecified; kernels must not
//   read shared memory they did not write in the same block.
// - threadIdx/blockIdx/blockDim/gridDim are thread_local globals set by the
//   scheduler before a fiber is resumed.
// - "Device memory" is host memory: the kernels' pointers are plain pointers.
// Intrinsics reproduce CUDA's exact results: __dp4a (signed bytes, int32
// wrap-around), __fmul_rn/__fadd_rn/__fdiv_rn (one IEEE float32 rounding; calls, so
// never contracted to an FMA), __float2int_rn (round half to even,
// saturating, NaN -> 0), __float2int_rz, atomicAdd/atomicMax.
// Because the fibers interleave only at barriers, a missing __syncthreads()
// between writing and reading a shared tile shows up as a wrong result.
#pragma once

#ifdef __CUDACC__
#error "simt_emulation.h is for the C++ (CPU) build of the kernels only"
#endif

#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

// ---- CUDA's built-in types and variables ----

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;
using cudaStream_t = void*;

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

// ---- intrinsics ----

// Four signed byte products of a and b summed into c, modulo 2^32 (PTX dp4a.s32.s32).
inline int __dp4a(int a, int b, int c) {
  uint32_t sum = static_cast<uint32_t>(c);
  for (int i = 0; i < 4; ++i) {
    const int32_t ab = static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i));
    const int32_t bb = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
    sum += static_cast<uint32_t>(ab * bb);
  }
  return static_cast<int>(sum);
}

inline float __fmul_rn(float a, float b) {
  volatile float p = a * b;  // one rounding; volatile keeps it a separate operation
  return p;
}
inline float __fadd_rn(float a, float b) {
  volatile float s = a + b;
  return s;
}
inline float __fdiv_rn(float a, float b) {  // IEEE division, round to nearest even
  volatile float q = a / b;
  return q;
}

// cvt.rni.s32.f32 / cvt.rzi.s32.f32: saturate to int32, NaN -> 0.
inline int simt_saturate_to_int(double v) {
  if (std::isnan(v)) return 0;
  if (v <= -2147483648.0) return std::numeric_limits<int>::min();
  if (v >= 2147483647.0) return std::numeric_limits<int>::max();
  return static_cast<int>(v);
}
inline int __float2int_rn(float x) {
  return simt_saturate_to_int(std::nearbyint(static_cast<double>(x)));
}
inline int __float2int_rz(float x) {
  return simt_saturate_to_int(std::trunc(static_cast<double>(x)));
}
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

template <typename T>
inline T atomicAdd(T* address, T value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
template <typename T>
inline T atomicMax(T* address, T value) {
  T old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (old < value &&
         !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---- the block scheduler ----

namespace simt {

class BlockScheduler {
 public:
  static BlockScheduler& instance() {
    static thread_local BlockScheduler s;
    return s;
  }

  // Runs body() once per thread of every block of the grid.
  void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
    const unsigned nthreads = block.x * block.y * block.z;
    if (nthreads == 0 || nthreads > 1024) {
      throw std::invalid_argument("simt: block of " + std::to_string(nthreads) +
                                  " threads (1..1024)");
    }
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) throw std::invalid_argument("simt: empty grid");
    fibers_.resize(nthreads);
    body_ = &body;
    gridDim = grid;
    blockDim = block;
    fault_.clear();
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          run_block(dim3(bx, by, bz), block, nthreads);
          if (!fault_.empty()) throw std::logic_error("simt: " + fault_);
        }
  }

  // Called from a fiber: records the first fault of the launch (reported by
  // run_grid once the block finishes; a fiber cannot throw across contexts).
  void fault(const std::string& what) {
    if (fault_.empty()) {
      fault_ = what + " (block " + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) +
               "," + std::to_string(blockIdx.z) + ", thread " + std::to_string(threadIdx.x) + "," +
               std::to_string(threadIdx.y) + "," + std::to_string(threadIdx.z) + ")";
    }
  }

  // Called from a fiber: park at the barrier, give control back.
  void barrier() {
    Fiber& f = fibers_[current_];
    f.state = State::kAtBarrier;
    swapcontext(&f.context, &scheduler_);
  }

 private:
  enum class State { kRunnable, kAtBarrier, kDone };
  struct Fiber {
    ucontext_t context{};
    std::unique_ptr<char[]> stack;
    State state = State::kRunnable;
    dim3 tid;
  };
  static constexpr size_t kStackBytes = 256 * 1024;

  static void entry() {
    BlockScheduler& s = instance();
    (*s.body_)();
    s.fibers_[s.current_].state = State::kDone;
    // returning resumes uc_link (the scheduler)
  }

  void run_block(dim3 bid, dim3 block, unsigned nthreads) {
    blockIdx = bid;
    for (unsigned t = 0; t < nthreads; ++t) {
      Fiber& f = fibers_[t];
      if (!f.stack) f.stack.reset(new char[kStackBytes]);
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = f.stack.get();
      f.context.uc_stack.ss_size = kStackBytes;
      f.context.uc_link = &scheduler_;
      makecontext(&f.context, &BlockScheduler::entry, 0);
      f.state = State::kRunnable;
      f.tid = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    }
    for (;;) {
      unsigned waiting = 0, done = 0;
      for (unsigned t = 0; t < nthreads; ++t) {
        Fiber& f = fibers_[t];
        if (f.state == State::kRunnable) {
          current_ = t;
          threadIdx = f.tid;
          swapcontext(&scheduler_, &f.context);
        }
        if (f.state == State::kAtBarrier) ++waiting;
        if (f.state == State::kDone) ++done;
      }
      if (done == nthreads) return;
      if (done != 0) {
        throw std::logic_error("simt: block (" + std::to_string(bid.x) + "," +
                               std::to_string(bid.y) + "," + std::to_string(bid.z) + "): " +
                               std::to_string(done) +
                               " threads returned while " + std::to_string(waiting) +
                               " wait at __syncthreads() (divergent barrier)");
      }
      for (unsigned t = 0; t < nthreads; ++t) fibers_[t].state = State::kRunnable;  // release
    }
  }

  std::vector<Fiber> fibers_;
  ucontext_t scheduler_{};
  unsigned current_ = 0;
  const std::function<void()>* body_ = nullptr;
  std::string fault_;
};

inline std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

// The <<<grid, block>>> of the C++ build: body() is the kernel call.
inline void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(launch_mutex());
  BlockScheduler::instance().run_grid(grid, block, body);
}

}  // namespace simt

inline void __syncthreads() { simt::BlockScheduler::instance().barrier(); }

namespace simt {
// A 32-bit access through an int8 pointer, as the kernels make with
// load_s32/store_s32 (cuda_common.h): a GPU faults on a misaligned one, the
// CPU would not, so the emulator checks the alignment and reports the fault.
inline bool aligned4(const void* p, const char* what) {
  if ((reinterpret_cast<uintptr_t>(p) & 3u) == 0) return true;
  BlockScheduler::instance().fault(std::string("misaligned 32-bit ") + what);
  return false;
}
inline int32_t load_s32(const int8_t* p) {
  aligned4(p, "load");
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void store_s32(int8_t* p, int32_t v) {
  if (aligned4(p, "store")) std::memcpy(p, &v, 4);
}
}  // namespace simt
