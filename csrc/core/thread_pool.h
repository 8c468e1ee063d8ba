// A small work-sharing pool with chunked dynamic partitioning.
//
// parallel_for(n, grain, fn) splits [0, n) into chunks of `grain` items that
// threads claim from an atomic counter, so a thread that was descheduled (the
// other core busy with another process) simply claims fewer chunks instead of
// making everyone wait at a barrier for its static share. The calling thread
// works too; when the range is a single chunk no other thread is woken. A
// parallel_for issued from inside a worker runs serially in that worker
// (no nested parallelism, no deadlock).
#pragma once

#include <cstdint>
#include <functional>

namespace int8rt {

// fn(begin, end) is called for disjoint sub-ranges covering [0, n) exactly
// once. Exceptions thrown by fn are rethrown in the caller (the first one;
// remaining chunks are skipped). `max_threads` < 1 means get_num_threads().
// The grain for items of `work_per_item` units each (MACs, window taps...):
// enough items per chunk for about 64K units, one item when an item alone is
// that much, so small jobs stay on one thread.
inline int64_t grain_for_work(int64_t work_per_item) {
  return work_per_item >= 65536 ? 1 : 65536 / (work_per_item + 1) + 1;
}

void parallel_for(int64_t n, int64_t grain,
                  const std::function<void(int64_t begin, int64_t end)>& fn,
                  int max_threads = 0);

}  // namespace int8rt
