// A Conv whose output is a network output (MTCNN PNet's conv4_2 bbox
// regression) or only leaves the network through data movement (PNet's
// conv4_1 -> Flatten / Transpose -> logits, a detector's head conv ->
// Reshape -> output) writes float32 from its accumulators: int8rt.QConv with
// no output scale (contracts.h), float32 NHWC, then a float32 Transpose to
// the tensor's logical NCHW order. The int8 form it replaces (QConv [-> int8
// moves] -> Dequantize) rounded the network's outputs to the head's int8
// grid once more (RESULTS_accuracy.md acc56, acc64). The rule is
// leaves_as_float_only (lower_int8.cc), the one a Gemm head
// (lower_int8_linear.cc) and an averaging pool (lower_int8_spatial.cc) ask.
// A Conv with a fused residual or PRelu, or whose output has a zero point,
// or that an int8 layer also reads, keeps its int8 output. A float32 QConv
// is no int8 stage (qconv_stage.h); the inverted-residual runner
// (inverted_residual.h) still drives one as a block's projection, rows of
// float32, the layers' own bytes (tests/test_inverted_residual.py). Tests
// whose oracle reads a conv's int8 output keep it int8 with an int8 reader
// (a 1x1 MaxPool: test_int8_moves.py, test_int8_resize.py, ...).
#include <string>
#include <utility>
#include <vector>

#include "engine/lower_int8_lowerer.h"

namespace int8rt {
namespace engine {

bool Lowerer::conv_head_writes_float(int y, bool residual, bool prelu) const {
  return !residual && !prelu && zero_point_of(y) == 0 && leaves_as_float_only(y);
}

void Lowerer::add_conv_float_output(const std::string& name, std::vector<std::string> sources,
                                    const std::vector<int>& ins, Attributes a, int y) {
  const Tensor& yt = src_.tensor(y);
  const std::string nhwc = yt.name + "::nhwc_f32";
  const int out = dst_.add_node(QConvAttrs::kOp, name, ins, std::move(a), {nhwc})[0];
  if (yt.shape.size() == 4) dst_.tensor(out).shape = {yt.shape[0], yt.shape[2], yt.shape[3], yt.shape[1]};
  plan_.layer(name, QConvAttrs::kOp, std::move(sources));
  Attributes perm;
  perm.set("perm", Attribute::of_ints({0, 3, 1, 2}));
  const int f = dst_.add_node("Transpose", name + "::to_nchw", {out}, std::move(perm), {yt.name})[0];
  dst_.tensor(f).shape = yt.shape;
  // A float32 layout change, no int8 layer: the int8 plan does not list it (as a Dequantize's own transpose).
  float_id_[y] = f;
  note("conv '" + name + "' writes '" + yt.name + "' as float32 from its accumulators (it only leaves the network)");
}

}  // namespace engine
}  // namespace int8rt
