// Whole INT8 engines on device "cuda", run through the emulated CUDA runtime
// (tests/cpp/CMakeLists.txt: the real kernel sources, cuda_backend.cu and the
// engine's CUDA runner compiled as C++ over device_runtime_emulated.cc), are
// compared byte for byte with the same engines on the CPU. The network has
// what a small int8 CNN needs: a C=3 stem, depthwise and grouped convs, odd
// channel counts (NC/4HW4 padding lanes), stride 2, a fused residual add,
// a hardswish as a table (cuda lookup), max and average pooling (with
// padding), a squeeze-and-excitation gate, an unfused add, concat of odd channel counts, global pooling, flatten and a
// fully connected layer (cuda GEMM) - every int8 layer on the device. Also: what runs where (inspect), serialize /
// load round trips keep the device, dynamic batch, two contexts interleaved,
// inputs and outputs in device memory (run_on_device).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "int8rt/int8rt.h"
#include "kernel_test_util.h"

namespace int8rt {
namespace {

using testing::uniform_f32;

constexpr int64_t kH = 12, kW = 12;

Network small_cnn() {
  Network net;
  uint32_t seed = 100;
  auto conv = [&](int x, int64_t c_in, int64_t k, int64_t r, int64_t stride, int64_t pad, int64_t groups,
                  const std::string& name) {
    const float bound = 1.0f / static_cast<float>(c_in / groups * r * r);
    std::vector<float> w = uniform_f32(k * (c_in / groups) * r * r, seed++, -2 * bound, 2 * bound);
    std::vector<float> b = uniform_f32(k, seed++, -0.2f, 0.2f);
    return net.add_convolution(x, k, {r, r}, std::move(w), std::move(b), {stride, stride}, {pad, pad, pad, pad},
                               groups, {1, 1}, name);
  };
  int x = net.add_input("x", {-1, 3, kH, kW});
  int stem = net.add_activation(conv(x, 3, 8, 3, 1, 1, 1, "stem"), "Relu", 0, 0, "stem_relu");
  int dw = net.add_activation(conv(stem, 8, 8, 3, 1, 1, 8, "dw"), "Clip", 0.0, 6.0, "dw_relu6");
  int pw = conv(dw, 8, 8, 1, 1, 0, 1, "pw");
  int res = net.add_activation(net.add_elementwise(pw, stem, "Add", "residual"), "Relu", 0, 0, "res_relu");
  // squeeze-and-excitation gate: res * HardSigmoid(conv(relu(conv(gap(res))))) -> int8 QChannelMul
  int gap_se = net.add_node("GlobalAveragePool", "se_pool", {res}, Attributes(), {"se_pooled"})[0];
  int se_r = net.add_activation(conv(gap_se, 8, 4, 1, 1, 0, 1, "se_reduce"), "Relu", 0, 0, "se_relu");
  Attributes hsig;
  hsig.set("alpha", Attribute::of_float(0.2));
  hsig.set("beta", Attribute::of_float(0.5));
  int gate = net.add_node("HardSigmoid", "se_gate", {conv(se_r, 4, 8, 1, 1, 0, 1, "se_expand")}, hsig, {"gate"})[0];
  int gated = net.add_elementwise(res, gate, "Mul", "se_scale");
  int pool_a = net.add_pooling(gated, "MaxPool", {2, 2}, {2, 2}, {0, 0, 0, 0}, "pool_a");
  int pool_b = net.add_pooling(gated, "AveragePool", {3, 3}, {2, 2}, {1, 1, 1, 1}, "pool_b");
  int pool = net.add_elementwise(pool_a, pool_b, "Add", "pool_sum");  // int8 QAdd (no conv to fuse into)
  int grouped = conv(pool, 8, 6, 3, 2, 1, 2, "grouped_s2");
  int narrow = conv(pool, 8, 5, 1, 2, 0, 1, "narrow_s2");
  // hardswish spelled out: x * Clip(x + 3, 0, 6) / 6 -> one int8rt.QLut
  int three = net.add_constant("three", {1}, {3.0f});
  int six = net.add_constant("six", {1}, {6.0f});
  int h3 = net.add_elementwise(narrow, three, "Add", "hs_add");
  int hc = net.add_activation(h3, "Clip", 0.0, 6.0, "hs_clip");
  int hs = net.add_elementwise(net.add_elementwise(narrow, hc, "Mul", "hs_mul"), six, "Div", "hs_div");
  int cat = net.add_concatenation({grouped, hs}, 1, "concat");
  int gap = net.add_node("GlobalAveragePool", "gap", {cat}, Attributes(), {"gap_out"})[0];
  Attributes flatten;
  flatten.set("axis", Attribute::of_int(1));
  int feat = net.add_node("Flatten", "flatten", {gap}, flatten, {"features"})[0];
  std::vector<float> fc_w = uniform_f32(7 * 11, seed++, -0.3f, 0.3f);
  std::vector<float> fc_b = uniform_f32(7, seed++, -0.1f, 0.1f);
  int y = net.add_fully_connected(feat, 7, std::move(fc_w), std::move(fc_b), "fc");
  net.mark_output(y);
  return net;
}

class UniformCalibrator : public IInt8Calibrator {
 public:
  int get_batch_size() const override { return 4; }
  bool get_batch(const std::vector<std::string>&, std::vector<HostTensor>& batch) override {
    if (served_ == 2) return false;
    HostTensor t;
    t.shape = {4, 3, kH, kW};
    t.data = uniform_f32(4 * 3 * kH * kW, 7 + served_++, -1.0f, 1.0f);
    batch.push_back(std::move(t));
    return true;
  }
  calib::Method get_algorithm() const override { return calib::Method::kMinMax; }

