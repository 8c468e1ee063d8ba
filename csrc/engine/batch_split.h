// Runs a batch as independent sub-batches, one per thread, when every layer
// of the network computes each sample (index along dimension 0) from that
// sample alone: the "streams" of OpenVINO's throughput mode, inside one run.
//
// Splitting each layer's work across threads (parallel_for in every kernel)
// costs a fork and a join per layer, about 60 per ResNet-50 or MobileNetV2
// run, and both threads stream every layer's weights; small layers of a
// mobile network do not split well at all. A batch of 8 at 2 threads is
// instead run as two runs of 4 images on separate states, each on one
// thread (a parallel_for nested inside a part runs serially): one fork and
// join per run. The parts are ordinary runs of the same executor, so every
// output byte is what an unsplit run computes wherever a layer's result for
// a sample does not depend on how many samples its call has: exactly so for
// the int8 layers (integer arithmetic, == the reference), and for the
// float32 conv and GEMM kernels of ResNet-50 and MobileNetV2, which give
// the same bytes at batch 1, 4 and 8 (tests/test_batch_split.py).
//
// At one thread the same parts run one after the other, where that keeps
// each layer's float32 output in cache for the next layer
// (BatchSplit::serial_parts): the mobile networks' batch 8.
//
// When a network splits (BatchSplit::parts): every network input has a
// dynamic first dimension and all have the same batch at this run; every
// node is of a kind known to compute sample i of its outputs from sample i
// of its activation inputs (per_sample_op, per_sample_attrs), or reads
// only shapes and constants; a value computed from shapes enters an
// activation as a size (sizes_from_shapes), or as data that is the same at
// every batch or for every sample (batch_split_probes.h); and shape
// inference at the full batch and at the part size gives every activation
// tensor (one computed from an input's values) the batch as its first
// dimension at both, or, after a reshape, batch x rows (an encoder's mask
// flattened to [batch * seq, 1] and read back by a Gather whose indices
// shape inference computes and batch_split_probes.h checks part by part). So a Reshape that folds the batch
// into another dimension, a Concat or Slice along it, or an op whose shape
// depends on values keeps the run unsplit. The split also needs the batch
// to divide evenly into parts (or to be large enough that the remainder
// costs little): see BatchSplit::parts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"

namespace int8rt {
namespace engine {

// Whether nodes of this op type compute sample i of their outputs from
// sample i of their activation inputs only, given that every activation
// input and output has the batch as dimension 0 and every activation input
// has the output's rank (no broadcasting of one sample against all): the
// conv, pool, element-wise and int8 ops of CNN engines, and the ops that
// only reshape (Flatten, Reshape, Squeeze, Unsqueeze: a sample's bytes stay
// one contiguous block when dimension 0 is kept). Exposed for tests.
bool per_sample_op(const std::string& op);

// Whether inputs after the first of this op may be computed from shapes
// (Shape and int64 arithmetic on it) in a split run: a Reshape's target, a
// Resize's sizes, Squeeze / Unsqueeze axes. Anywhere else such a value is
// data, and each part's would count its own batch. Exposed for tests.
bool sizes_from_shapes(const std::string& op);

// Per execution context: the split decision for the last input shapes and
// one Executor::State per part (kept between runs). Not thread-safe (the
// context's busy flag serializes its calls).
class BatchSplit {
 public:
  explicit BatchSplit(const Executor& executor);
  ~BatchSplit();

  // How many parts a run with these inputs takes at `threads` threads; 1
  // when it runs unsplit (a batch that does not split well, or a network
  // that does not split, see the file comment). At one thread the parts run
  // one after the other (serial_parts).
  int parts(const std::vector<Executor::Input>& inputs, int threads);

  // Runs the parts concurrently through parallel_for (one chunk per part);
  // inputs are read in place (borrowed slices) until release_inputs().
  // `parts` from parts().
  void run(const std::vector<Executor::Input>& inputs, int parts);
  // Drops the slices run() borrowed: call before the inputs' data goes
  // (after reading the outputs, also when run() threw).
  void release_inputs();

