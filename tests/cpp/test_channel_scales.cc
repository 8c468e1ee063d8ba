// Per-channel activation scales in the requantization epilogue
// (kernels/requant_params.h, ChannelScales) and in the int8 contracts
// (QLinearAttrs::in_scales / out_scales, ConvertAttrs::scales): one value
// each is make_epilogue's per-tensor arithmetic bit for bit; per channel,
// channel k's parameters are those of a per-tensor epilogue made with
// channel k's scales; the per-channel clamps collapse to one int8 clamp only
// when every channel rounds alike; the attributes round-trip and hostile
// values are refused naming the node.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace {

namespace k = kernels;

void expect_same(const k::EpilogueStorage& a, const k::EpilogueStorage& b, const std::string& what) {
  ASSERT_EQ(a.scale.size(), b.scale.size()) << what;
  for (size_t i = 0; i < a.scale.size(); ++i) {
    EXPECT_EQ(a.scale[i], b.scale[i]) << what << " scale " << i;
    EXPECT_EQ(a.bias[i], b.bias[i]) << what << " bias " << i;
  }
  EXPECT_EQ(a.clamp_lo, b.clamp_lo) << what;
  EXPECT_EQ(a.clamp_hi, b.clamp_hi) << what;
}

TEST(ChannelScales, OneValueEachIsThePerTensorEpilogue) {
  const std::vector<float> sw = {0.011f, 0.023f, 0.0071f}, bias = {0.5f, -1.25f, 3.0f};
  const std::vector<int64_t> w_sum = {17, -300, 5};
  float s_in = 0.037f, s_out = 0.05f;
  for (k::Activation act : {k::Activation::kNone, k::Activation::kRelu, k::Activation::kRelu6}) {
    k::EpilogueStorage a = k::make_epilogue(s_in, sw.data(), 3, bias.data(), s_out, k::OutputType::kInt8, act);
    k::EpilogueStorage b = k::make_epilogue(k::ChannelScales{&s_in, 1}, sw.data(), 3, bias.data(),
                                            k::ChannelScales{&s_out, 1}, k::OutputType::kInt8, act);
    expect_same(a, b, "no zero points");
    k::apply_zero_points(b, k::ChannelScales{&s_in, 1}, sw.data(), w_sum.data(), bias.data(),
                         k::ChannelScales{&s_out, 1}, act, 0.f, 6.f, 3, -128);
    // The zero-point formula of requant_params.h, written out for channel 1.
    const float s = s_in * sw[1];
    const float centred = bias[1] - static_cast<float>(int64_t{3} * w_sum[1]) * s;
    EXPECT_EQ(b.bias[1], centred / s_out + -128.0f);
  }
}

TEST(ChannelScales, ChannelKIsThePerTensorEpilogueOfItsScales) {
  const int64_t K = 4;
  const std::vector<float> s_in = {0.01f, 0.02f, 0.013f, 0.5f}, s_out = {0.0235f, 0.011f, 0.017f, 0.023529412f};
  const std::vector<float> sw = {0.011f, 0.023f, 0.0071f, 0.002f}, bias = {0.5f, -1.25f, 3.0f, 0.f};
  const std::vector<int64_t> w_sum = {17, -300, 5, 0};
  k::EpilogueStorage pc = k::make_epilogue(k::ChannelScales{s_in.data(), K}, sw.data(), K, bias.data(),
                                           k::ChannelScales{s_out.data(), K}, k::OutputType::kInt8,
                                           k::Activation::kRelu6);
  k::apply_zero_points(pc, k::ChannelScales{s_in.data(), K}, sw.data(), w_sum.data(), bias.data(),
                       k::ChannelScales{s_out.data(), K}, k::Activation::kRelu6, 0.f, 6.f, -128, -128);
  for (int64_t c = 0; c < K; ++c) {
    k::EpilogueStorage one =
        k::make_epilogue(s_in[c], &sw[c], 1, &bias[c], s_out[c], k::OutputType::kInt8, k::Activation::kRelu6);
    const float si = s_in[c], so = s_out[c];
    k::apply_zero_points(one, k::ChannelScales{&si, 1}, &sw[c], &w_sum[c], &bias[c], k::ChannelScales{&so, 1},
                         k::Activation::kRelu6, 0.f, 6.f, -128, -128);
    EXPECT_EQ(pc.scale[c], one.scale[0]) << c;
    EXPECT_EQ(pc.bias[c], one.bias[0]) << c;
  }
  EXPECT_EQ(pc.clamp_lo, -128.0f);
  EXPECT_EQ(pc.clamp_hi, 127.0f);  // every channel's ReLU6 bound is at or past the top code
}

