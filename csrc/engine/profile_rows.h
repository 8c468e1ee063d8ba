// The rows ExecutionContext::profile returns (int8rt/engine.h): every
// top-level layer's median time and, before each If, the layers of the
// branch it took (scoped names, "<If>/<then_branch|else_branch>/<layer>",
// nested Ifs joined: int8rt/branch_scope.h), timed inside the If by a
// BranchClock (engine/ops/subgraph.h). An If's own row holds only what the
// If adds (choosing the branch, copying values in and out): its branch's
// layers are their own rows, so the rows add up to the run. A branch no
// profiled run took has no rows.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/ops/subgraph.h"
#include "int8rt/engine.h"

namespace int8rt {
namespace engine {

class ProfileRows {
 public:
  // `top`: the engine's layers in `executor`'s order (Engine::layers()).
  ProfileRows(const Executor& executor, std::vector<LayerInfo> top);
  // One profiled run: the top-level nodes' seconds by node id (run_timed)
  // and the branch layers the run's clock recorded.
  void add_run(const std::vector<double>& node_seconds, const BranchClock& clock);
  // The rows in run order with their medians over the runs added.
  std::vector<LayerTime> medians() const;

 private:
  // Seconds of `seconds` less those of the If's branches' layers (scope: the If's own).
  static double exclusive(double seconds, const std::string& scope, const std::string& node,
                          const BranchClock& clock);
  void emit_branches(const std::string& scope, const std::string& node, std::vector<LayerTime>& out) const;
  void emit_row(const LayerInfo& layer, std::vector<LayerTime>& out) const;

  const Executor& executor_;
  std::vector<LayerInfo> top_;
  std::map<std::string, std::vector<double>> samples_;              // scoped name -> one per run
  std::map<std::string, std::vector<BranchClock::Row>> branches_;  // the last run's, by scope
};

}  // namespace engine
}  // namespace int8rt
