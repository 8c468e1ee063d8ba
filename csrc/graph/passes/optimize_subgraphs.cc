// optimize_subgraphs (passes.h): the default pipeline on every subgraph (If's
// branches, Loop's and Scan's body: engine/ops/control_flow.h), recursively,
// so that a network running inside a branch (Silero VAD imported with its
// sample rate an input) is folded and fused as it would be at the top level.
// Every pass keeps a network's inputs and its outputs in order, which is the
// node's contract with its subgraphs. The subgraphs run in float32, so their
// passes' calibration hints and weight scales (for the INT8 lowering of the
// top level) are dropped; their report lines are kept, naming the node.
#include "graph/passes/passes.h"

namespace int8rt {

void optimize_subgraphs(Network& net, const PassOptions& options, PassReport* report) {
  for (Node& node : net.nodes()) {
    std::vector<std::string> keys;
    for (const auto& kv : node.attrs.values()) {
      if (kv.second.kind == Attribute::Kind::kGraph) keys.push_back(kv.first);
    }
    for (const std::string& key : keys) {
      Network sub = *node.attrs.get_graph(key);
      PassReport inner;
      run_default_passes(sub, options, &inner);
      if (report) {
        for (const std::string& line : inner.lines) report->lines.push_back(node.name + " " + key + ": " + line);
      }
      node.attrs.set(key, Attribute::of_graph(std::move(sub)));
    }
  }
}

}  // namespace int8rt
