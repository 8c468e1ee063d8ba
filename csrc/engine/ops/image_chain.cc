// int8rt.Bf16ImageChain and int8rt.Int8ImageChain: a run of layers (a
// subgraph, attribute "body": engine/image_chain.h; the BF16 channel-blocked
// region's, engine/bf16_blocked_chain.h, and an INT8 network's first stages,
// engine/int8_image_chain.h) run image by image, so the tensors between its
// layers are one image's (1.6 MB at most for ResNet-50's 56 x 56 stage in
// BF16, 0.8 MB in INT8) and stay in L2 from the layer that writes them to
// the one that reads them, instead of the whole batch's (12.8 / 6.4 MB at
// batch 8) going to memory and back. Inputs: the chain's activations read
// from outside it (each [N, ...]); output: the one tensor read after it
// ([N, ...]). Each image's slice of every input is handed to the body as a
// batch of one, read in place (Subgraph::Run::borrowing), and its output
// copied into the image's slice of the output.
// Every layer of the body computes an image from that image alone with the
// same operations at any batch (abi/nchw16c_bf16.h; the partitions split
// pixels and blocks, never a sum), so the output has the unchained run's
// bits (tests/test_bf16_blocked_chain.py compares with ==); the int8
// layers' integer arithmetic is exact and their epilogue per element, so
// the same holds for them (tests/test_int8_image_chain.py, ==).
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "engine/bf16_blocked_chain.h"
#include "engine/int8_image_chain.h"
#include "engine/layer.h"
#include "engine/ops/subgraph.h"

namespace int8rt {
namespace engine {
namespace {

class ImageChainLayer : public Layer {
 public:
  explicit ImageChainLayer(const Node& node)
      : prefix_(layer_error_prefix(node)), int8_(node.op == kInt8ImageChainOp),
        body_(graph_attribute(node, "body"), node, "body") {
    require_inputs(node, node.inputs.size());
    if (node.inputs.empty() || body_.num_inputs() != node.inputs.size() || node.outputs.size() != 1 ||
        body_.num_outputs() != 1) {
      throw InvalidArgument(prefix_ + "needs one body input per input and one output (body: " +
                            std::to_string(body_.num_inputs()) + " inputs, " + std::to_string(body_.num_outputs()) +
                            " outputs; node: " + std::to_string(node.inputs.size()) + " inputs, " +
                            std::to_string(node.outputs.size()) + " outputs)");
    }
    layers_ = body_.network().nodes().size();
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    batch(in);
    std::vector<std::pair<DataType, Shape>> out;
    if (!body_.infer(in, out)) throw ValueDependentShape(prefix_ + "its body's output shape depends on values");
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int64_t N = batch(in);
    Value& y = *out[0];
    if (N == 0) return;  // an empty batch: nothing to run, nothing to write
    if (N == 1) {  // nothing to split: the body on the inputs themselves
      Subgraph::Run run(body_);
      run.borrowing(in);
      std::memcpy(y.data<void>(), run.output(0).data<void>(), y.nbytes());
      return;
    }
    // One image of each input, a view the body reads in place;
    // the views live in this thread's storage, kept from run to run so a
    // steady-state run allocates nothing. A chain can run inside another's
    // body (an engine file may nest them): each nesting depth has its own
    // views, or the inner chain would resize and release the outer one's
    // mid-loop (RESULTS.md 222).
    struct Views {
      std::vector<Value> slices;
      std::vector<const Value*> args;
      Shape shape;
    };
    thread_local std::deque<Views> depths;  // a deque: growing it moves no outer depth's views
    thread_local size_t depth = 0;
    struct Enter {
      size_t& d;
      explicit Enter(size_t& depth) : d(++depth) {}
      ~Enter() { --d; }
    } enter(depth);
    if (depths.size() < depth) depths.resize(depth);
    Views& views = depths[depth - 1];
    std::vector<Value>& slices = views.slices;
    std::vector<const Value*>& args = views.args;
    Shape& shape = views.shape;
    slices.resize(in.size());
    args.resize(in.size());
    struct Release {  // the views let go on every path out (a throwing body included)
      std::vector<Value>& views;
      ~Release() {
        for (Value& v : views) v.release_borrowed();
      }
    } release{slices};
    Subgraph::Run run(body_);
    const size_t y_image = y.nbytes() / static_cast<size_t>(N);
    for (int64_t n = 0; n < N; ++n) {
      for (size_t i = 0; i < in.size(); ++i) {
        const Value& x = *in[i];
        shape.assign(x.shape().begin(), x.shape().end());
        shape[0] = 1;
        const size_t image = x.nbytes() / static_cast<size_t>(N);
        slices[i].borrow(x.dtype(), shape, static_cast<const char*>(x.data<void>()) + n * image);
        args[i] = &slices[i];
      }
      run.borrowing(args);
      const Value& piece = run.output(0);
      if (piece.nbytes() != y_image) {
        throw InvalidArgument(prefix_ + "the body gave " + std::to_string(piece.nbytes()) + " bytes for one image, " +
                              "the output holds " + std::to_string(y_image));
      }
      std::memcpy(static_cast<char*>(y.data<void>()) + n * y_image, piece.data<void>(), y_image);
    }
  }

  std::string describe() const override {
    if (!int8_) return "bf16 chain of " + std::to_string(layers_) + " NCHW16c layers run image by image";
    // The chained layers by name (Engine::network() keeps them all: int8_image_chain.h).
    const std::vector<Node>& nodes = body_.network().nodes();
    if (nodes.empty()) return "int8 chain of no layers";
    return "int8 chain of " + std::to_string(layers_) + " layers run image by image: '" + nodes.front().name +
           "' .. '" + nodes.back().name + "'";
  }

 private:
  // The batch every input shares (dimension 0).
  int64_t batch(const std::vector<const Value*>& in) const {
    int64_t N = -1;
    for (const Value* v : in) {
      if (!v || v->shape().empty() || (N >= 0 && v->shape()[0] != N)) {
        throw InvalidArgument(prefix_ + "needs inputs of one batch (dimension 0)");
      }
      N = v->shape()[0];
    }
    return N;
  }

  std::string prefix_;
  bool int8_;
  Subgraph body_;
  size_t layers_ = 0;
};

INT8RT_REGISTER_LAYER(kBf16ImageChainOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(new ImageChainLayer(node));
});
INT8RT_REGISTER_LAYER(kInt8ImageChainOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(new ImageChainLayer(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
