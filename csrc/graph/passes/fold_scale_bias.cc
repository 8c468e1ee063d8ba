// fold_scale_bias (passes.h): Mul, Add, Sub or Div of a Conv / ConvTranspose /
// Gemm output by a float32 constant that is one value per output channel (or
// one value), folded into the producer's weights and bias. Exporters emit
// these for affine layers (Paddle's learnable scale/bias after a conv,
// layer-scale gammas, BatchNorm written out as Mul + Add). For z the
// producer's output and t[c] the constant's value for channel c:
//   z * t  ->  f = t,    b' = b * t        z + t, t + z  ->  f = 1,  b' = b + t
//   z - t  ->  f = 1,    b' = b - t        t - z         ->  f = -1, b' = t - b
//   z / t  ->  f = 1/t,  b' = b / t        (t / z is not affine: left alone)
// in double, rounded to float32 once (channel_affine.h). The constant must
// broadcast without changing the output's shape: its dims, aligned to the
// right of the output's, are 1 except the channel dim (axis 1), which may be
// the channel count. Every value must be finite (and non-zero for Div), so
// the folded network computes the same function; it is not bit-exact (one
// rounding fewer), like BatchNorm folding.
#include <cmath>

#include "graph/passes/channel_affine.h"

namespace int8rt {
namespace {

using passes::constant_or_null;
using passes::input_at;

// The constant's value per output channel, or empty when it is not a
// per-channel (or single) value of an output of rank `rank`.
std::vector<double> per_channel(const Tensor& t, size_t rank, int64_t channels) {
  if (t.dtype != DataType::kFloat32 || t.shape.size() > rank || t.f32.empty()) return {};
  const size_t offset = rank - t.shape.size();
  bool by_channel = false;
  for (size_t j = 0; j < t.shape.size(); ++j) {
    const bool channel_axis = offset + j == 1;
    if (t.shape[j] == 1) continue;
    if (!channel_axis || t.shape[j] != channels) return {};
    by_channel = true;
  }
  std::vector<double> v(channels);
  for (int64_t c = 0; c < channels; ++c) v[c] = static_cast<double>(t.f32[by_channel ? c : 0]);
  for (double x : v) {
    if (!std::isfinite(x)) return {};
  }
  return v;
}

size_t output_rank(const Network& net, const Node& producer) {
  if (producer.op == "Gemm") return 2;
  return constant_or_null(net, input_at(producer, 1))->shape.size();
}

bool fold_one(Network& net, int node_id, PassReport* report) {
  const Node& node = net.nodes()[node_id];
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return false;
  const int a = node.inputs[0], b = node.inputs[1];
  const bool z_first = constant_or_null(net, b) != nullptr;
  const int z = z_first ? a : b;
  const Tensor* t = constant_or_null(net, z_first ? b : a);
  if (!t || constant_or_null(net, z) || net.tensor(z).producer < 0) return false;
  const int p_id = net.tensor(z).producer;
  if (passes::sole_consumer(net, z) != node_id) return false;
  const int64_t channels = passes::affine_foldable_channels(net, p_id);
  if (channels == 0) return false;
  const std::vector<double> v = per_channel(*t, output_rank(net, net.nodes()[p_id]), channels);
  if (v.empty()) return false;

  std::vector<double> f(channels, 1.0);
  std::function<double(int64_t, double)> new_bias;
  const std::string& op = node.op;
  if (op == "Mul") {
    f = v;
    new_bias = [&v](int64_t c, double bias) { return bias * v[c]; };
  } else if (op == "Add") {
    new_bias = [&v](int64_t c, double bias) { return bias + v[c]; };
  } else if (op == "Sub" && z_first) {
    new_bias = [&v](int64_t c, double bias) { return bias - v[c]; };
  } else if (op == "Sub") {
    f.assign(channels, -1.0);
    new_bias = [&v](int64_t c, double bias) { return v[c] - bias; };
  } else if (op == "Div" && z_first) {
    for (int64_t c = 0; c < channels; ++c) {
      if (v[c] == 0.0) return false;
      f[c] = 1.0 / v[c];
    }
    new_bias = [&v](int64_t c, double bias) { return bias / v[c]; };
  } else {
    return false;
  }
  const std::string note = "folded " + op + " '" + node.name + "' by a constant into " +
                           passes::describe(net.nodes()[p_id]);
  passes::fold_channel_affine(net, p_id, f, new_bias, node.outputs[0], note, report);
  return true;
}

}  // namespace

void fold_scale_bias(Network& net, PassReport* report) {
  bool changed = true;
  while (changed) {  // Conv -> Mul -> Add: the Add's producer is the Conv once the Mul folds
    changed = false;
    for (size_t n = 0; n < net.nodes().size(); ++n) {
      const std::string& op = net.nodes()[n].op;
      if (op == "Mul" || op == "Add" || op == "Sub" || op == "Div") {
        changed |= fold_one(net, static_cast<int>(n), report);
      }
    }
  }
  net.compact();
}

}  // namespace int8rt
