// Which layers run in BF16 and how the builder marks them (bf16_layers.h).
#include "engine/bf16_layers.h"

#include <algorithm>

#include "engine/layer.h"
#include "graph/passes/pass_util.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"
#include "kernels/gemm_bf16.h"

namespace int8rt {
namespace engine {
namespace {

// "" when input `index` is a float32 constant of rank 2 (rank >= 3 for a
// Conv's weights), else why not.
std::string weight_reason(const Network& net, const Node& node, size_t index, bool conv) {
  if (!has_input(node, index)) return "it has no weight input";
  const Tensor& t = net.tensor(node.inputs[index]);
  if (!t.is_constant) return "its weights '" + t.name + "' are computed at run time";
  if (t.dtype != DataType::kFloat32) return "its weights '" + t.name + "' are not float32";
  if (conv ? t.shape.size() < 3 : t.shape.size() != 2) {
    return std::string("its weights '") + t.name + "' are not " + (conv ? "[M, C/group, k...]" : "2-D");
  }
  return "";
}

// A BF16 MatMul with a constant 2-D B (packed once: MatMulLayer's
// is_constant_2d), the one that reads a bfloat16 A and writes a bfloat16 C.
bool packed_bf16_matmul(const Network& net, const Node& node) {
  if (node.op != "MatMul" || node.attrs.get_string(kPrecisionAttr, "") != "bf16" || !has_input(node, 1)) {
    return false;
  }
  const Tensor& b = net.tensor(node.inputs[1]);
  return b.is_constant && b.dtype == DataType::kFloat32 && b.shape.size() == 2 && b.shape[0] > 0 &&
         b.shape[1] > 0 && static_cast<int64_t>(b.f32.size()) == b.shape[0] * b.shape[1];
}

// The nodes that read tensor `id` as the A (input 0, and no other input) of
// a packed BF16 MatMul; *others is set when any other node or input reads it.
std::vector<int> a_readers(const Network& net, int id, bool* others) {
  std::vector<int> readers;
  *others = false;
  for (int u : net.consumers(id)) {
    const Node& user = net.nodes()[u];
    const bool a_only = packed_bf16_matmul(net, user) && user.inputs[0] == id &&
                        std::count(user.inputs.begin(), user.inputs.end(), id) == 1;
    if (a_only) {
      readers.push_back(u);
    } else {
      *others = true;
    }
  }
  return readers;
}

// The BF16 MatMul part of mark_bf16_tensors (bf16_layers.h): returns its
// report lines (none when nothing changed).
std::vector<std::string> mark_bf16_matmul_tensors(Network& net) {
  const std::set<int> outputs(net.outputs().begin(), net.outputs().end());
  size_t between = 0, shared = 0, contexts = 0;
  for (const Node& node : net.nodes()) {
    if (!packed_bf16_matmul(net, node) || node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    const int id = node.outputs[0];
    bool others = false;
    if (outputs.count(id) || net.tensor(id).dtype != DataType::kFloat32 || a_readers(net, id, &others).empty() ||
        others) {
      continue;
    }
    net.tensor(id).dtype = DataType::kBFloat16;
    ++between;
  }
  // A Bf16Attention's output reaching one such MatMul's A through
  // Transposes / Reshapes, each tensor read by one of them (or that MatMul)
  // and Shapes at most (the heads' context, [B, H, S, D] -> [B, S, H * D]):
  // the whole chain bfloat16.
  for (const Node& node : net.nodes()) {
    if (node.op != "int8rt.Bf16Attention" || node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    std::vector<int> chain = {node.outputs[0]};
    bool reaches = false;
    while (!reaches) {
      const int id = chain.back();
      std::vector<int> users = net.consumers(id);  // Shape readers aside: they read no value
      users.erase(std::remove_if(users.begin(), users.end(), [&](int u) { return net.nodes()[u].op == "Shape"; }),
                  users.end());
      if (outputs.count(id) || net.tensor(id).dtype != DataType::kFloat32 || users.size() != 1) break;
      const Node& user = net.nodes()[users[0]];
      if (user.inputs.empty() || user.inputs[0] != id ||
          std::count(user.inputs.begin(), user.inputs.end(), id) != 1) {
        break;
      }
      reaches = packed_bf16_matmul(net, user);
      if (!reaches) {
        if ((user.op != "Transpose" && user.op != "Reshape") || user.outputs.size() != 1 || user.outputs[0] < 0) break;
        chain.push_back(user.outputs[0]);
      }
    }
    if (!reaches) continue;
    for (int id : chain) net.tensor(id).dtype = DataType::kBFloat16;
    ++contexts;
  }
  const int count = static_cast<int>(net.tensors().size());  // the tensors added below are not visited
  for (int id = 0; id < count; ++id) {
    if (net.tensor(id).dtype != DataType::kFloat32 || net.tensor(id).is_constant) continue;
    bool others = false;
    const std::vector<int> readers = a_readers(net, id, &others);
    if (readers.size() < 2) continue;
    const std::string name = passes::fresh_name(net, net.tensor(id).name + "_bf16");
    const Shape shape = net.tensor(id).shape;
    const int y = net.add_node("int8rt.ToBf16", name, {id}, Attributes{}, {name})[0];
    net.tensor(y).dtype = DataType::kBFloat16;
    net.tensor(y).shape = shape;
    for (int u : readers) net.nodes()[u].inputs[0] = y;
    ++shared;
  }
  std::vector<std::string> report;
  if (between > 0) report.push_back("bf16: " + std::to_string(between) + " tensors between BF16 MatMuls stored as bfloat16");
  if (contexts > 0) {
    report.push_back("bf16: " + std::to_string(contexts) +
                     " BF16 attention outputs stored as bfloat16 up to the Linear MatMul that reads them");
  }
  if (shared > 0) {
    report.push_back("bf16: " + std::to_string(shared) + " tensors converted once for several BF16 MatMuls");
  }
  return report;
}

// An LSTM's reason: "" when W and R are float32 constants [dirs, 4H, input]
// and [dirs, 4H, H] (dirs from its direction, H its hidden_size where set),
// which its BF16 GEMMs pack once (ops/rnn_bf16_gemms.h).
std::string lstm_reason(const Network& net, const Node& node) {
  const std::string dir = node.attrs.get_string("direction", "forward");
  const int64_t dirs = dir == "bidirectional" ? 2 : 1;
  const char* names[] = {"W", "R"};
  for (size_t i = 1; i <= 2; ++i) {
    if (!has_input(node, i)) return std::string("it has no ") + names[i - 1] + " input";
    const Tensor& t = net.tensor(node.inputs[i]);
    if (!t.is_constant) return std::string("its ") + names[i - 1] + " '" + t.name + "' is computed at run time";
    if (t.dtype != DataType::kFloat32) return std::string("its ") + names[i - 1] + " '" + t.name + "' is not float32";
    if (t.shape.size() != 3 || std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d <= 0; })) {
      return std::string("its ") + names[i - 1] + " '" + t.name + "' is " + ints_str(t.shape) + ", not 3-D";
    }
  }
  const Shape& w = net.tensor(node.inputs[1]).shape;
  const Shape& r = net.tensor(node.inputs[2]).shape;
  const int64_t H = r[2];
  if (r[0] != dirs || r[1] % 4 != 0 || r[1] / 4 != H || node.attrs.get_int("hidden_size", H) != H) {
    return "its R is " + ints_str(r) + ", not [" + std::to_string(dirs) + ", 4 * hidden_size, hidden_size] (" +
           dir + ", hidden_size " + std::to_string(node.attrs.get_int("hidden_size", H)) + ")";
  }
  if (w[0] != dirs || w[1] != r[1]) {
    return "its W is " + ints_str(w) + ", not [" + std::to_string(dirs) + ", " + std::to_string(r[1]) + ", input]";
  }
  return "";
}

}  // namespace

std::string bf16_decline_reason(const Network& net, const Node& node) {
  if (node.op == "Gemm") return weight_reason(net, node, 1, false);
  if (node.op == "MatMul") {  // a constant 2-D B is packed once, any other float B on each run
    if (!has_input(node, 1)) return "it has no B input";
    const Tensor& b = net.tensor(node.inputs[1]);
    return b.dtype == DataType::kFloat32 ? "" : "its B '" + b.name + "' is not float32";
  }
  if (node.op == "LSTM") return lstm_reason(net, node);
  if (node.op != "Conv") return node.op + " has no BF16 kernel";
  std::string reason = weight_reason(net, node, 1, true);
  if (!reason.empty()) return reason;
  const Shape& ws = net.tensor(node.inputs[1]).shape;
  if (ws.size() > 4) return "a 3-D Conv has no BF16 kernel";
  return "";
}

bool wants_bf16(const Network& net, const Node& node) {
  if (!node.attrs.has(kPrecisionAttr)) return false;
  const std::string value = node.attrs.get_string(kPrecisionAttr, "");
  if (value != "bf16") {
    throw InvalidArgument(layer_error_prefix(node) + kPrecisionAttr + " must be 'bf16', got '" + value + "'");
  }
  const std::string reason = bf16_decline_reason(net, node);
  if (!reason.empty()) throw NotSupported(layer_error_prefix(node) + "cannot run in bf16: " + reason);
  return true;
}

std::vector<std::string> mark_bf16_layers(Network& net, const std::set<std::string>& named, bool all) {
  std::vector<std::string> report;
  size_t marked = 0, floats = 0, lstms = 0, marked_lstms = 0;
  std::set<std::string> seen;
  for (Node& node : net.nodes()) {
    seen.insert(node.name);
    if (node.op.rfind("int8rt.", 0) == 0) continue;  // lowered int8 layers and converts
    if (node.op == "Conv" || node.op == "Gemm" || node.op == "MatMul") ++floats;
    if (node.op == "LSTM") ++lstms;
    const bool asked = named.count(node.name) > 0;
    if (!asked && !all) continue;
    const std::string reason = bf16_decline_reason(net, node);
    if (reason.empty()) {
      node.attrs.set(kPrecisionAttr, Attribute::of_string("bf16"));
      (node.op == "LSTM" ? marked_lstms : marked) += 1;
    } else if (asked) {
      report.push_back("warning: layer '" + node.name + "' asked for bf16 stays float32: " + reason);
    }
  }
  for (const std::string& name : named) {
    if (!seen.count(name)) {
      report.push_back("warning: layer '" + name + "' asked for bf16 is not a layer of the built network "
                       "(a graph pass merged it into another)");
    }
  }
  if (marked > 0 || !named.empty()) {
    report.push_back("bf16: " + std::to_string(marked) + " of " + std::to_string(floats) +
                     " float Conv / Gemm / MatMul layers run in BF16");
  }
  if (marked_lstms > 0) {
    report.push_back("bf16: " + std::to_string(marked_lstms) + " of " + std::to_string(lstms) + " LSTM layers run in BF16");
  }
  if (marked + marked_lstms > 0 && kernels::choose<kernels::GemmBf16Kernel>().isa() == kernels::Isa::kRef) {
    report.push_back("warning: BF16 layers run the scalar reference kernel here (no AVX512-BF16 or AMX-BF16, "
                     "or INT8RT_MAX_ISA below avx512bf16): slower than FP32");
  }
  return report;
}

std::vector<std::string> mark_bf16_tensors(Network& net) {
  std::set<int> outputs(net.outputs().begin(), net.outputs().end());
  auto bf16_conv = [&](const Node& node) {
    return node.op == "Conv" && node.attrs.get_string(kPrecisionAttr, "") == "bf16";
  };
  auto depthwise = [&](const Node& conv) {  // group == C == M > 1 (its weights [M, 1, k...])
    const Shape& ws = net.tensor(conv.inputs[1]).shape;
    const int64_t group = conv.attrs.get_int("group", 1);
    return group > 1 && ws.size() > 1 && ws[1] == 1 && ws[0] == group;
  };
  // Whether every use of tensor `id` (not a network output, used at all)
  // may read it as bfloat16; *rounds when one is a residual. Input i of a
  // user may: X of a BF16 conv, or the fused residual of a dense (not
  // depthwise: its kernel adds an FP32 residual) BF16 conv.
  auto users_take = [&](int id, bool* rounds) {
    if (outputs.count(id) || net.tensor(id).dtype != DataType::kFloat32) return false;
    const std::vector<int> users = net.consumers(id);
    bool ok = !users.empty();
    for (int u : users) {
      const Node& user = net.nodes()[u];
      for (size_t i = 0; i < user.inputs.size() && ok; ++i) {
        if (user.inputs[i] != id || (i == 0 && bf16_conv(user))) continue;
        ok = i > 0 && bf16_conv(user) && user.attrs.get_int("int8rt_residual", -1) == static_cast<int64_t>(i) &&
             !depthwise(user);
        *rounds = *rounds || ok;
      }
    }
    return ok;
  };
  size_t marked = 0, residuals = 0;
  for (const Node& node : net.nodes()) {
    if (!bf16_conv(node) || node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    const FusedActivation act = parse_fused_activation(node);
    float lo = 0.f, hi = 0.f;
    if (act.kind != FusedActivation::Kind::kNone && !act.as_clip(&lo, &hi)) continue;  // applied on FP32 after
    bool rounds = false;
    if (!users_take(node.outputs[0], &rounds)) continue;
    net.tensor(node.outputs[0]).dtype = DataType::kBFloat16;
    ++marked;
    residuals += rounds ? 1 : 0;
  }
  std::vector<std::string> report;
  if (marked > 0) {
    std::string line = "bf16: " + std::to_string(marked) + " tensors between BF16 convs stored as bfloat16";
    if (residuals > 0) line += ", " + std::to_string(residuals) + " read as residuals (added as their BF16 values)";
    report.push_back(line);
  }
  for (std::string& line : mark_bf16_matmul_tensors(net)) report.push_back(std::move(line));
  return report;
}

}  // namespace engine
}  // namespace int8rt
