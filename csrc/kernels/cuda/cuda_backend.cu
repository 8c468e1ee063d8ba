// Host API of the CUDA backend (cuda_backend.h): weight packing and upload,
// argument checks, launches. Runtime calls (memory, copies, errors) go
// through device_runtime.h, so this file compiles both with nvcc (the real
// backend) and as C++ over the emulated runtime (tests); the kernels
// themselves are in the other .cu files of this folder.
#include "kernels/cuda/cuda_backend.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "int8rt/error.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

DeviceBuffer upload_vector(const void* data, size_t bytes, const char* what) {
  DeviceBuffer b(bytes == 0 ? 4 : bytes, what);
  if (bytes) b.upload(data, bytes);
  return b;
}

Epilogue device_epilogue(const EpilogueStorage& rq, const DeviceBuffer& scale, const DeviceBuffer& bias,
                         const int8_t* residual, float residual_scale) {
  Epilogue ep;
  ep.scale = static_cast<const float*>(scale.data());
  ep.bias = rq.bias.empty() ? nullptr : static_cast<const float*>(bias.data());
  ep.clamp_lo = rq.clamp_lo;
  ep.clamp_hi = rq.clamp_hi;
  ep.residual = residual;
  ep.residual_scale = residual_scale;
  ep.out_type = rq.out_type;
  return ep;
}

}  // namespace

int device_count() { return runtime::device_count(); }

DeviceInfo require_device(int index) { return runtime::select_device(index); }

DeviceBuffer::DeviceBuffer(size_t bytes, const char* what)
    : ptr_(runtime::allocate(bytes, what)), bytes_(bytes) {}

