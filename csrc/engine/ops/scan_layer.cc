// Scan (ONNX, opset 9+ form; control_flow.h): runs the body once per index
// of the scan axis of its scan inputs (all the same length T), passing the
// states along and one slice of each scan input; the scan pieces of every
// iteration are stacked along each scan output's axis. As ONNX defines it:
//
//   s = s_initial
//   for (t = 0; t < T; ++t):
//     x_j = scan_input_j[t] along scan_input_axes[j]   (index T-1-t when its direction is 1)
//     s, pieces = body(s, x..., captures)
//     scan_output_k[t] = piece_k along scan_output_axes[k]   (index T-1-t when its direction is 1)
//
// Axes may be negative (counted from the end of the scan input's rank, or of
// the scan output's, one more than its pieces'). The outputs' shapes are the
// body's, known once it has run: shape inference leaves them to the run.
#include "engine/layer.h"
#include "engine/ops/control_flow.h"
#include "engine/ops/subgraph.h"

namespace int8rt {
namespace engine {
namespace {

class ScanLayer : public Layer {
 public:
  ScanLayer(const Node& node) : prefix_(layer_error_prefix(node)), body_(graph_attribute(node, "body"), node, "body") {
    const int64_t captures = node.attrs.get_int(kCapturesAttr, 0);
    const int64_t scan_inputs = node.attrs.get_int("num_scan_inputs", -1);
    const int64_t n_in = static_cast<int64_t>(node.inputs.size());
    if (scan_inputs < 1 || captures < 0 || scan_inputs > n_in || captures > n_in - scan_inputs) {  // no overflow
      throw InvalidArgument(prefix_ + "num_scan_inputs " + std::to_string(scan_inputs) + " and " +
                            std::to_string(captures) + " captured values do not fit its " + std::to_string(n_in) +
                            " inputs");
    }
    states_ = static_cast<size_t>(n_in - scan_inputs - captures);
    scan_inputs_ = static_cast<size_t>(scan_inputs);
    require_inputs(node, states_ + scan_inputs_ + static_cast<size_t>(captures));
    if (node.outputs.size() < states_ || body_.num_inputs() != node.inputs.size() ||
        body_.num_outputs() != node.outputs.size()) {
      throw InvalidArgument(prefix_ + "the body takes " + std::to_string(body_.num_inputs()) + " inputs and gives " +
                            std::to_string(body_.num_outputs()) + " outputs; the node has " +
                            std::to_string(node.inputs.size()) + " inputs and " +
                            std::to_string(node.outputs.size()) + " outputs");
    }
    const size_t scan_outputs = node.outputs.size() - states_;
    in_axes_ = node.attrs.get_ints("scan_input_axes", std::vector<int64_t>(scan_inputs_, 0));
    in_reverse_ = node.attrs.get_ints("scan_input_directions", std::vector<int64_t>(scan_inputs_, 0));
    out_axes_ = node.attrs.get_ints("scan_output_axes", std::vector<int64_t>(scan_outputs, 0));
    out_reverse_ = node.attrs.get_ints("scan_output_directions", std::vector<int64_t>(scan_outputs, 0));
    if (in_axes_.size() != scan_inputs_ || in_reverse_.size() != scan_inputs_ || out_axes_.size() != scan_outputs ||
        out_reverse_.size() != scan_outputs) {
      throw InvalidArgument(prefix_ + "scan_input_axes / directions need one entry per scan input (" +
                            std::to_string(scan_inputs_) + "), scan_output_axes / directions one per scan output (" +
                            std::to_string(scan_outputs) + ")");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>&) const override {
    throw ValueDependentShape(prefix_ + "its outputs' shapes are the body's, known when it runs");
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    std::vector<int> axes(scan_inputs_);
    int64_t length = -1;
    for (size_t j = 0; j < scan_inputs_; ++j) {
      const Value& x = *in[states_ + j];
      axes[j] = normalized_axis(in_axes_[j], x.shape().size(), "scan_input_axes");
      const int64_t t = x.shape()[axes[j]];
      if (length >= 0 && t != length) {
        throw InvalidArgument(prefix_ + "scan input " + std::to_string(j) + " has " + std::to_string(t) +
                              " steps along its scan axis, scan input 0 has " + std::to_string(length));
      }
      length = t;
    }
    std::vector<Value> states(states_), slices(scan_inputs_);
    std::vector<const Value*> args(in.begin(), in.end());
    for (size_t i = 0; i < states_; ++i) {
      copy_value(*in[i], states[i]);
      args[i] = &states[i];
    }
    for (size_t j = 0; j < scan_inputs_; ++j) args[states_ + j] = &slices[j];
    const size_t scans = out.size() - states_;
    std::vector<int> out_axes(scans);
    Subgraph::Run body(body_);
    for (int64_t t = 0; t < length; ++t) {
      for (size_t j = 0; j < scan_inputs_; ++j) {
        take_along_axis(*in[states_ + j], axes[j], in_reverse_[j] ? length - 1 - t : t, slices[j]);
      }
      body(args);
      for (size_t i = 0; i < states_; ++i) copy_value(body.output(i), states[i]);
      for (size_t k = 0; k < scans; ++k) {
        const Value& piece = body.output(states_ + k);
        Value& y = *out[states_ + k];
        if (t == 0) {
          out_axes[k] = normalized_axis(out_axes_[k], piece.shape().size() + 1, "scan_output_axes");
          Shape shape = piece.shape();
          shape.insert(shape.begin() + out_axes[k], length);
          y.reset(piece.dtype(), shape);
        } else if (!fits(piece, y, out_axes[k])) {
          throw InvalidArgument(prefix_ + "scan output " + std::to_string(k) + " is " + shape_str(piece.shape()) +
                                " in iteration " + std::to_string(t) + ", unlike the first iteration's");
        }
        put_along_axis(piece, out_axes[k], out_reverse_[k] ? length - 1 - t : t, y);
      }
    }
    for (size_t i = 0; i < states_; ++i) copy_value(states[i], *out[i]);
    if (length == 0) empty_scan_outputs(in, axes, args, out);
  }

  bool sizes_outputs_when_run() const override { return true; }
  bool accepts_empty_inputs() const override { return true; }
  std::string describe() const override {
    return "scan: body of " + std::to_string(body_.network().nodes().size()) + " layers";
  }

 private:
  int normalized_axis(int64_t axis, size_t rank, const char* what) const {
    const int64_t r = static_cast<int64_t>(rank);
    if (axis < -r || axis >= r) {
      throw InvalidArgument(prefix_ + what + " " + std::to_string(axis) + " is out of range for rank " +
                            std::to_string(rank));
    }
    return static_cast<int>(axis < 0 ? axis + r : axis);
  }

  // Whether `piece` has y's shape without y's scan axis, and y's dtype.
  static bool fits(const Value& piece, const Value& y, int axis) {
    Shape s = y.shape();
    s.erase(s.begin() + axis);
    return s == piece.shape() && piece.dtype() == y.dtype();
  }

  // No step: every scan output is empty, its other dimensions those the
  // body's inference gives its pieces (for slices shaped as the scan inputs'
  // without their scan axis); [0] when that inference needs values.
  void empty_scan_outputs(const std::vector<const Value*>& in, const std::vector<int>& axes,
                          std::vector<const Value*> args, const std::vector<Value*>& out) const {
    std::vector<Value> slices(scan_inputs_);
    for (size_t j = 0; j < scan_inputs_; ++j) {
      Shape s = in[states_ + j]->shape();
      s.erase(s.begin() + axes[j]);
      slices[j].set_shape(in[states_ + j]->dtype(), s);
      args[states_ + j] = &slices[j];
    }
    std::vector<std::pair<DataType, Shape>> specs;
    const bool known = body_.infer(args, specs);
    for (size_t k = 0; states_ + k < out.size(); ++k) {
      if (!known) {
        out[states_ + k]->reset(DataType::kFloat32, {0});
        continue;
      }
      Shape shape = specs[states_ + k].second;
      const int axis = normalized_axis(out_axes_[k], shape.size() + 1, "scan_output_axes");
      shape.insert(shape.begin() + axis, 0);
      out[states_ + k]->reset(specs[states_ + k].first, shape);
    }
  }

  std::string prefix_;
  Subgraph body_;
  size_t states_ = 0, scan_inputs_ = 0;
  std::vector<int64_t> in_axes_, in_reverse_, out_axes_, out_reverse_;
};

INT8RT_REGISTER_LAYER("Scan", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<ScanLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
