// Building an engine from a network: graph passes, FP32 calibration over the
// calibrator's batches, INT8 lowering (TensorRT's IBuilder + IBuilderConfig +
// IInt8Calibrator, in C++).
//
// Two ways in:
//  - build_engine(network, config, calibrator): one call, the C++ calibrator
//    below supplies batches (a C++ program needs no Python);
//  - the Builder's steps (Python drives these so that user calibrators stay
//    in Python): Builder(...), calibrate_batch(...) per batch with a
//    calib::Collector, then build(scales).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/engine.h"
#include "int8rt/network.h"

namespace int8rt {

enum class Precision { kFloat32, kInt8 };

struct BuilderConfig {
  Precision precision = Precision::kInt8;
  // Layer (node) name -> "fp32" keeps that layer in float32; "bf16" keeps it
  // out of int8 too and runs it in BF16 (a Conv, Gemm or MatMul with
  // constant weights; another layer stays float32 with a warning in the
  // report). Names are those of the optimized network (ONNX node names).
  std::map<std::string, std::string> layer_precisions;
  // Float layers that have a BF16 kernel (Conv, Gemm, MatMul with constant
  // weights: engine/bf16_layers.h) run in BF16: TensorRT's BuilderFlag::kBF16.
  // With Precision::kInt8 these are the layers left out of int8; with
  // kFloat32, all of them. BF16 products, FP32 accumulation.
  bool bf16 = false;
  // FP32 engines: consecutive FP32 convs (and the element-wise layers
  // between them) keep their tensors channels-last (NHWC), converted only at
  // the edges of such a region (engine/f32_layout.h); the same output bits.
  // Off by default: measured no faster on ResNet-50 (benchmarks/RESULTS.md
  // section 113).
  bool channels_last = false;
  // FP32 engines: runs of 1x1 and depthwise convs (with the element-wise
  // layers, squeeze-and-excitation scales and global average pools between
  // them) keep their tensors channel-blocked (NCHW16c), converted only at
  // the edges of such a region (engine/f32_blocked.h); outputs within float
  // rounding of NCHW's. Applied before channels_last where both are set.
  bool channel_blocked = false;
  bool optimize = true;  // run the graph passes (BN folding, fusions, ...)
  // INT8: element-wise float chains between int8 tensors (hardswish as
  // Add/Clip/Mul/Div, x*a+b, swish...) become one 256-entry int8 table
  // (int8rt.QLut) whose output bytes equal the float chain's quantized ones.
  bool pointwise_tables = true;
  // INT8: a squeeze-and-excitation block whose gated tensor is an
  // element-wise chain of an int8 tensor x (x * gate[N, C, 1, 1], the chain
  // hardswish or swish) runs without float layers: the gate
  // (int8rt.QChannelMul) and the global pool beside it read x through the
  // chain's 256 float values, computing what the float layers would, to the
  // byte (benchmarks/RESULTS.md section 25b). False keeps the chain, pool
  // and gate in float32.
  bool int8_gates = true;
  // INT8: a MatMul of two activations (attention's Q K^T and its product
  // with V) runs in int8 (int8rt.QMatMul, per-tensor scales for both
  // operands) when both have scales. False keeps it in float32.
  bool int8_matmul_pairs = true;
  // INT8: tensors that are never negative (a Conv / Gemm output through a
  // fused Relu or Clip(min >= 0), and max pools / data movement of such
  // tensors) are held unsigned: zero point -128, scale threshold / 255
  // (quantization.h), where every layer reading them takes a zero point
  // exactly (Conv, Gemm, MatMul with constant weights, Add, max pool, data
  // movement; engine/lower_int8_zero_points.cc). Others stay symmetric. The
  // scales given to build() stay the symmetric ones (the calibration cache).
  // This switch or asymmetric_activations also holds the softmax
  // probabilities inside a fused int8rt.QAttention on that unsigned grid.
  bool unsigned_activations = false;
  // INT8 only: an element-wise table's output whose 256 float values have a
  // least value lo in (-threshold, 0) (SiLU, HardSwish, GELU, Mish, ELU...)
  // is held over [lo, threshold]: scale (threshold - lo) / 255, the integer
  // zero point mapping lo to -128 (quant::lower_bounded_grid), under the
  // same readers' condition as unsigned_activations; others stay symmetric.
  // So is a PRelu's output folded into its Conv (per-channel slopes), lo the
  // least slope[k] * -(pre-activation's calibrated channel k max |x|) from
  // channel_ranges (none from a cache without its sidecar: symmetric).
  bool asymmetric_activations = false;
  // INT8 only: a tensor whose channels' calibrated ranges spread widely
  // (a HardSwish after a folded BatchNorm: 0.09 to 38.5) gets one scale per
  // channel where its writer can write and its readers can read them
  // (engine/lower_int8_channel_grids.cc): channel k's threshold is
  // min(its calibration max |x|, the tensor's calibrated threshold). The
  // per-channel ranges come from calibrate_batch's data (channel_ranges);
  // a build from a cache alone has none and stays per tensor.
  bool channel_activations = true;
  // Where the engine runs: "cpu" or "cuda" (a build with the CUDA backend and
  // a GPU; the Builder refuses other devices with NotSupported before any
  // calibration). Calibration itself runs on the CPU either way.
  std::string device = "cpu";
  // A pre-quantized model (QuantizeLinear / DequantizeLinear on activations)
  // built from its own scales and zero points, with no calibration: its
  // activation Q -> DQ pairs stay in the graph for the INT8 lowering, which
  // runs them as the model defines (PassOptions::keep_activation_qdq). False:
  // symmetric pairs become calibration hints and calibration decides.
  bool keep_activation_qdq = false;
};

// The IInt8EntropyCalibrator2 contract in C++: build_engine() calls it on the
// building thread only, never concurrently, and does not keep the pointer
// after it returns (the caller owns the calibrator).
//
// Order of calls in build_engine():
//  1. read_calibration_cache(): a non-empty cache whose header names this
//     calibrator's algorithm (get_algorithm()) supplies the scales, and then
//     neither get_batch_size() nor get_batch() is called (as in TensorRT). A
//     cache of another algorithm is ignored; a malformed one is a FormatError.
//  2. get_batch_size(), then get_batch() until it returns false. The first
//     call must deliver a batch (zero batches is InvalidArgument).
//  3. write_calibration_cache() with the cache computed from the batches.
class IInt8Calibrator {
 public:
  virtual ~IInt8Calibrator() = default;
  // Samples per batch, >= 1. When > 1, every tensor's first axis must equal it.
  virtual int get_batch_size() const = 0;
  // Appends one tensor per name to `batch` (empty on entry), in the order of
  // `names` (the network's inputs), each float32 with data.size() equal to the
  // product of its shape; returns false when the data is exhausted. A wrong
  // count, size or batch axis is InvalidArgument naming the batch and input.
  virtual bool get_batch(const std::vector<std::string>& names, std::vector<HostTensor>& batch) = 0;
  // A previously written cache (TensorRT's text format), or "" for none.
  virtual std::string read_calibration_cache() { return ""; }
  // Receives the cache after calibration; store it to skip the next one.
  virtual void write_calibration_cache(const std::string& cache) { (void)cache; }
  // kEntropy is TensorRT's EntropyCalibration2 (IInt8EntropyCalibrator2).
  virtual calib::Method get_algorithm() const { return calib::Method::kEntropy; }
  virtual calib::MethodOptions method_options() const { return {}; }
};

class Builder {
 public:
  // Validates the network, infers static shapes and runs the graph passes.
  Builder(Network network, BuilderConfig config);
  ~Builder();

