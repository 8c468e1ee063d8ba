// merge_duplicates (passes.h): common-subexpression elimination. Two nodes
// with the same op, the same attributes and the same inputs compute the same
// outputs (every op int8rt imports is a pure function of its inputs; the
// random generators and the ops holding subgraphs are left alone), so the
// later one is removed and its readers read the first one's outputs
// (ONNX Runtime's and OpenVINO's common-subexpression elimination).
// Small constants (up to kMaxCompared elements) count as the same input
// when their dtype, shape and values are equal: HuggingFace exports give
// each attention layer its own copy of the mask constants, and so its own
// copy of the mask arithmetic. Network outputs are never merged away.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

constexpr int64_t kMaxCompared = 64;

bool never_merged(const std::string& op) {
  return op.rfind("Random", 0) == 0 || op == "Multinomial" || op == "Bernoulli" || op == "Dropout" || op == "If" ||
         op == "Loop" || op == "Scan";
}

// A small constant's identity: dtype, shape and values, as text.
std::string constant_key(const Tensor& t) {
  std::string k = std::to_string(static_cast<int>(t.dtype)) + "[";
  for (int64_t d : t.shape) k += std::to_string(d) + ",";
  k += "]";
  char buf[32];
  for (float v : t.f32) {
    std::snprintf(buf, sizeof buf, "%a,", static_cast<double>(v));
    k += buf;
  }
  for (int64_t v : t.i64) k += std::to_string(v) + ",";
  for (int8_t v : t.i8) k += std::to_string(v) + ",";
  return k;
}

std::string attributes_key(const Attributes& attrs) {
  std::string k;
  char buf[32];
  for (const auto& [name, a] : attrs.values()) {
    k += name + "=" + std::to_string(static_cast<int>(a.kind)) + ":" + std::to_string(a.i) + ":";
    std::snprintf(buf, sizeof buf, "%a", a.f);
    k += std::string(buf) + ":" + std::to_string(a.s.size()) + ":" + a.s + ":";
    for (int64_t v : a.ints) k += std::to_string(v) + ",";
    k += ":";
    for (double v : a.floats) {
      std::snprintf(buf, sizeof buf, "%a,", v);
      k += buf;
    }
    // A subgraph is the same only when it is the same object (attribute copies share it).
    if (a.graph) k += ":g" + std::to_string(reinterpret_cast<uintptr_t>(a.graph.get()));
    k += ";";
  }
  return k;
}

}  // namespace

void merge_duplicates(Network& net, PassReport* report) {
  std::map<std::string, int> first_constant;  // constant_key -> its first tensor id
  auto input_key = [&](int id) -> std::string {
    if (id < 0) return "-";
    const Tensor& t = net.tensor(id);
    if (!t.is_constant || t.num_elements() < 0 || t.num_elements() > kMaxCompared) return "t" + std::to_string(id);
    return "c" + std::to_string(first_constant.emplace(constant_key(t), id).first->second);
  };
  std::map<std::string, int> seen;  // node key -> the first node with it
  for (int n : net.topological_order()) {
    const Node& node = net.nodes()[static_cast<size_t>(n)];
    if (node.outputs.empty() || never_merged(node.op)) continue;
    std::string key = node.op + "|" + attributes_key(node.attrs) + "|" + std::to_string(node.outputs.size()) + "|";
    for (int id : node.inputs) key += input_key(id) + ",";
    auto [it, inserted] = seen.emplace(key, n);
    if (inserted) continue;
    const Node& kept = net.nodes()[static_cast<size_t>(it->second)];
    bool mergeable = true;
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      mergeable = mergeable && node.outputs[k] >= 0 && kept.outputs[k] >= 0 &&
                  !passes::is_network_output(net, node.outputs[k]) && !passes::is_network_output(net, kept.outputs[k]);
    }
    if (!mergeable) continue;
    const std::string what = passes::describe(node) + " into " + passes::describe(kept);
    for (size_t k = 0; k < node.outputs.size(); ++k) passes::replace_uses(net, node.outputs[k], kept.outputs[k]);
    passes::kill_node(net, n);
    if (report) report->add("merged duplicate " + what);
  }
  net.compact();
}

}  // namespace int8rt
