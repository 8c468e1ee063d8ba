// Helpers for the graph-pass tests: seeded data, graph queries by name/op.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "graph/passes/passes.h"

namespace int8rt {
namespace testing_util {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

inline int count_op(const Network& net, const std::string& op) {
  int c = 0;
  for (const Node& n : net.nodes()) c += n.op == op;
  return c;
}

// The only node with this op type (fails the test otherwise).
inline const Node& only(const Network& net, const std::string& op) {
  const Node* found = nullptr;
  for (const Node& n : net.nodes()) {
    if (n.op == op) {
      EXPECT_EQ(found, nullptr) << "more than one " << op;
      found = &n;
    }
  }
  if (!found) throw std::runtime_error("no node " + op);
  return *found;
}

inline const std::string& out_name(const Network& net, const Node& n, size_t slot = 0) {
  return net.tensor(n.outputs.at(slot)).name;
}

inline const std::string& in_name(const Network& net, const Node& n, size_t slot) {
  return net.tensor(n.inputs.at(slot)).name;
}

inline std::set<std::string> tensor_names(const Network& net) {
  std::set<std::string> s;
  for (const Tensor& t : net.tensors()) s.insert(t.name);
  return s;
}

// Adds a named BatchNormalization over `x` with the given per-channel parameters.
inline int add_bn(Network& net, int x, const std::string& name, const std::vector<float>& gamma,
                  const std::vector<float>& beta, const std::vector<float>& mean, const std::vector<float>& var,
                  double eps) {
  int64_t c = static_cast<int64_t>(gamma.size());
  int g = net.add_constant(name + "_gamma", {c}, gamma);
  int b = net.add_constant(name + "_beta", {c}, beta);
  int m = net.add_constant(name + "_mean", {c}, mean);
  int v = net.add_constant(name + "_var", {c}, var);
  Attributes a;
  a.set("epsilon", Attribute::of_float(eps));
  return net.add_node("BatchNormalization", name, {x, g, b, m, v}, a, {name + "_out"})[0];
}

}  // namespace testing_util
}  // namespace int8rt
