// The per-channel lookup's 64-channel block layout and its driver
// (lookup_channels_x86.h).
#include "kernels/x86/lookup_channels_x86.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace x86 {

std::vector<int8_t> pack_lookup_channels_64(int64_t channels, const int8_t* tables) {
  if (channels < 1) throw InvalidArgument("lookup_channels_s8: channels must be >= 1");
  const int64_t blocks = (channels + kLookupChannelsBlock - 1) / kLookupChannelsBlock;
  std::vector<int8_t> packed(static_cast<size_t>(blocks * kLookupChannelsBlockBytes + kLookupChannelsPad), 0);
  for (int64_t c = 0; c < channels; ++c) {
    int8_t* block = packed.data() + (c / kLookupChannelsBlock) * kLookupChannelsBlockBytes + c % kLookupChannelsBlock;
    for (int64_t u = 0; u < 256; ++u) block[u * kLookupChannelsBlock] = tables[c * 256 + u];
  }
  return packed;
}

void lookup_channels_s8(LookupChannelsFn uk, int64_t pixels, int64_t channels, const int8_t* x,
                        const int8_t* packed, int8_t* y) {
  if (pixels < 0 || channels < 1) {
    throw InvalidArgument("lookup_channels_s8: pixels must be >= 0 and channels >= 1");
  }
  // The reference kernel's grain: about 64 KiB of values per task.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / channels);
  parallel_for(pixels, grain, [&](int64_t b, int64_t e) {
    uk(e - b, channels, x + b * channels, packed, y + b * channels);
  });
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
