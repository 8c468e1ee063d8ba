// A built int8rt engine and its execution contexts.
//
// Engine: immutable, shareable (std::shared_ptr), thread-safe. Created by the
// Builder (int8rt/builder.h) or loaded from a file. ExecutionContext: owns
// the per-run buffers; one context per thread, any number of contexts per
// engine running concurrently. A call on a context that is already running
// on another thread throws InvalidArgument instead of sharing its buffers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "int8rt/int8_plan.h"
#include "int8rt/network.h"

namespace int8rt {

namespace engine {
class Executor;
class Value;
class DeviceRunner;
}

// Caller-owned, contiguous input (row-major, the network's layout) of the
// dtype the network declares for it: float32, or any other DataType for
// inputs declared so (token ids, masks, float64 / float16 / unsigned data);
// bool is one byte, 0 or 1. A mismatch is an InvalidArgument.
struct TensorView {
  const void* data = nullptr;
  std::vector<int64_t> shape;
  DataType dtype = DataType::kFloat32;
};

// An output copied out of the context (or a calibration batch): float32
// values in `data`, or, when dtype is kInt64 (an output such as Shape's or
// ArgMax's, or a batch for an int64 input), the values in `int64_data`, or,
// when dtype is kBool (a comparison's or mask's), 0 / 1 bytes in `bool_data`,
// or, when dtype is kInt32, the values in `int32_data`; any other dtype
// (float64, float16 as its binary16 bits, int8, int16, the unsigned ones)
// as its elements' bytes, native byte order, in `bytes`.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> int64_data;
  std::vector<uint8_t> bool_data;
  std::vector<int32_t> int32_data;
  std::vector<uint8_t> bytes;

  // The view of this tensor's values (for a calibration batch).
  TensorView view() const {
    return {dtype == DataType::kFloat32 ? static_cast<const void*>(data.data())
            : dtype == DataType::kInt64 ? static_cast<const void*>(int64_data.data())
            : dtype == DataType::kBool  ? static_cast<const void*>(bool_data.data())
            : dtype == DataType::kInt32 ? static_cast<const void*>(int32_data.data())
                                        : static_cast<const void*>(bytes.data()),
            shape, dtype};
  }
  // Elements held in the field `dtype` selects (for `bytes`, whole
  // elements: a trailing partial one is not counted).
  size_t held() const {
    return dtype == DataType::kFloat32 ? data.size()
           : dtype == DataType::kInt64 ? int64_data.size()
           : dtype == DataType::kBool  ? bool_data.size()
           : dtype == DataType::kInt32 ? int32_data.size()
                                       : bytes.size() / element_size(dtype);
  }
};

// A caller's host array that ExecutionContext::run_into writes an output
// into: contiguous, row-major, `shape` and `dtype` exactly the output's.
struct OutputView {
  void* data = nullptr;
  std::vector<int64_t> shape;
  DataType dtype = DataType::kFloat32;
};

// Float32 tensor in the engine's device memory (engines whose device() is
// not "cpu"): contiguous, row-major, the network's layout (NCHW). `data` is
// a device pointer (CUDA: from cudaMalloc, cupy, torch...).
struct DeviceTensorView {
  void* data = nullptr;
  std::vector<int64_t> shape;
};

class Engine;

// "cpu" and every device this build has a backend for (usable here or not),
// the values BuilderConfig::device and Engine metadata "device" may take.
std::vector<std::string> known_devices();

// Returns when `device` can run engines here; otherwise throws NotSupported
// saying why (not in this build, no driver, no GPU...).
void require_device(const std::string& device);

// Device memory owned by int8rt for an engine on a GPU (move-only; keeps the
// engine alive). Engine::allocate_device creates it.
class DeviceAllocation {
 public:
  ~DeviceAllocation();
  DeviceAllocation(DeviceAllocation&& other) noexcept;
  DeviceAllocation& operator=(DeviceAllocation&&) = delete;
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // Synchronous copies of `bytes` (<= this->bytes()) bytes.
  void copy_from_host(const void* host, size_t bytes);
  void copy_to_host(void* host, size_t bytes) const;

