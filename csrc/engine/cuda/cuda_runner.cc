// The CUDA device runner (engine/device_runner.h): runs an INT8 engine's
// lowered network with the DP4A kernels of kernels/cuda through the backend
// API (cuda_backend.h). Registered as device "cuda" when the backend is
// compiled in (INT8RT_WITH_CUDA); the tests also build it over the emulated
// runtime (kernels/cuda/device_runtime.h), which runs the same code on the
// CPU.
//
// What runs where (decided once per engine, shown by `inspect`):
//   int8rt.QConv                -> cuda conv (DP4A implicit GEMM; depthwise kernel)
//   int8rt.QGemm (rank-2 input) -> cuda gemm (DP4A)
//   int8rt.Quantize/Dequantize of rank-4 tensors -> cuda quantize / dequantize
//   int8rt.QLut                 -> cuda table lookup (any layout: element-wise)
//   int8rt.QMaxPool, QAveragePool, QGlobalAveragePool, QFlatten -> cuda pooling / flatten
//   int8rt.QAdd, QConcat (channels, <= 8 inputs), QChannelMul -> cuda add / concat / gate
//   everything else             -> the host layer of the CPU engine ("host
//                                  fallback"; every float32 layer).
// Every tensor lives where it was produced and is copied (and re-laid-out:
// int8 rank-4 tensors are NHWC on the host and NC/4HW4 on the device) only
// when a consumer on the other side needs it. Because the CUDA kernels equal
// the reference kernels bit for bit, an engine on CUDA gives the same bytes
// as the same engine on the CPU.
//
// run() takes and returns host tensors; run_on_device() takes the inputs
// from, and writes the outputs to, the caller's device memory (device to
// device copies, no host round trip unless a host-fallback layer needs a
// tensor). Each execution context owns a stream and its device buffers (they
// only grow); contexts run concurrently. Device 0 only.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/nc4hw4_host.h"
#include "engine/device_runner.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qeltwise_params.h"
#include "engine/ops/int8/qlinear_params.h"
#include "engine/ops/int8/qpool_params.h"
#include "int8rt/error.h"
#include "kernels/cuda/cuda_backend.h"

namespace int8rt {
namespace engine {
namespace cuda {
namespace {

namespace kc = kernels::cuda;

enum class Where {
  kHost, kConv, kGemm, kQuantize, kDequantize, kLut, kMaxPool, kAvgPool, kGlobalAvgPool, kFlatten, kAdd, kConcat, kChannelMul
};

struct NodePlan {
  Where where = Where::kHost;
  std::string why;  // why a QConv/QGemm stayed on the host
  std::unique_ptr<kc::ConvLayer> conv;
  std::unique_ptr<kc::GemmLayer> gemm;
  std::unique_ptr<kc::LookupTable> lut;
  bool has_residual = false;
  float residual_scale = 0.f;
  float scale = 0.f;  // Quantize / Dequantize
  QPoolParams pool;   // pooling
  kernels::AddParams add;
  float s_x = 0.f, s_y = 0.f;  // channel gate
  std::vector<float> concat_multipliers;
};

// Device layout of a tensor: int8 rank 4 is NC/4HW4, everything else the host bytes.
bool is_nc4hw4(const Value& v) { return v.dtype() == DataType::kInt8 && v.shape().size() == 4; }

size_t device_bytes(const Value& v) {
  if (!is_nc4hw4(v)) return v.nbytes();
  const Shape& s = v.shape();
  return static_cast<size_t>(nc4hw4_bytes(s[0], s[1] * s[2], s[3]));
}

struct CudaState : DeviceRunner::State {
  kc::Stream stream;
  std::vector<kc::DeviceBuffer> buffers;     // by tensor id
  std::vector<char> on_host, on_device;      // validity, by tensor id
  std::vector<int8_t> staging;               // layout conversions
};

size_t input_rank(const Network& net, const Node& node, size_t i) { return net.tensor(node.inputs[i]).shape.size(); }

// One planner per lowered op the device runs: reads the node's contract
// (ops/int8/contracts.h, through the *_params readers the CPU layers use)
// and sets where it runs; a node it leaves at kHost runs on the host.
using Planner = void (*)(const Network& net, const Node& node, NodePlan& p);

void plan_conv(const Network& net, const Node& node, NodePlan& p) {
  QConvParams q = qconv_params(net, node);
  if (q.dynamic_size) {
    p.why = "its input height or width is dynamic, and a CUDA conv is planned for one size";
    return;
  }
  if (!q.requant.slope.empty()) {
    p.why = "a PReLU epilogue (slopes) has no CUDA conv";
    return;
  }
  if (q.out != kernels::OutputType::kInt8) {
    p.why = "a float32 output (a head conv) has no CUDA conv";
    return;
  }
  try {
    p.conv = std::make_unique<kc::ConvLayer>(q.shape, q.weights, q.requant);
  } catch (const NotSupported& e) {
    p.why = e.what();
    return;
  }
  p.where = Where::kConv;
  p.has_residual = q.has_residual;
  p.residual_scale = q.residual_scale;
}

void plan_gemm(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) == 4) return;
  QGemmParams q = qgemm_params(net, node);
  if (q.table) {
    p.why = "the device GEMM has no table epilogue (a fused GELU table)";
    return;
  }
  p.gemm = std::make_unique<kc::GemmLayer>(q.shape, q.weights, q.requant);
  p.where = Where::kGemm;
}

void plan_pool(const Network& net, const Node& node, NodePlan& p) {
  p.pool = qpool_params(net, node);
  if (node.inputs.size() > 1) {
    p.why = "the device pool reads x linearly, not through a float table";
    return;
  }
  if (p.pool.dynamic_size) {
    p.why = "its input height or width is dynamic, and a CUDA pool is planned for one size";
    return;
  }
  if (p.pool.z_in != 0 || p.pool.z_out != 0) {
    p.why = "the device average pool takes no zero point";
    return;
  }
  p.where = node.op == QPoolAttrs::kMaxOp       ? Where::kMaxPool
            : node.op == QPoolAttrs::kAverageOp ? Where::kAvgPool
                                                : Where::kGlobalAvgPool;
}

void plan_flatten(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) == 4) p.where = Where::kFlatten;
}

