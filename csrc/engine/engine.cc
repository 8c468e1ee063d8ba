// Engine and ExecutionContext (int8rt/engine.h) over the Executor, or over
// a device runner (engine/device_runner.h) for engines that target a GPU.
#include "int8rt/engine.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <new>

#include "core/quote.h"
#include "engine/atomic_file.h"
#include "engine/batch_split.h"
#include "engine/device_runner.h"
#include "engine/engine_file.h"
#include "engine/executor.h"
#include "engine/int8_coverage.h"
#include "engine/image_chain.h"
#include "engine/int8_image_chain.h"
#include "engine/ops/subgraph.h"
#include "engine/profile_rows.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"

namespace int8rt {

struct ExecutionContext::Impl {
  std::unique_ptr<engine::Executor::State> state;
  std::unique_ptr<engine::BatchSplit> split;  // host engines, made at the first run
  std::unique_ptr<engine::DeviceRunner::State> device_state;  // device engines only
  std::atomic<bool> busy{false};  // a call is running on this context
  size_t plan_capacity = engine::ShapePlanCache::kDefaultCapacity;  // per state (set_shape_plan_capacity)
  // Reused by every run, so a steady-state run_into allocates nothing here.
  std::vector<engine::Executor::Input> ins;
  OutputParts parts;
  std::vector<const OutputView*> dst;  // run_into: by output index
};

namespace {

// Held for the duration of every call that uses a context's state: a second
// thread entering the same context meanwhile is refused instead of sharing
// its buffers (which returned wrong results or crashed).
class ContextUse {
 public:
  explicit ContextUse(std::atomic<bool>& busy) : busy_(busy) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      throw InvalidArgument(
          "this ExecutionContext is already running on another thread; an ExecutionContext is not "
          "thread-safe: create one per thread with engine.create_execution_context()");
    }
  }
  ~ContextUse() { busy_.store(false, std::memory_order_release); }
  ContextUse(const ContextUse&) = delete;
  ContextUse& operator=(const ContextUse&) = delete;

 private:
  std::atomic<bool>& busy_;
};

}  // namespace

Engine::~Engine() = default;
ExecutionContext::~ExecutionContext() = default;

std::shared_ptr<Engine> Engine::create(Network network, std::map<std::string, std::string> metadata) {
  std::shared_ptr<Engine> e(new Engine());
  auto device = metadata.find("device");
  if (device != metadata.end()) e->device_ = device->second;
  engine::require_device(e->device_);  // NotSupported: not in this build, or no usable device
  const engine::DeviceRunnerFactory* factory = e->device_ == "cpu" ? nullptr : engine::find_device(e->device_);
  // On the CPU an INT8 network's first stages may run image by image
  // (engine/int8_image_chain.h): the executor runs the chained copy;
  // network() and save() show the network as given, put back from it.
  std::string chained;
  std::unique_ptr<Network> run = factory ? nullptr : engine::chain_int8_images(network, &chained);
  if (run) {
    e->chained_ = true;
    network = std::move(*run);
  }
  e->executor_ = std::make_unique<engine::Executor>(std::move(network));
  if (factory) e->runner_ = (*factory)(*e->executor_);
  e->metadata_ = std::move(metadata);
  e->metadata_["device"] = e->device_;
  return e;
}

std::shared_ptr<Engine> Engine::with_metadata(std::map<std::string, std::string> metadata) const {
  std::shared_ptr<Engine> e = create(network(), std::move(metadata));
  e->int8_plan_ = int8_plan_;
  return e;
}

std::string Engine::device_name() const { return runner_ ? runner_->device_name() : "cpu"; }

namespace {

// Every refusal of an engine file is a FormatError naming it (issue 9).
// Called from a catch block while a file is decoded or its layers created:
// what the network checks and the layer factories throw (InvalidArgument,
// NotSupported for an op this int8rt lacks, a std::length_error from a
// container, ...) is the file's fault and becomes a FormatError prefixed
// with `what`. A plain int8rt::Error (a device or system failure) and
// std::bad_alloc (a real shortage) pass through unchanged.
[[noreturn]] void refuse_file(const std::string& what) {
  try {
    throw;
  } catch (const FormatError&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw FormatError(what + ": " + e.what());
  } catch (const NotSupported& e) {
    throw FormatError(what + ": " + e.what());
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(what + ": " + e.what());
  }
}

}  // namespace

