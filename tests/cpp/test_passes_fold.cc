// Graph passes that remove or fold nodes: remove_identity, fold_batchnorm,
// remove_qdq_pairs, fold_constants. Weight math is compared exactly with the
// documented double computation rounded to float32 once.
#include <cmath>

#include "pass_test_util.h"

namespace int8rt {
namespace {

using namespace testing_util;

TEST(RemoveIdentity, RewiresReaders) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int i = net.add_node("Identity", "id", {x}, {}, {"x_copy"})[0];
  int d = net.add_node("Dropout", "drop", {i}, {}, {"dropped"})[0];
  int r = net.add_activation(d, "Relu", 0, 0, "relu");
  net.mark_output(r);
  PassReport report;
  remove_identity(net, &report);
  EXPECT_EQ(net.nodes().size(), 1u);
  EXPECT_EQ(in_name(net, only(net, "Relu"), 0), "x");
  EXPECT_EQ(net.find_tensor("x_copy"), -1);
  ASSERT_EQ(report.lines.size(), 2u);
  EXPECT_EQ(report.lines[0], "removed Identity 'id' ('x' kept)");
}

TEST(RemoveIdentity, KeepsNetworkOutputName) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int r = net.add_node("Relu", "relu", {x}, {}, {"relu_out"})[0];
  int s = net.add_node("Sigmoid", "sig", {r}, {}, {"sig_out"})[0];
  int o = net.add_node("Identity", "id", {r}, {}, {"y"})[0];
  net.mark_output(o);
  net.mark_output(s);
  remove_identity(net, nullptr);
  EXPECT_EQ(count_op(net, "Identity"), 0);
  EXPECT_EQ(out_name(net, only(net, "Relu")), "y");
  EXPECT_EQ(in_name(net, only(net, "Sigmoid"), 0), "y");  // other reader follows the rename
  EXPECT_EQ(net.find_tensor("relu_out"), -1);
  EXPECT_EQ(net.tensor(net.outputs()[0]).name, "y");
}

TEST(RemoveIdentity, KeepsInputCopiedToOutputAndUsedDropoutMask) {
  Network net;
  int x = net.add_input("x", {1, 4});
  net.mark_output(net.add_node("Identity", "id", {x}, {}, {"y"})[0]);
  auto d = net.add_node("Dropout", "drop", {x}, {}, {"d", "mask"});
  net.mark_output(d[0]);
  net.mark_output(d[1]);
  remove_identity(net, nullptr);
  EXPECT_EQ(count_op(net, "Identity"), 1);
  EXPECT_EQ(count_op(net, "Dropout"), 1);
}

// Reference BN fold in double: f = gamma / sqrt(var + eps).
double bn_factor(float gamma, float var, double eps) {
  return static_cast<double>(gamma) / std::sqrt(static_cast<double>(var) + eps);
}

struct BnParams {
  std::vector<float> gamma, beta, mean, var;
  explicit BnParams(int64_t c, uint32_t seed)
      : gamma(random_floats(c, seed, 0.5f, 2.f)), beta(random_floats(c, seed + 1)),
        mean(random_floats(c, seed + 2)), var(random_floats(c, seed + 3, 0.01f, 3.f)) {}
};