  const Network& optimized_network() const;
  const std::vector<std::string>& report() const { return report_; }
  // Appends to report() each of `lines` it does not hold yet, in order: what
  // calibration run by other builders over the same network reported (Ray
  // workers: python/int8rt/calib/distributed.py), so the engine says it too.
  void add_report_lines(const std::vector<std::string>& lines);
  std::vector<std::string> input_names() const;
  // Tensors that calibration observes: network inputs and float node outputs,
  // then the float tensors of the If branches calibration batches have taken
  // so far, named "<If node>/<then_branch|else_branch>/<tensor>"
  // (engine/ops/control_flow.h, branch_scope).
  std::vector<std::string> calibration_tensors() const;

  // Runs the optimized network in float32 on one batch and streams each
  // calibration tensor into `collector` (named by tensor): the top level's,
  // and those of the If branches this batch takes, under their scoped names
  // (a branch no batch takes gets no histogram, and the lowering leaves it
  // float32).
  void calibrate_batch(const std::map<std::string, TensorView>& inputs, calib::Collector& collector);

  // Streams rows `rows` (indices along axis 0, ascending, each once) of the
  // last calibrate_batch's calibration tensors into `collector`, as
  // calibrate_batch on a batch of those rows alone would (the float32
  // network computes each sample alone: its kernels are batch-invariant),
  // without running the network again. For the auto calibrator, whose
  // choice reads histograms of the samples not held out
  // (python/int8rt/accuracy/holdout.py). Only where the batch is every
  // tensor's leading axis: by the layers' shape inference at the batch's
  // input shapes, every network input's and calibration tensor's axis 0
  // is the batch's row count, and twice that with the batch doubled, the
  // other dimensions unchanged (other dynamic dimensions, as a detector's
  // image size, may be there: the batch fixes them); otherwise nothing is
  // observed and it returns false (the caller runs the rows as a batch);
  // false also when the batch took an If branch (its tensors' rows are not
  // traced). InvalidArgument before any batch, or for a row out of range or
  // out of order.
  bool observe_rows(const std::vector<int64_t>& rows, calib::Collector& collector) const;

