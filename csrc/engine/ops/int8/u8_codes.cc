// The u8-code rule of u8_codes.h.
#include "engine/ops/int8/u8_codes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/nonneg_input.h"
#include "engine/ops/int8/qlinear_params.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::Codes;
using kernels::ConvShape;

bool enabled() {
  const char* v = std::getenv("INT8RT_U8_CODES");
  return !(v && std::strcmp(v, "0") == 0);
}

// The conv shape of QConv node `node` (kS8 codes); false for a node the
// layer would refuse (its construction reports that, not this rule).
bool conv_shape(const Network& net, const Node& node, ConvShape* s) {
  try {
    *s = qconv_shape(net, node);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// The conv kernel the registry picks for `s` with kS8 codes if it also
// takes s's codes, else nullptr.
const kernels::ConvKernel* chosen_kernel_taking(const ConvShape& s) {
  ConvShape plain = s;
  plain.input_codes = plain.output_codes = Codes::kS8;
  for (const kernels::ConvKernel* k : kernels::candidates<kernels::ConvKernel>()) {
    if (!kernels::decline_reason(*k, plain, kernels::OutputType::kInt8).empty()) continue;
    return k->supports(s, kernels::OutputType::kInt8).empty() ? k : nullptr;
  }
  return nullptr;
}

}  // namespace

kernels::Codes int8_tensor_codes(const Network& net, int id) {
  if (id < 0 || !enabled()) return Codes::kS8;
  const Tensor& t = net.tensor(id);
  if (t.dtype != DataType::kInt8 || t.producer < 0) return Codes::kS8;
  if (std::find(net.outputs().begin(), net.outputs().end(), id) != net.outputs().end()) return Codes::kS8;
  const Node& writer = net.nodes()[static_cast<size_t>(t.producer)];
  const bool conv_writer = writer.op == QConvAttrs::kOp;
  if ((!conv_writer && writer.op != QPoolAttrs::kMaxOp) || writer.outputs.size() != 1 ||
      int8_tensor_nonneg(net, id)) {
    return Codes::kS8;
  }
  const std::vector<int> readers = net.consumers(id);
  if (readers.empty()) return Codes::kS8;
  ConvShape s;
  bool all_amx = true;  // every conv end on AMX (the max pool reads and writes int8 codes on any tier)
  const auto takes = [&all_amx](const ConvShape& shape) {
    const kernels::ConvKernel* k = chosen_kernel_taking(shape);
    all_amx = all_amx && k && k->isa() == kernels::Isa::kAmx;
    return k != nullptr;
  };
  if (conv_writer) {  // the max pool flips whatever kernel it runs
    if (!conv_shape(net, writer, &s)) return Codes::kS8;
    s.output_codes = Codes::kU8;
    if (!takes(s)) return Codes::kS8;
  }
  for (int r : readers) {
    const Node& node = net.nodes()[static_cast<size_t>(r)];
    if (node.op != QConvAttrs::kOp || !conv_shape(net, node, &s)) return Codes::kS8;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] != id) continue;
      if (i == 0) {
        s.input_codes = Codes::kU8;
      } else if (i == 3) {
        s.residual_codes = Codes::kU8;
      } else {
        return Codes::kS8;
      }
    }
    if (!takes(s)) return Codes::kS8;
  }
  return all_amx ? Codes::kS8 : Codes::kU8;
}

void to_u8_codes(int8_t* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = kernels::code_byte(p[i], Codes::kU8);
}

}  // namespace engine
}  // namespace int8rt
