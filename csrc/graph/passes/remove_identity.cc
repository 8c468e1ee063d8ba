// remove_identity (passes.h): Identity and inference-mode Dropout are
// pass-throughs (ONNX spec: Dropout with training_mode false, the default,
// returns its input and an all-true mask). They are removed and their
// readers rewired; names of network outputs survive (pass_util.h: bypass).
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// Dropout is a pass-through unless training_mode is a constant true or its
// mask output is read.
bool dropout_is_pass_through(const Network& net, const Node& node) {
  int training = passes::input_at(node, 2);
  if (training >= 0) {
    const Tensor* t = passes::constant_or_null(net, training);
    if (!t) return false;
    bool on = (!t->f32.empty() && t->f32[0] != 0.f) || (!t->i64.empty() && t->i64[0] != 0) ||
              (!t->i8.empty() && t->i8[0] != 0);
    if (on) return false;
  }
  if (node.outputs.size() > 1) {
    int mask = node.outputs[1];
    if (!net.consumers(mask).empty() || passes::is_network_output(net, mask)) return false;
  }
  return true;
}

}  // namespace

void remove_identity(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& node = net.nodes()[n];
    if (node.op != "Identity" && node.op != "Dropout") continue;
    if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty()) continue;
    if (node.op == "Dropout" && !dropout_is_pass_through(net, node)) continue;
    int src = node.inputs[0], dst = node.outputs[0];
    std::string what = passes::describe(node);
    int kept = passes::bypass(net, src, dst);
    if (kept < 0) continue;
    passes::kill_node(net, static_cast<int>(n));
    if (report) report->add("removed " + what + " ('" + net.tensor(kept).name + "' kept)");
  }
  net.compact();
}

}  // namespace int8rt
