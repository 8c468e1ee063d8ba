// The element-wise int8 candidates and their choice (eltwise_s8.h), and the
// reference candidate, which calls the spec kernels of ref/ as they are.
#include "kernels/eltwise_s8.h"

#include <cstdio>

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace {

class RefEltwiseS8 final : public EltwiseS8 {
 public:
  const char* name() const override { return "eltwise_s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  void quantize(int64_t n, const float* x, float scale, int8_t* q) const override {
    ref::quantize_s8(n, x, scale, q);
  }
  void quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                             int8_t* q) const override {
    ref::quantize_nchw_to_nhwc_s8(N, C, HW, x, scale, q);
  }
  void dequantize(int64_t n, const int8_t* q, float scale, float* x) const override {
    ref::dequantize_s8(n, q, scale, x);
  }
  void dequantize_nhwc_to_nchw(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                               float* x) const override {
    ref::dequantize_nhwc_to_nchw_s8(N, HW, C, q, scale, x);
  }
  void add(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
           int8_t* y) const override {
    ref::add_s8(n, a, b, p, y);
  }
  void concat(int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
              int8_t* y) const override {
    ref::concat_s8(pixels, inputs, y);
  }
  void maxpool(const PoolShape& shape, int batch, const int8_t* x, int8_t* y) const override {
    ref::maxpool_s8(shape, batch, x, y);
  }
  void avgpool(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out,
               int8_t* y) const override {
    ref::avgpool_s8(shape, batch, x, s_in, s_out, y);
  }
  void global_avgpool(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out,
                      int8_t* y) const override {
    ref::global_avgpool_s8(batch, HW, C, x, s_in, s_out, y);
  }  void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) const override {
    ref::lookup_s8(n, x, table, y);
  }
  void channel_mul(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate, int64_t gate_batch,
                   float s_x, float s_y, int8_t* y) const override {
    ref::channel_mul_s8(N, HW, C, x, gate, gate_batch, s_x, s_y, y);
  }

};

using Provider = void (*)(std::vector<const EltwiseS8*>&);
// Best ISA first, reference last (one guarded line per ISA, as registry.cc).
const Provider kProviders[] = {
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    x86::append_eltwise_s8_avx512vnni,
#endif
    append_eltwise_s8_ref,
};

}  // namespace

void append_eltwise_s8_ref(std::vector<const EltwiseS8*>& list) {
  static const RefEltwiseS8 ref_candidate;
  list.push_back(&ref_candidate);
}

const std::vector<const EltwiseS8*>& eltwise_s8_candidates() {
  static const std::vector<const EltwiseS8*> list = [] {
    std::vector<const EltwiseS8*> l;
    for (Provider p : kProviders) p(l);
    return l;
  }();
  return list;
}

const EltwiseS8& choose_eltwise_s8(const char* op) {
  std::string passed_over;
  for (const EltwiseS8* k : eltwise_s8_candidates()) {
    const std::string reason = isa_decline_reason(k->isa());
    if (reason.empty()) {
      if (dispatch_log_enabled()) {
        std::fprintf(stderr, "int8rt dispatch: %s -> %s (%s)%s%s\n", op, k->name(),
                     isa_name(k->isa()), passed_over.empty() ? "" : "; passed over: ",
                     passed_over.c_str());
      }
      return *k;
    }
    if (!passed_over.empty()) passed_over += "; ";
    passed_over += std::string(k->name()) + ": " + reason;
  }
  // Unreachable: the reference candidate's tier is always enabled.
  throw NotSupported(std::string(op) + ": no element-wise kernel set: " + passed_over);
}

const EltwiseS8& eltwise_s8_by_name(const std::string& name) {
  std::string known;
  for (const EltwiseS8* k : eltwise_s8_candidates()) {
    if (name == k->name()) {
      const std::string reason = isa_decline_reason(k->isa());
      if (!reason.empty()) throw NotSupported("eltwise_s8: " + name + " cannot run: " + reason);
      return *k;
    }
    known += std::string(known.empty() ? "" : ", ") + k->name();
  }
  throw InvalidArgument("eltwise_s8: unknown kernel set '" + name + "' (known: " + known + ")");
}

}  // namespace kernels
}  // namespace int8rt
