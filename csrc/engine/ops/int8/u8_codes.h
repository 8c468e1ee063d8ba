// Which int8 tensors of a lowered network are held as u8 codes (q + 128,
// kernels::Codes::kU8) instead of their int8 codes q: the one rule, read by
// the layer that writes such a tensor and by every layer that reads it, so
// both ends agree. RESULTS.md section 137 says why: a tensor on the unsigned
// grid (zero point -128, lower_int8_zero_points.cc) holds codes of both
// signs, so a VNNI conv reading it shifts every broadcast by +128 (its
// nonneg kernels never apply); held as q + 128 it is what `vpdpbusd` reads
// natively. The arithmetic is unchanged (the reader's sums start at
// -128 * sum(w) as the shifted kernel's do), so every output keeps its bytes.
//
// A tensor is held as kU8 when all of these hold, else kS8:
//   - it is an int8 tensor written by an int8rt.QConv or an int8rt.QMaxPool
//     (which reads int8 codes and flips its output image by image, while
//     it is in cache: the max of codes is the code of the max, so the
//     flipped max is the u8 code of the max), not a network output, read
//     by at least one node;
//   - it is not already known non-negative (nonneg_input.h): those convs
//     read their codes as u8 with no compensation at all;
//   - every reader is an int8rt.QConv reading it as its input or as its
//     fused residual, and no other node reads it (a Dequantize tap, a pool,
//     an Add, a GEMM, ... : none of them reads u8 codes);
//   - the kernel the registry picks for the writer's conv with kS8 codes
//     also takes its output as kU8, and likewise each reader's for its input
//     or residual (kernels::ConvKernel::supports): u8 codes never move a conv to another
//     kernel, so on a tier without them (AVX2) every tensor stays kS8; the
//     AVX512-VNNI, AVX-VNNI and AMX convs take them (RESULTS.md sections 137,
//     150);
//   - not every conv end (the writer if a conv, every reader) runs on AMX:
//     where all of them do, the int8 codes are the cheaper coding (tdpbssd
//     reads them with no -128 * sum(w) start, the epilogue stores and reads
//     them with no xor, the max pool flips nothing; RESULTS.md sections 206,
//     212), so the tensor stays kS8 there. u8 codes stay where any end runs
//     a VNNI kernel (vpdpbusd needs them: MobileNet-class depthwise convs
//     beside AMX 1x1s).
// The coding never changes a value: int8 and u8 codes hold the same q (the
// unsigned grid's 256 levels either way), so every output keeps its bytes.
// INT8RT_U8_CODES=0 in the environment holds every tensor as kS8 (A/B runs,
// tests of the byte-for-byte identity).
#pragma once

#include <cstdint>

#include "int8rt/network.h"
#include "kernels/kernel_types.h"

namespace int8rt {
namespace engine {

// How tensor `id` of `net` is held by the rule above (kS8 for id < 0).
kernels::Codes int8_tensor_codes(const Network& net, int id);

// Turns n int8 codes at p into their u8 codes in place (kernels::code_byte:
// q xor 0x80), for a writer whose kernel stores int8 codes (the max pool).
void to_u8_codes(int8_t* p, int64_t n);

}  // namespace engine
}  // namespace int8rt
