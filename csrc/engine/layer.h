// Executable layers and their registry.
//
// Each node of a network becomes one Layer when an engine is created (built
// or loaded): the factory registered for the node's op type reads the node's
// attributes and constant inputs (weights), packs what it needs, and returns
// an immutable Layer. Layers are const and thread-safe: several execution
// contexts run the same Layer concurrently, each with its own Values.
//
// Adding an op: one file under csrc/engine/ops/ defining a Layer subclass and
// a static INT8RT_REGISTER_LAYER("OpType", factory) line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/value.h"
#include "int8rt/error.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// Thrown by Layer::infer() when an output shape depends on the values of an
// input that shape inference without a run does not have (a Reshape's shape,
// a Reduce's axes, TopK's K... given as a graph input or computed from one).
// Executor::infer_shapes marks such outputs, and everything downstream, as
// known only at run time; a run infers them from the values it has.
class ValueDependentShape : public NotSupported {
 public:
  using NotSupported::NotSupported;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Output dtypes and shapes for the given input shapes (batch resolved).
  // Constant inputs are included at their positions. Throws InvalidArgument
  // naming the layer when the shapes are incompatible.
  virtual std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& inputs) const = 0;
  // Computes the outputs; they were reset() to the inferred dtypes/shapes.
  // Omitted optional inputs are nullptr.
  virtual void run(const std::vector<const Value*>& inputs, const std::vector<Value*>& outputs) const = 0;
  // One line for `inspect`: chosen kernel, precision, notable parameters.
  virtual std::string describe() const { return ""; }
  // True when output 0 holds input 0's bytes unchanged, in order (Reshape,
  // Flatten, Squeeze, Unsqueeze): the memory plan may then give output 0 the
  // buffer of input 0 when this node is its last reader, and run() must
  // leave the bytes in place when the two pointers are equal.
  virtual bool output_is_input_bytes() const { return false; }
  // True when run() reads only its inputs' shapes, never their data (Shape):
  // shape inference can then evaluate it on shape-only values.
  virtual bool reads_only_input_shapes() const { return false; }
  // True when run() computes a non-empty output from an empty float32
  // activation input (a reduction over a zero-sized axis, a MatMul with
  // K = 0, a Concat with an empty part). Other layers never see one: the
  // executor refuses such a run naming the input (and runs no layer whose
  // outputs are all empty).
  virtual bool accepts_empty_inputs() const { return reads_only_input_shapes(); }
  // True when run() sizes its outputs itself (reset() with the dtypes and
  // shapes it computes): control flow (If, Loop, Scan), whose output shapes
  // are those of the subgraph it ran, which infer() cannot always tell
  // beforehand. The executor then neither calls infer() before run() nor
  // skips the layer for empty outputs; infer() still serves shape inference
  // without a run (throwing ValueDependentShape where it cannot tell).
  virtual bool sizes_outputs_when_run() const { return false; }
};

// What a factory sees: the network (for constants and shapes) and the node.
using LayerFactory = std::function<std::unique_ptr<Layer>(const Network&, const Node&)>;

void register_layer(const std::string& op, LayerFactory factory);
// nullptr if no layer implements `op`.
const LayerFactory* find_layer_factory(const std::string& op);
std::vector<std::string> registered_ops();

struct LayerRegistrar {
  LayerRegistrar(const char* op, LayerFactory factory) { register_layer(op, std::move(factory)); }
};

#define INT8RT_LAYER_CONCAT_(a, b) a##b
#define INT8RT_LAYER_CONCAT(a, b) INT8RT_LAYER_CONCAT_(a, b)
#define INT8RT_REGISTER_LAYER(op, factory) \
  static ::int8rt::engine::LayerRegistrar INT8RT_LAYER_CONCAT(int8rt_layer_registrar_, __LINE__)(op, factory)

// Helpers for factories.
const Tensor& constant_input(const Network& net, const Node& node, size_t index, const char* what);
bool has_input(const Node& node, size_t index);
// The node's first `count` inputs must all be present (ids >= 0): checked by
// factories when the layer is created, so an engine file whose node lacks a
// data input is refused at load instead of dereferenced at run.
void require_inputs(const Node& node, size_t count);
std::string layer_error_prefix(const Node& node);  // "node 'name' (Op): "

}  // namespace engine
}  // namespace int8rt
