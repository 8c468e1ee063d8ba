// A small work-sharing pool with chunked dynamic partitioning.
//
// parallel_for(n, grain, fn) splits [0, n) into chunks of `grain` items that
// threads claim from an atomic counter, so a thread that was descheduled (the
// other core busy with another process) simply claims fewer chunks instead of
// making everyone wait at a barrier for its static share. The calling thread
// works too; when the range is a single chunk no other thread is woken. A
// parallel_for issued from inside a worker runs serially in that worker
// (no nested parallelism, no deadlock).
//
// Waking a sleeping helper costs time before it does any work (on the 2-vCPU
// VM the benchmarks run on, 15-25 us from notify to its first chunk), and a
// woken helper is one more runnable thread when the other core is busy. So
// for a job of many chunks the caller first runs one chunk itself, timed,
// and wakes helpers only if the remaining work, at that measured rate, is
// worth several wake-up latencies (see Pool::run); otherwise it runs the
// rest as one call of fn. Batch-1 layers of a few tens of microseconds then
// mostly stay on one thread. A job of few chunks wakes helpers at once.
//
// Between jobs a worker spins for kSpinNs before it blocks, and so does a
// caller waiting for its helpers' last chunks: consecutive layers then find
// the helpers awake (no wake-up at either end of a job); an idle pool blocks
// and burns no CPU. Nobody spins while the machine has more runnable threads
// than this process has CPUs (a spinning thread would take CPU time from
// them, this process's own caller included).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "core/function_ref.h"

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

// `fn` is referenced, not copied (function_ref.h: no allocation per call).
using ChunkFn = FunctionRef<void(int64_t begin, int64_t end)>;
void parallel_for(int64_t n, int64_t grain, ChunkFn fn, int max_threads = 0);

// The pieces of the wake-up decision, exposed for tests.

// Whether to wake helpers for a job of which the caller alone has run
// `chunks_done` chunks in `elapsed_ns`, with `chunks_left` unclaimed, when a
// woken helper starts about `wake_latency_ns` after the notify. With R the
// remaining time at the caller's rate and L the latency, a helper finishes
// the job at about (R + L) / 2 instead of R; requiring R >= kWakeFactor * L
// keeps the expected gain (R - L) / 2 at >= 3/8 of R, which the notify and
// join (a few microseconds) and a helper slower than the caller
// (measured: ~35-45% of the chunks rather than half) leave positive.
// Only jobs of at least kMinTimedChunksPerThread * threads chunks are timed
// (their first chunk is at most 1/8 of the job with 2 threads); smaller ones
// wake helpers at once, as before this decision existed.
constexpr int64_t kWakeFactor = 4;
constexpr int64_t kMinTimedChunksPerThread = 4;
bool worth_waking(int64_t elapsed_ns, int64_t chunks_done, int64_t chunks_left,
                  int64_t wake_latency_ns);

// Running estimate of what waking helpers costs a job, as the latency L of
// worth_waking's model: starts at kInitialNs (the median wake-up latency
// measured on the 2-vCPU benchmark VM, where an idle vCPU halts and the
// hypervisor wakes it: 15-25 us) and moves a quarter of the way to each
// woken job's sample, the L that explains the job's time T given T_alone,
// every chunk at the caller's own rate: L = 2 T - T_alone, capped to
// [0, kMaxSampleNs]. A helper that came late, ran slowly (cold caches, a
// core shared with another process) or held the last chunks while
// descheduled raises it; one that did not help at all gives L = T_alone,
// about the job's size, so jobs of that size stop waking helpers. The
// estimate returns to kInitialNs once kForgetNs pass without a sample, so a
// busy period keeps small jobs on the caller for a while, not for good.
// Thread safety: any thread may call both (relaxed atomics; a lost update
// only delays the estimate).
// The sample above for a job that took `job_ns`, of which the caller spent
// `caller_ns` running `caller_chunks` of its `num_chunks` chunks (T_alone =
// caller_ns / caller_chunks * num_chunks); 0 when the caller ran none. May
// be negative (add_sample clamps it).
int64_t wake_cost_sample(int64_t job_ns, int64_t caller_ns, int64_t caller_chunks,
                         int64_t num_chunks);

// A second instance judges jobs while a worker spins (it takes the job
// without a wake-up): it starts at kInitialSpinningNs, what the notify, the
// helper's first claim and the shared counters cost on the same VM (the
// samples then say what a spinning helper really costs).
class WakeLatency {
 public:
  static constexpr int64_t kInitialNs = 20000;
  static constexpr int64_t kInitialSpinningNs = 2000;
  static constexpr int64_t kMaxSampleNs = 4000000;
  static constexpr int64_t kForgetNs = 100000000;

  explicit WakeLatency(int64_t initial_ns = kInitialNs)
      : initial_ns_(initial_ns), avg_ns_(initial_ns) {}

  int64_t estimate(int64_t now_ns) const;
  void add_sample(int64_t sample_ns, int64_t now_ns);

 private:
  const int64_t initial_ns_;
  std::atomic<int64_t> avg_ns_;
  std::atomic<int64_t> last_ns_{INT64_MIN / 2};
};

// How a job decides to wake helpers. kTimed is the default (above);
// kAlways wakes them as soon as a job has more than one chunk, kNever runs
// every job of more than one chunk on the caller (the first chunk, then the
// rest at once), so that tests can exercise both paths without
// depending on timing. Not for production code; not safe to change while
// parallel_for calls are running.
enum class WakePolicy { kTimed, kAlways, kNever };
void set_wake_policy_for_testing(WakePolicy policy);

// How long a worker out of work (and a caller waiting for its helpers'
// chunks) spins before it blocks: 50 us covers the gap between two layers'
// jobs (ResNet-50 at batch 1 with 2 threads: 9% faster on an idle 2-vCPU
// VM, RESULTS.md section 36) and costs at most that much CPU per job.
constexpr int64_t kSpinNs = 50000;
// The number of runnable threads in a /proc/loadavg line ("0.52 0.58 0.59
// 3/467 12345" -> 3), -1 if the line has no such field. Exposed for tests.
int64_t runnable_threads_in_loadavg(const char* line);
// Sets that time (0: block at once, as before spinning existed; < 0:
// kSpinNs) and whether threads spin even on a busy machine (so that tests
// exercise spinning under any load), for tests and for benchmarks that
// compare both in one process. Not for production code.
void set_spin_ns_for_testing(int64_t ns, bool even_when_busy = false);

}  // namespace int8rt
