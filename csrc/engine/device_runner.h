// Devices other than the CPU that run an engine, and their registry.
//
// An engine whose target device is not "cpu" keeps its host Executor (the
// network, shapes, and the CPU layers it falls back to) and adds the device's
// DeviceRunner, which runs the network instead of Executor::run. A backend
// registers itself with INT8RT_REGISTER_DEVICE when it is compiled in (the
// CUDA runner, engine/cuda/, with INT8RT_WITH_CUDA); Engine::create asks the
// registry, so an engine for a device this build lacks fails with
// NotSupported when it is built or loaded, never later.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "int8rt/engine.h"

namespace int8rt {
namespace engine {

class DeviceRunner {
 public:
  virtual ~DeviceRunner() = default;

  // Per-execution-context device state (buffers, a stream).
  struct State {
    virtual ~State() = default;
  };
  virtual std::unique_ptr<State> make_state() const = 0;

  // Runs the network like Executor::run (same input checks); afterwards every
  // network output is valid in `host` (Executor::value reads it).
  virtual void run(State& state, Executor::State& host, const std::vector<Executor::Input>& inputs) const = 0;

  // The same with inputs' data and outputs in this device's memory:
  // inputs[i].data are device pointers; outputs are (tensor id, device
  // pointer) whose shapes the caller has checked against the network.
  virtual void run_on_device(State& state, Executor::State& host, const std::vector<Executor::Input>& inputs,
                             const std::vector<std::pair<int, void*>>& outputs) const = 0;

  // Device memory services (synchronous copies).
  virtual void* allocate(size_t bytes) const = 0;
  virtual void release(void* ptr) const noexcept = 0;
  virtual void copy_from_host(void* dev, const void* host, size_t bytes) const = 0;
  virtual void copy_to_host(void* host, const void* dev, size_t bytes) const = 0;

  // What runs node `n` on this device, for `inspect` (e.g. "cuda dp4a
  // implicit gemm" or "host fallback: <cpu kernel>").
  virtual std::string describe(int node) const = 0;
  // The device, e.g. "cuda:0 (NVIDIA H100)".
  virtual std::string device_name() const = 0;
};

// Creates the runner for an executor (which outlives it). Throws
// NotSupported when the device is unusable here (no driver, no GPU...).
using DeviceRunnerFactory = std::function<std::unique_ptr<DeviceRunner>(const Executor&)>;

// Throws NotSupported, saying why, when the device cannot run engines here
// (called by the Builder before calibration, so a build fails early).
using DeviceProbe = std::function<void()>;

void register_device(const std::string& device, DeviceRunnerFactory factory, DeviceProbe probe);
// nullptr when this build has no such device.
const DeviceRunnerFactory* find_device(const std::string& device);
// Throws NotSupported unless `device` is "cpu" or registered and usable;
// "cpu" and every registered device. Public API (int8rt/engine.h).
using ::int8rt::known_devices;
using ::int8rt::require_device;

struct DeviceRegistrar {
  DeviceRegistrar(const char* device, DeviceRunnerFactory factory, DeviceProbe probe) {
    register_device(device, std::move(factory), std::move(probe));
  }
};

#define INT8RT_REGISTER_DEVICE(device, factory, probe)                                                  \
  static ::int8rt::engine::DeviceRegistrar INT8RT_LAYER_CONCAT(int8rt_device_registrar_, __LINE__)( \
      device, factory, probe)

}  // namespace engine
}  // namespace int8rt
