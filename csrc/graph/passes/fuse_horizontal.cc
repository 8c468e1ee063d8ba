// fuse_horizontal (passes.h): sibling 1x1 convolutions over the same input
// merged into one wider Conv (TensorRT's horizontal layer fusion, e.g. the
// 1x1 branches of an Inception block). A 1x1, stride 1, unpadded, ungrouped
// Conv is a per-pixel matrix product, so stacking the weight matrices along
// the output channels computes every sibling's output exactly, side by side.
#include <cstdio>
#include <map>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

bool all_equal(const std::vector<int64_t>& v, int64_t value) {
  for (int64_t x : v) {
    if (x != value) return false;
  }
  return true;
}

// The key siblings must share (their int8rt_* attributes), or "" if `n` is
// not a mergeable 1x1 Conv.
bool mergeable(const Network& net, const Node& n, std::string* key) {
  if (n.op != "Conv" || n.outputs.size() != 1 || n.inputs.size() < 2 || n.inputs.size() > 3) return false;
  const Tensor* w = passes::constant_or_null(net, n.inputs[1]);
  if (!w || w->dtype != DataType::kFloat32 || w->shape.size() != 4 || w->shape[2] != 1 || w->shape[3] != 1) {
    return false;
  }
  int b = passes::input_at(n, 2);
  if (b >= 0) {
    const Tensor* bias = passes::constant_or_null(net, b);
    if (!bias || bias->dtype != DataType::kFloat32 || static_cast<int64_t>(bias->f32.size()) != w->shape[0]) {
      return false;
    }
  }
  const Attributes& a = n.attrs;
  std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  if (a.get_int("group", 1) != 1 || !all_equal(a.get_ints("strides", {}), 1) ||
      !all_equal(a.get_ints("pads", {}), 0) || a.has("int8rt_residual")) {
    return false;
  }
  std::string k = std::to_string(w->shape[1]);
  for (const auto& kv : a.values()) {
    if (kv.first.rfind("int8rt_", 0) != 0) continue;
    const Attribute& v = kv.second;
    char exact[64];
    std::snprintf(exact, sizeof(exact), "%a", v.f);  // hex float: equal keys only for equal values
    k += "|" + kv.first + "=" + v.s + "/" + std::to_string(v.i) + "/" + exact;
  }
  *key = k;
  return true;
}

// The Concat (axis 1) whose inputs are exactly `outs` in order and that is
// their only reader; -1 otherwise.
int eliding_concat(const Network& net, const std::vector<int>& outs) {
  int concat = passes::sole_consumer(net, outs[0]);
  if (concat < 0) return -1;
  const Node& c = net.nodes()[concat];
  if (c.op != "Concat" || c.inputs != outs || c.outputs.size() != 1 || c.attrs.get_int("axis", 0) != 1) return -1;
  for (int t : outs) {
    if (passes::sole_consumer(net, t) != concat) return -1;
  }
  return concat;
}

void merge(Network& net, const std::vector<int>& group, bool allow_split, PassReport* report) {
  std::vector<float> weights, bias;
  std::vector<int> outs;
  std::vector<int64_t> sizes;
  std::string name, listed;
  std::vector<std::string> merged;
  for (int id : group) {
    const Node& n = net.nodes()[id];
    const Tensor& w = net.tensor(n.inputs[1]);
    int64_t m = w.shape[0];
    weights.insert(weights.end(), w.f32.begin(), w.f32.end());
    int b = passes::input_at(n, 2);
    if (b >= 0) {
      bias.insert(bias.end(), net.tensor(b).f32.begin(), net.tensor(b).f32.end());
    } else {
      bias.insert(bias.end(), m, 0.f);
    }
    sizes.push_back(m);
    outs.push_back(n.outputs[0]);
    name += (name.empty() ? "" : "+") + n.name;
    if (report && report->merged_nodes.count(n.name)) {  // a Conv merged before
      const std::vector<std::string>& earlier = report->merged_nodes.at(n.name);
      merged.insert(merged.end(), earlier.begin(), earlier.end());
    } else {
      merged.push_back(n.name);
    }
    listed += (listed.empty() ? "'" : ", '") + n.name + "'";
  }
  const Node& first = net.nodes()[group[0]];
  const int input = first.inputs[0];
  Attributes attrs = first.attrs;
  const int64_t c_in = net.tensor(first.inputs[1]).shape[1];
  int64_t total = 0;
  for (int64_t m : sizes) total += m;
  std::vector<int64_t> wide_shape = net.tensor(outs[0]).shape;
  if (wide_shape.size() == 4) wide_shape[1] = total;
  else wide_shape.clear();

  int concat = eliding_concat(net, outs);
  if (concat < 0 && !allow_split) return;
  for (int id : group) passes::kill_node(net, id);
  if (report) report->merged_nodes[name] = std::move(merged);
  int w_id = net.add_constant(passes::fresh_name(net, name + "_weight"), {total, c_in, 1, 1}, std::move(weights));
  int b_id = net.add_constant(passes::fresh_name(net, name + "_bias"), {total}, std::move(bias));
  if (concat >= 0) {
    int target = net.nodes()[concat].outputs[0];
    passes::kill_node(net, concat);
    passes::add_node_writing(net, "Conv", name, {input, w_id, b_id}, attrs, {target});
    if (report) report->add("merged 1x1 Convs " + listed + " into Conv '" + name + "' writing Concat output '" +
                            net.tensor(target).name + "'");
    return;
  }
  int wide = net.add_node("Conv", name, {input, w_id, b_id}, attrs, {passes::fresh_name(net, name + "_output")})[0];
  net.set_shape(wide, wide_shape);
  int split_sizes = net.add_constant_i64(passes::fresh_name(net, name + "_split"), {static_cast<int64_t>(sizes.size())},
                                         sizes);
  Attributes split_attrs;
  split_attrs.set("axis", Attribute::of_int(1));
  passes::add_node_writing(net, "Split", name + "_split", {wide, split_sizes}, split_attrs, outs);
  if (report) report->add("merged 1x1 Convs " + listed + " into Conv '" + name + "' + Split");
}

}  // namespace

void fuse_horizontal(Network& net, PassReport* report, bool allow_split) {
  // Group mergeable Convs by (input tensor, shared key), in node order.
  std::map<std::pair<int, std::string>, std::vector<int>> groups;
  std::vector<std::pair<int, std::string>> order;
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    std::string key;
    const Node& node = net.nodes()[n];
    if (!mergeable(net, node, &key)) continue;
    auto k = std::make_pair(node.inputs[0], key);
    if (!groups.count(k)) order.push_back(k);
    groups[k].push_back(static_cast<int>(n));
  }
  for (const auto& k : order) {
    if (groups[k].size() >= 2) merge(net, groups[k], allow_split, report);
  }
  net.compact();
}

}  // namespace int8rt
