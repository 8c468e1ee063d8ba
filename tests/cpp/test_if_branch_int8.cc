// INT8 inside an If's branches from C++ alone (no Python): a network from the
// network-definition API whose then-branch holds two convolutions, built by
// build_engine with a C++ IInt8Calibrator whose batches all take that
// branch. The branch's tensors are calibrated under "if/then_branch/..."
// (in the cache too), its convolutions run in int8 (the int8 plan's scoped
// records, the If's description), and the else-branch, which no batch took,
// stays float32 and gives the FP32 engine's output exactly
// (csrc/engine/lower_int8_branches.cc, ops/subgraph.h's BranchTap); the
// profiler lists the taken branch's layers (BranchClock).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "int8rt/int8rt.h"
#include "kernel_test_util.h"

namespace int8rt {
namespace {

constexpr int64_t kC = 3, kH = 5, kW = 6, kK = 8;

// x -> conv 3x3 (pad 1) -> Relu -> conv 1x1 -> y: what the then-branch computes.
Network conv_branch() {
  Network g;
  int x = g.add_input("x", {-1, kC, kH, kW});
  x = g.add_convolution(x, kK, {3, 3}, testing::uniform_f32(kK * kC * 9, 7, -0.5f, 0.5f),
                        testing::uniform_f32(kK, 8, -0.2f, 0.2f), {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "conv1");
  x = g.add_activation(x, "Relu", 0.0, 0.0, "relu");
  x = g.add_convolution(x, kC, {1, 1}, testing::uniform_f32(kC * kK, 9, -0.5f, 0.5f), {}, {1, 1},
                        {0, 0, 0, 0}, 1, {1, 1}, "conv2");
  g.mark_output(x);
  return g;
}

Network tanh_branch() {
  Network g;
  const int x = g.add_input("x", {-1, kC, kH, kW});
  g.mark_output(g.add_activation(x, "Tanh", 0.0, 0.0, "tanh"));
  return g;
}

Network if_network() {
  Network net;
  const int c = net.add_input("c", {}, DataType::kBool);
  const int x = net.add_input("x", {-1, kC, kH, kW});
  Attributes a;
  a.set("then_branch", Attribute::of_graph(conv_branch()));
  a.set("else_branch", Attribute::of_graph(tanh_branch()));
  const int y = net.add_node("If", "if", {c, x}, a, {"y"})[0];
  net.set_shape(y, {-1, kC, kH, kW});
  net.mark_output(y);
  return net;
}

// Batches of 4 taking the then-branch (c = true).
class ThenCalibrator : public IInt8Calibrator {
 public:
  int served = 0;
  std::string cache;
  int get_batch_size() const override { return 4; }
  bool get_batch(const std::vector<std::string>& names, std::vector<HostTensor>& batch) override {
    if (served++ == 3) return false;
    for (const std::string& name : names) {
      HostTensor t;
      if (name == "c") {
        t.dtype = DataType::kBool;
        t.bool_data = {1};
      } else {
        t.shape = {4, kC, kH, kW};
        t.data = testing::uniform_f32(4 * kC * kH * kW, 20 + served, -2.0f, 2.0f);
      }
      batch.push_back(std::move(t));
    }
    return true;
  }
  std::string read_calibration_cache() override { return ""; }
  void write_calibration_cache(const std::string& c) override { cache = c; }
  calib::Method get_algorithm() const override { return calib::Method::kMinMax; }
};

std::vector<float> run(const Engine& e, bool cond, const std::vector<float>& x) {
  const uint8_t c = cond ? 1 : 0;
  auto out = e.create_execution_context()->run(
      {{"c", TensorView{&c, {}, DataType::kBool}}, {"x", TensorView{x.data(), {2, kC, kH, kW}}}});
  return out.at("y").data;
}

TEST(IfBranchInt8, TheTakenBranchRunsInInt8AndTheOtherStaysFloat) {
  ThenCalibrator calibrator;
  auto int8 = build_engine(if_network(), BuilderConfig(), &calibrator);
  BuilderConfig fp32_config;
  fp32_config.precision = Precision::kFloat32;
  auto fp32 = build_engine(if_network(), fp32_config, nullptr);

  ASSERT_NE(int8->int8_plan(), nullptr);
  std::vector<std::string> convs;
  for (const Int8LayerPlan& l : int8->int8_plan()->layers) {
    EXPECT_EQ(l.scope, "if/then_branch/") << l.name;
    if (l.op == "int8rt.QConv") convs.push_back(l.name);
  }
  EXPECT_EQ(convs, (std::vector<std::string>{"if/then_branch/conv1", "if/then_branch/conv2"}));
  EXPECT_NE(calibrator.cache.find("\nif/then_branch/"), std::string::npos) << calibrator.cache;
  EXPECT_EQ(calibrator.cache.find("if/else_branch/"), std::string::npos) << calibrator.cache;

  const std::vector<float> x = testing::uniform_f32(2 * kC * kH * kW, 99, -2.0f, 2.0f);
  const std::vector<float> got = run(*int8, true, x), want = run(*fp32, true, x);
  ASSERT_EQ(got.size(), want.size());
  double err = 0.0, ref = 0.0;  // int8 activations and weights: a bound on the relative L2 error, not equality
  for (size_t i = 0; i < got.size(); ++i) {
    err += (got[i] - want[i]) * (got[i] - want[i]);
    ref += want[i] * want[i];
  }
  EXPECT_LT(std::sqrt(err / ref), 0.05);
  EXPECT_NE(got, want);  // the int8 branch ran
  EXPECT_EQ(run(*int8, false, x), run(*fp32, false, x));  // never taken in calibration: the same float32 layer
  auto loaded = Engine::deserialize(int8->serialize());
  EXPECT_EQ(run(*loaded, true, x), got);
}

// ExecutionContext::profile (engine/profile_rows.h, ops/subgraph.h's
// BranchClock): before the If, the layers of the branch the runs took, under
// scoped names, with their precision and kernel; the other branch's none.
TEST(IfBranchInt8, TheProfileListsTheTakenBranchsLayersBeforeTheIf) {
  ThenCalibrator calibrator;
  auto int8 = build_engine(if_network(), BuilderConfig(), &calibrator);
  const std::vector<float> x = testing::uniform_f32(2 * kC * kH * kW, 99, -2.0f, 2.0f);
  for (const bool cond : {true, false}) {
    const uint8_t c = cond ? 1 : 0;
    const std::vector<LayerTime> rows = int8->create_execution_context()->profile(
        {{"c", TensorView{&c, {}, DataType::kBool}}, {"x", TensorView{x.data(), {2, kC, kH, kW}}}}, 3,
        ProfileClock::kThreadCpu);
    ASSERT_GE(rows.size(), 2u);
    EXPECT_EQ(rows.back().layer.name, "if");
    const std::string taken = cond ? "if/then_branch/" : "if/else_branch/";
    std::vector<std::string> inside, int8_convs;
    for (const LayerTime& r : rows) {
      EXPECT_GE(r.seconds, 0.0) << r.layer.name;
      if (r.layer.name.compare(0, taken.size(), taken) == 0) inside.push_back(r.layer.name);
      if (r.layer.op == "int8rt.QConv") {
        int8_convs.push_back(r.layer.name);
        EXPECT_EQ(r.layer.precision, "int8");
        EXPECT_FALSE(r.layer.detail.empty()) << r.layer.name;  // the kernel chosen inside the branch
      }
    }
    EXPECT_EQ(inside.size(), rows.size() - 1) << cond;  // every row but the If's is the taken branch's
    if (cond) {
      EXPECT_EQ(int8_convs, (std::vector<std::string>{"if/then_branch/conv1", "if/then_branch/conv2"}));
    } else {
      EXPECT_EQ(inside, (std::vector<std::string>{"if/else_branch/tanh"}));
    }
  }
}

}  // namespace
}  // namespace int8rt
