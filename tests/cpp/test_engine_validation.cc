// Engine files whose checksum is valid but whose content is hostile (issue 9's
// crashes, each pinned): sizes that overflow int64, window attributes that
// overflow the kernels' int arithmetic, int8 layers without a data input,
// and attributes that would make a run allocate far more than the file's
// declared shapes imply. Each must be refused at load with an int8rt::Error
// naming the problem; none may crash or reach run().
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "engine/engine_file.h"
#include "int8rt/int8rt.h"

namespace int8rt {
namespace {

constexpr int64_t kBig = int64_t{1} << 62;

// x [N,2,6,6] -> Conv 3x3 pad 1 (+Relu) -> MaxPool 2x2 -> GlobalAveragePool
// -> Flatten -> FC 5; `conv_only` stops after the Relu.
Network make_net(bool conv_only = false) {
  Network net;
  int x = net.add_input("x", {-1, 2, 6, 6});
  std::vector<float> w(4 * 2 * 3 * 3), fc(5 * 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i % 5) - 2);
  for (size_t i = 0; i < fc.size(); ++i) fc[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
  x = net.add_convolution(x, 4, {3, 3}, w, {}, {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "conv");
  x = net.add_activation(x, "Relu", 0.0, 0.0, "relu");
  if (!conv_only) {
    x = net.add_pooling(x, "MaxPool", {2, 2}, {2, 2}, {0, 0, 0, 0}, "pool");
    x = net.add_node("GlobalAveragePool", "gap", {x}, Attributes(), {"gap"})[0];
    Attributes flatten;
    flatten.set("axis", Attribute::of_int(1));
    x = net.add_node("Flatten", "flatten", {x}, flatten, {"features"})[0];
    x = net.add_fully_connected(x, 5, fc, {}, "fc");
  }
  net.mark_output(x);
  return net;
}

std::string engine_bytes(Precision precision, bool conv_only = false) {
  BuilderConfig config;
  config.precision = precision;
  Builder builder(make_net(conv_only), config);
  std::map<std::string, float> scales;
  for (const std::string& t : builder.calibration_tensors()) scales[t] = 0.05f;
  return builder.build(scales)->serialize();
}

// Decodes `bytes`, applies `edit` to the network, re-encodes (a valid
// checksum) and loads; returns the refusal's message ("" when it loaded).
std::string load_edited(const std::string& bytes, const std::function<void(Network&)>& edit) {
  engine::EngineBlob blob = engine::decode_engine(bytes, "test");
  edit(blob.network);
  std::string edited;
  try {
    edited = engine::encode_engine(blob);
  } catch (const Error& e) {
    return std::string("encode: ") + e.what();
  }
  try {
    auto engine = Engine::deserialize(edited, "engine file 'edited.i8rt'");
    // Loaded: it must then run (or refuse) cleanly at its declared shapes.
    std::vector<float> x(2 * 2 * 6 * 6, 1.0f);
    engine->create_execution_context()->run({{"x", TensorView{x.data(), {2, 2, 6, 6}}}});
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

Node& node_of(Network& net, const std::string& op) {
  for (Node& n : net.nodes()) {
    if (n.op == op) return n;
  }
  throw std::runtime_error("no " + op + " node");
}

TEST(EngineValidation, CheckedMathRefusesOverflow) {
  EXPECT_THROW(checked_mul(kBig, 4, "x"), InvalidArgument);
  EXPECT_THROW(checked_add(INT64_MAX, 1, "x"), InvalidArgument);
  EXPECT_THROW(checked_numel({kBig + 10, 48}, "x"), InvalidArgument);
  EXPECT_THROW(checked_numel({2, -1}, "x"), InvalidArgument);
  EXPECT_THROW(checked_bytes(kBig, 4, "x"), InvalidArgument);
  EXPECT_THROW(checked_int(int64_t{1} << 31, "x"), InvalidArgument);
  EXPECT_EQ(checked_numel({}, "x"), 1);
  EXPECT_EQ(checked_numel({3, 0, 5}, "x"), 0);
  EXPECT_EQ(checked_bytes(1000, 4, "x"), 4000u);
}

TEST(EngineValidation, UneditedEnginesLoadAndRun) {
  for (Precision p : {Precision::kFloat32, Precision::kInt8}) {
    EXPECT_EQ(load_edited(engine_bytes(p), [](Network&) {}), "");
  }
}

// A constant whose declared element count wraps int64 ([2^62+10, 48] holding
// 480 floats made sgemm read far past the weights).
TEST(EngineValidation, ConstantWhoseElementCountOverflowsIsRefused) {
  const std::string msg = load_edited(engine_bytes(Precision::kFloat32), [](Network& net) {
    for (Tensor& t : net.tensors()) {
      if (t.is_constant && t.shape.size() == 2) t.shape = {kBig + 10, t.shape[1]};
    }
  });
  EXPECT_NE(msg.find("which is not what its shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("edited.i8rt"), std::string::npos) << msg;
}

// fp32 Conv pads of 2^58+1 (glibc abort) and [1, 2^24+1, 1, 1] (a 1.6 KB file
// asking run() for over 4 GiB): refused, the second by its declared shapes.
TEST(EngineValidation, ConvPadsBeyondTheDeclaredShapesAreRefused) {
  const std::string bytes = engine_bytes(Precision::kFloat32);
  std::string msg = load_edited(bytes, [](Network& net) {
    node_of(net, "Conv").attrs.set("pads", Attribute::of_ints({1, 1, (int64_t{1} << 58) + 1, 1}));
  });
  EXPECT_NE(msg.find("exceeds"), std::string::npos) << msg;
  for (bool conv_only : {false, true}) {
    msg = load_edited(engine_bytes(Precision::kFloat32, conv_only), [](Network& net) {
      node_of(net, "Conv").attrs.set("pads", Attribute::of_ints({1, (int64_t{1} << 24) + 1, 1, 1}));
    });
    EXPECT_NE(msg.find("edited.i8rt"), std::string::npos) << msg;
    // With nothing after the conv to notice, the declared shapes refuse it.
    if (conv_only) EXPECT_NE(msg.find("is declared [-1, 4, 6, 6]"), std::string::npos) << msg;
  }
}

// QConv dilations [2^31-1, 1]: int overflow defeated the "kernel larger than
// the input" check, then the kernel read out of bounds.
TEST(EngineValidation, QConvDilationsThatOverflowAreRefused) {
  const std::string bytes = engine_bytes(Precision::kInt8);
  for (int64_t d : {int64_t{2147483647}, int64_t{1} << 40, int64_t{1} << 20}) {
    const std::string msg = load_edited(bytes, [d](Network& net) {
      node_of(net, "int8rt.QConv").attrs.set("dilations", Attribute::of_ints({d, 1}));
    });
    EXPECT_NE(msg, "") << "dilation " << d;
  }
}

// int8 layers whose data input is absent (-1, or no inputs at all) loaded and
// dereferenced null at run().
TEST(EngineValidation, Int8LayersWithoutDataInputAreRefused) {
  const std::string bytes = engine_bytes(Precision::kInt8);
  for (const char* op : {"int8rt.Quantize", "int8rt.QFlatten", "int8rt.QGemm", "int8rt.QConv",
                         "int8rt.QMaxPool", "int8rt.QGlobalAveragePool"}) {
    for (bool remove_all : {false, true}) {
      const std::string msg = load_edited(bytes, [&](Network& net) {
        Node& n = node_of(net, op);
        if (remove_all) {
          n.inputs.clear();
        } else {
          n.inputs[0] = -1;
        }
      });
      EXPECT_NE(msg.find("missing"), std::string::npos) << op << (remove_all ? " (no inputs)" : " (-1)") << ": " << msg;
    }
  }
}

// Window attributes in int8 layers are range-checked before any int cast.
TEST(EngineValidation, Int8WindowAttributesOutOfRangeAreRefused) {
  const std::string bytes = engine_bytes(Precision::kInt8);
  for (const auto& edit : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"pads", {0, 0, int64_t{1} << 33, 0}},
           {"strides", {0, 1}},
           {"strides", {int64_t{1} << 32, 1}},
       }) {
    const std::string msg = load_edited(bytes, [&](Network& net) {
      node_of(net, "int8rt.QMaxPool").attrs.set(edit.first, Attribute::of_ints(edit.second));
    });
    EXPECT_NE(msg, "") << edit.first;
  }
}


// Per-channel activation scales (a pre-quantized model's, QLinearAttrs::in_scales /
// out_scales, ConvertAttrs::scales) where the node cannot take them: refused, naming the node.
TEST(EngineValidation, PerChannelScalesWhereTheyDoNotApplyAreRefused) {
  const std::string bytes = engine_bytes(Precision::kInt8, /*conv_only=*/true);
  const std::string full_conv = load_edited(bytes, [](Network& net) {  // a 2 -> 4 conv, not depthwise
    node_of(net, "int8rt.QConv").attrs.set("in_scales", Attribute::of_floats({0.05, 0.05}));
  });
  EXPECT_NE(full_conv.find("need a depthwise conv"), std::string::npos) << full_conv;
  const std::string count = load_edited(bytes, [](Network& net) {
    node_of(net, "int8rt.QConv").attrs.set("out_scales", Attribute::of_floats({0.05, 0.05, 0.05}));
  });
  EXPECT_NE(count.find("out_scales needs one scale per channel (4), got 3"), std::string::npos) << count;
  const std::string convert = load_edited(bytes, [](Network& net) {
    node_of(net, "int8rt.Quantize").attrs.set("scales", Attribute::of_floats({0.05, 0.05, 0.05}));
  });
  EXPECT_NE(convert.find("per-channel scales (3) need a rank-4 tensor with that many channels"), std::string::npos)
      << convert;
  EXPECT_EQ(load_edited(bytes, [](Network& net) {
              node_of(net, "int8rt.Quantize").attrs.set("scales", Attribute::of_floats({0.05, 0.025}));
            }),
            "");  // one per channel of x's 2: a valid per-channel Quantize
}

}  // namespace
}  // namespace int8rt
