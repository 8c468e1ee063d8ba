// The int8 plan as the lowering records it (int8_plan_recorder.h).
#include "engine/int8_plan_recorder.h"

#include <utility>

#include "engine/ops/int8/contracts.h"

namespace int8rt {
namespace engine {

void Int8PlanRecorder::layer(const std::string& name, const std::string& op, std::vector<std::string> sources) {
  plan_.layers.push_back({name, op, std::move(sources)});
}

void Int8PlanRecorder::int8_tensor(int lowered_id, Int8TensorPlan tensor) {
  tensor_at_[lowered_id] = plan_.tensors.size();
  plan_.tensors.push_back(std::move(tensor));
}

void Int8PlanRecorder::zero_point(int lowered_id, int32_t zero_point) {
  auto it = tensor_at_.find(lowered_id);
  if (it != tensor_at_.end()) plan_.tensors[it->second].zero_point = zero_point;
}

void Int8PlanRecorder::convert(int lowered_out, const std::string& name, const std::string& op,
                               const std::string& tensor, float scale) {
  convert_at_[lowered_out] = plan_.converts.size();
  Int8ConvertPlan c;
  c.name = name;
  c.op = op;
  c.tensor = tensor;
  c.scale = scale;
  plan_.converts.push_back(std::move(c));
}

namespace {
void prefix(const std::string& scope, std::string& name) { name = scope + name; }
void prefix(const std::string& scope, std::vector<std::string>& names) {
  for (std::string& n : names) prefix(scope, n);
}
}  // namespace

void Int8PlanRecorder::nested(const std::string& scope, Int8Plan branch) {
  for (Int8TensorPlan& t : branch.tensors) {
    for (std::string* s : {&t.tensor, &t.int8_tensor, &t.producer, &t.scope}) prefix(scope, *s);
    prefix(scope, t.readers);
    plan_.tensors.push_back(std::move(t));
  }
  for (Int8LayerPlan& l : branch.layers) {
    for (std::string* s : {&l.name, &l.scope}) prefix(scope, *s);
    prefix(scope, l.sources);
    plan_.layers.push_back(std::move(l));
  }
  for (Int8ConvertPlan& c : branch.converts) {
    for (std::string* s : {&c.name, &c.tensor, &c.scope}) prefix(scope, *s);
    prefix(scope, c.readers);
    plan_.converts.push_back(std::move(c));
  }
}

Int8Plan Int8PlanRecorder::finish(const Network& lowered) {
  for (const Node& node : lowered.nodes()) {
    for (int id : node.inputs) {
      // A Dequantize reads int8 but is no int8 layer; nor is a Shape reading an int8 tensor's dims.
      auto t = tensor_at_.find(id);
      if (t != tensor_at_.end() && node.op != ConvertAttrs::kDequantizeOp && node.op != "Shape") {
        plan_.tensors[t->second].readers.push_back(node.name);
      }
      auto c = convert_at_.find(id);
      if (c != convert_at_.end()) plan_.converts[c->second].readers.push_back(node.name);
    }
  }
  for (int id : lowered.outputs()) {
    auto c = convert_at_.find(id);
    if (c != convert_at_.end()) plan_.converts[c->second].network_output = true;
  }
  for (Int8ConvertPlan& c : plan_.converts) {
    std::string readers;
    for (const std::string& r : c.readers) readers += (readers.empty() ? "'" : ", '") + r + "'";
    if (c.op == ConvertAttrs::kQuantizeOp) {
      c.reason = "'" + c.tensor + "' is float32 here and int8 layers read it: " + readers;
      continue;
    }
    c.reason = "'" + c.tensor + "' is int8 here and ";
    if (!readers.empty()) c.reason += "float32 layers read it: " + readers + (c.network_output ? "; " : "");
    if (c.network_output) c.reason += "it is a network output";
  }
  return std::move(plan_);
}

}  // namespace engine
}  // namespace int8rt
