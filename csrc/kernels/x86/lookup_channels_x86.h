// The x86 per-channel lookup (kernels/eltwise_s8.h LookupChannelsS8Kernel):
// baseline code shared by the gather microkernels of every x86 tier.
//
// Layout (pack): the tables [C][256] re-laid in blocks of 64 channels, each
// block 256 rows of 64 bytes, row u holding entry u of the block's 64
// tables (channels past C: zeros), so one pixel's 64 channels read one
// row per input value and the values near zero share a few cache lines:
//   packed[(c / 64) * 16384 + u * 64 + c % 64] = tables[c][u],
// followed by kLookupChannelsPad bytes so a 4-byte gather at the last entry
// stays inside the buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/abi/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

constexpr int64_t kLookupChannelsBlock = 64;
constexpr int64_t kLookupChannelsBlockBytes = 256 * kLookupChannelsBlock;
constexpr int64_t kLookupChannelsPad = 64;

std::vector<int8_t> pack_lookup_channels_64(int64_t channels, const int8_t* tables);
// Validates as ref::lookup_s8_channels, splits pixels over parallel_for.
void lookup_channels_s8(LookupChannelsFn uk, int64_t pixels, int64_t channels, const int8_t* x,
                        const int8_t* packed, int8_t* y);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
