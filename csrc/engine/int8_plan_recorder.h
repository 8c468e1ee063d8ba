// Collects the int8 plan (int8rt/int8_plan.h) while the INT8 lowering
// (lower_int8.cc) builds the lowered network: the lowering reports each int8
// layer, int8 tensor and float <-> int8 conversion as it adds them; finish()
// fills in who reads what, and why each conversion exists, from the finished
// network.
#pragma once

#include <cstddef>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "int8rt/int8_plan.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

class Int8PlanRecorder {
 public:
  void layer(const std::string& name, const std::string& op, std::vector<std::string> sources);
  // `lowered_id`: the int8 tensor's id in the lowered network.
  void int8_tensor(int lowered_id, Int8TensorPlan tensor);
  // A tensor a fused layer holds in int8 only inside itself (no lowered
  // tensor: int8_tensor empty), its readers as given.
  void inner_int8_tensor(Int8TensorPlan tensor) { plan_.tensors.push_back(std::move(tensor)); }
  // The zero point of a recorded tensor, set after the record (a byte mover
  // passing its input's on); an unrecorded id is ignored.
  void zero_point(int lowered_id, int32_t zero_point);
  // `lowered_out`: the id of the conversion's output in the lowered network.
  void convert(int lowered_out, const std::string& name, const std::string& op, const std::string& tensor,
               float scale);
  // An If branch's finished plan, every name (and the scope) prefixed by `scope` (int8_plan.h).
  void nested(const std::string& scope, Int8Plan branch);
  Int8Plan finish(const Network& lowered);

 private:
  Int8Plan plan_;
  std::map<int, size_t> tensor_at_, convert_at_;  // lowered tensor id -> its record in plan_
};

}  // namespace engine
}  // namespace int8rt