DeviceBuffer::~DeviceBuffer() { runtime::release(ptr_); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    runtime::release(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes, void* stream) {
  if (bytes > bytes_) {
    throw InvalidArgument("DeviceBuffer.upload: " + std::to_string(bytes) + " bytes into " +
                          std::to_string(bytes_));
  }
  runtime::copy_to_device(ptr_, host, bytes, stream);
}

void DeviceBuffer::download(void* host, size_t bytes, void* stream) const {
  if (bytes > bytes_) {
    throw InvalidArgument("DeviceBuffer.download: " + std::to_string(bytes) + " bytes from " +
                          std::to_string(bytes_));
  }
  runtime::copy_to_host(host, ptr_, bytes, stream);
}

void synchronize(void* stream, const char* what) { runtime::synchronize(stream, what); }

// ---- conv ----

ConvLayer::ConvLayer(const ConvShape& shape, const int8_t* w, const EpilogueStorage& rq)
    : shape_(shape), rq_(rq) {
  shape.validate();
  check_epilogue(rq.epilogue(), "cuda conv");
  if (static_cast<int64_t>(rq.scale.size()) != shape.K) {
    throw InvalidArgument("cuda conv: scale has " + std::to_string(rq.scale.size()) +
                          " values, K is " + std::to_string(shape.K));
  }
  if (!shape.is_depthwise() &&
      static_cast<int64_t>(shape.groups) * ((shape.k_per_group() + 63) / 64) > 65535) {
    throw NotSupported("cuda conv: groups * ceil(K/groups / 64) exceeds the 65535 grid rows");
  }
  const std::vector<int32_t> packed = shape.is_depthwise() ? pack_depthwise_weights(shape, w)
                                                           : pack_conv_weights_dp4a(shape, w);
  weights_ = upload_vector(packed.data(), packed.size() * 4, "conv weights");
  scale_ = upload_vector(rq.scale.data(), rq.scale.size() * 4, "conv scale");
  bias_ = upload_vector(rq.bias.data(), rq.bias.size() * 4, "conv bias");
}

size_t ConvLayer::input_bytes(int batch) const {
  return static_cast<size_t>(batch) * div_up(shape_.C, 4) * shape_.H * shape_.W * 4;
}
size_t ConvLayer::output_bytes(int batch) const {
  return static_cast<size_t>(batch) * div_up(shape_.K, 4) * shape_.out_h() * shape_.out_w() * 4;
}

void ConvLayer::run(int batch, const int8_t* x, void* y, const int8_t* residual,
                    float residual_scale, void* stream) const {
  if (batch < 0) throw InvalidArgument("cuda conv: batch must be >= 0");
  const ConvGeometry g = conv_geometry(shape_, batch);
  const Epilogue ep = device_epilogue(rq_, scale_, bias_, residual, residual_scale);
  const int32_t* w = static_cast<const int32_t*>(weights_.data());
  if (shape_.is_depthwise()) {
    launch_conv_s8_depthwise(g, x, w, ep, y, as_stream(stream));
  } else {
    launch_conv_s8_dp4a(g, x, w, ep, y, as_stream(stream));
  }
  runtime::check_launch("conv_s8");
}

// ---- gemm ----

GemmLayer::GemmLayer(const GemmShape& shape, const int8_t* b, const EpilogueStorage& rq)
    : shape_(shape), rq_(rq) {
  shape.validate();
  check_epilogue(rq.epilogue(), "cuda gemm");
  if (static_cast<int64_t>(rq.scale.size()) != shape.N) {
    throw InvalidArgument("cuda gemm: scale has " + std::to_string(rq.scale.size()) +
                          " values, N is " + std::to_string(shape.N));
  }
  const std::vector<int32_t> packed = pack_gemm_weights_dp4a(shape, b);
  weights_ = upload_vector(packed.data(), packed.size() * 4, "gemm weights");
  scale_ = upload_vector(rq.scale.data(), rq.scale.size() * 4, "gemm scale");
  bias_ = upload_vector(rq.bias.data(), rq.bias.size() * 4, "gemm bias");
}

void GemmLayer::run(int64_t M, const int8_t* a, void* y, const int8_t* residual,
                    float residual_scale, void* stream) const {
  if (M < 0) throw InvalidArgument("cuda gemm: M must be >= 0");
  if ((M + 63) / 64 > 0x7fffffff) throw NotSupported("cuda gemm: M too large for one grid");
  const Epilogue ep = device_epilogue(rq_, scale_, bias_, residual, residual_scale);
  launch_gemm_s8_dp4a(shape_, M, a, static_cast<const int32_t*>(weights_.data()), ep, y,
                      as_stream(stream));
  runtime::check_launch("gemm_s8");
}

// ---- pooling ----

void maxpool_nc4hw4(const PoolShape& shape, int batch, const int8_t* x, int8_t* y, void* stream) {
  shape.validate();
  if (batch < 0) throw InvalidArgument("cuda maxpool: batch must be >= 0");
  launch_maxpool_nc4hw4(shape, batch, x, y, as_stream(stream));
  runtime::check_launch("maxpool_nc4hw4");
}

void avgpool_nc4hw4(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out, int8_t* y,
                    void* stream) {
  shape.validate();
  if (batch < 0) throw InvalidArgument("cuda avgpool: batch must be >= 0");
  if (!(s_in > 0.0f) || !(s_out > 0.0f)) throw InvalidArgument("cuda avgpool: scales must be > 0");
  launch_avgpool_nc4hw4(shape, batch, x, s_in, s_out, y, as_stream(stream));
  runtime::check_launch("avgpool_nc4hw4");
}

void global_avgpool_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out, int8_t* y,
                           void* stream) {
  if (batch < 0 || HW <= 0 || C <= 0 || HW > kMaxReduction) {  // int32 sums, as ref::global_avgpool_s8
    throw InvalidArgument("cuda global_avgpool: need batch >= 0, C > 0 and 0 < H*W <= " +
                          std::to_string(kMaxReduction));
  }
  if (!(s_in > 0.0f) || !(s_out > 0.0f)) throw InvalidArgument("cuda global_avgpool: scales must be > 0");
  launch_global_avgpool_nc4hw4(batch, HW, C, x, ref::avgpool_multiplier(s_in, s_out, HW), y, as_stream(stream));
  runtime::check_launch("global_avgpool_nc4hw4");
}

void flatten_nc4(int batch, int C, const int8_t* x, int8_t* y, void* stream) {
  if (batch < 0 || C <= 0) throw InvalidArgument("cuda flatten: need batch >= 0 and C > 0");
  launch_flatten_nc4(batch, C, x, y, as_stream(stream));
  runtime::check_launch("flatten_nc4");
}

// ---- add / concat ----

void add_s8(int64_t bytes, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y, void* stream) {
  if (bytes < 0 || bytes % 4 != 0) throw InvalidArgument("cuda add: byte count must be a multiple of 4");
  if (!(p.clamp_lo >= -128.0f && p.clamp_hi <= 127.0f && p.clamp_lo <= p.clamp_hi)) {
    throw InvalidArgument("cuda add: clamp range must lie inside [-128, 127]");
  }
  launch_add_s8(bytes, a, b, p, y, as_stream(stream));
  runtime::check_launch("add_s8");
}

