// Int8Products and ProductBatch (int8_products.h).
#include "engine/ops/int8/int8_products.h"

#include <algorithm>

#include "core/checked_math.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

using kernels::OutputType;

Int8Products::Int8Products(std::string prefix, double a_scale, double b_scale, double out_scale,
                           int32_t a_zero_point, ProbsKeys a_keys)
    : prefix_(std::move(prefix)), a_scale_(a_scale), b_scale_(b_scale), out_scale_(out_scale),
      a_zero_point_(a_zero_point), a_keys_(a_keys), out_(out_scale > 0.0 ? OutputType::kInt8 : OutputType::kFloat32) {}

const Int8Products::Choice& Int8Products::choice(int64_t n, int64_t k) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_nk_.find({n, k});
  if (it != by_nk_.end()) return it->second;  // entries are never erased
  kernels::GemmShape shape;
  shape.N = checked_int(n, prefix_ + "columns of B", 1);
  shape.K = checked_int(k, prefix_ + "inner dimension", 1);
  shape.validate();
  Choice c;
  c.kernel = &kernels::choose<kernels::GemmKernel>(shape, out_);
  c.a_scale = static_cast<float>(a_keys_.scale_at(a_scale_, a_zero_point_, k));
  c.w_scales.assign(static_cast<size_t>(n), static_cast<float>(b_scale_));
  c.requant = kernels::make_epilogue(c.a_scale, c.w_scales.data(), n, nullptr,
                                     static_cast<float>(out_scale_), out_);
  return by_nk_.emplace(std::make_pair(n, k), std::move(c)).first->second;
}

const kernels::EpilogueStorage& Int8Products::zero_point_epilogue(const Choice& c, int64_t N, int64_t K,
                                                                  const int8_t* b, bool b_transposed) const {
  // Per thread, grown, never shrunk: no allocation per product once sized.
  thread_local std::vector<int64_t> sums;
  thread_local std::vector<int16_t> part;
  thread_local kernels::EpilogueStorage rq;
  sums.assign(static_cast<size_t>(N), 0);
  int64_t* const s = sums.data();
  if (b_transposed) {
    // Blocks of a row summed in int32 (|a block's sum| <= 128 * 2^16 < 2^31),
    // which vectorise better than int64 lanes, then added into int64.
    constexpr int64_t kRows = int64_t{1} << 16;
    for (int64_t k0 = 0; k0 < K; k0 += kRows) {
      const int64_t k1 = std::min(K, k0 + kRows);
      for (int64_t n = 0; n < N; ++n) {
        int32_t t = 0;
        for (int64_t k = k0; k < k1; ++k) t += b[n * K + k];
        s[n] += t;
      }
    }
  } else {
    // Blocks of 256 rows summed in int16 lanes (a block's column sum lies in
    // [-128 * 256, 127 * 256], which int16 holds), twice the lanes per
    // vector of int32 (attention's values [K][N], summed per product).
    constexpr int64_t kRows = 256;
    part.resize(static_cast<size_t>(N));
    int16_t* const p = part.data();
    for (int64_t k0 = 0; k0 < K; k0 += kRows) {
      const int64_t k1 = std::min(K, k0 + kRows);
      std::fill(p, p + N, int16_t{0});
      for (int64_t k = k0; k < k1; ++k) {
        const int8_t* row = b + k * N;
        for (int64_t n = 0; n < N; ++n) p[n] = static_cast<int16_t>(p[n] + row[n]);
      }
      for (int64_t n = 0; n < N; ++n) s[n] += p[n];
    }
  }
  rq = c.requant;  // the vectors keep their capacity
  const float s_a = c.a_scale, s_out = static_cast<float>(out_scale_);
  kernels::apply_zero_points(rq, kernels::ChannelScales{&s_a, 1}, c.w_scales.data(), sums.data(), nullptr,
                             kernels::ChannelScales{&s_out, 1}, kernels::Activation::kNone, 0.0f, 6.0f,
                             a_zero_point_, 0);
  return rq;
}