void plan_add(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) != 4) return;
  p.add = qadd_params(node);
  p.where = Where::kAdd;
}

void plan_concat(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) != 4 || node.inputs.size() > static_cast<size_t>(kc::kMaxConcatInputs)) return;
  const QConcatAttrs a = QConcatAttrs::from_attrs(node);
  if (a.axis != -1 && a.axis != 3) return;  // the device kernel concatenates channels only
  if (a.out_zero_point != 0 || std::any_of(a.in_zero_points.begin(), a.in_zero_points.end(),
                                           [](int64_t z) { return z != 0; })) {
    return;  // zero points (unsigned activations): the host layer
  }
  p.concat_multipliers = qconcat_multipliers(node);
  p.where = Where::kConcat;
}

void plan_channel_mul(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) != 4) return;
  if (node.inputs.size() > 2) {
    p.why = "the device gate reads x linearly and a float gate, not through float tables";
    return;
  }
  const QChannelMulAttrs a = QChannelMulAttrs::from_attrs(node);
  p.s_x = static_cast<float>(a.in_scale);
  p.s_y = static_cast<float>(a.out_scale);
  p.where = Where::kChannelMul;
}

void plan_lut(const Network& net, const Node& node, NodePlan& p) {
  if (!QLutAttrs::from_attrs(node).in_scales.empty()) {
    p.why = "the device lookup has one table, and this one has a table per channel";
    return;
  }
  p.lut = std::make_unique<kc::LookupTable>(constant_input(net, node, 1, "table").i8);
  p.where = Where::kLut;
}

void plan_convert(const Network& net, const Node& node, NodePlan& p) {
  if (input_rank(net, node, 0) != 4) return;
  const ConvertAttrs a = ConvertAttrs::from_attrs(node);
  if (a.logical) {
    p.why = "the device converts NCHW <-> NC/4HW4 only, and this int8 tensor keeps its logical order";
    return;
  }
  if (a.zero_point != 0 || !a.scales.empty()) {
    p.why = "the device conversion has one scale and no zero point (a pre-quantized model's)";
    return;
  }
  p.where = node.op == ConvertAttrs::kQuantizeOp ? Where::kQuantize : Where::kDequantize;
  p.scale = static_cast<float>(a.scale);
}