// A well-formed file for a device int8rt knows but this build or machine
// lacks (a 'cuda' engine without the CUDA backend or a GPU) is NotSupported,
// as for a build; a target int8rt does not know is a FormatError.
std::shared_ptr<Engine> Engine::deserialize(const std::string& bytes, const std::string& what) {
  engine::EngineBlob blob;
  try {
    blob = engine::decode_engine(bytes, what);
  } catch (...) {
    refuse_file(what);
  }
  blob.metadata["device"] = blob.target;
  const std::vector<std::string> known = engine::known_devices();
  if (blob.target != "cuda" && std::find(known.begin(), known.end(), blob.target) == known.end()) {
    throw FormatError(what + ": unknown target " + quoted(blob.target) + " (engines target 'cpu' or 'cuda')");
  }
  try {
    engine::require_device(blob.target);
  } catch (const NotSupported& e) {
    throw NotSupported(what + ": engine was built for target " + quoted(blob.target) + ": " + e.what());
  }
  try {
    std::shared_ptr<Engine> e = create(std::move(blob.network), std::move(blob.metadata));
    // The layers must infer the shapes the file declares, so that a run
    // allocates what those shapes imply (a forged pad cannot ask for more).
    e->executor_->check_declared_shapes();
    return e;
  } catch (...) {
    refuse_file(what);
  }
}

std::shared_ptr<Engine> Engine::load(const std::string& path) {
  return deserialize(engine::read_file(path), "engine file '" + path + "'");
}

std::string Engine::serialize() const {
  engine::EngineBlob blob;
  blob.network = network();
  blob.metadata = metadata_;
  blob.metadata.erase("device");  // the target field holds it
  blob.target = device_;
  auto it = metadata_.find("tuned_isa");
  if (it != metadata_.end()) blob.tuned_isa = it->second;
  return engine::encode_engine(blob);
}

void Engine::save(const std::string& path) const { engine::write_file_atomically(path, serialize()); }

const Network& Engine::network() const {
  if (!chained_) return executor_->network();
  std::call_once(unchain_once_,
                 [this] { unchained_ = engine::unchain_images(executor_->network(), engine::kInt8ImageChainOp); });
  return *unchained_;
}

std::vector<std::string> Engine::input_names() const {
  std::vector<std::string> names;
  const Network& net = executor_->network();  // a chained copy has the same inputs and outputs
  for (int id : net.inputs()) names.push_back(net.tensor(id).name);
  return names;
}

std::vector<std::string> Engine::output_names() const {
  std::vector<std::string> names;
  const Network& net = executor_->network();
  for (int id : net.outputs()) names.push_back(net.tensor(id).name);
  return names;
}

std::vector<int64_t> Engine::tensor_shape(const std::string& name) const {
  const Network& run = executor_->network();
  const int ran = run.find_tensor(name);  // a tensor inside an image chain only in network()
  if (ran >= 0) return run.tensor(ran).shape;
  int id = network().find_tensor(name);
  if (id < 0) throw InvalidArgument("the engine has no tensor named '" + name + "'");
  return network().tensor(id).shape;
}

std::vector<LayerInfo> Engine::layers() const {
  std::vector<LayerInfo> out;
  const Network& net = executor_->network();  // the one run: an INT8 image chain as one layer
  for (int n : executor_->order()) {
    const Node& node = net.nodes()[n];
    LayerInfo info;
    info.name = node.name;
    info.op = node.op;
    info.precision = engine::layer_precision(node);
    info.detail = runner_ ? runner_->describe(n) : executor_->layer(n).describe();
    out.push_back(std::move(info));
  }
  return out;
}

std::unique_ptr<ExecutionContext> Engine::create_execution_context() const {
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(shared_from_this()));
}

ExecutionContext::ExecutionContext(std::shared_ptr<const Engine> engine)
    : engine_(std::move(engine)), impl_(std::make_unique<Impl>()) {
  // A host engine's context shares activation buffers (only outputs are read
  // after a run); a device runner moves tensors lazily, so its state keeps
  // one buffer per tensor.
  impl_->state = engine_->executor_->make_state(/*share_buffers=*/!engine_->runner_);
  if (engine_->runner_) impl_->device_state = engine_->runner_->make_state();
}

