// What a float layer running in BF16 holds (engine/bf16_layers.h): the
// gemm_bf16 kernel chosen once for the layer and its packed weights (none
// for a MatMul between two activations), plus the name `inspect` shows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/gemm_bf16.h"

namespace int8rt {
namespace engine {

struct Bf16Gemm {
  const kernels::GemmBf16Kernel* kernel = nullptr;
  std::vector<std::unique_ptr<kernels::PackedBf16Gemm>> packed;  // one per group (Conv), one, or none

  // Chooses the kernel once (registry walk, INT8RT_LOG=dispatch).
  void choose() {
    if (!kernel) kernel = &kernels::choose<kernels::GemmBf16Kernel>();
  }
  // Chooses the kernel and packs `w`.
  void add(const kernels::Bf16Weights& w) {
    choose();
    packed.push_back(kernel->pack(w));
  }
  // True when the layer runs in FP32 (no kernel chosen).
  bool empty() const { return kernel == nullptr; }
  // " bf16 kernel=<name>" for describe(), "" when not BF16.
  std::string describe() const { return kernel ? std::string(" kernel=") + kernel->name() : ""; }
};

}  // namespace engine
}  // namespace int8rt
