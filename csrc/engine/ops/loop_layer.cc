// Loop (ONNX; control_flow.h): runs the body while the iteration count is
// below M (when given) and the condition holds (when given), carrying the
// loop-carried values from one iteration to the next and stacking the scan
// pieces of every iteration along a new axis 0. As ONNX defines it:
//
//   cond = cond_input (or true); v = v_initial
//   for (i = 0; (no M or i < M) and cond; ++i):
//     c, v, pieces = body(i, cond, v, captures)
//     if a cond input was given: cond = c      (else the body's c is ignored)
//     append pieces
//
// Carried values may change shape from one iteration to the next; the pieces
// of one scan output must all have one shape. The outputs' shapes are known
// only after the run (the trip count is a value), so shape inference leaves
// them to it.
#include <limits>

#include "engine/layer.h"
#include "engine/ops/control_flow.h"
#include "engine/ops/subgraph.h"

namespace int8rt {
namespace engine {
namespace {

class LoopLayer : public Layer {
 public:
  LoopLayer(const Node& node)
      : prefix_(layer_error_prefix(node)), body_(graph_attribute(node, "body"), node, "body") {
    const int64_t captures = node.attrs.get_int(kCapturesAttr, 0);
    if (node.inputs.size() < 2 || captures < 0 || captures > static_cast<int64_t>(node.inputs.size()) - 2) {
      throw InvalidArgument(prefix_ + "expects M, cond, the initial values and " + std::to_string(captures) +
                            " captured values as inputs, got " + std::to_string(node.inputs.size()) + " inputs");
    }
    carried_ = node.inputs.size() - 2 - static_cast<size_t>(captures);
    if (node.outputs.size() < carried_ || body_.num_inputs() != node.inputs.size() ||
        body_.num_outputs() != 1 + node.outputs.size()) {
      throw InvalidArgument(prefix_ + "the body takes " + std::to_string(body_.num_inputs()) + " inputs and gives " +
                            std::to_string(body_.num_outputs()) + " outputs; with " + std::to_string(carried_) +
                            " loop-carried values the node needs " + std::to_string(node.inputs.size()) +
                            " and " + std::to_string(1 + node.outputs.size()));
    }
    for (size_t i = 2; i < node.inputs.size(); ++i) {  // M and cond may be left out, the others not (RESULTS.md 222)
      if (!has_input(node, i)) {
        throw InvalidArgument(prefix_ + (i < 2 + carried_ ? "loop-carried input " : "captured input ") +
                              std::to_string(i) + " is missing");
      }
    }
    if (!has_input(node, 0) && !has_input(node, 1)) {
      throw InvalidArgument(prefix_ + "has neither a trip count M nor a condition: the loop would never end");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>&) const override {
    throw ValueDependentShape(prefix_ + "its outputs' shapes follow the trip count of a run");
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int64_t trips = in[0] ? scalar_int64(*in[0], prefix_ + "M") : std::numeric_limits<int64_t>::max();
    bool cond = in[1] ? scalar_bool(*in[1], prefix_ + "cond") : true;
    const size_t scans = out.size() - carried_;
    std::vector<Value> carried(carried_);
    for (size_t i = 0; i < carried_; ++i) copy_value(*in[2 + i], carried[i]);
    std::vector<std::vector<Value>> pieces(scans);
    Value iteration(DataType::kInt64, {}), cond_in(DataType::kBool, {});
    std::vector<const Value*> args(in.size());
    args[0] = &iteration;
    args[1] = &cond_in;
    for (size_t v = 0; v < carried_; ++v) args[2 + v] = &carried[v];
    for (size_t k = 2 + carried_; k < in.size(); ++k) args[k] = in[k];
    Subgraph::Run body(body_);
    int64_t i = 0;
    for (; i < trips && cond; ++i) {
      iteration.data<int64_t>()[0] = i;
      cond_in.data<uint8_t>()[0] = cond ? 1 : 0;
      body(args);
      if (in[1]) cond = scalar_bool(body.output(0), prefix_ + "the body's cond output");
      for (size_t v = 0; v < carried_; ++v) copy_value(body.output(1 + v), carried[v]);
      for (size_t s = 0; s < scans; ++s) {
        const Value& piece = body.output(1 + carried_ + s);
        if (!pieces[s].empty() && (piece.shape() != pieces[s][0].shape() || piece.dtype() != pieces[s][0].dtype())) {
          throw InvalidArgument(prefix_ + "scan output " + std::to_string(s) + " is " + shape_str(piece.shape()) +
                                " in iteration " + std::to_string(i) + " but " + shape_str(pieces[s][0].shape()) +
                                " before; ONNX stacks pieces of one shape");
        }
        pieces[s].emplace_back();
        copy_value(piece, pieces[s].back());
      }
    }
    for (size_t v = 0; v < carried_; ++v) copy_value(carried[v], *out[v]);
    for (size_t s = 0; s < scans; ++s) stack(pieces[s], s, args, *out[carried_ + s]);
  }

  bool sizes_outputs_when_run() const override { return true; }
  bool accepts_empty_inputs() const override { return true; }
  std::string describe() const override {
    return "loop: body of " + std::to_string(body_.network().nodes().size()) + " layers";
  }

 private:
  // Scan output s: the pieces along a new axis 0. With no iteration, the
  // body's inferred piece shape (for the initial values) with 0 before it.
  void stack(const std::vector<Value>& pieces, size_t s, const std::vector<const Value*>& args, Value& out) const {
    if (pieces.empty()) {
      std::vector<std::pair<DataType, Shape>> specs;
      Shape shape{0};
      DataType dtype = DataType::kFloat32;
      if (body_.infer(args, specs)) {
        dtype = specs[1 + carried_ + s].first;
        shape.insert(shape.end(), specs[1 + carried_ + s].second.begin(), specs[1 + carried_ + s].second.end());
      }
      out.reset(dtype, shape);
      return;
    }
    Shape shape = pieces[0].shape();
    shape.insert(shape.begin(), static_cast<int64_t>(pieces.size()));
    out.reset(pieces[0].dtype(), shape);
    for (size_t i = 0; i < pieces.size(); ++i) put_along_axis(pieces[i], 0, static_cast<int64_t>(i), out);
  }

  std::string prefix_;
  Subgraph body_;
  size_t carried_ = 0;
};

INT8RT_REGISTER_LAYER("Loop", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<LoopLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