namespace {

// The network input called `name` (InvalidArgument listing the inputs otherwise).
int input_id(const Network& net, const std::string& name) {
  int id = net.find_tensor(name);
  bool is_input = id >= 0 && std::find(net.inputs().begin(), net.inputs().end(), id) != net.inputs().end();
  if (!is_input) {
    std::string names;
    for (int in : net.inputs()) names += (names.empty() ? "'" : ", '") + net.tensor(in).name + "'";
    throw InvalidArgument("unknown input '" + name + "'; the engine's inputs are " + names);
  }
  return id;
}

// The executor's inputs for host views, into `ins` (reused between runs:
// its Inputs' shapes keep their storage); the dtype check (the declared
// one) is the executor's (bind_inputs).
void host_inputs(const Network& net, const std::map<std::string, TensorView>& inputs,
                 std::vector<engine::Executor::Input>& ins) {
  ins.resize(inputs.size());
  size_t i = 0;
  for (const auto& kv : inputs) {
    if (!kv.second.data) throw InvalidArgument("input '" + kv.first + "' has no data");
    engine::Executor::Input& in = ins[i++];
    in.tensor = input_id(net, kv.first);
    in.dtype = kv.second.dtype;
    in.shape.assign(kv.second.shape.begin(), kv.second.shape.end());
    in.data = kv.second.data;
    in.borrow = false;
  }
}

}  // namespace

void ExecutionContext::run_host(const std::map<std::string, TensorView>& inputs,
                                const std::function<void(size_t output, const OutputParts& parts)>& take) {
  ContextUse use(impl_->busy);
  const engine::Executor& ex = *engine_->executor_;
  const Network& net = ex.network();
  std::vector<engine::Executor::Input>& ins = impl_->ins;
  host_inputs(net, inputs, ins);
  struct Release {  // borrowed inputs are dropped before the caller's arrays go (also on a throw)
    const engine::Executor& ex;
    Impl& impl;
    ~Release() {
      ex.release_inputs(*impl.state);
      if (impl.split) impl.split->release_inputs();
    }
  } release{ex, *impl_};
  // The outputs come from one state, or from each part's state of a split
  // batch (engine/batch_split.h), joined along the batch in part order.
  int parts = 1;
  if (engine_->runner_) {
    for (const auto& in : ins) {
      if (in.dtype != DataType::kFloat32) {
        throw NotSupported("input '" + net.tensor(in.tensor).name + "': engines on a GPU take float32 inputs only");
      }
    }
    engine_->runner_->run(*impl_->device_state, *impl_->state, ins);
  } else {
    for (auto& in : ins) in.borrow = true;  // read in place: `inputs` outlives the run and the copies below
    if (!impl_->split) {
      impl_->split = std::make_unique<engine::BatchSplit>(ex);
      impl_->split->set_plan_capacity(impl_->plan_capacity);
    }
    parts = impl_->split->parts(ins, get_num_threads());
    if (parts > 1) {
      impl_->split->run(ins, parts);
    } else {
      ex.run(*impl_->state, ins);
    }
  }
  OutputParts& values = impl_->parts;
  values.resize(parts);
  for (size_t o = 0; o < net.outputs().size(); ++o) {
    const int id = net.outputs()[o];
    for (int p = 0; p < parts; ++p) values[p] = parts > 1 ? &impl_->split->value(p, id) : &ex.value(*impl_->state, id);
    take(o, values);
  }
}

std::map<std::string, HostTensor> ExecutionContext::run(const std::map<std::string, TensorView>& inputs) {
  const Network& net = engine_->executor_->network();
  std::map<std::string, HostTensor> outs;
  run_host(inputs, [&](size_t o, const OutputParts& parts) {
    HostTensor t;
    t.shape = parts[0]->shape();
    t.dtype = parts[0]->dtype();
    for (size_t p = 1; p < parts.size(); ++p) t.shape[0] += parts[p]->shape()[0];
    for (const engine::Value* part : parts) {
      const engine::Value& v = *part;
      if (v.dtype() == DataType::kFloat32) {
        t.data.insert(t.data.end(), v.data<float>(), v.data<float>() + v.numel());
      } else if (v.dtype() == DataType::kInt64) {
        t.int64_data.insert(t.int64_data.end(), v.data<int64_t>(), v.data<int64_t>() + v.numel());
      } else if (v.dtype() == DataType::kBool) {
        t.bool_data.insert(t.bool_data.end(), v.data<uint8_t>(), v.data<uint8_t>() + v.numel());
      } else if (v.dtype() == DataType::kInt32) {
        t.int32_data.insert(t.int32_data.end(), v.data<int32_t>(), v.data<int32_t>() + v.numel());
      } else {
        t.bytes.insert(t.bytes.end(), v.data<uint8_t>(), v.data<uint8_t>() + v.nbytes());
      }
    }
    outs[net.tensor(net.outputs()[o]).name] = std::move(t);
  });
  return outs;
}