const std::map<std::string, Planner>& planners() {
  static const std::map<std::string, Planner> table = {
      {QConvAttrs::kOp, plan_conv}, {QGemmAttrs::kOp, plan_gemm}, {QFlattenAttrs::kOp, plan_flatten},
      {QPoolAttrs::kMaxOp, plan_pool}, {QPoolAttrs::kAverageOp, plan_pool}, {QPoolAttrs::kGlobalAverageOp, plan_pool},
      {QAddAttrs::kOp, plan_add}, {QConcatAttrs::kOp, plan_concat}, {QChannelMulAttrs::kOp, plan_channel_mul},
      {QLutAttrs::kOp, plan_lut}, {ConvertAttrs::kQuantizeOp, plan_convert}, {ConvertAttrs::kDequantizeOp, plan_convert},
  };
  return table;
}

class CudaRunner : public DeviceRunner {
 public:
  explicit CudaRunner(const Executor& ex) : ex_(ex), info_(kc::require_device(0)) {
    const Network& net = ex.network();
    plan_.resize(net.nodes().size());
    for (int n : ex.order()) plan_node(net, net.nodes()[n], plan_[n]);
  }

  std::unique_ptr<State> make_state() const override {
    auto s = std::make_unique<CudaState>();
    const size_t tensors = ex_.network().tensors().size();
    s->buffers.resize(tensors);
    s->on_host.assign(tensors, 0);
    s->on_device.assign(tensors, 0);
    return s;
  }

  void run(State& base, Executor::State& host, const std::vector<Executor::Input>& inputs) const override {
    auto& st = static_cast<CudaState&>(base);
    ex_.bind_inputs(host, inputs);
    reset_validity(st);
    for (const auto& in : inputs) st.on_host[in.tensor] = 1;
    run_nodes(st, host);
    for (int id : ex_.network().outputs()) to_host(st, host, id);
    kc::synchronize(st.stream.handle(), "the engine on CUDA");
  }

  void run_on_device(State& base, Executor::State& host, const std::vector<Executor::Input>& inputs,
                     const std::vector<std::pair<int, void*>>& outputs) const override {
    auto& st = static_cast<CudaState&>(base);
    std::vector<Executor::Input> shapes_only = inputs;
    for (auto& in : shapes_only) in.data = nullptr;
    ex_.bind_inputs(host, shapes_only);  // sizes the host values; their contents stay unused
    reset_validity(st);
    for (const auto& in : inputs) {
      const Value& v = ex_.value(host, in.tensor);
      kc::runtime::copy_on_device(device_buffer(st, in.tensor, v.nbytes()), in.data, v.nbytes(), st.stream.handle());
      st.on_device[in.tensor] = 1;
    }
    run_nodes(st, host);
    for (const auto& out : outputs) {
      to_device(st, host, out.first);
      const Value& v = ex_.value(host, out.first);
      kc::runtime::copy_on_device(out.second, st.buffers[out.first].data(), v.nbytes(), st.stream.handle());
    }
    kc::synchronize(st.stream.handle(), "the engine on CUDA");
  }

  void* allocate(size_t bytes) const override { return kc::runtime::allocate(bytes, "a user tensor"); }
  void release(void* ptr) const noexcept override { kc::runtime::release(ptr); }
  void copy_from_host(void* dev, const void* host, size_t bytes) const override {
    kc::runtime::copy_to_device(dev, host, bytes, nullptr);
    kc::synchronize(nullptr, "a host->device copy");
  }
  void copy_to_host(void* host, const void* dev, size_t bytes) const override {
    kc::runtime::copy_to_host(host, dev, bytes, nullptr);
  }

  std::string describe(int node) const override {
    const NodePlan& p = plan_[node];
    switch (p.where) {
      case Where::kConv:
        return p.conv->shape().is_depthwise() ? "cuda depthwise conv (NC/4HW4)" : "cuda dp4a implicit-gemm conv (NC/4HW4)";
      case Where::kGemm: return "cuda dp4a gemm";
      case Where::kQuantize: return "cuda quantize NCHW -> NC/4HW4";
      case Where::kDequantize: return "cuda dequantize NC/4HW4 -> NCHW";
      case Where::kLut: return "cuda table lookup";
      case Where::kMaxPool: return "cuda max pool (NC/4HW4)";
      case Where::kAvgPool: return "cuda average pool (NC/4HW4)";
      case Where::kGlobalAvgPool: return "cuda global average pool (NC/4HW4)";
      case Where::kFlatten: return "cuda flatten NC/4HW4 -> [N, C]";
      case Where::kAdd: return "cuda add (NC/4HW4)";
      case Where::kConcat: return "cuda channel concat (NC/4HW4)";
      case Where::kChannelMul: return "cuda channel gate (NC/4HW4)";
      case Where::kHost: break;
    }
    std::string d = "host fallback: " + ex_.layer(node).describe();
    return p.why.empty() ? d : d + " (" + p.why + ")";
  }