TEST(FoldBatchNorm, ConvWithBias) {
  const int64_t m = 5, c = 3;
  Network net;
  int x = net.add_input("x", {-1, c, 8, 8});
  auto w = random_floats(m * c * 9, 10);
  auto b = random_floats(m, 11);
  int conv = net.add_convolution(x, m, {3, 3}, w, b, {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "conv1");
  BnParams p(m, 20);
  const double eps = 1e-3;
  int bn = add_bn(net, conv, "bn1", p.gamma, p.beta, p.mean, p.var, eps);
  net.mark_output(bn);
  PassReport report;
  fold_batchnorm(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  const Node& n = only(net, "Conv");
  EXPECT_EQ(out_name(net, n), "bn1_out");
  ASSERT_EQ(report.lines.size(), 1u);
  EXPECT_EQ(report.lines[0], "folded BatchNormalization 'bn1' into Conv 'conv1'");
  const Tensor& wf = net.tensor(n.inputs[1]);
  const Tensor& bf = net.tensor(n.inputs[2]);
  for (int64_t o = 0; o < m; ++o) {
    double f = bn_factor(p.gamma[o], p.var[o], eps);
    for (int64_t k = 0; k < c * 9; ++k) {
      ASSERT_EQ(wf.f32[o * c * 9 + k], static_cast<float>(static_cast<double>(w[o * c * 9 + k]) * f)) << o << "," << k;
    }
    float expect_b = static_cast<float>((static_cast<double>(b[o]) - p.mean[o]) * f + p.beta[o]);
    EXPECT_EQ(bf.f32[o], expect_b) << o;
  }
}

TEST(FoldBatchNorm, ConvWithoutBiasGetsOne) {
  Network net;
  int x = net.add_input("x", {1, 2, 4, 4});
  auto w = random_floats(4 * 2, 30);
  int conv = net.add_convolution(x, 4, {1, 1}, w, {}, {1, 1}, {0, 0, 0, 0}, 1, {1, 1}, "c");
  BnParams p(4, 31);
  net.mark_output(add_bn(net, conv, "bn", p.gamma, p.beta, p.mean, p.var, 1e-5));
  fold_batchnorm(net, nullptr);
  const Node& n = only(net, "Conv");
  ASSERT_EQ(n.inputs.size(), 3u);
  for (int o = 0; o < 4; ++o) {
    double f = bn_factor(p.gamma[o], p.var[o], 1e-5);
    EXPECT_EQ(net.tensor(n.inputs[2]).f32[o], static_cast<float>((0.0 - p.mean[o]) * f + p.beta[o]));
  }
}

TEST(FoldBatchNorm, GemmBothTransposesWithBetaAttribute) {
  for (int trans_b : {0, 1}) {
    const int64_t k = 3, n_out = 4;
    Network net;
    int x = net.add_input("x", {-1, k});
    auto w = random_floats(k * n_out, 40 + trans_b);
    auto cb = random_floats(n_out, 42);
    int wid = net.add_constant("W", trans_b ? std::vector<int64_t>{n_out, k} : std::vector<int64_t>{k, n_out}, w);
    int cid = net.add_constant("C", {1, n_out}, cb);
    Attributes a;
    a.set("transB", Attribute::of_int(trans_b));
    a.set("beta", Attribute::of_float(0.5));
    int g = net.add_node("Gemm", "fc", {x, wid, cid}, a, {"fc_out"})[0];
    BnParams p(n_out, 50);
    net.mark_output(add_bn(net, g, "bn", p.gamma, p.beta, p.mean, p.var, 1e-5));
    fold_batchnorm(net, nullptr);
    const Node& n = only(net, "Gemm");
    EXPECT_EQ(n.attrs.get_float("beta", 0), 1.0);
    const Tensor& wf = net.tensor(n.inputs[1]);
    for (int64_t i = 0; i < k * n_out; ++i) {
      int64_t ch = trans_b ? i / k : i % n_out;
      ASSERT_EQ(wf.f32[i], static_cast<float>(w[i] * bn_factor(p.gamma[ch], p.var[ch], 1e-5))) << trans_b << " " << i;
    }
    for (int64_t ch = 0; ch < n_out; ++ch) {
      double f = bn_factor(p.gamma[ch], p.var[ch], 1e-5);
      EXPECT_EQ(net.tensor(n.inputs[2]).f32[ch], static_cast<float>((0.5 * cb[ch] - p.mean[ch]) * f + p.beta[ch]));
    }
  }
}

TEST(FoldBatchNorm, GroupedConvTransposeChannelMapping) {
  // W [C_in=4][M/g=3][2][2], group 2 -> M = 6; W[i][j] is output channel (i / 2) * 3 + j.
  Network net;
  int x = net.add_input("x", {1, 4, 3, 3});
  auto w = random_floats(4 * 3 * 4, 60);
  int wid = net.add_constant("W", {4, 3, 2, 2}, w);
  Attributes a;
  a.set("group", Attribute::of_int(2));
  int ct = net.add_node("ConvTranspose", "up", {x, wid}, a, {"up_out"})[0];
  BnParams p(6, 61);
  net.mark_output(add_bn(net, ct, "bn", p.gamma, p.beta, p.mean, p.var, 1e-5));
  fold_batchnorm(net, nullptr);
  const Tensor& wf = net.tensor(only(net, "ConvTranspose").inputs[1]);
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      int64_t ch = (i / 2) * 3 + j;
      for (int64_t s = 0; s < 4; ++s) {
        int64_t idx = (i * 3 + j) * 4 + s;
        ASSERT_EQ(wf.f32[idx], static_cast<float>(w[idx] * bn_factor(p.gamma[ch], p.var[ch], 1e-5)));
      }
    }
  }
}

TEST(FoldBatchNorm, LeavesSharedIntermediateAndStandaloneBn) {
  Network net;
  int x = net.add_input("x", {1, 2, 4, 4});
  int conv = net.add_convolution(x, 2, {1, 1}, random_floats(4, 70), {}, {1, 1}, {0, 0, 0, 0}, 1, {1, 1}, "c");
  BnParams p(2, 71);
  net.mark_output(add_bn(net, conv, "bn", p.gamma, p.beta, p.mean, p.var, 1e-5));
  net.mark_output(net.add_activation(conv, "Relu"));  // second reader of the conv output
  net.mark_output(add_bn(net, x, "bn_alone", p.gamma, p.beta, p.mean, p.var, 1e-5));
  fold_batchnorm(net, nullptr);
  EXPECT_EQ(count_op(net, "BatchNormalization"), 2);
}