  // Rows `rows` (as observe_rows takes them) of float32 tensor `name` as the
  // last calibrate_batch computed it: a calibration tensor or a network
  // output, whose leading axis holds the batch's rows, under observe_rows's
  // conditions on the inputs. `allocate(shape)` ({rows.size(), ...}) returns
  // where the rows go (contiguous). For the auto calibrator, whose held-out
  // float32 reference and bias correction's layer inputs come from the
  // calibration pass instead of another float32 pass over the same samples
  // (python/int8rt/accuracy/pass_values.py). Returns false, copying nothing,
  // where the tensor is unknown, not kept or not batch-leading; InvalidArgument
  // as observe_rows.
  bool copy_last_rows(const std::string& name, const std::vector<int64_t>& rows,
                      const std::function<float*(const std::vector<int64_t>&)>& allocate) const;

  // The whole last calibration batch, whatever its layout (a fixed batch,
  // inputs that are not batch-first): observe_last streams its calibration
  // tensors into `collector` exactly as that calibrate_batch streamed them
  // into its own, and copy_last copies float32 tensor `name` (a calibration
  // tensor or a network output; false where it is neither) into
  // `allocate(its shape)`. For the auto calibrator on such networks, where
  // observe_rows and copy_last_rows cannot cut rows: its own histograms, the
  // held-out float32 reference and bias correction's layer inputs come from
  // the calibration pass (python/int8rt/accuracy/pass_values.py).
  // InvalidArgument before any batch, or after one that failed.
  void observe_last(calib::Collector& collector) const;
  bool copy_last(const std::string& name, const std::function<float*(const std::vector<int64_t>&)>& allocate) const;

  // Adds `delta` (one value per output channel) to the bias of the Conv or
  // Gemm node `node` of the optimized network, which then reads a new
  // constant "<node>::corrected_bias" (a zero bias is assumed where it had
  // none). A MatMul with a constant [K, N] B: to the constant of the Add
  // that alone reads its output (a Linear's bias, which the int8 lowering
  // folds into the QGemm); where no such Add reads it, one is inserted
  // after the MatMul (it takes over the MatMul's output tensor, which the
  // MatMul then writes as "<node>::unbiased"). An LSTM, GRU or RNN: one
  // value per gate row of W ([dirs * gates * hidden]), added to B's Wb half
  // (B made where absent). A node inside an If branch is named under the branch's scope
  // ("<If>/then_branch/<node>", branch_scope.h; nested Ifs join scopes). For bias correction between calibration and build
  // (python/int8rt/accuracy/bias_correction.py). InvalidArgument for an
  // unknown node, another op, non-constant weights or bias, or a wrong length.
  void add_to_bias(const std::string& node, const std::vector<float>& delta);

  // One constant input of a node of the optimized network replaced: node
  // name, input index, new float32 data (as many values as the old constant).
  // Each replacement is a new constant "<node>::equalized<index>" that only
  // that node reads, so a constant shared with other nodes stays as it was.
  // For the float32-equivalent rewrites run before calibration (cross-layer
  // equalization, SmoothQuant: python/int8rt/accuracy/equalize.py); the
  // float32 executor that calibration runs is remade once for the whole list.
  // InvalidArgument after the first calibration batch, for an unknown node,
  // an input that is not a float32 constant, or a wrong length.
  struct ConstantUpdate {
    std::string node;
    int input = 0;
    std::vector<float> data;
  };
  void set_node_constants(const std::vector<ConstantUpdate>& updates);

