// How a tensor inside an If branch is named outside it.
#pragma once

#include <string>

namespace int8rt {

// The prefix naming a tensor of If node `node`'s branch `branch`
// ("then_branch" / "else_branch") outside it: in calibration, its cache, the
// int8 plan and ExecutionContext::run_tapped, "pick/then_branch/" + tensor
// name; nested Ifs join their scopes ("outer/then_branch/inner/else_branch/x").
// The one home of that rule (bound in Python as _core.branch_scope).
inline std::string branch_scope(const std::string& node, const std::string& branch) {
  return node + "/" + branch + "/";
}

}  // namespace int8rt
