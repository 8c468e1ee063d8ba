// Fusion passes: fuse_activation, fuse_residual, fuse_horizontal and the
// default pipeline. Checks node ops, the int8rt_* attribute contract of
// passes.h, and that every surviving tensor name existed before the passes.
#include <limits>

#include "pass_test_util.h"

namespace int8rt {
namespace {

using namespace testing_util;

int conv1x1(Network& net, int x, int64_t c_in, int64_t m, uint32_t seed, const std::string& name, bool bias = true) {
  return net.add_convolution(x, m, {1, 1}, random_floats(m * c_in, seed),
                             bias ? random_floats(m, seed + 100) : std::vector<float>{}, {1, 1}, {0, 0, 0, 0}, 1,
                             {1, 1}, name);
}

TEST(FuseActivation, ConvRelu) {
  Network net;
  int x = net.add_input("x", {1, 2, 4, 4});
  int c = conv1x1(net, x, 2, 3, 1, "conv");
  net.mark_output(net.add_node("Relu", "relu", {c}, {}, {"relu_out"})[0]);
  PassReport report;
  fuse_activation(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  const Node& n = only(net, "Conv");
  EXPECT_EQ(n.attrs.get_string("int8rt_activation", ""), "Relu");
  EXPECT_EQ(out_name(net, n), "relu_out");
  EXPECT_EQ(net.tensor(net.outputs()[0]).name, "relu_out");
  ASSERT_EQ(report.lines.size(), 1u);
  EXPECT_EQ(report.lines[0], "fused Relu 'relu' into Conv 'conv'");
}

TEST(FuseActivation, GemmClipBoundsAndOmittedMin) {
  Network net;
  int x = net.add_input("x", {1, 3});
  int g1 = net.add_fully_connected(x, 2, random_floats(6, 2), {}, "fc1");
  net.mark_output(net.add_activation(g1, "Clip", 0.0, 6.0, "relu6"));
  int g2 = net.add_fully_connected(x, 2, random_floats(6, 3), {}, "fc2");
  int hi = net.add_constant("hi", {}, {0.1f});
  net.mark_output(net.add_node("Clip", "cap", {g2, -1, hi}, {}, {"capped"})[0]);
  int g3 = net.add_fully_connected(x, 2, random_floats(6, 4), {}, "fc3");
  Attributes la;
  la.set("alpha", Attribute::of_float(0.2));
  net.mark_output(net.add_node("LeakyRelu", "leaky", {g3}, la, {"leaky_out"})[0]);
  Network without_leaky = net;
  fuse_activation(without_leaky, nullptr);
  EXPECT_EQ(count_op(without_leaky, "LeakyRelu"), 1);  // opt-in only
  fuse_activation(net, nullptr, /*leaky_relu=*/true);
  ASSERT_EQ(net.nodes().size(), 3u);
  for (const Node& n : net.nodes()) {
    ASSERT_EQ(n.op, "Gemm");
    if (n.name == "fc1") {
      EXPECT_EQ(n.attrs.get_string("int8rt_activation", ""), "Clip");
      EXPECT_EQ(n.attrs.get_float("int8rt_clip_min", -1), 0.0);
      EXPECT_EQ(n.attrs.get_float("int8rt_clip_max", -1), 6.0);
    } else if (n.name == "fc2") {
      EXPECT_EQ(n.attrs.get_string("int8rt_activation", ""), "Clip");
      EXPECT_FALSE(n.attrs.has("int8rt_clip_min"));
      EXPECT_EQ(n.attrs.get_float("int8rt_clip_max", -1), static_cast<double>(0.1f));  // the float32 bound
      EXPECT_EQ(out_name(net, n), "capped");
    } else {
      EXPECT_EQ(n.attrs.get_string("int8rt_activation", ""), "LeakyRelu");
      EXPECT_EQ(n.attrs.get_float("int8rt_leaky_alpha", -1), static_cast<double>(0.2f));
    }
  }
}

TEST(FuseActivation, NotWhenIntermediateHasOtherReaderOrIsOutput) {
  Network net;
  int x = net.add_input("x", {1, 2, 4, 4});
  int c1 = conv1x1(net, x, 2, 2, 5, "c1");
  net.mark_output(net.add_activation(c1, "Relu"));
  net.mark_output(net.add_activation(c1, "Sigmoid"));
  int c2 = conv1x1(net, x, 2, 2, 6, "c2");
  net.mark_output(c2);
  net.mark_output(net.add_activation(c2, "Relu"));
  int c3 = conv1x1(net, x, 2, 2, 7, "c3");
  net.mark_output(net.add_activation(c3, "Tanh"));  // not fusable
  fuse_activation(net, nullptr);
  EXPECT_EQ(count_op(net, "Relu"), 2);
  for (const Node& n : net.nodes()) EXPECT_FALSE(n.attrs.has("int8rt_activation")) << n.name;
}

// conv -> Add(., skip) -> Relu with known equal shapes.
Network residual_net(int* skip_out) {
  Network net;
  int x = net.add_input("x", {-1, 2, 4, 4});
  int skip = net.add_node("Relu", "pre", {x}, {}, {"skip"})[0];
  net.set_shape(skip, {-1, 2, 4, 4});
  int c = conv1x1(net, skip, 2, 2, 8, "conv");
  net.set_shape(c, {-1, 2, 4, 4});
  int a = net.add_node("Add", "add", {c, skip}, {}, {"sum"})[0];
  net.set_shape(a, {-1, 2, 4, 4});
  net.mark_output(net.add_node("Relu", "relu", {a}, {}, {"y"})[0]);
  *skip_out = skip;
  return net;
}

TEST(FuseResidual, ConvAddReluBecomesOneConv) {
  int skip = -1;
  Network net = residual_net(&skip);
  const std::string bias_name = in_name(net, only(net, "Conv"), 2);
  PassOptions opts;
  opts.fuse_residual = true;
  PassReport report;
  run_default_passes(net, opts, &report);
  ASSERT_EQ(net.nodes().size(), 2u);
  const Node& n = only(net, "Conv");
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(in_name(net, n, 2), bias_name);
  EXPECT_EQ(n.attrs.get_int("int8rt_residual", -1), 3);
  EXPECT_EQ(in_name(net, n, 3), "skip");
  EXPECT_EQ(n.attrs.get_string("int8rt_activation", ""), "Relu");
  EXPECT_EQ(out_name(net, n), "y");
  EXPECT_EQ(report.lines[0], "fused residual Add 'add' into Conv 'conv'");
}

TEST(FuseResidual, OnByDefaultCanBeTurnedOffAndNeedsEqualShapes) {
  int skip = -1;
  Network net = residual_net(&skip);
  run_default_passes(net, PassOptions(), nullptr);
  EXPECT_EQ(count_op(net, "Add"), 0);
  Network off = residual_net(&skip);
  PassOptions no_residual;
  no_residual.fuse_residual = false;
  run_default_passes(off, no_residual, nullptr);
  EXPECT_EQ(count_op(off, "Add"), 1);
  Network net2 = residual_net(&skip);
  net2.set_shape(skip, {-1, 2, 1, 1});  // broadcasting add: not folded
  fuse_residual(net2, nullptr);
  EXPECT_EQ(count_op(net2, "Add"), 1);
}

TEST(FuseHorizontal, SiblingsMergedWithSplitKeepingNames) {
  Network net;
  int x = net.add_input("x", {-1, 3, 5, 5});
  int a = conv1x1(net, x, 3, 2, 10, "a");
  int b = conv1x1(net, x, 3, 4, 20, "b", /*bias=*/false);
  int c = net.add_convolution(x, 2, {3, 3}, random_floats(54, 30), {}, {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "c3x3");
  for (int t : {a, b}) net.set_shape(t, {-1, net.tensor(net.nodes()[net.tensor(t).producer].inputs[1]).shape[0], 5, 5});
  std::vector<float> wa = net.tensor(net.nodes()[0].inputs[1]).f32, ba = net.tensor(net.nodes()[0].inputs[2]).f32;
  std::vector<float> wb = net.tensor(net.nodes()[1].inputs[1]).f32;
  const std::string a_name = net.tensor(a).name, b_name = net.tensor(b).name;
  net.mark_output(net.add_activation(a, "Sigmoid"));
  net.mark_output(b);
  net.mark_output(c);
  Network no_split = net;
  fuse_horizontal(no_split, nullptr, /*allow_split=*/false);
  EXPECT_EQ(count_op(no_split, "Conv"), 3);
  PassReport report;
  fuse_horizontal(net, &report, /*allow_split=*/true);
  ASSERT_EQ(count_op(net, "Conv"), 2);
  const Node& split = only(net, "Split");
  ASSERT_EQ(split.outputs.size(), 2u);
  EXPECT_EQ(out_name(net, split, 0), a_name);
  EXPECT_EQ(out_name(net, split, 1), b_name);
  EXPECT_EQ(split.attrs.get_int("axis", 0), 1);
  EXPECT_EQ(net.tensor(split.inputs[1]).i64, (std::vector<int64_t>{2, 4}));
  const Node& wide = net.nodes()[net.tensor(split.inputs[0]).producer];
  EXPECT_EQ(wide.name, "a+b");
  EXPECT_EQ(net.tensor(split.inputs[0]).shape, (std::vector<int64_t>{-1, 6, 5, 5}));
  std::vector<float> w = wa;
  w.insert(w.end(), wb.begin(), wb.end());
  EXPECT_EQ(net.tensor(wide.inputs[1]).f32, w);
  EXPECT_EQ(net.tensor(wide.inputs[1]).shape, (std::vector<int64_t>{6, 3, 1, 1}));
  std::vector<float> bias = ba;
  bias.insert(bias.end(), 4, 0.f);
  EXPECT_EQ(net.tensor(wide.inputs[2]).f32, bias);
  EXPECT_EQ(report.lines[0], "merged 1x1 Convs 'a', 'b' into Conv 'a+b' + Split");
  net.validate();
}

TEST(FuseHorizontal, ConcatOfSiblingsIsElided) {
  Network net;
  int x = net.add_input("x", {1, 3, 5, 5});
  int a = conv1x1(net, x, 3, 2, 40, "a");
  int b = conv1x1(net, x, 3, 3, 50, "b");
  net.mark_output(net.add_node("Concat", "cat", {a, b}, [] {
    Attributes at;
    at.set("axis", Attribute::of_int(1));
    return at;
  }(), {"cat_out"})[0]);
  auto before = tensor_names(net);
  fuse_horizontal(net, nullptr, /*allow_split=*/false);
  ASSERT_EQ(net.nodes().size(), 1u);
  EXPECT_EQ(out_name(net, only(net, "Conv")), "cat_out");
  for (const Tensor& t : net.tensors()) {
    if (!t.is_constant) {
      EXPECT_EQ(before.count(t.name), 1u) << t.name;
    }
  }
}

TEST(FuseHorizontal, DifferentActivationsStaySeparate) {
  Network net;
  int x = net.add_input("x", {1, 3, 5, 5});
  int a = conv1x1(net, x, 3, 2, 60, "a");
  int b = conv1x1(net, x, 3, 2, 70, "b");
  net.mark_output(net.add_activation(a, "Relu"));
  net.mark_output(net.add_activation(b, "Clip", 0, 6));
  fuse_activation(net, nullptr);
  fuse_horizontal(net, nullptr, /*allow_split=*/true);
  EXPECT_EQ(count_op(net, "Conv"), 2);
  EXPECT_EQ(count_op(net, "Split"), 0);
}

// conv -> bn -> relu -> identity -> out, plus Q/DQ on the input: the default
// pipeline leaves one Conv writing the relu's tensor (renamed to the output by
// identity removal) and every surviving activation name existed before.
TEST(DefaultPasses, ConvBnReluChainKeepsLastName) {
  Network net;
  int x = net.add_input("x", {-1, 2, 4, 4});
  int s = net.add_constant("s", {}, {0.125f});
  int z = net.add_constant_i8("z", {}, {0});
  int q = net.add_node("QuantizeLinear", "q", {x, s, z}, {}, {"xq"})[0];
  int d = net.add_node("DequantizeLinear", "dq", {q, s, z}, {}, {"xdq"})[0];
  int c = conv1x1(net, d, 2, 3, 90, "conv1");
  std::vector<float> g = random_floats(3, 91, 0.5f, 2.f), zeros(3, 0.f), ones(3, 1.f);
  int bn = add_bn(net, c, "bn1", g, zeros, zeros, ones, 1e-5);
  int r = net.add_node("Relu", "relu1", {bn}, {}, {"relu1_out"})[0];
  net.mark_output(net.add_node("Relu", "relu2", {r}, {}, {"final"})[0]);
  auto before = tensor_names(net);
  PassReport report;
  run_default_passes(net, PassOptions(), &report);
  ASSERT_EQ(count_op(net, "Conv"), 1);
  ASSERT_EQ(net.nodes().size(), 2u);
  const Node& conv = only(net, "Conv");
  EXPECT_EQ(in_name(net, conv, 0), "x");
  EXPECT_EQ(out_name(net, conv), "relu1_out");
  EXPECT_EQ(conv.attrs.get_string("int8rt_activation", ""), "Relu");
  EXPECT_EQ(report.calibration_hints.at("x"), 0.125f);
  for (const Tensor& t : net.tensors()) {
    if (!t.is_constant) {
      EXPECT_EQ(before.count(t.name), 1u) << t.name;
    }
  }
  EXPECT_EQ(net.tensor(net.outputs()[0]).name, "final");
}

}  // namespace
}  // namespace int8rt