 private:
  int served_ = 0;
};

std::shared_ptr<Engine> build_for(const std::string& device) {
  BuilderConfig config;
  config.device = device;
  UniformCalibrator calibrator;
  return build_engine(small_cnn(), config, &calibrator);
}

std::vector<float> run_once(ExecutionContext& ctx, const std::vector<float>& input, int64_t batch) {
  TensorView v;
  v.data = input.data();
  v.shape = {batch, 3, kH, kW};
  auto out = ctx.run({{"x", v}});
  EXPECT_EQ(out.size(), 1u);
  return out.begin()->second.data;
}

void expect_same_bytes(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what;
}

int count_op(const Engine& e, const std::string& op) {
  int n = 0;
  for (const LayerInfo& l : e.layers()) n += l.op == op;
  return n;
}

TEST(CudaEngineEmulated, DeviceIsTheEmulatorAndRegistered) {
  auto e = build_for("cuda");
  EXPECT_EQ(e->device(), "cuda");
  EXPECT_NE(e->device_name().find("SIMT emulation"), std::string::npos) << e->device_name();
}

TEST(CudaEngineEmulated, SameBytesAsTheCpuEngine) {
  auto cpu = build_for("cpu");
  auto gpu = build_for("cuda");
  auto cpu_ctx = cpu->create_execution_context();
  auto gpu_ctx = gpu->create_execution_context();
  for (int64_t batch : {1, 3}) {
    std::vector<float> in = uniform_f32(batch * 3 * kH * kW, 1000 + static_cast<uint32_t>(batch), -1.2f, 1.2f);
    std::vector<float> want = run_once(*cpu_ctx, in, batch);
    ASSERT_EQ(want.size(), static_cast<size_t>(batch * 7));
    expect_same_bytes(run_once(*gpu_ctx, in, batch), want, "batch " + std::to_string(batch));
  }
}

TEST(CudaEngineEmulated, IntLayersRunOnTheDeviceOthersOnTheHost) {
  auto e = build_for("cuda");
  int cuda_convs = 0, cuda_gemms = 0, cuda_converts = 0, cuda_luts = 0, host = 0;
  for (const LayerInfo& l : e->layers()) {
    const bool on_cuda = l.detail.rfind("cuda ", 0) == 0;
    if (l.op == "int8rt.QConv") {
      EXPECT_TRUE(on_cuda) << l.name << ": " << l.detail;
      cuda_convs += on_cuda;
    } else if (l.op == "int8rt.QGemm") {
      cuda_gemms += on_cuda;
    } else if (l.op == "int8rt.QLut" || l.op == "int8rt.QMaxPool" || l.op == "int8rt.QGlobalAveragePool" ||
               l.op == "int8rt.QFlatten" || l.op == "int8rt.QConcat" || l.op == "int8rt.QAdd" ||
               l.op == "int8rt.QAveragePool" || l.op == "int8rt.QChannelMul") {
      EXPECT_TRUE(on_cuda) << l.name << " (" << l.op << "): " << l.detail;
      cuda_luts += l.op == "int8rt.QLut" && on_cuda;
    } else if (l.op == "int8rt.Quantize" || l.op == "int8rt.Dequantize") {
      cuda_converts += on_cuda;
    } else {
      EXPECT_EQ(l.detail.rfind("host fallback: ", 0), 0u) << l.name << " (" << l.op << "): " << l.detail;
      ++host;
    }
  }
  EXPECT_EQ(cuda_convs, 7);  // stem, dw, pw (+residual), se_reduce, se_expand, grouped, narrow
  EXPECT_EQ(count_op(*e, "int8rt.QChannelMul"), 1);
  EXPECT_EQ(count_op(*e, "int8rt.QAdd"), 1);  // pool_sum; the residual add is fused into pw
  EXPECT_EQ(count_op(*e, "int8rt.QConcat"), 1);
  EXPECT_EQ(count_op(*e, "int8rt.QAveragePool"), 1);
  EXPECT_EQ(cuda_gemms, 1);
  EXPECT_EQ(cuda_luts, 1);
  EXPECT_GE(cuda_converts, 1);
  EXPECT_EQ(host, 1);  // the gate's HardSigmoid (float32)
}

TEST(CudaEngineEmulated, SerializedEngineKeepsItsDevice) {
  auto gpu = build_for("cuda");
  auto loaded = Engine::deserialize(gpu->serialize());
  EXPECT_EQ(loaded->device(), "cuda");
  EXPECT_EQ(loaded->metadata().at("precision"), "int8");
  std::vector<float> in = uniform_f32(2 * 3 * kH * kW, 55, -1.0f, 1.0f);
  auto a = gpu->create_execution_context();
  auto b = loaded->create_execution_context();
  expect_same_bytes(run_once(*b, in, 2), run_once(*a, in, 2), "after deserialize");
}

TEST(CudaEngineEmulated, ContextsKeepTheirOwnBuffers) {
  auto cpu = build_for("cpu");
  auto gpu = build_for("cuda");
  auto c1 = gpu->create_execution_context();
  auto c2 = gpu->create_execution_context();
  auto ref = cpu->create_execution_context();
  std::vector<float> big = uniform_f32(5 * 3 * kH * kW, 77, -1.0f, 1.0f);
  std::vector<float> small = uniform_f32(1 * 3 * kH * kW, 78, -1.0f, 1.0f);
  std::vector<float> want_big = run_once(*ref, big, 5);
  std::vector<float> want_small = run_once(*ref, small, 1);
  for (int round = 0; round < 2; ++round) {  // buffers sized for batch 5, then reused for batch 1
    expect_same_bytes(run_once(*c1, big, 5), want_big, "context 1, batch 5");
    expect_same_bytes(run_once(*c2, small, 1), want_small, "context 2, batch 1");
    expect_same_bytes(run_once(*c1, small, 1), want_small, "context 1, batch 1");
  }
}

// Inputs and outputs in device memory: allocate_device gives (emulated)
// device memory; run_on_device must give run()'s bytes, refuse wrong or
// missing outputs before any work, and be refused by a CPU engine.
TEST(CudaEngineEmulated, RunOnDeviceEqualsHostRun) {
  auto gpu = build_for("cuda");
  auto ctx = gpu->create_execution_context();
  const int64_t batch = 3;
  std::vector<float> in = uniform_f32(batch * 3 * kH * kW, 91, -1.0f, 1.0f);
  std::vector<float> want = run_once(*ctx, in, batch);
  auto shapes = ctx->output_shapes({{"x", {batch, 3, kH, kW}}});
  ASSERT_EQ(shapes.size(), 1u);
  const std::string out_name = shapes.begin()->first;
  EXPECT_EQ(shapes.begin()->second, (std::vector<int64_t>{batch, 7}));

  DeviceAllocation d_in = gpu->allocate_device(in.size() * 4);
  DeviceAllocation d_out = gpu->allocate_device(want.size() * 4);
  d_in.copy_from_host(in.data(), in.size() * 4);
  ctx->run_on_device({{"x", {d_in.data(), {batch, 3, kH, kW}}}}, {{out_name, {d_out.data(), {batch, 7}}}});
  std::vector<float> got(want.size());
  d_out.copy_to_host(got.data(), got.size() * 4);
  expect_same_bytes(got, want, "run_on_device");

  EXPECT_THROW(ctx->run_on_device({{"x", {d_in.data(), {batch, 3, kH, kW}}}}, {{out_name, {d_out.data(), {batch, 8}}}}),
               InvalidArgument);
  EXPECT_THROW(ctx->run_on_device({{"x", {d_in.data(), {batch, 3, kH, kW}}}}, {}), InvalidArgument);
  EXPECT_THROW(ctx->run_on_device({{"x", {d_in.data(), {batch, 3, kH, kW + 1}}}}, {{out_name, {d_out.data(), {batch, 7}}}}),
               InvalidArgument);
  EXPECT_THROW(d_out.copy_to_host(got.data(), got.size() * 4 + 4), InvalidArgument);

  auto cpu = build_for("cpu");
  EXPECT_THROW(cpu->allocate_device(16), NotSupported);
  EXPECT_THROW(cpu->create_execution_context()->run_on_device({}, {}), NotSupported);
}

TEST(CudaEngineEmulated, UnknownDeviceIsRefusedBeforeCalibration) {
  BuilderConfig config;
  config.device = "tpu";
  UniformCalibrator calibrator;
  try {
    build_engine(small_cnn(), config, &calibrator);
    FAIL() << "expected NotSupported";
  } catch (const NotSupported& e) {
    EXPECT_NE(std::string(e.what()).find("'tpu'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace int8rt
