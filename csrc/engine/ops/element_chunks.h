// Splitting element-wise work over the thread pool: layers whose kernels
// take (count, pointers) run them on chunks of kElementChunk elements, so
// a large tensor's quantize, table lookup or add uses every thread while a
// small one stays on the caller (one chunk wakes no other thread). The
// results do not depend on the split: each element is computed once, alone.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace int8rt {
namespace engine {

constexpr int64_t kElementChunk = int64_t{1} << 15;

// fn(begin, end) over [0, n), in chunks of kElementChunk elements.
template <typename F>
void for_element_chunks(int64_t n, F fn) {
  parallel_for((n + kElementChunk - 1) / kElementChunk, 1, [&](int64_t b, int64_t e) {
    fn(b * kElementChunk, std::min(n, e * kElementChunk));
  });
}

// fn(image) for each of `images` images of `image_elements` elements each,
// several images per task when they are small.
template <typename F>
void for_images(int64_t images, int64_t image_elements, F fn) {
  const int64_t grain = std::max<int64_t>(1, kElementChunk / std::max<int64_t>(1, image_elements));
  parallel_for(images, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(i);
  });
}

}  // namespace engine
}  // namespace int8rt
