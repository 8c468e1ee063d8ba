// ExecutionContext::run_tapped (int8rt/engine.h): an ordinary run with a
// BranchTap (engine/ops/subgraph.h) installed on the calling thread, so that
// each If hands over the float32 tensors of the branch it takes, under their
// scoped names. The tap is thread-local and a run with an If is never split
// across threads (control flow is not a per-sample op, batch_split.cc), so
// the whole run, branches included, is on this thread.
#include "engine/ops/subgraph.h"
#include "engine/value.h"
#include "int8rt/engine.h"
#include "int8rt/error.h"

namespace int8rt {

std::map<std::string, HostTensor> ExecutionContext::run_tapped(const std::map<std::string, TensorView>& inputs,
                                                               std::map<std::string, HostTensor>& branch_values) {
  if (engine_->runner_) throw NotSupported("run_tapped: branch tensors are read from CPU engines only");
  branch_values.clear();
  // Copied as each is computed: a branch's later layers may reuse its buffer.
  engine::BranchTap tap([&branch_values](const std::string& name, const engine::Value& v) {
    HostTensor& t = branch_values[name];
    t.shape = v.shape();
    t.dtype = DataType::kFloat32;
    t.data.assign(v.data<float>(), v.data<float>() + v.numel());
  });
  return run(inputs);
}

}  // namespace int8rt