 private:
  friend class Engine;
  DeviceAllocation(std::shared_ptr<const Engine> engine, size_t bytes);
  std::shared_ptr<const Engine> engine_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

struct LayerInfo {
  std::string name;
  std::string op;          // lowered op type, e.g. "int8rt.QConv", "Softmax"
  std::string precision;   // "int8", "fp32" or "convert"
  std::string detail;      // chosen kernel, notable parameters
};

// The clock ExecutionContext::profile reads: wall time, or the CPU time of
// the calling thread (with one thread, set_num_threads(1), a layer's own
// work, unaffected by time the thread spends descheduled on a busy machine;
// with more threads it misses the helpers' share).
enum class ProfileClock { kWall, kThreadCpu };

// One layer's share of a profiled run (ExecutionContext::profile).
struct LayerTime {
  LayerInfo layer;
  double seconds = 0.0;  // median over the profiled runs
};

class ExecutionContext {
 public:
  ~ExecutionContext();
  // Runs the engine; inputs by name; returns every network output by name.
  // The inputs' data is read in place during the call (never written, not
  // kept after it returns). Throws InvalidArgument for missing/unknown
  // inputs or wrong shapes.
  std::map<std::string, HostTensor> run(const std::map<std::string, TensorView>& inputs);
  // The same, writing every output into the caller's array instead of a new
  // one (no output buffers made per run). Every
  // network output must be given, with the shape and dtype the run gives it
  // (InvalidArgument naming the output otherwise; when only the run knows
  // the shape, after the run and before anything is written to it).
  void run_into(const std::map<std::string, TensorView>& inputs, const std::map<std::string, OutputView>& outputs);

  // Input-shape signatures (the shapes of all inputs together) whose shape
  // plans this context keeps, least recently used dropped first (default 8;
  // 0 keeps none). A run at a kept signature sizes its tensors from the
  // plan instead of inferring every layer's shapes, so a detector fed
  // images of a few sizes in turn neither infers nor allocates after each
  // size's second run. A plan is a few tens of KB; the activation buffers
  // are sized for the largest shape run, whatever this is. Host engines.
  void set_shape_plan_capacity(size_t plans);
  size_t shape_plan_capacity() const;

  // run(), and into `branch_values` (cleared first) a copy of every float32
  // tensor the If branches this run takes compute, by scoped name
  // ("<If node>/<then_branch|else_branch>/<tensor>", nested Ifs' scopes
  // joined: engine/ops/control_flow.h). Inspection, not serving (`int8rt
  // compare` and the accuracy check read inside branches with it): it
  // copies each such tensor. Loop and Scan bodies are not seen. CPU
  // engines only (NotSupported on a GPU).
  std::map<std::string, HostTensor> run_tapped(const std::map<std::string, TensorView>& inputs,
                                               std::map<std::string, HostTensor>& branch_values);

  // Runs the engine `runs` times (>= 1) on `inputs` and returns every
  // layer's median time on `clock`, in run order (CPU engines; NotSupported
  // for an engine on a GPU, whose launches are asynchronous). Before each
  // If, the layers of the branch the runs took, under their scoped names
  // (branch_scope.h) with their kernels; the If's own row then holds only
  // what the If adds (choosing the branch, copying values in and out; on
  // kThreadCpu also the clock reads around its branch's layers, each a
  // system call).
  std::vector<LayerTime> profile(const std::map<std::string, TensorView>& inputs, int runs,
                                 ProfileClock clock = ProfileClock::kWall);

  // Every output's shape for inputs of these shapes (checked as run() does).
  std::map<std::string, std::vector<int64_t>> output_shapes(
      const std::map<std::string, std::vector<int64_t>>& input_shapes);

