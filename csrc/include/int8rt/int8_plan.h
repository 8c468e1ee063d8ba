// The int8 plan of an engine, as data: which tensors the engine holds in
// int8 and at which scale, which layers run in int8 and which nodes of the
// built network each one covers, and which float <-> int8 conversions the
// INT8 lowering inserted and why. Written by the lowering as it decides
// (csrc/engine/lower_int8.cc); read by the Q/DQ export
// (python/int8rt/qdq_export.py) instead of parsing the lowered graph's names.
//
// Names: "source" names are the built network's (the ONNX model's node and
// tensor names); "lowered" names are the engine network's (Engine::network()).
// Inside an If's branches (lowered on their own) every name, source and
// lowered, is prefixed by the record's `scope`, "<If node>/<then_branch or
// else_branch>/" (nested Ifs: joined), as calibration names branch tensors
// (engine/ops/control_flow.h, branch_scope); top-level records have none.
// A plain value; thread safety as for any const object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace int8rt {

// A tensor the engine holds in int8.
struct Int8TensorPlan {
  std::string tensor;       // source tensor name
  // Its int8 tensor in the lowered network; empty for one a fused layer holds
  // in int8 only inside itself (an int8rt.QGemm's codes before its table).
  std::string int8_tensor;
  float scale = 0.f;        // the int8 tensor's scale (float value = scale * (q - zero_point))
  // 0 (symmetric) unless a pre-quantized model's Q/DQ gives one, or the
  // build holds the tensor unsigned (BuilderConfig::unsigned_activations: -128).
  int32_t zero_point = 0;
  std::string producer;     // lowered node writing it: an int8 layer, or the int8rt.Quantize below
  bool produced_in_int8 = false;  // by an int8 layer (else quantized from its float value)
  std::vector<std::string> readers;  // lowered int8 layers reading it, in network order
  // A rank-4 tensor held channels-last (NHWC, as convs read it); false for
  // other ranks and for rank-4 tensors kept in their own element order (as
  // MatMuls read them: attention's [batch, heads, sequence, dim]).
  bool channels_last = false;
  // One scale per channel (axis 1 of the source tensor, its last axis when
  // channels-last) where a pre-quantized model quantizes it so (a
  // QuantizeLinear with axis 1 in front of a depthwise conv); `scale` is
  // then 0. Empty: `scale` holds for the whole tensor.
  std::vector<float> channel_scales;
  std::string scope;  // "" at the top level; the If branch it is in, else (see Names above)
};

// A layer that runs in int8.
struct Int8LayerPlan {
  std::string name;  // lowered node name
  std::string op;    // "int8rt.QConv", "int8rt.QLut", ...
  // Source nodes it computes, in order: one for most layers; a table
  // (int8rt.QLut) lists its region's nodes, an add its fused Relu, and a
  // Conv that graph passes merged from sibling 1x1 Convs lists those.
  std::vector<std::string> sources;
  std::string scope;  // as Int8TensorPlan::scope
};

// A conversion the lowering inserted between float32 and int8.
struct Int8ConvertPlan {
  std::string name;    // lowered node name
  std::string op;      // "int8rt.Quantize" or "int8rt.Dequantize"
  std::string tensor;  // source tensor converted
  float scale = 0.f;
  std::vector<std::string> readers;  // lowered nodes reading the converted tensor
  bool network_output = false;       // a Dequantize writing a network output
  std::string reason;                // why it exists, in words (names unscoped)
  std::string scope;                 // as Int8TensorPlan::scope
};

struct Int8Plan {
  // In the lowered network's tensor order. The int8 intermediates of a data-movement
  // layer's layout change (an NCHW copy between two int8 layers) have no source tensor
  // and are not listed.
  // A branch's records follow those before its If, in the branch's order.
  std::vector<Int8TensorPlan> tensors;
  std::vector<Int8LayerPlan> layers;      // in network order
  std::vector<Int8ConvertPlan> converts;  // in network order
};

}  // namespace int8rt
