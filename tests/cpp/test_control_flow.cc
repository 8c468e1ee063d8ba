// Control flow from C++ (csrc/engine/ops/control_flow.h): a network built
// with the network-definition API holds an If whose branches are Networks
// (Attribute::of_graph); the engine runs the branch each run's condition
// names, keeps both through its file (a branch input of any rank with the
// dims a pass gave it included), and refuses at load a branch that does not
// fit its node or subgraphs nested past the codec's bound.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine_file.h"
#include "engine/network_codec.h"
#include "int8rt/int8rt.h"

namespace int8rt {
namespace {

// y = op(x, x), x [N, 3] captured from the enclosing network.
Network branch(const std::string& op) {
  Network g;
  const int x = g.add_input("x", {-1, 3});
  g.mark_output(g.add_node(op, op, {x, x}, Attributes(), {"y_" + op})[0]);
  return g;
}

Network if_network(Network then_branch, Network else_branch) {
  Network net;
  const int c = net.add_input("c", {}, DataType::kBool);
  const int x = net.add_input("x", {-1, 3});
  Attributes a;
  a.set("then_branch", Attribute::of_graph(std::move(then_branch)));
  a.set("else_branch", Attribute::of_graph(std::move(else_branch)));
  const int y = net.add_node("If", "if", {c, x}, a, {"y"})[0];
  net.set_shape(y, {-1, 3});  // both branches keep x's shape (a loaded file is checked against this)
  net.mark_output(y);
  return net;
}

std::vector<float> run_if(Engine& engine, bool cond, const std::vector<float>& x) {
  const uint8_t c = cond ? 1 : 0;
  auto out = engine.create_execution_context()->run(
      {{"c", TensorView{&c, {}, DataType::kBool}}, {"x", TensorView{x.data(), {2, 3}}}});
  EXPECT_EQ(out.at("y").shape, (std::vector<int64_t>{2, 3}));
  return out.at("y").data;
}

TEST(ControlFlow, IfRunsTheBranchItsConditionNamesBeforeAndAfterTheFile) {
  const std::vector<float> x = {1, -2, 3, 0.5f, 4, -1};
  std::vector<float> sum, product;
  for (float v : x) {
    sum.push_back(v + v);
    product.push_back(v * v);
  }
  auto engine = Engine::create(if_network(branch("Add"), branch("Mul")));
  EXPECT_EQ(run_if(*engine, true, x), sum);
  EXPECT_EQ(run_if(*engine, false, x), product);
  auto loaded = Engine::deserialize(engine->serialize());
  EXPECT_EQ(run_if(*loaded, false, x), product);
  EXPECT_EQ(run_if(*loaded, true, x), sum);
}

TEST(ControlFlow, ABranchInputOfAnyRankKeepsItsDimsThroughTheFile) {
  // The INT8 lowering of Silero VAD's nested If branches gives such an input
  // dims ([-1, 128]); the reader refused them until 2026-12-05.
  Network g;
  const int x = g.add_input_any_rank("x", DataType::kFloat32);
  g.tensor(x).shape = {-1, 3};
  g.mark_output(g.add_node("Add", "Add", {x, x}, Attributes(), {"y_Add"})[0]);
  const std::vector<float> x_values = {1, -2, 3, 0.5f, 4, -1};
  std::vector<float> sum, product;
  for (float v : x_values) {
    sum.push_back(v + v);
    product.push_back(v * v);
  }
  auto engine = Engine::create(if_network(std::move(g), branch("Mul")));
  auto loaded = Engine::deserialize(engine->serialize());
  EXPECT_EQ(run_if(*loaded, true, x_values), sum);
  EXPECT_EQ(run_if(*loaded, false, x_values), product);
}

TEST(ControlFlow, ABranchThatDoesNotFitItsNodeIsRefused) {
  Network wide;  // two inputs where the node passes one captured value
  const int a = wide.add_input("a", {-1, 3});
  wide.add_input("b", {-1, 3});
  wide.mark_output(wide.add_node("Relu", "relu", {a}, Attributes(), {"r"})[0]);
  try {
    Engine::create(if_network(branch("Add"), std::move(wide)));
    FAIL() << "an If whose branch takes two inputs was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("a branch takes 2 inputs"), std::string::npos) << e.what();
  }
}

TEST(ControlFlow, SubgraphsNestedPastTheBoundAreRefusedByTheReader) {
  Network inner = branch("Add");
  for (int depth = 0; depth <= engine::kMaxSubgraphDepth; ++depth) {
    Network outer;
    const int c = outer.add_input("c", {}, DataType::kBool);
    const int x = outer.add_input("x", {-1, 3});
    Attributes a;
    a.set("then_branch", Attribute::of_graph(inner));
    a.set("else_branch", Attribute::of_graph(branch("Mul")));
    outer.mark_output(outer.add_node("If", "if", {c, x}, a, {"y"})[0]);
    inner = std::move(outer);  // never run: only the reader's bound is under test
  }
  engine::EngineBlob blob;
  blob.network = std::move(inner);
  const std::string bytes = engine::encode_engine(blob);
  try {
    engine::decode_engine(bytes, "deep.i8rt");
    FAIL() << "a file nesting subgraphs " << engine::kMaxSubgraphDepth + 1 << " deep was read";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("nest deeper than"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace int8rt
