// The typed contracts of the lowered int8 ops (engine/ops/int8/contracts.h):
// every struct survives to_attrs -> from_attrs unchanged, an absent
// attribute takes its documented default, and what an engine file could
// hold wrongly (an attribute of another kind, a non-positive scale, an
// activation without an int8 epilogue, a scale count that does not match
// the inputs) is refused with an error naming the node.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

Node node_of(const std::string& op, Attributes attrs, size_t inputs = 1) {
  Node n;
  n.name = "layer7";
  n.op = op;
  n.attrs = std::move(attrs);
  n.inputs.assign(inputs, 0);
  return n;
}

// The exception `read` throws, checking its type and that it names the node and `what`.
template <typename E, typename F>
void expect_refused(F read, const std::string& what) {
  try {
    read();
    FAIL() << "accepted a node with " << what;
  } catch (const E& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("node 'layer7'"), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
}

TEST(Int8Contracts, ConvRoundTrip) {
  QConvAttrs c;
  c.window = {{3, 5}, {2, 1}, {1, 2, 0, 1}};
  c.dilations = {1, 2};
  c.group = 4;
  c.in_scale = 0.0625;
  c.out_scale = 0.125;
  c.w_scales = {0.5, 0.25};
  c.act = {kernels::Activation::kClip, -1.5, 6.0};
  c.residual_scale = 0.03125;
  const QConvAttrs back = QConvAttrs::from_attrs(node_of(QConvAttrs::kOp, c.to_attrs()));
  EXPECT_EQ(back.window.kernel_shape, c.window.kernel_shape);
  EXPECT_EQ(back.window.strides, c.window.strides);
  EXPECT_EQ(back.window.pads, c.window.pads);
  EXPECT_EQ(back.dilations, c.dilations);
  EXPECT_EQ(back.group, 4);
  EXPECT_EQ(back.in_scale, c.in_scale);
  EXPECT_EQ(back.out_scale, c.out_scale);
  EXPECT_EQ(back.w_scales, c.w_scales);
  EXPECT_EQ(back.act.kind, kernels::Activation::kClip);
  EXPECT_EQ(back.act.min, -1.5);
  EXPECT_EQ(back.act.max, 6.0);
  EXPECT_EQ(back.residual_scale, c.residual_scale);
}

TEST(Int8Contracts, ConvDefaultsWhenAbsent) {
  const QConvAttrs c = QConvAttrs::from_attrs(node_of(QConvAttrs::kOp, {}));
  EXPECT_TRUE(c.window.kernel_shape.empty());  // the weights' dimensions then
  EXPECT_EQ(c.window.strides, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(c.window.pads, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(c.group, 1);
  EXPECT_EQ(c.act.kind, kernels::Activation::kNone);
  EXPECT_TRUE(std::isinf(c.act.min) && c.act.min < 0 && std::isinf(c.act.max) && c.act.max > 0);
  EXPECT_EQ(c.residual_scale, 0.0);
  QConvAttrs none;  // no residual: no residual_scale attribute written
  EXPECT_FALSE(none.to_attrs().has("residual_scale"));
}

TEST(Int8Contracts, GemmReluAndFloatOutput) {
  QGemmAttrs g;
  g.in_scale = 0.5;
  g.out_scale = 0.0;  // float32 output
  g.w_scales = {1.0, 2.0, 4.0};
  g.act = {kernels::Activation::kRelu, 0.0, INFINITY};
  const QGemmAttrs back = QGemmAttrs::from_attrs(node_of(QGemmAttrs::kOp, g.to_attrs()));
  EXPECT_EQ(back.out_scale, 0.0);
  EXPECT_EQ(back.w_scales, g.w_scales);
  EXPECT_EQ(back.act.kind, kernels::Activation::kRelu);
  EXPECT_EQ(g.to_attrs().get_string("act", ""), "relu");
}

TEST(Int8Contracts, PoolsWriteOnlyWhatTheirOpReads) {
  QPoolAttrs p;
  p.window = {{2, 2}, {2, 2}, {0, 0, 1, 1}};
  p.in_scale = 0.25;
  p.out_scale = 0.5;
  p.count_include_pad = true;
  p.kind = QPoolAttrs::Kind::kMax;
  EXPECT_FALSE(p.to_attrs().has("in_scale"));  // max pooling keeps the input's scale
  p.kind = QPoolAttrs::Kind::kGlobalAverage;
  EXPECT_FALSE(p.to_attrs().has("kernel_shape"));
  p.kind = QPoolAttrs::Kind::kAverage;
  const QPoolAttrs back = QPoolAttrs::from_attrs(node_of(p.op(), p.to_attrs()));
  EXPECT_EQ(back.kind, QPoolAttrs::Kind::kAverage);
  EXPECT_TRUE(back.count_include_pad);
  EXPECT_EQ(back.window.pads, p.window.pads);
  EXPECT_EQ(back.in_scale, 0.25);
  EXPECT_EQ(back.out_scale, 0.5);
  EXPECT_EQ(QPoolAttrs::from_attrs(node_of(QPoolAttrs::kMaxOp, {})).kind, QPoolAttrs::Kind::kMax);
  expect_refused<InvalidArgument>([] { QPoolAttrs::from_attrs(node_of(QPoolAttrs::kGlobalAverageOp, {})); },
                                  "positive in_scale");
}

TEST(Int8Contracts, EltwiseRoundTrips) {
  const QAddAttrs add{0.25, 0.5, 0.75, true};
  const QAddAttrs a = QAddAttrs::from_attrs(node_of(QAddAttrs::kOp, add.to_attrs(), 2));
  EXPECT_EQ(a.a_scale, 0.25);
  EXPECT_EQ(a.b_scale, 0.5);
  EXPECT_EQ(a.out_scale, 0.75);
  EXPECT_TRUE(a.relu);
  const QConcatAttrs cat{{0.125, 0.25, 0.5}, 1.0};
  EXPECT_EQ(QConcatAttrs::from_attrs(node_of(QConcatAttrs::kOp, cat.to_attrs(), 3)).in_scales, cat.in_scales);
  const QLutAttrs lut{{0.5, 0.25}, "Mul+Add"};
  const QLutAttrs l = QLutAttrs::from_attrs(node_of(QLutAttrs::kOp, lut.to_attrs()));
  EXPECT_EQ(l.ops, "Mul+Add");
  EXPECT_EQ(l.in_scale, 0.5);
  const QChannelMulAttrs gate{{0.5, 0.125}};
  EXPECT_EQ(QChannelMulAttrs::from_attrs(node_of(QChannelMulAttrs::kOp, gate.to_attrs(), 2)).out_scale, 0.125);
  const ConvertAttrs q{0.0078125};
  EXPECT_EQ(ConvertAttrs::from_attrs(node_of(ConvertAttrs::kQuantizeOp, q.to_attrs())).scale, q.scale);
}

TEST(Int8Contracts, HostileAttributesAreRefusedNamingTheNode) {
  Attributes wrong_kind;
  wrong_kind.set("in_scale", Attribute::of_string("0.5"));
  expect_refused<InvalidArgument>([&] { QConvAttrs::from_attrs(node_of(QConvAttrs::kOp, wrong_kind)); }, "in_scale");
  expect_refused<InvalidArgument>([&] { QLutAttrs::from_attrs(node_of(QLutAttrs::kOp, wrong_kind)); }, "in_scale");

  Attributes gelu;
  gelu.set("act", Attribute::of_string("gelu"));
  expect_refused<NotSupported>([&] { QGemmAttrs::from_attrs(node_of(QGemmAttrs::kOp, gelu)); }, "'gelu'");
  Attributes add = QAddAttrs{0.5, 0.5, 0.5, false}.to_attrs();
  add.set("act", Attribute::of_string("clip"));
  expect_refused<NotSupported>([&] { QAddAttrs::from_attrs(node_of(QAddAttrs::kOp, add, 2)); }, "'clip'");

  Attributes zero_b = QAddAttrs{0.5, 0.0, 0.5, false}.to_attrs();
  expect_refused<InvalidArgument>([&] { QAddAttrs::from_attrs(node_of(QAddAttrs::kOp, zero_b, 2)); }, "b_scale");
  expect_refused<InvalidArgument>(
      [] { ConvertAttrs::from_attrs(node_of(ConvertAttrs::kDequantizeOp, ConvertAttrs{-1.0}.to_attrs())); },
      "scale must be > 0");
  expect_refused<InvalidArgument>(
      [] { QChannelMulAttrs::from_attrs(node_of(QChannelMulAttrs::kOp, QChannelMulAttrs{{0.5, 0.0}}.to_attrs())); },
      "positive in_scale and out_scale");
  const Attributes two_scales = QConcatAttrs{{0.5, 0.5}, 1.0}.to_attrs();
  expect_refused<InvalidArgument>([&] { QConcatAttrs::from_attrs(node_of(QConcatAttrs::kOp, two_scales, 3)); },
                                  "one input scale per input");
  Attributes empty_kernel;
  empty_kernel.set("kernel_shape", Attribute::of_ints({}));
  expect_refused<InvalidArgument>([&] { QConvAttrs::from_attrs(node_of(QConvAttrs::kOp, empty_kernel)); },
                                  "kernel_shape");
}

}  // namespace
}  // namespace engine
}  // namespace int8rt