  // Inserts y = x * factors (factors along x's last axis, one per element
  // of it) in front of the listed consumer nodes of float32 tensor `x`, which
  // then read y ("<x>::smoothed"); x's other consumers keep reading x. For
  // SmoothQuant (python/int8rt/accuracy/smoothquant.py), whose consumers'
  // weights take the inverse factors through set_node_constants. Same rules
  // as set_node_constants (before calibration); InvalidArgument for an
  // unknown tensor or consumer, a consumer not reading x, or a wrong length.
  void insert_channel_scale(const std::string& x, const std::vector<std::string>& consumers,
                            const std::vector<float>& factors);

  // Without a profile, a network with dynamic dimensions beyond the batch
  // gets its tensors' shapes (what the int8 lowering plans with: ranks,
  // static dimensions, which follow the inputs) from the first calibration
  // batch's input shapes (engine/builder.cc, probes_from_batch).
  // calibration_shapes returns those input shapes (input name -> shape),
  // or nothing where no batch gave them (a profile, only the batch dynamic,
  // no batch yet). set_calibration_shapes takes the shapes from the given
  // input shapes in the same way, running nothing: for builders of the same
  // network that see no calibration batch (the auto calibrator's trials,
  // bias correction, automatic mixed precision, the driver of sharded
  // calibration), so that they lower as the calibrated builder does. It does nothing where the shapes are known
  // already (a profile, only the batch dynamic, a batch or call before);
  // InvalidArgument for a name that is not an input, a missing input, or a
  // shape the network cannot take (the message naming the input or layer).
  std::map<std::string, std::vector<int64_t>> calibration_shapes() const;
  void set_calibration_shapes(const std::map<std::string, std::vector<int64_t>>& shapes);

  // Per-channel max |x| (axis 1) of every rank-4 float32 calibration tensor
  // over the batches calibrate_batch has run, for
  // BuilderConfig::channel_activations. set_channel_ranges fixes them: later
  // batches (the auto calibrator's passes over held-out samples) leave them
  // as they are, and another builder of the same network gets the ranges the
  // calibration measured (automatic mixed precision, bias correction). A
  // rewrite of the network (set_node_constants, insert_channel_scale) drops
  // them and the next batches measure again. Lengths are the channel counts.
  // A tensor whose axis-1 count changes between batches (a sequence axis) has
  // none, for good; varied_channel_counts names them (sharded calibration
  // drops them from the merge as one process does).
  std::map<std::string, std::vector<float>> channel_ranges() const;
  std::set<std::string> varied_channel_counts() const;
  void set_channel_ranges(const std::map<std::string, std::vector<float>>& ranges);

  // The fewest elements on the last axis of each float32 calibration tensor
  // of rank >= 2 over the batches calibrate_batch has run: attention
  // probabilities on a dynamic key axis lower with a grid that follows the
  // key count below it (engine/ops/int8/probs_keys.h). set_calibration_keys
  // replaces them (another builder of the same network: automatic mixed
  // precision, bias correction; the driver of sharded calibration; a build
  // from a cache whose sidecar holds them); later batches only lower a
  // count.
  std::map<std::string, int64_t> calibration_keys() const;
  void set_calibration_keys(const std::map<std::string, int64_t>& keys);

  // Lowers with the given scales (ignored for float32) and creates the engine.
  std::shared_ptr<Engine> build(const std::map<std::string, float>& scales);

 private:
  // After a rewrite of the optimized network: compacts it and remakes the
  // float32 executor calibration runs (and what it observes).
  void remake_fp32();
  // The last batch's calibration tensors into `collector` (calibrate_batch, observe_last).
  void stream_last(calib::Collector& collector) const;
  // The network's shapes from these input shapes (network input order):
  // calibrate_batch's first batch, set_calibration_shapes.
  void take_shapes_from(const std::vector<std::vector<int64_t>>& shapes);
  // The last batch's per-channel max |x| into channel_ranges (calibrate_batch).
  void record_channel_ranges();
  // The last batch's last-axis lengths into calibration_keys (calibrate_batch).
  void record_calibration_keys();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  BuilderConfig config_;
  std::vector<std::string> report_;
};

// One call: passes, calibration (cache honoured as in TensorRT: a present
// cache with the calibrator's algorithm skips calibration), lowering.
// `calibrator` may be null for Precision::kFloat32; an INT8 build without one
// is InvalidArgument. Errors are int8rt::Error subclasses; exceptions thrown
// by the calibrator itself propagate unchanged.
std::shared_ptr<Engine> build_engine(Network network, const BuilderConfig& config,
                                     IInt8Calibrator* calibrator);

}  // namespace int8rt
