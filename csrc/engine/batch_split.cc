// Batch split (batch_split.h): which networks split, the part sizes, and
// the parallel run over one Executor::State per part.
#include "engine/batch_split.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>

#include "core/thread_pool.h"
#include "engine/batch_split_probes.h"
#include "engine/f32_blocked.h"

namespace int8rt {
namespace engine {
namespace {

std::atomic<int> g_parts_per_thread{1};
std::atomic<int64_t> g_split_runs{0};

}  // namespace

bool per_sample_op(const std::string& op) {
  // Each of these reads, for output sample i, only sample i of its
  // activation inputs, when those have the batch as dimension 0 and the
  // output's rank (BatchSplit checks both): convolutions and pools work
  // within an image; element-wise ops, tables and per-channel scales within
  // an element or a sample's channels; Gemm / MatMul rows are samples (a
  // product that contracts over the batch would change dimension 0, which
  // the shape check refuses); Concat, Pad and Resize along dimension 0
  // change it too. int8 scales are constants of the engine (no statistics
  // over the batch at run time). Softmax, LayerNormalization, Transpose and
  // Gather are here under their attributes' conditions (per_sample_attrs:
  // an axis after the batch, the batch kept first, a table's rows), as are
  // the attention products (int8rt.QAttention: one product per sample and
  // head, the mask's sample with it). Not here, among others: Slice, the
  // reductions, the other normalizations, the recurrent ops,
  // DynamicQuantizeLinear (a scale from the whole tensor) and control flow.
  static const std::set<std::string> kOps = {
      // int8 layers (engine/ops/int8/contracts.h)
      "int8rt.Quantize", "int8rt.Dequantize", "int8rt.QConv", "int8rt.QConvTranspose", "int8rt.QMaxPool",
      "int8rt.QAveragePool", "int8rt.QGlobalAveragePool", "int8rt.QGemm", "int8rt.QMatMul", "int8rt.QAdd",
      "int8rt.QLut", "int8rt.QLutFloat", "int8rt.QChannelMul", "int8rt.QConcat", "int8rt.QResizeLinear", "int8rt.QResizeNearest",
      "int8rt.QPad", "int8rt.QFlatten", "int8rt.QReshape", "int8rt.QSqueeze", "int8rt.QUnsqueeze",
      "int8rt.Int8ImageChain",  // its body's layers, these, image by image (engine/int8_image_chain.h)
      // a float32 region's layout conversions (engine/f32_layout.h): one image at a time
      "int8rt.ToNHWC", "int8rt.ToNCHW",
      // and a channel-blocked region's (engine/f32_blocked.h): per image
      "int8rt.ToNCHW16c", "int8rt.FromNCHW16c", "int8rt.GlobalAveragePool16c", "int8rt.ChannelScale16c",
      "int8rt.MaxPool16c", "int8rt.AveragePool16c", "int8rt.Concat16c",
      // float32 layers that int8 engines keep for what they do not lower
      "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
      "BatchNormalization", "InstanceNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid",
      "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Erf", "Exp", "Add", "Sub", "Mul", "Div", "Identity",
      "Dropout", "Pad", "Concat", "Gemm", "MatMul", "Resize", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
      // encoders (per_sample_attrs checks the axis / perm of the first four)
      "Softmax", "LogSoftmax", "LayerNormalization", "Transpose", "int8rt.QTranspose", "Gather", "int8rt.QAttention",
      "Cast", "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "IsNaN",
      "Expand", "Sqrt", "Pow", "Neg", "Reciprocal"};
  return kOps.count(op) > 0;
}

bool sizes_from_shapes(const std::string& op) {
  // Inputs after the first are a target shape, axes, or sizes / scales:
  // computed from the part's own shapes they keep its batch first (which
  // the shape check verifies).
  static const std::set<std::string> kOps = {"Reshape", "Squeeze", "Unsqueeze", "Resize", "Expand",
                                             "int8rt.QReshape", "int8rt.QSqueeze", "int8rt.QUnsqueeze"};
  return kOps.count(op) > 0;
}

BatchSplit::BatchSplit(const Executor& executor) : ex_(executor) {
  const Network& net = ex_.network();
  activation_.assign(net.tensors().size(), 0);
  for (const Tensor& t : net.tensors()) {
    if (t.is_constant) {
      weight_bytes_ += static_cast<double>(t.f32.size() * sizeof(float) + t.i64.size() * sizeof(int64_t) + t.i8.size());
    }
  }
  for (int id : net.inputs()) activation_[id] = 1;
  ops_split_ = true;
  for (int n : ex_.order()) {
    const Node& node = net.nodes()[n];
    bool reads_activation = false;
    for (int id : node.inputs) reads_activation = reads_activation || (id >= 0 && activation_[id]);
    // A node that reads no activation's values (constants, shapes and what
    // is computed from them) is judged by its outputs' values in splits().
    if (!reads_activation || ex_.layer(n).reads_only_input_shapes()) continue;
    if (!per_sample_op(node.op) && !gathers_rows(node)) ops_split_ = false;
    for (int id : node.outputs) activation_[id] = 1;
  }
}

BatchSplit::~BatchSplit() = default;

void BatchSplit::part_sizes(int64_t batch, int parts, std::vector<int64_t>& sizes) {
  sizes.assign(static_cast<size_t>(parts), batch / parts);
  for (int64_t p = 0; p < batch % parts; ++p) ++sizes[static_cast<size_t>(p)];
}

bool BatchSplit::splits(const std::vector<Executor::Input>& inputs, int64_t batch,
                        const std::vector<int64_t>& sizes) const {
  const Network& net = ex_.network();
  // The batch and each part size, with every tensor's inferred Value at
  // each (shape; data for the small int / bool tensors computed from shapes).
  std::vector<int64_t> probes = {batch};
  for (int64_t s : sizes) {
    if (std::find(probes.begin(), probes.end(), s) == probes.end()) probes.push_back(s);
  }
  std::vector<std::vector<Value>> vals(probes.size());
  std::vector<std::vector<char>> dep(probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    std::vector<Shape> shapes;  // in network input order
    for (int id : net.inputs()) {
      const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Executor::Input& in) { return in.tensor == id; });
      Shape s = it->shape;
      s[0] = probes[i];
      shapes.push_back(std::move(s));
    }
    try {
      vals[i] = ex_.infer_values(shapes, &dep[i]);
    } catch (const Error&) {
      return false;  // a part size the network refuses (a profile's range, a fixed batch somewhere)
    }
  }
  SplitProbes p{net, probes, vals, dep};
  std::vector<char> how(net.tensors().size(), kUnknown);
  std::vector<int64_t> fold(net.tensors().size(), 1);
  for (size_t id = 0; id < how.size(); ++id) {
    if (net.tensor(static_cast<int>(id)).is_constant) how[id] = kConstant;
  }
  for (int id : net.inputs()) how[id] = kFirst;
  const auto& nodes = net.nodes();
  for (int n : ex_.order()) {
    const Node& node = nodes[n];
    const Layer& layer = ex_.layer(n);
    bool reads_activation = false;
    for (int id : node.inputs) reads_activation = reads_activation || (id >= 0 && activation_[id]);
    if (!reads_activation || layer.reads_only_input_shapes()) {
      for (int id : node.outputs) how[id] = p.shape_class(node, id, how, per_sample_op(node.op) || gathers_rows(node));
      continue;
    }
    const int out0 = node.outputs[0];
    for (int id : node.outputs) {
      for (size_t i = 0; i < probes.size(); ++i) {
        if (dep[i][id] || vals[i][id].shape().empty()) return false;
      }
    }
    const size_t rank = vals[0][out0].shape().size();
    // The ops that only reshape keep each sample's bytes one block, so
    // their output may fold the batch into dim 0 (rows per sample, fold)
    // and their input may be so folded. (The channel-blocked layers, 16c,
    // and a blocked region's stem conv move between [N, C, H, W] and
    // [N, CB, H, W, 16] by design: per sample, batch first either way.)
    const bool reshapes =
        layer.output_is_input_bytes() || node.op.find("16c") != std::string::npos || channel_blocked(node);
    if (gathers_rows(node) && node.inputs.size() == 2 && activation_[node.inputs[0]] &&
        !activation_[node.inputs[1]]) {
      if (!p.gather_keeps_parts(node, how, fold[node.inputs[0]], sizes)) return false;
      how[out0] = kFirst;
      continue;
    }
    const size_t rank0 = node.inputs.empty() || node.inputs[0] < 0 ? 0 : vals[0][node.inputs[0]].shape().size();
    if (!per_sample_op(node.op) || !per_sample_attrs(node, rank0)) return false;
    // A table Gather (rows of constant data at an activation's indices): any rank of indices.
    const bool table_gather = node.op == "Gather" && node.inputs.size() == 2 &&
                              (how[node.inputs[0]] == kConstant || how[node.inputs[0]] == kIndependent);
    if (node.op == "Gather" && !table_gather) return false;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const int id = node.inputs[k];
      if (id < 0 || how[id] == kConstant || how[id] == kIndependent) continue;
      if (k >= 1 && sizes_from_shapes(node.op) && !activation_[id]) continue;  // a size, computed per part
      if (how[id] == kFolded && reshapes) continue;
      if (how[id] != kFirst && how[id] != kUniform) return false;
      if (!reshapes && !table_gather && vals[0][id].shape().size() != rank) return false;
    }
    for (int id : node.outputs) {
      if (p.dim0_per_sample(id, 1)) {
        how[id] = kFirst;
      } else if (reshapes && p.folded_rows(id, fold[id])) {
        how[id] = kFolded;
      } else {
        return false;
      }
    }
  }
  for (int id : net.outputs()) {
    if (!activation_[id] || how[id] != kFirst) return false;  // an output computed from shapes alone: not a batch to join
  }
  return true;
}

