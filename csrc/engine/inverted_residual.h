// Fused execution of int8 inverted-residual blocks (MobileNetV2 / V3,
// EfficientNet-Lite): consecutive int8 nodes
//   expand  1x1 QConv, stride 1, no pad  (C -> E channels, H x W)
//   QLut on the expansion's output (MobileNetV3's HardSwish)          optional
//   depthwise R x S QConv, any stride / pad / dilation (-> OH x OW)
//   QLut on the depthwise's output                                    optional
//   project 1x1 QConv, stride 1, no pad (E -> K), optional residual; its
//                  output int8, or float32 where it is a network head
//                  (lower_int8_conv_head.cc: no residual then)
// run image by image in bands of output rows: per band the expansion
// computes the input rows the band's depthwise windows need (keeping the
// rows the next band shares), the table maps them in place, the depthwise
// computes the band's rows (and its table maps them), the projection writes
// them out. The tensors between the nodes exist only as a per-thread window
// of rows that stays in L1/L2, instead of whole-batch tensors written to
// memory by one layer and read back by the next (at batch 8 the expanded
// tensor of a 112x112x96 layer is 9.6 MB).
//
// Not fused (measured, benchmarks/RESULTS.md section 37): MobileNetV3's
// squeeze-excite blocks (the gate needs the whole depthwise output, so only
// expansion -> depthwise could fuse: 0-4% slower per block at batch 8) and
// the first blocks without an expansion (depthwise -> projection: no gain).
//
// The runner calls the layers' own packed kernels with their own epilogues
// (qconv_stage.h) and their own tables (qlut_stage.h) on parts of the
// tensors: 1x1 convs over a run of rows, the depthwise through
// PackedConv::with_row_window copies (one per band geometry, made once).
// Every output is computed by the same kernel code with the same operands as
// unfused, so the block's output has the same bits
// (tests/test_inverted_residual.py compares with ==).
#pragma once

#include <memory>
#include <vector>

#include "engine/layer.h"
#include "engine/value.h"
#include "int8rt/network.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace engine {

class QConvStage;
class QLutStage;

// The layers of one block, in order; the tables are null where the block
// has none.
struct BlockStages {
  const QConvStage* expand = nullptr;
  const QLutStage* expand_table = nullptr;
  const QConvStage* dw = nullptr;
  const QLutStage* dw_table = nullptr;
  const QConvStage* project = nullptr;
};

class InvertedResidual {
 public:
  struct Band;  // output rows of one band and the depthwise copy for them
  explicit InvertedResidual(const BlockStages& stages);
  ~InvertedResidual();

  // Whether fusing pays at this batch: the whole batch's expanded tensor
  // would not stay in cache between the layers (kMinExpandedBytes, .cc) and
  // the expansion more than doubles the channels (kMaxUnfusedExpansion).
  bool pays(int64_t batch) const;
  // The shapes of the block's input and output for this batch (NHWC), into
  // `shape` (its storage reused: a run asks them for every block).
  void input_shape(int64_t batch, Shape& shape) const;
  void output_shape(int64_t batch, Shape& shape) const;
  // The output's type: the projection's (int8, or float32 for a head).
  DataType output_dtype() const;
  // x: the block's input [batch][H][W][C]; residual: the projection's
  // residual ([batch][OH][OW][K]) or null; y: [batch][OH][OW][K] of
  // output_dtype().
  void run(int batch, const int8_t* x, const int8_t* residual, void* y) const;

 private:
  void run_bands(int64_t image, size_t band_begin, size_t band_end, const int8_t* x, const int8_t* residual,
                 void* y) const;

  BlockStages s_;
  std::unique_ptr<kernels::PackedConv> expand_row_;   // expand over 1 x W images (one per input row)
  std::unique_ptr<kernels::PackedConv> project_row_;  // project over 1 x OW images
  std::vector<Band> bands_;
  int window_rows_ = 0;  // most expanded rows a band reads
};

// The inverted-residual blocks of an executor's network: which node heads
// a block (its expansion; the executor runs the other nodes with it). The
// nodes of a block are consecutive in `order`, QConv / QLut layers in the
// pattern above with static input sizes (int8 stages but for the
// projection), and the tensors between them have no other reader and are
// not network outputs. Blocks do not overlap.
struct FusedBlocks {
  std::vector<std::unique_ptr<InvertedResidual>> blocks;
  std::vector<std::vector<int>> nodes;  // per block: its nodes in order (the last writes the block's output)
  std::vector<int> head;  // by node id: index into blocks, or -1
};
FusedBlocks find_inverted_residuals(const Network& net, const std::vector<int>& order,
                                    const std::vector<std::unique_ptr<Layer>>& layers);

}  // namespace engine
}  // namespace int8rt
