// The device registry (device_runner.h).
#include "engine/device_runner.h"

#include <map>
#include <mutex>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, DeviceRunnerFactory> factories;
  std::map<std::string, DeviceProbe> probes;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_device(const std::string& device, DeviceRunnerFactory factory, DeviceProbe probe) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[device] = std::move(factory);
  r.probes[device] = std::move(probe);
}

const DeviceRunnerFactory* find_device(const std::string& device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.factories.find(device);
  return it == r.factories.end() ? nullptr : &it->second;
}

}  // namespace engine

// Public (int8rt/engine.h); engine:: code reaches them through device_runner.h.
void require_device(const std::string& device) {
  if (device == "cpu") return;
  engine::DeviceProbe probe;
  {
    engine::Registry& r = engine::registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.probes.find(device);
    if (it != r.probes.end()) probe = it->second;
  }
  if (!probe) {
    std::string known;
    for (const std::string& d : known_devices()) known += (known.empty() ? "" : ", ") + d;
    throw NotSupported("device '" + device + "' is not available in this int8rt build (devices: " + known +
                       (device == "cuda" ? "; the CUDA backend needs a build with INT8RT_WITH_CUDA=on and nvcc)"
                                         : ")"));
  }
  probe();
}

std::vector<std::string> known_devices() {
  engine::Registry& r = engine::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> out = {"cpu"};
  for (const auto& kv : r.factories) out.push_back(kv.first);
  return out;
}

}  // namespace int8rt
