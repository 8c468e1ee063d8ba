// The x86 driver of the gemm_u8s8 family (baseline code): packs B in the
// layout of abi/gemm_u8s8.h and tiles C over one ISA's register tile. A
// provider binds it to its microkernels (avx512vnni/provider.cc), or to a
// pair of shifted tiles (avx2/provider.cc; abi/gemm_u8s8.h says what the
// driver then checks and passes).
#pragma once

#include "kernels/abi/gemm_u8s8.h"
#include "kernels/gemm_u8s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

class X86GemmU8S8Kernel final : public GemmU8S8Kernel {
 public:
  // fn(mr, nb): the tile for mr rows (1..mr_max) and nb blocks of 16 columns (1..nb_max);
  // pack_b: the ISA's packing of a run-time B (nullptr: the driver's scalar loop, same bytes).
  X86GemmU8S8Kernel(const char* name, Isa isa, GemmU8S8Fn (*fn)(int, int), int mr_max, int nb_max,
                    GemmU8S8PackBFn pack_b = nullptr)
      : name_(name), isa_(isa), fn_(fn), pack_b_(pack_b), mr_max_(mr_max), nb_max_(nb_max) {}
  // A kernel of shifted tiles (abi/gemm_u8s8.h): the operand packed once is stored shifted, the
  // bytes out of the tiles' range corrected after each tile (gemm_u8s8_shifted.h).
  X86GemmU8S8Kernel(const char* name, Isa isa, const GemmU8S8SignTiles& tiles, int mr_max, int nb_max,
                    GemmU8S8PackBFn pack_b = nullptr)
      : name_(name), isa_(isa), fn_(tiles.fn_b), fn_a_(tiles.fn_a), fn_pairs_(tiles.fn_pairs), fn_pairs_a_(tiles.fn_pairs_a),
        pack_b_(pack_b),
        mr_max_(mr_max), nb_max_(nb_max), pairs_mr_(tiles.pairs_mr) {}
  const char* name() const override { return name_; }
  Isa isa() const override { return isa_; }
  std::string supports(const GemmU8S8Shape&) const override { return ""; }
  std::unique_ptr<PackedGemmU8S8> pack(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb) const override;
  std::unique_ptr<PackedAGemmU8S8> pack_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda) const override;

 private:
  const char* name_;
  Isa isa_;
  GemmU8S8Fn (*fn_)(int, int);
  GemmU8S8Fn (*fn_a_)(int, int) = nullptr;  // set: the tiles are shifted (fn_ B packed, fn_a_ A packed)
  GemmU8S8Fn (*fn_pairs_)(int, int) = nullptr;  // set: B packed once may take the pair tile
  GemmU8S8Fn (*fn_pairs_a_)(int, int) = nullptr;  // set: A packed once may take the A-packed pair tile
  GemmU8S8PackBFn pack_b_ = nullptr;
  int mr_max_, nb_max_;
  int pairs_mr_ = 0;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