void channel_mul_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, const float* gate, int gate_batch, float s_x,
                        float s_y, int8_t* y, void* stream) {
  if (batch < 0 || HW < 0 || C <= 0 || (gate_batch != 1 && gate_batch != batch)) {
    throw InvalidArgument("cuda channel_mul: need batch, HW >= 0, C > 0 and a gate of batch 1 or batch");
  }
  if (!(std::isfinite(s_x) && s_x > 0.0f && std::isfinite(s_y) && s_y > 0.0f)) {
    throw InvalidArgument("cuda channel_mul: scales must be finite and > 0");
  }
  launch_channel_mul_nc4hw4(batch, HW, C, x, gate, gate_batch, s_x / s_y, y, as_stream(stream));
  runtime::check_launch("channel_mul_nc4hw4");
}

void concat_nc4hw4(int batch, int64_t HW, const std::vector<ConcatInputDev>& inputs, int8_t* y, void* stream) {
  if (inputs.empty() || static_cast<int>(inputs.size()) > kMaxConcatInputs) {
    throw NotSupported("cuda concat: 1 to " + std::to_string(kMaxConcatInputs) + " inputs, got " +
                       std::to_string(inputs.size()));
  }
  ConcatArgs args;
  args.count = static_cast<int>(inputs.size());
  for (int i = 0; i < args.count; ++i) {
    const ConcatInputDev& in = inputs[i];
    if (!in.data || in.channels <= 0 || !(std::isfinite(in.multiplier) && in.multiplier > 0.0f)) {
      throw InvalidArgument("cuda concat: every input needs data, > 0 channels and a finite multiplier > 0");
    }
    args.data[i] = in.data;
    args.channels[i] = in.channels;
    args.multiplier[i] = in.multiplier;
  }
  launch_concat_nc4hw4(batch, HW, args, y, as_stream(stream));
  runtime::check_launch("concat_nc4hw4");
}

// ---- lookup ----

LookupTable::LookupTable(const std::vector<int8_t>& table) {
  if (table.size() != 256) throw InvalidArgument("cuda lookup: the table needs 256 values");
  table_ = upload_vector(table.data(), 256, "lookup table");
}

void LookupTable::run(int64_t n, const int8_t* x, int8_t* y, void* stream) const {
  if (n < 0) throw InvalidArgument("cuda lookup: n must be >= 0");
  launch_lookup_s8(n, x, static_cast<const int8_t*>(table_.data()), y, as_stream(stream));
  runtime::check_launch("lookup_s8");
}

// ---- quantize / histogram ----

void quantize_nc4hw4(int batch, int C, int64_t HW, const float* x, float scale, int8_t* q,
                     void* stream) {
  if (!(scale > 0.0f) || scale == std::numeric_limits<float>::infinity()) {
    throw InvalidArgument("cuda quantize: scale must be finite and > 0");
  }
  launch_quantize_nc4hw4(batch, C, HW, x, scale, q, as_stream(stream));
  runtime::check_launch("quantize_nc4hw4");
}

void dequantize_nc4hw4(int batch, int C, int64_t HW, const int8_t* q, float scale, float* x,
                       void* stream) {
  launch_dequantize_nc4hw4(batch, C, HW, q, scale, x, as_stream(stream));
  runtime::check_launch("dequantize_nc4hw4");
}

AbsScan abs_max_scan(int64_t n, const float* x) {
  DeviceBuffer out(16, "abs_max_scan result");
  runtime::fill_zero(out.data(), 16, nullptr);
  uint32_t* bits = static_cast<uint32_t*>(out.data());
  auto* bad = reinterpret_cast<unsigned long long*>(static_cast<char*>(out.data()) + 8);
  launch_abs_max_scan(n, x, bits, bad, nullptr);
  runtime::check_launch("abs_max_scan");
  synchronize(nullptr, "abs_max_scan");
  unsigned char host[16];
  out.download(host, 16);
  AbsScan r;
  std::memcpy(&r.max_abs, host, 4);
  std::memcpy(&r.nonfinite, host + 8, 8);
  return r;
}

void histogram_abs(int64_t n, const float* x, float bin_width, std::vector<uint64_t>& counts) {
  if (!(bin_width > 0.0f)) throw InvalidArgument("cuda histogram: bin width must be > 0");
  if (counts.empty() || counts.size() > 0x7fffffff) {
    throw InvalidArgument("cuda histogram: bin count must be in [1, 2^31)");
  }
  const size_t bytes = counts.size() * 8;
  DeviceBuffer dev(bytes, "histogram counts");
  runtime::fill_zero(dev.data(), bytes, nullptr);
  launch_histogram_abs(n, x, 1.0f / bin_width, static_cast<int>(counts.size()),
                       static_cast<unsigned long long*>(dev.data()), nullptr);
  runtime::check_launch("histogram_abs");
  synchronize(nullptr, "histogram_abs");
  std::vector<uint64_t> add(counts.size());
  dev.download(add.data(), bytes);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += add[i];
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