void ExecutionContext::run_into(const std::map<std::string, TensorView>& inputs,
                                const std::map<std::string, OutputView>& outputs) {
  const Network& net = engine_->executor_->network();
  std::vector<const OutputView*>& dst = impl_->dst;  // by output index
  dst.clear();
  for (int id : net.outputs()) {
    auto it = outputs.find(net.tensor(id).name);
    if (it == outputs.end()) throw InvalidArgument("run_into: output '" + net.tensor(id).name + "' not given");
    if (!it->second.data) throw InvalidArgument("run_into: output '" + it->first + "' has no data");
    dst.push_back(&it->second);
  }
  if (outputs.size() != dst.size()) {
    for (const auto& kv : outputs) {
      const int id = net.find_tensor(kv.first);
      if (std::find(net.outputs().begin(), net.outputs().end(), id) == net.outputs().end()) {
        throw InvalidArgument("run_into: '" + kv.first + "' is not an output of the engine");
      }
    }
  }
  run_host(inputs, [&](size_t o, const OutputParts& parts) {
    // The joined shape: the parts' along dimension 0 (compared in place, formed only for the message).
    auto dim = [&](size_t k) {
      int64_t n = parts[0]->shape()[k];
      for (size_t p = 1; k == 0 && p < parts.size(); ++p) n += parts[p]->shape()[0];
      return n;
    };
    const OutputView& d = *dst[o];
    bool same = d.dtype == parts[0]->dtype() && d.shape.size() == parts[0]->shape().size();
    for (size_t k = 0; same && k < d.shape.size(); ++k) same = d.shape[k] == dim(k);
    if (!same) {
      engine::Shape shape(parts[0]->shape().size());
      for (size_t k = 0; k < shape.size(); ++k) shape[k] = dim(k);
      throw InvalidArgument("run_into: output '" + net.tensor(net.outputs()[o]).name + "' is " +
                            engine::dtype_name(parts[0]->dtype()) + " " + engine::shape_str(shape) +
                            ", given " + engine::dtype_name(d.dtype) + " " + engine::shape_str(d.shape));
    }
    char* at = static_cast<char*>(d.data);
    for (const engine::Value* v : parts) {
      if (v->nbytes()) std::memcpy(at, v->data<char>(), v->nbytes());
      at += v->nbytes();
    }
  });
}

void ExecutionContext::set_shape_plan_capacity(size_t plans) {
  ContextUse use(impl_->busy);
  impl_->plan_capacity = plans;
  impl_->state->plans.set_capacity(plans);
  if (impl_->split) impl_->split->set_plan_capacity(plans);
}

size_t ExecutionContext::shape_plan_capacity() const { return impl_->plan_capacity; }

std::vector<LayerTime> ExecutionContext::profile(const std::map<std::string, TensorView>& inputs, int runs,
                                                 ProfileClock clock) {
  ContextUse use(impl_->busy);
  if (runs < 1) throw InvalidArgument("profile: runs must be >= 1");
  if (engine_->runner_) throw NotSupported("profile: per-layer times are measured for CPU engines only");
  const engine::Executor& ex = *engine_->executor_;
  const Network& net = ex.network();
  std::vector<engine::Executor::Input> ins;
  host_inputs(net, inputs, ins);
  engine::ProfileRows rows(ex, engine_->layers());  // run order, as ex.order()
  std::vector<double> seconds(net.nodes().size());
  for (int r = 0; r < runs; ++r) {
    std::fill(seconds.begin(), seconds.end(), 0.0);
    engine::BranchClock branches(clock == ProfileClock::kThreadCpu);  // the If layers time their branches
    ex.run_timed(*impl_->state, ins, seconds, clock == ProfileClock::kThreadCpu);
    rows.add_run(seconds, branches);
  }
  return rows.medians();
}

