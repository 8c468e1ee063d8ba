// If (ONNX), its condition known only at run time (control_flow.h): each run
// reads the one-element bool condition, runs the branch it names on the
// captured values and copies that branch's outputs out. An If whose condition
// the importer can tell is inlined there instead (onnx/_specialize.py).
//
// Shape inference without a run: with the condition's value at hand (a
// constant or a shape tensor) the taken branch's shapes; without it, the
// shapes both branches agree on; otherwise (the branches differ, or a shape
// depends on values) the outputs are known only at run time.
//
// A branch may hold int8 layers (the INT8 lowering lowers each branch on its
// own, lower_int8_branches.cc): it is compiled as it comes, and the values
// crossing into and out of it are float32 as at the top level. A
// calibration run's BranchTap sees the taken branch's tensors (subgraph.h).
#include <algorithm>

#include "engine/int8_coverage.h"
#include "engine/layer.h"
#include "engine/ops/control_flow.h"
#include "engine/ops/subgraph.h"

namespace int8rt {
namespace engine {
namespace {

class IfLayer : public Layer {
 public:
  IfLayer(const Node& node)
      : prefix_(layer_error_prefix(node)),
        then_scope_(branch_scope(node.name, "then_branch")),
        else_scope_(branch_scope(node.name, "else_branch")),
        then_(graph_attribute(node, "then_branch"), node, "then_branch"),
        else_(graph_attribute(node, "else_branch"), node, "else_branch") {
    // The condition and every captured value (a forged id of -1 among them
    // was handed to the branch as a null value: RESULTS.md 222).
    require_inputs(node, std::max<size_t>(1, node.inputs.size()));
    for (const Subgraph* g : {&then_, &else_}) {
      if (g->num_inputs() != node.inputs.size() - 1 || g->num_outputs() != node.outputs.size()) {
        throw InvalidArgument(prefix_ + "a branch takes " + std::to_string(g->num_inputs()) + " inputs and gives " +
                              std::to_string(g->num_outputs()) + " outputs; the node passes " +
                              std::to_string(node.inputs.size() - 1) + " captured values and has " +
                              std::to_string(node.outputs.size()) + " outputs");
      }
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const std::vector<const Value*> captures(in.begin() + 1, in.end());
    std::vector<std::pair<DataType, Shape>> a, b;
    if (in[0]->has_data()) {
      if ((takes_then(*in[0]) ? then_ : else_).infer(captures, a)) return a;
    } else if (both_agree(captures, a, b)) {
      return a;
    }
    throw ValueDependentShape(prefix_ + "its output shapes are those of the branch a run takes");
  }

  // Without the condition: whether both branches take these inputs and give
  // the same shapes. A branch that refuses them (Silero VAD's 8 kHz branch
  // on a 16 kHz chunk) is not an error here: the run's condition may never
  // pick it, and if it does, the run names the node as inference would.
  bool both_agree(const std::vector<const Value*>& captures, std::vector<std::pair<DataType, Shape>>& a,
                  std::vector<std::pair<DataType, Shape>>& b) const {
    try {
      return then_.infer(captures, a) && else_.infer(captures, b) && a == b;
    } catch (const InvalidArgument&) {
      return false;
    }
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const bool then = takes_then(*in[0]);
    Subgraph::Run taken(then ? then_ : else_);
    taken.tapped(std::vector<const Value*>(in.begin() + 1, in.end()), then ? then_scope_ : else_scope_);
    for (size_t o = 0; o < out.size(); ++o) copy_value(taken.output(o), *out[o]);
  }

  bool sizes_outputs_when_run() const override { return true; }
  bool accepts_empty_inputs() const override { return true; }
  std::string describe() const override {
    return "if: then " + count(then_, " layers") + ", else " + count(else_, "");
  }

 private:
  // "18" + unit, and " (15 int8)" after it for a branch the INT8 lowering lowered.
  static std::string count(const Subgraph& g, const char* unit) {
    size_t int8 = 0;
    for (const Node& n : g.network().nodes()) int8 += std::string(layer_precision(n.op)) == "int8";
    return std::to_string(g.network().nodes().size()) + unit + (int8 ? " (" + std::to_string(int8) + " int8)" : "");
  }

  bool takes_then(const Value& cond) const { return scalar_bool(cond, prefix_ + "the condition"); }

  std::string prefix_;
  std::string then_scope_, else_scope_;  // the names its branches' tensors are tapped under
  Subgraph then_, else_;
};

INT8RT_REGISTER_LAYER("If", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<IfLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
