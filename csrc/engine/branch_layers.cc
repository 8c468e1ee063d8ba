// Engine::layers_with_branches (int8rt/engine.h): the engine's layers with
// the layers inside each If's branches listed before that If under their
// scoped names, so `int8rt inspect` shows which branch layers run in int8.
// Read from the lowered network: a branch layer's precision is its node's
// (int8_coverage.h, as for the top level); its kernel is chosen inside the
// If's compiled branch, which the If's own detail summarises.
#include "engine/executor.h"
#include "engine/int8_coverage.h"
#include "engine/ops/subgraph.h"
#include "int8rt/branch_scope.h"
#include "int8rt/engine.h"

namespace int8rt {
namespace {

void append_branches(const Node& node, const std::string& scope, std::vector<LayerInfo>& out);

void append_layers(const Network& net, const std::string& scope, std::vector<LayerInfo>& out) {
  for (const Node& node : net.nodes()) {
    if (node.op == "If") append_branches(node, scope, out);
    out.push_back({scope + node.name, node.op, engine::layer_precision(node), ""});
  }
}

void append_branches(const Node& node, const std::string& scope, std::vector<LayerInfo>& out) {
  for (const char* branch : {"then_branch", "else_branch"}) {
    append_layers(engine::graph_attribute(node, branch), scope + branch_scope(node.name, branch), out);
  }
}

}  // namespace

std::vector<LayerInfo> Engine::layers_with_branches() const {
  std::vector<LayerInfo> top = layers();  // in executor_->order(), as below
  const Network& net = executor_->network();
  std::vector<LayerInfo> out;
  for (size_t i = 0; i < top.size(); ++i) {
    const Node& node = net.nodes()[executor_->order()[i]];
    if (node.op == "If") append_branches(node, "", out);
    out.push_back(std::move(top[i]));
  }
  return out;
}

}  // namespace int8rt