std::map<std::string, std::vector<int64_t>> ExecutionContext::output_shapes(
    const std::map<std::string, std::vector<int64_t>>& input_shapes) {
  ContextUse use(impl_->busy);
  const engine::Executor& ex = *engine_->executor_;
  const Network& net = ex.network();
  for (const auto& kv : input_shapes) input_id(net, kv.first);  // an unknown name is an error naming the inputs
  // The layers' shape inference, which also evaluates the small shape
  // tensors (Shape -> Gather -> Slice ...) that some output shapes depend on.
  std::vector<engine::Shape> shapes;
  for (int id : net.inputs()) {
    auto it = input_shapes.find(net.tensor(id).name);
    if (it == input_shapes.end()) throw InvalidArgument("missing input '" + net.tensor(id).name + "'");
    shapes.push_back(it->second);
  }
  std::vector<char> value_dependent;
  const std::vector<engine::Shape> inferred = ex.infer_shapes(shapes, &value_dependent);
  std::map<std::string, std::vector<int64_t>> out;
  for (int id : net.outputs()) {
    if (value_dependent[id]) {
      throw NotSupported("output '" + net.tensor(id).name + "': its shape depends on the values of the inputs, "
                         "not only their shapes; run() the context to learn it");
    }
    out[net.tensor(id).name] = inferred[id];
  }
  return out;
}

void ExecutionContext::run_on_device(const std::map<std::string, DeviceTensorView>& inputs,
                                     const std::map<std::string, DeviceTensorView>& outputs) {
  if (!engine_->runner_) {
    throw NotSupported("run_on_device: this engine runs on the CPU; use run() with host arrays");
  }
  const Network& net = engine_->executor_->network();
  std::map<std::string, std::vector<int64_t>> shapes;
  std::vector<engine::Executor::Input> ins;
  for (const auto& kv : inputs) {
    if (!kv.second.data) throw InvalidArgument("input '" + kv.first + "' has no data");
    shapes[kv.first] = kv.second.shape;
    ins.push_back({input_id(net, kv.first), DataType::kFloat32, kv.second.shape, kv.second.data});
  }
  const auto want = output_shapes(shapes);
  std::vector<std::pair<int, void*>> outs;
  for (const auto& kv : outputs) {
    auto it = want.find(kv.first);
    if (it == want.end()) throw InvalidArgument("unknown output '" + kv.first + "'");
    if (kv.second.shape != it->second) {
      throw InvalidArgument("output '" + kv.first + "': expected shape " + engine::shape_str(it->second) + ", got " +
                            engine::shape_str(kv.second.shape));
    }
    if (!kv.second.data) throw InvalidArgument("output '" + kv.first + "' has no data");
    outs.push_back({net.find_tensor(kv.first), kv.second.data});
  }
  for (const auto& kv : want) {
    if (!outputs.count(kv.first)) throw InvalidArgument("missing output '" + kv.first + "'");
  }
  ContextUse use(impl_->busy);  // after output_shapes(), which holds it while it sizes the state
  engine_->runner_->run_on_device(*impl_->device_state, *impl_->state, ins, outs);
}

DeviceAllocation Engine::allocate_device(size_t bytes) const {
  if (!runner_) throw NotSupported("allocate_device: this engine runs on the CPU");
  return DeviceAllocation(shared_from_this(), bytes);
}

DeviceAllocation::DeviceAllocation(std::shared_ptr<const Engine> engine, size_t bytes)
    : engine_(std::move(engine)), data_(engine_->runner_->allocate(bytes ? bytes : 1)), bytes_(bytes) {}

DeviceAllocation::DeviceAllocation(DeviceAllocation&& o) noexcept
    : engine_(std::move(o.engine_)), data_(o.data_), bytes_(o.bytes_) {
  o.data_ = nullptr;
  o.bytes_ = 0;
}

DeviceAllocation::~DeviceAllocation() {
  if (data_) engine_->runner_->release(data_);
}

void DeviceAllocation::copy_from_host(const void* host, size_t bytes) {
  if (bytes > bytes_) throw InvalidArgument("copy_from_host: " + std::to_string(bytes) + " bytes into " + std::to_string(bytes_));
  engine_->runner_->copy_from_host(data_, host, bytes);
}

void DeviceAllocation::copy_to_host(void* host, size_t bytes) const {
  if (bytes > bytes_) throw InvalidArgument("copy_to_host: " + std::to_string(bytes) + " bytes from " + std::to_string(bytes_));
  engine_->runner_->copy_to_host(host, data_, bytes);
}

}  // namespace int8rt
