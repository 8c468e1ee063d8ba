// The INT8 lowering inside an If (lower_int8_lowerer.h, with_lowered_branches).
//
// Calibration measures the tensors of the branch each batch takes under
// names scoped by the If and the branch (branch_scope, control_flow.h:
// "pick/then_branch/x"; builder.cc). Each branch is a Network of its own, so
// it is lowered as the top level is, by a Lowerer of its own: its scales are
// those under its scope (the scope taken off), its inputs, which receive the
// outer values the If captures, are quantized at those values' calibrated
// scales, and its outputs leave it in float32 (Lowerer::run), so the If node
// itself and everything outside are as before. The If layer compiles the lowered
// branches as it compiles any (if_layer.cc), and the engine file stores them
// as it stores any subgraph. The branch's plan joins the top level's with
// every name scoped (Int8PlanRecorder::nested). A branch no batch took has no
// scales and stays as it is, float32, and runs as before when a later input
// takes it. Nested Ifs are lowered by the branch's own Lowerer, the same way.
#include <map>
#include <set>
#include <string>

#include "engine/lower_int8_lowerer.h"
#include "engine/ops/control_flow.h"

namespace int8rt {
namespace engine {
namespace {

bool in_scope(const std::string& name, const std::string& scope) { return name.compare(0, scope.size(), scope) == 0; }

// The entries of `m` named under `scope`, the scope taken off their names.
template <typename V>
std::map<std::string, V> under_scope(const std::map<std::string, V>& m, const std::string& scope) {
  std::map<std::string, V> out;
  for (auto it = m.lower_bound(scope); it != m.end() && in_scope(it->first, scope); ++it) {
    out.emplace(it->first.substr(scope.size()), it->second);
  }
  return out;
}

}  // namespace

Node Lowerer::with_lowered_branches(const Node& node) {
  Node out = node;
  for (const char* attr : {"then_branch", "else_branch"}) {
    const Network* branch = node.attrs.get_graph(attr);
    if (!branch) continue;
    const std::string scope = branch_scope(node.name, attr);
    LoweringOptions sub = opt_;  // the build's choices (tables, gates, unsigned...), the branch's names
    // The calibrated scales (opt_), not scales_: the top level's zero-point grids rewrite some of those.
    sub.scales = under_scope(opt_.scales, scope);
    if (sub.scales.empty()) {
      note("If '" + node.name + "' " + attr + ": no calibration batch took it (no scales under '" + scope +
           "'): it stays float32");
      continue;
    }
    for (size_t i = 0; i < branch->inputs().size() && i + 1 < node.inputs.size(); ++i) {
      const int captured = node.inputs[i + 1];
      auto it = captured >= 0 ? opt_.scales.find(src_.tensor(captured).name) : opt_.scales.end();
      if (it != opt_.scales.end()) sub.scales[branch->tensor(branch->inputs()[i]).name] = it->second;
    }
    sub.channel_ranges = under_scope(opt_.channel_ranges, scope);
    sub.fp32_layers.clear();
    for (const std::string& name : opt_.fp32_layers) {
      if (in_scope(name, scope)) sub.fp32_layers.insert(name.substr(scope.size()));
    }
    sub.merged_nodes.clear();   // the passes' records are the top level's (optimize_subgraphs drops the branches')
    sub.weight_scales.clear();
    LoweringResult lowered = Lowerer(*branch, sub).run();
    if (lowered.plan.layers.empty()) {  // nothing pays in int8 (Silero's squeeze-only branches): left as it was
      note("If '" + node.name + "' " + attr + ": no layer of its " + std::to_string(branch->nodes().size()) +
           " runs in int8 at these scales: it stays float32");
      continue;
    }
    for (const std::string& line : lowered.report) note(scope + ": " + line);
    note("If '" + node.name + "' " + attr + ": " + std::to_string(lowered.plan.layers.size()) + " int8 layer(s) for " +
         std::to_string(branch->nodes().size()) + " node(s), float32 at its boundary");
    plan_.nested(scope, std::move(lowered.plan));
    out.attrs.set(attr, Attribute::of_graph(std::move(lowered.network)));
  }
  return out;
}

}  // namespace engine
}  // namespace int8rt