namespace {

// This thread's packed B operands, one per (kernel, N, K) last used, the least recently used
// replaced past kSlots: a product packs into its slot's buffers (GemmKernel::pack_per_run_into),
// so the products of a network's attention and MatMul layers, repeated run after run at a few
// sequence lengths, allocate nothing once warm. A slot is used from its packing to the end of
// its product's run, and a thread runs one product at a time (a parallel_for inside a product
// runs its chunks, never another product), so per-thread slots are never shared.
std::unique_ptr<kernels::PackedGemm>& packed_b_slot(const kernels::GemmKernel* kernel, int64_t N, int64_t K) {
  struct Slot {
    const kernels::GemmKernel* kernel = nullptr;
    int64_t N = 0, K = 0;
    uint64_t used = 0;
    std::unique_ptr<kernels::PackedGemm> packed;
  };
  constexpr size_t kSlots = 16;
  thread_local Slot slots[kSlots];
  thread_local uint64_t clock = 0;
  Slot* pick = &slots[0];
  for (Slot& s : slots) {
    if (s.kernel == kernel && s.N == N && s.K == K) {
      pick = &s;
      break;
    }
    if (s.used < pick->used) pick = &s;
  }
  if (pick->kernel != kernel || pick->N != N || pick->K != K) {
    pick->kernel = kernel;
    pick->N = N;
    pick->K = K;
  }
  pick->used = ++clock;
  return pick->packed;
}

}  // namespace

void Int8Products::run(int64_t M, int64_t N, int64_t K, const int8_t* a, const int8_t* b, bool b_transposed,
                       void* y) const {
  const Choice& c = choice(N, K);
  const kernels::GemmShape shape{static_cast<int>(N), static_cast<int>(K)};
  const kernels::EpilogueStorage& rq =
      a_zero_point_ == 0 ? c.requant : zero_point_epilogue(c, N, K, b, b_transposed);
  std::unique_ptr<kernels::PackedGemm>& packed = packed_b_slot(c.kernel, N, K);
  c.kernel->pack_per_run_into(shape, b, !b_transposed, &packed);
  packed->run(M, a, rq.epilogue(), y);
}

std::string Int8Products::kernel_name() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> names;  // the distinct kernels, in (N, K) order: AMX may decline some shapes
  for (const auto& entry : by_nk_) {
    const std::string name = entry.second.kernel->name();
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : " / ") + name;
  return out;
}

namespace {

// The strides, in products, of an operand's batch dims d[0 .. rank) viewed as
// `batch` (aligned right; 0 where the operand's dim is 1 or missing).
template <typename Dims>
void product_strides(const Dims& d, size_t rank, const BroadcastDims& batch, BroadcastDims& out) {
  out.assign_zeros(batch.size());
  int64_t s = 1;
  for (size_t k = 0; k < rank; ++k) {
    const int64_t dim = d[rank - 1 - k];
    out[batch.size() - 1 - k] = dim == 1 ? 0 : s;
    s *= dim;
  }
}

template <typename Dims>
Shape as_shape(const Dims& d) {
  return Shape(d.data(), d.data() + d.size());
}

}  // namespace

template <typename Dims>
ProductBatch ProductBatch::of(const Dims& as, const Shape& bs, bool b_transposed, const std::string& prefix) {
  if (as.size() < 2 || bs.size() < 2) throw InvalidArgument(prefix + "int8 MatMul operands must be at least 2-D");
  ProductBatch p;
  const size_t ra = as.size() - 2, rb = bs.size() - 2;
  p.M = as[ra];
  p.K = as[ra + 1];
  p.N = b_transposed ? bs[rb] : bs[rb + 1];
  if ((b_transposed ? bs[rb + 1] : bs[rb]) != p.K) {
    throw InvalidArgument(prefix + "inner dimensions differ: " + shape_str(as_shape(as)) + " x " + shape_str(bs) +
                          (b_transposed ? " (b transposed)" : ""));
  }
  // broadcast_shapes (op_util.h) of the two batches, in place.
  const size_t r = std::max(ra, rb);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ra ? 1 : as[i - (r - ra)];
    const int64_t db = i < r - rb ? 1 : bs[i - (r - rb)];
    if (da != db && da != 1 && db != 1) {
      const Shape a = as_shape(as);  // (only on failure: the message broadcast_shapes throws)
      broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(bs.begin(), bs.end() - 2), prefix);
    }
    p.batch.push_back(da == 1 ? db : da);
  }
  product_strides(as, ra, p.batch, p.sa);
  product_strides(bs, rb, p.batch, p.sb);
  return p;
}

template ProductBatch ProductBatch::of<Shape>(const Shape&, const Shape&, bool, const std::string&);
template ProductBatch ProductBatch::of<BroadcastDims>(const BroadcastDims&, const Shape&, bool, const std::string&);

int64_t ProductBatch::products() const {
  int64_t n = 1;
  for (size_t d = 0; d < batch.size(); ++d) n *= batch[d];  // (each operand's count, checked when it was made)
  return n;
}

std::pair<int64_t, int64_t> ProductBatch::operands(int64_t t) const {
  int64_t oa = 0, ob = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()), r = t; d-- > 0;) {
    const int64_t idx = r % batch[d];
    r /= batch[d];
    oa += idx * sa[d];
    ob += idx * sb[d];
  }
  return {oa, ob};
}

}  // namespace engine
}  // namespace int8rt