bool BatchSplit::same_shapes(const Decision& d, const std::vector<Executor::Input>& inputs) const {
  const std::vector<int>& ids = ex_.network().inputs();
  if (d.shapes.size() != ids.size()) return false;
  for (size_t k = 0; k < ids.size(); ++k) {
    const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Executor::Input& in) { return in.tensor == ids[k]; });
    if (it == inputs.end() || it->shape != d.shapes[k]) return false;
  }
  return true;
}

int BatchSplit::parts(const std::vector<Executor::Input>& inputs, int threads) {
  const int per_thread = g_parts_per_thread.load(std::memory_order_relaxed);
  if (per_thread < 1 || !ops_split_) return 1;
  const Network& net = ex_.network();
  int64_t batch = -1;
  for (int id : net.inputs()) {
    const Tensor& decl = net.tensor(id);
    if (decl.shape.empty() || decl.shape[0] != -1) return 1;  // a fixed batch (or any rank): not ours to split
    const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Executor::Input& in) { return in.tensor == id; });
    if (it == inputs.end() || it->shape.empty()) return 1;  // bind_inputs reports it
    if (batch >= 0 && it->shape[0] != batch) return 1;
    batch = it->shape[0];
  }
  if (batch < 2) return 1;
  for (const Decision& d : decisions_) {
    if (d.threads == threads && d.per_thread == per_thread && same_shapes(d, inputs)) return d.parts;
  }
  Decision d;
  for (int id : net.inputs()) {
    d.shapes.push_back(std::find_if(inputs.begin(), inputs.end(), [&](const Executor::Input& in) {
                         return in.tensor == id;
                       })->shape);
  }
  d.threads = threads;
  d.per_thread = per_thread;
  const int parts = threads >= 2 ? thread_parts(batch, threads, per_thread) : serial_parts(d.shapes, batch);
  part_sizes(batch, parts, sizes_);
  d.parts = parts > 1 && splits(inputs, batch, sizes_) ? parts : 1;
  const int decided = d.parts;
  if (plan_capacity_ == 0) return decided;
  if (decisions_.size() < plan_capacity_) {
    decisions_.push_back(std::move(d));
  } else {
    decisions_[next_decision_ % decisions_.size()] = std::move(d);
    next_decision_ = (next_decision_ + 1) % decisions_.size();
  }
  return decided;
}