  // Shape plans kept per part's state (Executor::State::plans) and split
  // decisions kept, per input-shape signature (ExecutionContext::
  // set_shape_plan_capacity).
  void set_plan_capacity(size_t plans);

  // After run(): part p's value of network tensor `tensor` (its first
  // dimension that part's share of the batch, in order).
  const Value& value(int part, int tensor) const;

 private:
  // Whether the network splits at batch `batch` into parts of `part_batch`
  // (and the last part's size) with the inputs' other dimensions as given.
  bool splits(const std::vector<Executor::Input>& inputs, int64_t batch, const std::vector<int64_t>& part_sizes) const;
  // The batch in `parts` parts, the first batch % parts one larger.
  static void part_sizes(int64_t batch, int parts, std::vector<int64_t>& sizes);
  // From 2 threads: about one part per thread.
  static int thread_parts(int64_t batch, int threads, int per_thread);
  // At one thread, parts run one after the other so that each layer's
  // float32 output is still in cache (L2 / L3) when the next layer reads
  // it: a batch of 8 images of MobileNetV2 has 8 x 4.8 MB at its widest
  // layer, which one image's run keeps in L3 and the batch's does not.
  // Taken when the network's constants (which every part streams again)
  // are at most the float32 activation bytes of one sample; parts of at
  // most kSerialPartBytes at the largest float32 activation (at least one
  // sample); else 1. Measured (RESULTS.md section 75, 1 thread, batch 8,
  // split / unsplit): MobileNetV2 FP32 0.87, EfficientNet-Lite0 0.86,
  // EfficientNet-B0 0.94 (one image per part; 2 and 4 per part were
  // slower); ResNet-50 (102 MB of weights, 46 MB of activations per image)
  // 1.02 forced, so it stays unsplit; int8 engines' activations are int8
  // (a quarter of the bytes) and MobileNetV2 INT8 measured 1.07 (b8) and
  // 1.08 (b32) split, so only float32 activations count.
  int serial_parts(const std::vector<Shape>& shapes, int64_t batch) const;
  static constexpr double kSerialPartBytes = 2.0 * 1024 * 1024;

  const Executor& ex_;
  bool ops_split_ = false;  // every node per_sample_op or shape-only (decided once)
  std::vector<char> activation_;  // by tensor id: computed from an input's values
  // The decisions for the last few input-shape signatures (at most
  // plan_capacity_, the oldest replaced first), so inputs of a few sizes in
  // turn do not infer shapes for the decision on every run.
  struct Decision {
    std::vector<Shape> shapes;  // in network input order
    int threads = 0, per_thread = 0;
    int parts = 1;  // 1: unsplit
  };
  // Whether `inputs` (at the network inputs, in order) have d's shapes.
  bool same_shapes(const Decision& d, const std::vector<Executor::Input>& inputs) const;
  std::vector<Decision> decisions_;
  size_t next_decision_ = 0;  // the slot a new decision takes once decisions_ is full
  size_t plan_capacity_ = ShapePlanCache::kDefaultCapacity;
  // Reused by every run: each part's inputs, the part sizes.
  std::vector<std::vector<Executor::Input>> part_inputs_;
  std::vector<int64_t> sizes_;
  double weight_bytes_ = 0;  // the network's constants
  std::vector<std::unique_ptr<Executor::State>> states_;
};

// Parts per thread for a split run (tests and benchmarks compare settings
// in one process): 0 turns the split off, 1 (the default) gives one part
// per thread. Not for production code; not safe to change during runs.
void set_batch_split_for_testing(int parts_per_thread);
// Runs split so far in this process (every context): tests check that a
// network they expect to split did, and that one that must not did not.
int64_t batch_split_runs_for_testing();

}  // namespace engine
}  // namespace int8rt
