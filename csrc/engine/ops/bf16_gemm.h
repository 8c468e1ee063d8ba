// What a float layer running in BF16 holds (engine/bf16_layers.h): the
// gemm_bf16 kernel chosen once for the layer and its packed weights, plus
// the name `inspect` shows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/gemm_bf16.h"

namespace int8rt {
namespace engine {

struct Bf16Gemm {
  const kernels::GemmBf16Kernel* kernel = nullptr;
  std::vector<std::unique_ptr<kernels::PackedBf16Gemm>> packed;  // one per group (Conv) or one

  // Chooses the kernel (registry walk, INT8RT_LOG=dispatch) and packs `w`.
  void add(const kernels::Bf16Weights& w) {
    if (!kernel) kernel = &kernels::choose<kernels::GemmBf16Kernel>();
    packed.push_back(kernel->pack(w));
  }
  bool empty() const { return packed.empty(); }
  // " bf16 kernel=<name>" for describe(), "" when not BF16.
  std::string describe() const { return kernel ? std::string(" kernel=") + kernel->name() : ""; }
};

}  // namespace engine
}  // namespace int8rt