void BatchSplit::set_plan_capacity(size_t plans) {
  plan_capacity_ = plans;
  if (decisions_.size() > plans) decisions_.resize(plans);
  next_decision_ = 0;
  for (auto& state : states_) state->plans.set_capacity(plans);
}

int BatchSplit::thread_parts(int64_t batch, int threads, int per_thread) {
  // Parts that divide the batch: per_thread per thread if they do, else one
  // per thread; a remainder only where it is under a quarter of a part's
  // work (a batch of 9 at 2 threads: 5 + 4 against 4.5 each).
  for (int p : {threads * per_thread, threads}) {
    if (p <= batch && batch % p == 0) return p;
  }
  return batch >= 4 * int64_t{threads} ? threads : 1;
}

int BatchSplit::serial_parts(const std::vector<Shape>& shapes, int64_t batch) const {
  // Bytes per sample of the float32 activations (every float32 tensor
  // computed from an input's values, at this batch) and of the largest one.
  std::vector<Shape> inferred;
  try {
    inferred = ex_.infer_shapes(shapes);
  } catch (const Error&) {
    return 1;  // the unsplit run reports it
  }
  const Network& net = ex_.network();
  double sample_bytes = 0, largest = 0;
  for (size_t id = 0; id < inferred.size(); ++id) {
    if (!activation_[id] || inferred[id].empty() || net.tensor(static_cast<int>(id)).dtype != DataType::kFloat32) {
      continue;
    }
    const double bytes = static_cast<double>(shape_numel(inferred[id])) * sizeof(float) / static_cast<double>(batch);
    sample_bytes += bytes;
    largest = std::max(largest, bytes);
  }
  if (weight_bytes_ > sample_bytes || largest <= 0) return 1;
  const int64_t part_batch = std::max<int64_t>(1, static_cast<int64_t>(kSerialPartBytes / largest));
  if (part_batch >= batch) return 1;
  return static_cast<int>((batch + part_batch - 1) / part_batch);
}