TEST(FoldBatchNorm, SharedWeightIsCopiedNotModified) {
  Network net;
  int x = net.add_input("x", {1, 2, 4, 4});
  auto w = random_floats(4, 80);
  int wid = net.add_constant("shared_w", {2, 2, 1, 1}, w);
  int c1 = net.add_node("Conv", "c1", {x, wid}, {}, {"c1_out"})[0];
  int c2 = net.add_node("Conv", "c2", {x, wid}, {}, {"c2_out"})[0];
  BnParams p(2, 81);
  net.mark_output(add_bn(net, c1, "bn", p.gamma, p.beta, p.mean, p.var, 1e-5));
  net.mark_output(c2);
  fold_batchnorm(net, nullptr);
  EXPECT_EQ(net.tensor(net.find_tensor("shared_w")).f32, w);
  for (const Node& n : net.nodes()) {
    if (n.name == "c2") {
      EXPECT_EQ(in_name(net, n, 1), "shared_w");
    } else {
      EXPECT_NE(in_name(net, n, 1), "shared_w");
    }
  }
}

TEST(RemoveQdq, WeightDequantizePerAxisWithZeroPoint) {
  Network net;
  int x = net.add_input("x", {1, 3, 4, 4});
  std::vector<int8_t> q(2 * 3);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<int8_t>(static_cast<int>(i) * 37 % 255 - 127);
  int qid = net.add_constant_i8("wq", {2, 3, 1, 1}, q);
  int sid = net.add_constant("ws", {2}, {0.02f, 0.0625f});
  int zid = net.add_constant_i8("wz", {2}, {3, -5});
  Attributes a;
  a.set("axis", Attribute::of_int(0));
  int w = net.add_node("DequantizeLinear", "dq_w", {qid, sid, zid}, a, {"w"})[0];
  net.mark_output(net.add_node("Conv", "conv", {x, w}, {}, {"y"})[0]);
  PassReport report;
  remove_qdq_pairs(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  const Tensor& wf = net.tensor(only(net, "Conv").inputs[1]);
  EXPECT_EQ(wf.name, "w");
  ASSERT_TRUE(wf.is_constant);
  EXPECT_EQ(wf.shape, (std::vector<int64_t>{2, 3, 1, 1}));
  const float scales[2] = {0.02f, 0.0625f};
  const int zps[2] = {3, -5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(wf.f32[i], static_cast<float>(q[i] - zps[i / 3]) * scales[i / 3]) << i;
}

// x -> Q(s, 0) -> DQ(s, 0) -> Relu: a pass-through with s as x's hint.
TEST(RemoveQdq, ActivationPairBecomesHint) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int s = net.add_constant("s", {}, {0.05f});
  int z = net.add_constant_i8("z", {}, {0});
  int q = net.add_node("QuantizeLinear", "q", {x, s, z}, {}, {"xq"})[0];
  int d = net.add_node("DequantizeLinear", "dq", {q, s, z}, {}, {"xdq"})[0];
  net.mark_output(net.add_node("Relu", "relu", {d}, {}, {"y"})[0]);
  PassReport report;
  remove_qdq_pairs(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  EXPECT_EQ(in_name(net, only(net, "Relu"), 0), "x");
  ASSERT_EQ(report.calibration_hints.count("x"), 1u);
  EXPECT_EQ(report.calibration_hints["x"], 0.05f);
  ASSERT_EQ(report.lines.size(), 1u);
  EXPECT_EQ(report.lines[0],
            "removed QuantizeLinear 'q' -> DequantizeLinear 'dq' (scale 0.0500000007 kept as calibration hint)");
}

TEST(RemoveQdq, PairBeforeOutputKeepsOutputName) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int r = net.add_node("Relu", "relu", {x}, {}, {"r"})[0];
  int s = net.add_constant("s", {1}, {0.25f});
  int z = net.add_constant_i8("z", {1}, {0});
  int q = net.add_node("QuantizeLinear", "q", {r, s, z}, {}, {"rq"})[0];
  net.mark_output(net.add_node("DequantizeLinear", "dq", {q, s}, {}, {"y"})[0]);
  PassReport report;
  remove_qdq_pairs(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  EXPECT_EQ(out_name(net, only(net, "Relu")), "y");
  EXPECT_EQ(report.calibration_hints.at("y"), 0.25f);
}

TEST(RemoveQdq, NonZeroZeroPointOrDifferentScalesStay) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int s = net.add_constant("s", {}, {0.05f});
  int s2 = net.add_constant("s2", {}, {0.1f});
  int z = net.add_constant_i8("z", {}, {0});
  int z1 = net.add_constant_i8("z1", {}, {1});
  int q1 = net.add_node("QuantizeLinear", "q1", {x, s, z1}, {}, {"q1o"})[0];
  net.mark_output(net.add_node("DequantizeLinear", "d1", {q1, s, z1}, {}, {"y1"})[0]);
  int q2 = net.add_node("QuantizeLinear", "q2", {x, s, z}, {}, {"q2o"})[0];
  net.mark_output(net.add_node("DequantizeLinear", "d2", {q2, s2, z}, {}, {"y2"})[0]);
  PassReport report;
  remove_qdq_pairs(net, &report);
  EXPECT_EQ(net.nodes().size(), 4u);
  EXPECT_TRUE(report.calibration_hints.empty());
}

TEST(RemoveQdq, DequantizeQuantizeCancels) {
  Network net;
  int x = net.add_input("xi8", {1, 4}, DataType::kInt8);
  int s = net.add_constant("s", {}, {0.05f});
  int z = net.add_constant_i8("z", {}, {0});
  int d = net.add_node("DequantizeLinear", "dq", {x, s, z}, {}, {"f"})[0];
  int q = net.add_node("QuantizeLinear", "q", {d, s, z}, {}, {"back"})[0];
  net.mark_output(net.add_node("Identity", "id", {q}, {}, {"y"})[0]);
  remove_qdq_pairs(net, nullptr);
  ASSERT_EQ(net.nodes().size(), 1u);
  EXPECT_EQ(in_name(net, only(net, "Identity"), 0), "xi8");
}

TEST(FoldConstants, TransposeThenReshapeChain) {
  Network net;
  int x = net.add_input("x", {1, 6});
  std::vector<float> v = {0, 1, 2, 3, 4, 5};  // [2][3]
  int c = net.add_constant("c", {2, 3}, v);
  int t = net.add_node("Transpose", "t", {c}, {}, {"ct"})[0];  // default perm: reversed -> [3][2]
  int shape = net.add_constant_i64("shape", {2}, {1, -1});
  int r = net.add_node("Reshape", "r", {t, shape}, {}, {"cr"})[0];
  net.mark_output(net.add_elementwise(x, r, "Add", "add"));
  PassReport report;
  fold_constants(net, &report);
  ASSERT_EQ(net.nodes().size(), 1u);
  const Tensor& folded = net.tensor(only(net, "Add").inputs[1]);
  EXPECT_EQ(folded.name, "cr");
  EXPECT_EQ(folded.shape, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(folded.f32, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(report.lines.size(), 2u);
}

TEST(FoldConstants, SqueezeUnsqueezeConcatCast) {
  Network net;
  int x = net.add_input("x", {1, 4});
  int a = net.add_constant_i64("a", {2}, {7, 8});
  Attributes ax;
  ax.set("axes", Attribute::of_ints({0}));
  int u = net.add_node("Unsqueeze", "u", {a}, ax, {"au"})[0];  // [1][2]
  int b = net.add_constant_i64("b", {1, 2}, {9, 10});
  Attributes cat;
  cat.set("axis", Attribute::of_int(0));
  int c = net.add_node("Concat", "cat", {u, b}, cat, {"ab"})[0];  // [2][2]
  int axes = net.add_constant_i64("axes", {1}, {-1});
  int f = net.add_constant("f", {2, 1}, {-2.75f, 3.5f});
  int sq = net.add_node("Squeeze", "sq", {f, axes}, {}, {"fs"})[0];  // [2]
  Attributes to;
  to.set("to", Attribute::of_int(7));
  int ci = net.add_node("Cast", "cast", {sq}, to, {"fi"})[0];
  int n1 = net.add_node("Reshape", "use", {x, c}, {}, {"y1"})[0];
  int n2 = net.add_node("Reshape", "use2", {x, ci}, {}, {"y2"})[0];
  net.mark_output(n1);
  net.mark_output(n2);
  fold_constants(net, nullptr);
  EXPECT_EQ(net.nodes().size(), 2u);
  const Tensor& ab = net.tensor(net.find_tensor("ab"));
  EXPECT_EQ(ab.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(ab.i64, (std::vector<int64_t>{7, 8, 9, 10}));
  const Tensor& fi = net.tensor(net.find_tensor("fi"));
  EXPECT_EQ(fi.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(fi.i64, (std::vector<int64_t>{-2, 3}));  // truncation toward zero
}

}  // namespace
}  // namespace int8rt
