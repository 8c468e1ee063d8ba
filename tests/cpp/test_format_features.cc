// The engine file's version rule (csrc/engine/format_features.h): the stamp
// is the least format version that reads the network right, listed
// attributes inside subgraphs count, the table is keyed by op AND
// attribute, a stamp below a non-legacy entry's version is refused naming
// the node and attribute, and decode_engine refuses a newer stamp and an op
// without a layer (in a subgraph too). tests/test_compat27_format_version.py
// covers the same through real engines.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "engine/engine_file.h"
#include "engine/format_features.h"
#include "int8rt/int8rt.h"

namespace int8rt {
namespace {

// y = op(x, x) in a branch, `attrs` on its node.
Network branch(const std::string& op, const Attributes& attrs = Attributes()) {
  Network g;
  const int x = g.add_input("x", {-1, 3});
  g.mark_output(g.add_node(op, "inner_" + op, {x, x}, attrs, {"y_" + op})[0]);
  return g;
}

Network if_network(Network then_branch) {
  Network net;
  const int c = net.add_input("c", {}, DataType::kBool);
  const int x = net.add_input("x", {-1, 3});
  Attributes a;
  a.set("then_branch", Attribute::of_graph(std::move(then_branch)));
  a.set("else_branch", Attribute::of_graph(branch("Mul")));
  const int y = net.add_node("If", "if", {c, x}, a, {"y"})[0];
  net.set_shape(y, {-1, 3});
  net.mark_output(y);
  return net;
}

Attributes one(const std::string& key) {
  Attributes a;
  a.set(key, Attribute::of_floats({1.0, 0.0, 0.0, 1.0}));
  return a;
}

uint32_t stamp_of(const std::string& bytes) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + 8, sizeof(v));
  return v;
}

std::string restamped(std::string bytes, uint32_t version) {
  std::memcpy(&bytes[8], &version, sizeof(version));
  return bytes;
}

std::string encoded(Network net) {
  engine::EngineBlob blob;
  blob.network = std::move(net);
  return engine::encode_engine(blob);
}

std::string refusal(const std::string& bytes) {
  try {
    engine::decode_engine(bytes, "file 'f.i8rt'");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(FormatFeatures, TableEntriesAreUniqueAndNeedANewerFormatThanTheBase) {
  size_t n = 0;
  const engine::SemanticAttribute* table = engine::semantic_attributes(&n);
  ASSERT_GT(n, 0u);
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(seen.insert({table[i].op, table[i].attr}).second) << table[i].op << " " << table[i].attr;
    EXPECT_GT(table[i].since, engine::kBaseEngineFormatVersion) << table[i].attr;
    EXPECT_LE(table[i].since, engine::kEngineFormatVersion) << table[i].attr;
  }
}

TEST(FormatFeatures, PlainNetworkWithSubgraphsIsTheBaseVersion) {
  const Network net = if_network(branch("Add"));
  EXPECT_EQ(engine::least_format_version(net), engine::kBaseEngineFormatVersion);
  const std::string bytes = encoded(net);
  EXPECT_EQ(stamp_of(bytes), 3u);
  EXPECT_EQ(refusal(bytes), "");
}

TEST(FormatFeatures, ListedAttributeInASubgraphNeedsFormat4) {
  const Network net = if_network(branch("int8rt.QAttention", one("scores_head_mix")));
  EXPECT_EQ(engine::least_format_version(net), 4u);
  const std::string bytes = encoded(net);
  EXPECT_EQ(stamp_of(bytes), 4u);
  EXPECT_EQ(refusal(bytes), "");
  EXPECT_EQ(refusal(restamped(bytes, 3)),
            "file 'f.i8rt': node 'inner_int8rt.QAttention' (int8rt.QAttention) carries attribute 'scores_head_mix', "
            "which needs engine format 4, but the file is stamped format 3: the engine file is corrupted (its version "
            "was edited); rebuild the engine");
}

TEST(FormatFeatures, TheTableIsKeyedByOpAndAttribute) {
  // A listed key on an op the table does not list it for (Add), and an unlisted key on a listed op.
  EXPECT_EQ(engine::least_format_version(if_network(branch("Add", one("scores_head_mix")))), 3u);
  EXPECT_EQ(engine::least_format_version(if_network(branch("int8rt.QAttention", one("scores_head")))), 3u);
}

TEST(FormatFeatures, LegacyEntryStampedThreeStillDecodes) {
  Attributes a;
  a.set("int8rt_mask", Attribute::of_int(1));
  const std::string bytes = encoded(if_network(branch("Softmax", a)));
  EXPECT_EQ(stamp_of(bytes), 4u);
  EXPECT_EQ(refusal(restamped(bytes, 3)), "");
}

TEST(FormatFeatures, NewerStampIsRefused) {
  const std::string bytes = encoded(if_network(branch("Add")));
  EXPECT_EQ(refusal(restamped(bytes, engine::kEngineFormatVersion + 1)),
            "file 'f.i8rt': engine format version 5 is not supported by this int8rt (it reads versions 1 to 4): "
            "rebuild the engine with this int8rt, or upgrade int8rt");
}

TEST(FormatFeatures, UnknownOpInASubgraphIsRefusedNamingIt) {
  const std::string msg = refusal(encoded(if_network(branch("int8rt.FromTheFuture"))));
  EXPECT_EQ(msg.rfind("file 'f.i8rt': op 'int8rt.FromTheFuture' (node 'inner_int8rt.FromTheFuture') is unknown to "
                      "this int8rt: the engine was written by a newer int8rt (upgrade int8rt",
                      0),
            0u)
      << msg;
}

}  // namespace
}  // namespace int8rt
