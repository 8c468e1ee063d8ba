// ExecutionContext::profile's rows, branch layers included (profile_rows.h).
#include "engine/profile_rows.h"

#include <algorithm>
#include <utility>

#include "int8rt/branch_scope.h"

namespace int8rt {
namespace engine {
namespace {
const char* const kBranches[] = {"then_branch", "else_branch"};
}  // namespace

ProfileRows::ProfileRows(const Executor& executor, std::vector<LayerInfo> top)
    : executor_(executor), top_(std::move(top)) {}

double ProfileRows::exclusive(double seconds, const std::string& scope, const std::string& node,
                              const BranchClock& clock) {
  for (const char* branch : kBranches) {
    auto it = clock.scopes().find(scope + branch_scope(node, branch));
    if (it == clock.scopes().end()) continue;
    for (const BranchClock::Row& row : it->second) seconds -= row.seconds;
  }
  return std::max(0.0, seconds);  // nested intervals on one clock: only rounding can take it below
}

void ProfileRows::add_run(const std::vector<double>& node_seconds, const BranchClock& clock) {
  const Network& net = executor_.network();
  for (size_t i = 0; i < top_.size(); ++i) {
    const Node& node = net.nodes()[executor_.order()[i]];
    samples_[top_[i].name].push_back(exclusive(node_seconds[executor_.order()[i]], "", node.name, clock));
  }
  for (const auto& [scope, rows] : clock.scopes()) {
    for (const BranchClock::Row& row : rows) {
      const std::string& node = row.graph_node().name;
      samples_[scope + node].push_back(exclusive(row.seconds, scope, node, clock));
    }
  }
  branches_ = clock.scopes();
}

void ProfileRows::emit_row(const LayerInfo& layer, std::vector<LayerTime>& out) const {
  std::vector<double> v = samples_.at(layer.name);
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  out.push_back({layer, v[v.size() / 2]});
}

void ProfileRows::emit_branches(const std::string& scope, const std::string& node,
                                std::vector<LayerTime>& out) const {
  for (const char* branch : kBranches) {
    const std::string inner = scope + branch_scope(node, branch);
    auto it = branches_.find(inner);
    if (it == branches_.end()) continue;
    for (const BranchClock::Row& row : it->second) {
      emit_branches(inner, row.graph_node().name, out);
      emit_row(row.layer(inner), out);
    }
  }
}

std::vector<LayerTime> ProfileRows::medians() const {
  std::vector<LayerTime> out;
  const Network& net = executor_.network();
  for (size_t i = 0; i < top_.size(); ++i) {
    emit_branches("", net.nodes()[executor_.order()[i]].name, out);
    emit_row(top_[i], out);
  }
  return out;
}

}  // namespace engine
}  // namespace int8rt