  // Runs with inputs and outputs in device memory, without host copies of
  // them (engines on a GPU only: NotSupported on the CPU). Every output must
  // be given with exactly its output_shapes() shape (InvalidArgument
  // otherwise, before any work). Inputs must be complete when called (work
  // that writes them on another stream synchronized); returns when the
  // outputs are written (the context's own stream synchronized).
  void run_on_device(const std::map<std::string, DeviceTensorView>& inputs,
                     const std::map<std::string, DeviceTensorView>& outputs);

 private:
  friend class Engine;
  struct Impl;
  explicit ExecutionContext(std::shared_ptr<const Engine> engine);
  // run() and run_into(): runs, then calls take(output index, its values)
  // for each network output in order, with one value per part of a split
  // batch (joined along dimension 0), before the inputs are released.
  using OutputParts = std::vector<const engine::Value*>;
  void run_host(const std::map<std::string, TensorView>& inputs,
                const std::function<void(size_t output, const OutputParts& parts)>& take);
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<Impl> impl_;
};

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  // Wraps an already lowered network (the Builder's output). Creating the
  // layers packs weights for the kernels this CPU supports. metadata
  // "device" picks where it runs: "cpu" (default) or "cuda" (needs a build
  // with the CUDA backend and a GPU: NotSupported otherwise).
  static std::shared_ptr<Engine> create(Network network, std::map<std::string, std::string> metadata = {});
  static std::shared_ptr<Engine> deserialize(const std::string& bytes, const std::string& what = "engine bytes");
  static std::shared_ptr<Engine> load(const std::string& path);

  std::string serialize() const;
  // Atomic: written to a temporary file renamed into place.
  void save(const std::string& path) const;

  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
  // Declared shape of an input or output (-1: dynamic batch).
  std::vector<int64_t> tensor_shape(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // "cpu" or "cuda"; device_name() adds which one, e.g. "cuda:0 (NVIDIA ...)".
  const std::string& device() const { return device_; }
  std::string device_name() const;
  // The network as built or loaded, every layer listed (what save() writes);
  // the executor may run a copy whose first INT8 layers are one image chain
  // (engine/int8_image_chain.h), which layers() and profiles show.
  const Network& network() const;
  std::vector<LayerInfo> layers() const;
  // layers(), with the layers of every If's branches right before that If
  // (then, else; each branch's in its node order, nested Ifs' alike), named
  // under their scopes (int8rt/branch_scope.h), so the int8 layers inside a
  // branch are listed one by one. A branch layer's detail is empty: its
  // kernel is chosen where the If compiles the branch (the If's detail counts
  // the branch's layers and int8 ones).
  std::vector<LayerInfo> layers_with_branches() const;
  // What the INT8 lowering decided (int8rt/int8_plan.h) for an INT8 engine
  // this process built; nullptr for a float32 engine and for an engine
  // loaded from a file or bytes (engine files do not keep the plan).
  const Int8Plan* int8_plan() const { return int8_plan_.get(); }
  // The same network as a new engine (layers created again) with
  // `metadata`, keeping the int8 plan (a build report added afterwards).
  std::shared_ptr<Engine> with_metadata(std::map<std::string, std::string> metadata) const;

  std::unique_ptr<ExecutionContext> create_execution_context() const;

  // Device memory on the engine's device (NotSupported on the CPU); Error
  // when the device is out of memory.
  DeviceAllocation allocate_device(size_t bytes) const;

  ~Engine();

 private:
  Engine() = default;
  friend class ExecutionContext;
  friend class DeviceAllocation;
  friend class Builder;  // sets int8_plan_
  std::unique_ptr<engine::Executor> executor_;
  // Where the executor runs the network with an INT8 image chain
  // (engine/int8_image_chain.h), network() shows and save() writes the
  // network as built: put back together from the chained one the first time
  // it is asked for (engine/image_chain.h), so an engine that only runs
  // holds its weights once.
  bool chained_ = false;
  mutable std::once_flag unchain_once_;
  mutable std::unique_ptr<Network> unchained_;
  std::unique_ptr<engine::DeviceRunner> runner_;  // null on the CPU
  std::string device_ = "cpu";
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const Int8Plan> int8_plan_;
};

}  // namespace int8rt
