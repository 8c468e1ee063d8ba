// Engine and ExecutionContext (int8rt/engine.h) over the Executor, or over
// a device runner (engine/device_runner.h) for engines that target a GPU.
#include "int8rt/engine.h"

#include <algorithm>
#include <cstring>

#include "engine/device_runner.h"
#include "engine/engine_file.h"
#include "engine/executor.h"
#include "int8rt/error.h"

namespace int8rt {

struct ExecutionContext::Impl {
  std::unique_ptr<engine::Executor::State> state;
  std::unique_ptr<engine::DeviceRunner::State> device_state;  // device engines only
};

Engine::~Engine() = default;
ExecutionContext::~ExecutionContext() = default;

std::shared_ptr<Engine> Engine::create(Network network, std::map<std::string, std::string> metadata) {
  std::shared_ptr<Engine> e(new Engine());
  auto device = metadata.find("device");
  if (device != metadata.end()) e->device_ = device->second;
  engine::require_device(e->device_);  // NotSupported: not in this build, or no usable device
  const engine::DeviceRunnerFactory* factory = e->device_ == "cpu" ? nullptr : engine::find_device(e->device_);
  e->executor_ = std::make_unique<engine::Executor>(std::move(network));
  if (factory) e->runner_ = (*factory)(*e->executor_);
  e->metadata_ = std::move(metadata);
  e->metadata_["device"] = e->device_;
  return e;
}

std::string Engine::device_name() const { return runner_ ? runner_->device_name() : "cpu"; }

std::shared_ptr<Engine> Engine::deserialize(const std::string& bytes, const std::string& what) {
  engine::EngineBlob blob = engine::decode_engine(bytes, what);
  blob.metadata["device"] = blob.target;
  try {
    engine::require_device(blob.target);
  } catch (const NotSupported& e) {
    throw NotSupported(what + ": engine was built for target '" + blob.target + "': " + e.what());
  }
  return create(std::move(blob.network), std::move(blob.metadata));
}

std::shared_ptr<Engine> Engine::load(const std::string& path) {
  return deserialize(engine::read_file(path), "engine file '" + path + "'");
}

std::string Engine::serialize() const {
  engine::EngineBlob blob;
  blob.network = executor_->network();
  blob.metadata = metadata_;
  blob.metadata.erase("device");  // the target field holds it
  blob.target = device_;
  auto it = metadata_.find("tuned_isa");
  if (it != metadata_.end()) blob.tuned_isa = it->second;
  return engine::encode_engine(blob);
}

void Engine::save(const std::string& path) const { engine::write_file_atomically(path, serialize()); }

const Network& Engine::network() const { return executor_->network(); }

std::vector<std::string> Engine::input_names() const {
  std::vector<std::string> names;
  for (int id : network().inputs()) names.push_back(network().tensor(id).name);
  return names;
}

std::vector<std::string> Engine::output_names() const {
  std::vector<std::string> names;
  for (int id : network().outputs()) names.push_back(network().tensor(id).name);
  return names;
}

std::vector<int64_t> Engine::tensor_shape(const std::string& name) const {
  int id = network().find_tensor(name);
  if (id < 0) throw InvalidArgument("the engine has no tensor named '" + name + "'");
  return network().tensor(id).shape;
}

std::vector<LayerInfo> Engine::layers() const {
  std::vector<LayerInfo> out;
  const Network& net = network();
  for (int n : executor_->order()) {
    const Node& node = net.nodes()[n];
    LayerInfo info;
    info.name = node.name;
    info.op = node.op;
    bool quantized = node.op.rfind("int8rt.Q", 0) == 0;
    bool convert = node.op == "int8rt.Quantize" || node.op == "int8rt.Dequantize";
    info.precision = convert ? "convert" : quantized ? "int8" : "fp32";
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
  impl_->state = engine_->executor_->make_state();
  if (engine_->runner_) impl_->device_state = engine_->runner_->make_state();
}

std::map<std::string, HostTensor> ExecutionContext::run(const std::map<std::string, TensorView>& inputs) {
  const engine::Executor& ex = *engine_->executor_;
  const Network& net = ex.network();
  std::vector<engine::Executor::Input> ins;
  for (const auto& kv : inputs) {
    int id = net.find_tensor(kv.first);
    bool is_input = id >= 0 && std::find(net.inputs().begin(), net.inputs().end(), id) != net.inputs().end();
    if (!is_input) {
      std::string names;
      for (int in : net.inputs()) names += (names.empty() ? "'" : ", '") + net.tensor(in).name + "'";
      throw InvalidArgument("unknown input '" + kv.first + "'; the engine's inputs are " + names);
    }
    if (!kv.second.data) throw InvalidArgument("input '" + kv.first + "' has no data");
    ins.push_back({id, DataType::kFloat32, kv.second.shape, kv.second.data});
  }
  if (engine_->runner_) {
    engine_->runner_->run(*impl_->device_state, *impl_->state, ins);
  } else {
    ex.run(*impl_->state, ins);
  }
  std::map<std::string, HostTensor> outs;
  for (int id : net.outputs()) {
    const engine::Value& v = ex.value(*impl_->state, id);
    if (v.dtype() != DataType::kFloat32) {
      throw Error("output '" + net.tensor(id).name + "' is not float32 (internal lowering error)");
    }
    HostTensor t;
    t.shape = v.shape();
    t.data.assign(v.data<float>(), v.data<float>() + v.numel());
    outs[net.tensor(id).name] = std::move(t);
  }
  return outs;
}

}  // namespace int8rt