  std::string device_name() const override { return "cuda:" + std::to_string(info_.index) + " (" + info_.name + ")"; }

 private:
  void reset_validity(CudaState& st) const {
    const auto& tensors = ex_.network().tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      st.on_host[t] = tensors[t].is_constant ? 1 : 0;
      st.on_device[t] = 0;
    }
  }

  // Runs every node where the plan says, moving tensors across on demand.
  void run_nodes(CudaState& st, Executor::State& host) const {
    const Network& net = ex_.network();
    std::vector<const Value*> ins;
    std::vector<Value*> outs;
    for (int n : ex_.order()) {
      const Node& node = net.nodes()[n];
      const NodePlan& p = plan_[n];
      ex_.prepare_node(host, n, ins, outs);
      if (p.where == Where::kHost) {
        for (int id : node.inputs) if (id >= 0) to_host(st, host, id);
        ex_.layer(n).run(ins, outs);
        for (int id : node.outputs) mark(st, id, /*host=*/true);
        continue;
      }
      if (p.where == Where::kAdd || p.where == Where::kConcat || p.where == Where::kChannelMul) {
        for (int id : node.inputs) to_device(st, host, id);
      } else {
        to_device(st, host, node.inputs[0]);  // inputs 1 and 2 (weights, bias) are packed in the layer
        if (p.has_residual) to_device(st, host, node.inputs[3]);
      }
      const int y_id = node.outputs[0];
      void* y = device_buffer(st, y_id, device_bytes(*outs[0]));
      const void* x = st.buffers[node.inputs[0]].data();
      const Shape& xs = ins[0]->shape();
      switch (p.where) {
        case Where::kConv: {
          const int8_t* residual = p.has_residual ? static_cast<const int8_t*>(st.buffers[node.inputs[3]].data()) : nullptr;
          p.conv->run(static_cast<int>(xs[0]), static_cast<const int8_t*>(x), y, residual, p.residual_scale,
                      st.stream.handle());
          break;
        }
        case Where::kGemm:
          p.gemm->run(ins[0]->numel() / xs.back(), static_cast<const int8_t*>(x), y, nullptr, 0.f, st.stream.handle());
          break;
        case Where::kQuantize:  // float NCHW -> int8 NC/4HW4
          kc::quantize_nc4hw4(static_cast<int>(xs[0]), static_cast<int>(xs[1]), xs[2] * xs[3],
                              static_cast<const float*>(x), p.scale, static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kDequantize:  // int8 NC/4HW4 ([N,H,W,C]) -> float NCHW
          kc::dequantize_nc4hw4(static_cast<int>(xs[0]), static_cast<int>(xs[3]), xs[1] * xs[2],
                                static_cast<const int8_t*>(x), p.scale, static_cast<float*>(y), st.stream.handle());
          break;
        case Where::kLut:  // element-wise: the same bytes in the same layout
          p.lut->run(static_cast<int64_t>(device_bytes(*ins[0])), static_cast<const int8_t*>(x),
                     static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kMaxPool:
          kc::maxpool_nc4hw4(p.pool.shape, static_cast<int>(xs[0]), static_cast<const int8_t*>(x),
                             static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kAvgPool:
          kc::avgpool_nc4hw4(p.pool.shape, static_cast<int>(xs[0]), static_cast<const int8_t*>(x), p.pool.s_in,
                             p.pool.s_out, static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kGlobalAvgPool:  // [N,H,W,C] -> [N,1,1,C]
          kc::global_avgpool_nc4hw4(static_cast<int>(xs[0]), xs[1] * xs[2], static_cast<int>(xs[3]),
                                    static_cast<const int8_t*>(x), p.pool.s_in, p.pool.s_out,
                                    static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kFlatten:  // [N,1,1,C] NC/4HW4 -> [N,C] row-major
          kc::flatten_nc4(static_cast<int>(xs[0]), static_cast<int>(xs[3]), static_cast<const int8_t*>(x),
                          static_cast<int8_t*>(y), st.stream.handle());
          break;
        case Where::kAdd:
          kc::add_s8(static_cast<int64_t>(device_bytes(*ins[0])), static_cast<const int8_t*>(x),
                     static_cast<const int8_t*>(st.buffers[node.inputs[1]].data()), p.add, static_cast<int8_t*>(y),
                     st.stream.handle());
          break;
        case Where::kChannelMul:  // x NC/4HW4, gate float [N|1, C, 1, 1] (identity layout)
          kc::channel_mul_nc4hw4(static_cast<int>(xs[0]), xs[1] * xs[2], static_cast<int>(xs[3]),
                                 static_cast<const int8_t*>(x),
                                 static_cast<const float*>(st.buffers[node.inputs[1]].data()),
                                 static_cast<int>(ins[1]->shape()[0]), p.s_x, p.s_y, static_cast<int8_t*>(y),
                                 st.stream.handle());
          break;
        case Where::kConcat: {
          std::vector<kc::ConcatInputDev> parts;
          for (size_t i = 0; i < node.inputs.size(); ++i) {
            parts.push_back({static_cast<const int8_t*>(st.buffers[node.inputs[i]].data()),
                             static_cast<int>(ins[i]->shape()[3]), p.concat_multipliers[i]});
          }
          kc::concat_nc4hw4(static_cast<int>(xs[0]), xs[1] * xs[2], parts, static_cast<int8_t*>(y), st.stream.handle());
          break;
        }
        case Where::kHost:
          break;
      }
      mark(st, y_id, /*host=*/false);
    }
  }

  // Decides where node `node` runs (kHost unless its op's planner takes it).
  static void plan_node(const Network& net, const Node& node, NodePlan& p) {
    auto it = planners().find(node.op);
    if (it != planners().end()) it->second(net, node, p);
  }

  static void mark(CudaState& st, int id, bool host) {
    st.on_host[id] = host ? 1 : 0;
    st.on_device[id] = host ? 0 : 1;
  }

  static void* device_buffer(CudaState& st, int id, size_t bytes) {
    kc::DeviceBuffer& b = st.buffers[id];
    if (b.bytes() < bytes || !b.data()) b = kc::DeviceBuffer(bytes ? bytes : 4, "an activation");
    return b.data();
  }

  // Makes tensor `id` valid on the device (uploading, NHWC -> NC/4HW4 for int8 rank 4).
  void to_device(CudaState& st, Executor::State& host, int id) const {
    if (st.on_device[id]) return;
    const Value& v = ex_.value(host, id);
    void* dst = device_buffer(st, id, device_bytes(v));
    if (is_nc4hw4(v)) {
      const Shape& s = v.shape();
      st.staging.resize(device_bytes(v));
      nhwc_to_nc4hw4(s[0], s[1] * s[2], s[3], v.data<int8_t>(), st.staging.data());
      kc::runtime::copy_to_device(dst, st.staging.data(), st.staging.size(), st.stream.handle());
    } else {
      kc::runtime::copy_to_device(dst, v.data<char>(), v.nbytes(), st.stream.handle());
    }
    st.on_device[id] = 1;
  }

  // Makes tensor `id` valid on the host (waits for the stream).
  void to_host(CudaState& st, Executor::State& host, int id) const {
    if (st.on_host[id]) return;
    Value& v = host.values.at(id);  // sized by prepare_node of its producer
    if (is_nc4hw4(v)) {
      const Shape& s = v.shape();
      st.staging.resize(device_bytes(v));
      kc::runtime::copy_to_host(st.staging.data(), st.buffers[id].data(), st.staging.size(), st.stream.handle());
      nc4hw4_to_nhwc(s[0], s[1] * s[2], s[3], st.staging.data(), v.data<int8_t>());
    } else {
      kc::runtime::copy_to_host(v.data<char>(), st.buffers[id].data(), v.nbytes(), st.stream.handle());
    }
    st.on_host[id] = 1;
  }

  const Executor& ex_;
  kc::DeviceInfo info_;
  std::vector<NodePlan> plan_;  // by node id
};

INT8RT_REGISTER_DEVICE(
    "cuda", [](const Executor& ex) -> std::unique_ptr<DeviceRunner> { return std::make_unique<CudaRunner>(ex); },
    [] { kc::require_device(0); });

}  // namespace
}  // namespace cuda
}  // namespace engine
}  // namespace int8rt
