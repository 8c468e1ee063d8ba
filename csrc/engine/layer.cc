// The layer registry (layer.h).
#include "engine/layer.h"

#include <map>
#include <mutex>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {
std::map<std::string, LayerFactory>& registry() {
  static std::map<std::string, LayerFactory> r;
  return r;
}
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void register_layer(const std::string& op, LayerFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[op] = std::move(factory);
}

const LayerFactory* find_layer_factory(const std::string& op) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().find(op);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> registered_ops() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> ops;
  for (const auto& kv : registry()) ops.push_back(kv.first);
  return ops;
}

std::string layer_error_prefix(const Node& node) { return "node '" + node.name + "' (" + node.op + "): "; }

bool has_input(const Node& node, size_t index) { return index < node.inputs.size() && node.inputs[index] >= 0; }

void require_inputs(const Node& node, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!has_input(node, i)) {
      throw InvalidArgument(layer_error_prefix(node) + "input " + std::to_string(i) + " is missing (the op needs " +
                            std::to_string(count) + ")");
    }
  }
}

const Tensor& constant_input(const Network& net, const Node& node, size_t index, const char* what) {
  if (!has_input(node, index)) {
    throw InvalidArgument(layer_error_prefix(node) + "missing input " + what);
  }
  const Tensor& t = net.tensor(node.inputs[index]);
  if (!t.is_constant) {
    throw NotSupported(layer_error_prefix(node) + what + " must be a constant (initializer), '" + t.name +
                       "' is computed at run time");
  }
  return t;
}

}  // namespace engine
}  // namespace int8rt