TEST(ChannelScales, CommonInt8Clamp) {
  float lo = 0.f, hi = 0.f;
  const float same_lo[] = {-128.f, -128.f}, same_hi[] = {99.25f, 99.25f};
  ASSERT_TRUE(k::common_int8_clamp(same_lo, same_hi, 2, &lo, &hi));
  EXPECT_EQ(lo, -128.f);
  EXPECT_EQ(hi, 99.25f);  // equal bounds are kept as they are
  // A bound a float rounding below 127 rounds to 127 wherever it clamps.
  const float near_hi[] = {126.99998f, 127.f, 126.6f}, near_lo[] = {-128.f, -127.6f, -128.f};
  ASSERT_TRUE(k::common_int8_clamp(near_lo, near_hi, 3, &lo, &hi));
  EXPECT_EQ(lo, -128.f);
  EXPECT_EQ(hi, 127.f);
  const float apart[] = {100.f, 127.f};
  EXPECT_FALSE(k::common_int8_clamp(same_lo, apart, 2, &lo, &hi));
  const float tie[] = {126.5f, 127.f};  // 126.5 rounds half to even to 126: not 127's results
  EXPECT_FALSE(k::common_int8_clamp(same_lo, tie, 2, &lo, &hi));
  const float around[] = {2.6f, 3.4f};  // both round to 3, but 2.6 and 3.4 are not one bound
  EXPECT_TRUE(k::common_int8_clamp(around, around, 2, &lo, &hi));
  EXPECT_EQ(lo, 3.f);
}

TEST(ChannelScales, RefusesWhatHasNoOneEpilogue) {
  const std::vector<float> sw = {0.01f, 0.01f}, s_out = {6.0f / 127, 12.0f / 127};
  float s_in = 0.1f;
  // ReLU6 clamps channel 0 at the top code (127) and channel 1 at 63.5, inside the int8 range.
  EXPECT_THROW(k::make_epilogue(k::ChannelScales{&s_in, 1}, sw.data(), 2, nullptr,
                                k::ChannelScales{s_out.data(), 2}, k::OutputType::kInt8, k::Activation::kRelu6),
               InvalidArgument);
  EXPECT_NO_THROW(k::make_epilogue(k::ChannelScales{&s_in, 1}, sw.data(), 2, nullptr,
                                   k::ChannelScales{s_out.data(), 2}, k::OutputType::kInt8, k::Activation::kRelu));
  EXPECT_THROW(k::make_epilogue(k::ChannelScales{&s_in, 1}, sw.data(), 2, nullptr,
                                k::ChannelScales{s_out.data(), 2}, k::OutputType::kFloat32),
               InvalidArgument);  // a float output has no output scale, let alone one per channel
  const float three[] = {0.1f, 0.1f, 0.1f};
  EXPECT_THROW(k::make_epilogue(k::ChannelScales{three, 3}, sw.data(), 2, nullptr, k::ChannelScales{&s_in, 1},
                                k::OutputType::kInt8),
               InvalidArgument);
  const float bad[] = {0.1f, -0.1f};
  EXPECT_THROW(k::make_epilogue(k::ChannelScales{bad, 2}, sw.data(), 2, nullptr, k::ChannelScales{&s_in, 1},
                                k::OutputType::kInt8),
               InvalidArgument);
}

Node node_of(const std::string& op, Attributes attrs) {
  Node n;
  n.name = "layer7";
  n.op = op;
  n.attrs = std::move(attrs);
  n.inputs.assign(1, 0);
  return n;
}

TEST(ChannelScales, ContractsRoundTripAndRefuse) {
  engine::QConvAttrs c;
  c.window = {{3, 3}, {1, 1}, {1, 1, 1, 1}};
  c.in_scales = {0.5, 0.25, 0.125};
  c.out_scales = {0.03125, 0.0625, 1.0};
  c.w_scales = {1, 1, 1};
  const engine::QConvAttrs back = engine::QConvAttrs::from_attrs(node_of(engine::QConvAttrs::kOp, c.to_attrs()));
  EXPECT_EQ(back.in_scales, c.in_scales);
  EXPECT_EQ(back.out_scales, c.out_scales);
  EXPECT_TRUE(engine::QConvAttrs::from_attrs(node_of(engine::QConvAttrs::kOp, {})).in_scales.empty());

  engine::ConvertAttrs q;
  q.scales = {0.5, 0.25};
  q.zero_point = -128;
  const engine::ConvertAttrs qb =
      engine::ConvertAttrs::from_attrs(node_of(engine::ConvertAttrs::kQuantizeOp, q.to_attrs()));
  EXPECT_EQ(qb.scales, q.scales);
  EXPECT_EQ(qb.zero_point, -128);
  EXPECT_EQ(qb.scale, 0.0);  // per channel: no one scale
  for (const std::vector<double>& bad : {std::vector<double>{0.5, 0.0}, std::vector<double>{0.5, NAN}}) {
    engine::ConvertAttrs h;
    h.scales = bad;
    try {
      engine::ConvertAttrs::from_attrs(node_of(engine::ConvertAttrs::kDequantizeOp, h.to_attrs()));
      FAIL() << "accepted a non-positive channel scale";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("layer7"), std::string::npos) << e.what();
    }
  }
  engine::ConvertAttrs logical;
  logical.scales = {0.5};
  logical.logical = true;
  EXPECT_THROW(engine::ConvertAttrs::from_attrs(node_of(engine::ConvertAttrs::kQuantizeOp, logical.to_attrs())),
               InvalidArgument);
}

}  // namespace
}  // namespace int8rt