void BatchSplit::run(const std::vector<Executor::Input>& inputs, int parts) {
  while (states_.size() < static_cast<size_t>(parts)) {
    states_.push_back(ex_.make_state(/*share_buffers=*/true));
    states_.back()->plans.set_capacity(plan_capacity_);
  }
  const int64_t batch = inputs.front().shape[0];
  part_sizes(batch, parts, sizes_);
  // Each part's inputs: its slice of every input, read in place.
  if (part_inputs_.size() < static_cast<size_t>(parts)) part_inputs_.resize(static_cast<size_t>(parts));
  int64_t first = 0;
  for (int p = 0; p < parts; ++p) {
    std::vector<Executor::Input>& part = part_inputs_[static_cast<size_t>(p)];
    part.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Executor::Input& in = inputs[i];
      Executor::Input& slice = part[i];
      const int64_t sample_bytes =
          shape_numel(in.shape) / std::max<int64_t>(1, batch) * static_cast<int64_t>(dtype_size(in.dtype));
      slice.tensor = in.tensor;
      slice.dtype = in.dtype;
      slice.shape.assign(in.shape.begin(), in.shape.end());  // keeps the slice's shape storage
      slice.shape[0] = sizes_[static_cast<size_t>(p)];
      slice.data = static_cast<const char*>(in.data) + first * sample_bytes;
      slice.borrow = in.borrow;
    }
    first += sizes_[static_cast<size_t>(p)];
  }
  g_split_runs.fetch_add(1, std::memory_order_relaxed);
  parallel_for(parts, 1, [this](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) ex_.run(*states_[static_cast<size_t>(p)], part_inputs_[static_cast<size_t>(p)]);
  });
}

void BatchSplit::release_inputs() {
  for (auto& s : states_) ex_.release_inputs(*s);
}

const Value& BatchSplit::value(int part, int tensor) const {
  return ex_.value(*states_.at(static_cast<size_t>(part)), tensor);
}

void set_batch_split_for_testing(int parts_per_thread) {
  g_parts_per_thread.store(std::max(0, parts_per_thread), std::memory_order_relaxed);
}

int64_t batch_split_runs_for_testing() { return g_split_runs.load(std::memory_order_relaxed); }

}  // namespace engine
}  // namespace int8rt
