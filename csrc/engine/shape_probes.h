// The input shapes the builder probes a network's shapes with (two sets
// differing in every dimension that may change, Executor::annotate_shapes'
// form) when no profile says them: from the first calibration batch, and,
// for an If's branches, from the values the If captures at the outer probes.
// The INT8 lowering plans with the shapes these annotate.
#pragma once

#include <utility>
#include <vector>

#include "engine/executor.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// `first` (one shape per network input of `exec`) and the same with the
// dimensions of `dynamic` ((input index, dimension) pairs) taken from
// `other` (same ranks), where the network takes that. A dimension the
// network cannot take changed (a text recogniser's height that a Reshape
// fixes) is probed at its first size only. Dimensions that must change
// together (Silero VAD's batch, in its chunk and in its state) are tried as
// a group first: those of equal first size, then one by one. Empty when
// `first` itself does not infer.
std::vector<std::vector<Shape>> varying_probes(const Executor& exec, const std::vector<Shape>& first,
                                               const std::vector<Shape>& other,
                                               const std::vector<std::pair<size_t, size_t>>& dynamic);

// Dynamic dimensions beyond the batch and no profile: the first calibration
// batch's input shapes and the same with the network's dynamic (-1)
// dimensions doubled (varying_probes). They give every tensor its rank and
// static dimensions (what ONNX shape inference may not know past a Reshape
// computed at run time); dimensions that follow the inputs become -1.
std::vector<std::vector<Shape>> probes_from_batch(const Network& net, const Executor& exec,
                                                  const std::vector<Shape>& first);

// Annotates the branches of every If of `net` (run by `exec`, probed at
// `probes`, its own shapes annotated from them), recursively: the branch's
// probes are the shapes of the values the If captures at the two outer
// probes (varying_probes: the dimensions that differ there, where the
// branch takes them). A branch input declares no dimension fixed that the
// value it receives leaves free (-1 in `net`), so no run the branch took
// before is refused at its boundary. A branch that cannot take the
// captures' shapes (Silero VAD's 8 kHz branch on a 16 kHz chunk) keeps the
// shapes it has, as does every branch of an If whose captures' shapes
// depend on values.
void annotate_branch_shapes(Network& net, const Executor& exec, const std::vector<std::vector<Shape>>& probes);

}  // namespace engine
}  // namespace int8rt
