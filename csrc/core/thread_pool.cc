// The process-wide pool behind parallel_for (see thread_pool.h for the
// contract). Workers are started lazily, up to get_num_threads() - 1 of them.
//
// A call first runs one chunk on the caller, timed; unless the rest of the
// job is worth waking helpers for (worth_waking, with the WakeLatency
// estimate), the caller runs the rest in one call. Waking publishes the Job
// on a list; workers claim chunks from the job's atomic counter and leave
// when none are left. The caller keeps claiming chunks, then unlists the
// job, waits until every chunk has run (not for the helpers: the job is
// shared, see Pool::run) and feeds what the helpers cost to the estimate.
// Several callers (for example several execution contexts on user threads)
// may have jobs listed at once; workers serve them in order.
//
// Spinning (kSpinNs): a worker that has finished a job watches for the next
// one for a short while before it blocks, and a caller whose chunks are all
// claimed watches for the helpers' last ones before it blocks. A network
// runs one job per layer, microseconds to a few hundred apart, and a blocked
// thread costs a wake-up (15-25 us on the benchmark VM) at both ends of each
// job: at batch 1 with 2 threads that was a tenth of ResNet-50's time. A
// worker that finds nothing within kSpinNs blocks, so an idle process burns
// no CPU; while a worker spins, waking it costs about nothing, and jobs are
// judged with a separate, smaller latency estimate (spinning_latency_).
// Nobody spins while the machine has more runnable threads than this
// process has CPUs (cpu_left_for_spinning): there spinning measured slower.
#include "core/thread_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "int8rt/threading.h"

namespace int8rt {
namespace {

thread_local bool t_inside_parallel = false;

int default_num_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

std::atomic<int> g_num_threads{0};  // 0: not chosen yet, use the default
std::atomic<WakePolicy> g_wake_policy{WakePolicy::kTimed};
std::atomic<int64_t> g_spin_ns{kSpinNs};
std::atomic<bool> g_spin_when_busy{false};  // tests: spin whatever the load

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Whether a spinning thread would have a CPU to itself: no more runnable
// threads in the system than CPUs this process may use (its own spinning
// threads included), from the "running/total" field of /proc/loadavg, read
// at most every kLoadCheckNs. On an oversubscribed machine a spinning thread
// takes CPU time from other runnable threads, including this process's own
// caller, and measured slower: ResNet-50 at batch 1 with 2 threads at load
// average 20 took 5-12% longer (wall) with spinning than with blocking
// (RESULTS.md section 43). Without /proc/loadavg: assume an idle machine.
constexpr int64_t kLoadCheckNs = 10000000;
std::atomic<int64_t> g_load_checked_ns{INT64_MIN / 2};
std::atomic<bool> g_cpu_idle{true};

bool cpu_left_for_spinning() {
  const int64_t t = now_ns();
  if (t - g_load_checked_ns.load(std::memory_order_relaxed) < kLoadCheckNs) {
    return g_cpu_idle.load(std::memory_order_relaxed);
  }
  g_load_checked_ns.store(t, std::memory_order_relaxed);
  bool idle = true;
  // read(2) into the stack, not stdio: a FILE and its buffer were 4.5 KB
  // of heap per check, inside runs.
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char line[128];
    const ssize_t n = ::read(fd, line, sizeof(line) - 1);
    ::close(fd);
    if (n > 0) {
      line[n] = '\0';
      const int64_t running = runnable_threads_in_loadavg(line);
      idle = running < 0 || running <= default_num_threads();
    }
  }
  g_cpu_idle.store(idle, std::memory_order_relaxed);
  return idle;
}

// Spins until done() or g_spin_ns have passed (the clock read every 64
// polls); returns done(). No spinning while the machine has no CPU to spare
// (cpu_left_for_spinning).
template <class Done>
bool spin_until(const Done& done) {
  const int64_t spin = g_spin_ns.load(std::memory_order_relaxed);
  if (spin <= 0 || (!g_spin_when_busy.load(std::memory_order_relaxed) && !cpu_left_for_spinning())) {
    return done();
  }
  const int64_t deadline = now_ns() + spin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (now_ns() > deadline) return done();
  }
}

struct Job {
  // Read by every chunk, written once (failed: only on an exception).
  const ChunkFn* fn = nullptr;  // valid while chunks remain
  int64_t n = 0;
  int64_t grain = 1;
  int64_t num_chunks = 0;
  std::atomic<bool> failed{false};
  // Each counter on its own cache line: every claim is a read-modify-write
  // that moves its line to the claiming core, and the fields above, read for
  // every chunk, then stayed valid in both cores' caches (on one line the
  // other thread's next chunk began with a coherence miss).
  alignas(64) std::atomic<int64_t> next_chunk{0};
  alignas(64) std::atomic<int64_t> chunks_done{0};
  alignas(64) int helpers_wanted = 0;  // guarded by Pool::mutex_
  std::mutex error_mutex;
  std::exception_ptr error;  // the first exception

  // As made, for another parallel_for (parallel_for reuses its thread's last job).
  void reset() {
    fn = nullptr;
    n = 0;
    grain = 1;
    num_chunks = 0;
    failed.store(false, std::memory_order_relaxed);
    next_chunk.store(0, std::memory_order_relaxed);
    chunks_done.store(0, std::memory_order_relaxed);
    helpers_wanted = 0;
    error = nullptr;
  }

  // Claims and runs one chunk (skipped after a failure) without counting it
  // done; false when none was left. Once every chunk is claimed, fn is never
  // touched again, so a late helper is harmless after the caller has
  // returned.
  bool run_claimed_chunk() {
    const int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (c >= num_chunks) return false;
    if (!failed.load(std::memory_order_relaxed)) {
      const int64_t begin = c * grain;
      const int64_t end = std::min(n, begin + grain);
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
    return true;
  }

  // One chunk, counted done; false when none was left.
  bool run_next_chunk() {
    if (!run_claimed_chunk()) return false;
    chunks_done.fetch_add(1, std::memory_order_acq_rel);
    return true;
  }

  // Runs chunks until none are left; returns how many it ran. They are
  // counted done together at the end (the caller waits for all of them
  // anyway): one write to chunks_done per thread and job, not per chunk.
  int64_t run_chunks() {
    int64_t ran = 0;
    while (run_claimed_chunk()) ++ran;
    if (ran > 0) chunks_done.fetch_add(ran, std::memory_order_acq_rel);
    return ran;
  }

  // Claims every chunk left and runs them as one call of fn.
  void run_rest_at_once() {
    const int64_t c = next_chunk.exchange(num_chunks, std::memory_order_relaxed);
    if (c >= num_chunks) return;
    if (!failed.load(std::memory_order_relaxed)) {
      try {
        (*fn)(c * grain, n);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
    chunks_done.fetch_add(num_chunks - c, std::memory_order_acq_rel);
  }
};

class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool();  // never destroyed: workers may outlive static teardown
    return *pool;
  }

  // The caller waits only for the chunks to be done, not for helpers to
  // leave: a helper that was woken but then descheduled (the other core busy
  // with another process) holds no chunk, and keeps the job alive through its
  // shared_ptr until it runs again and finds nothing left.
  //
  // Before waking anyone the caller runs the first chunk alone and compares
  // the rest of the job, at that chunk's rate, with the wake-up latency
  // (worth_waking). A job too small for a helper to arrive in time ends on
  // the caller without any thread being woken; a large one wakes helpers.
  void run(const std::shared_ptr<Job>& job, int threads) {
    const int helpers = static_cast<int>(std::min<int64_t>(job->num_chunks, threads)) - 1;
    const WakePolicy policy = g_wake_policy.load(std::memory_order_relaxed);
    // Cleared however run() ends: an exception left it set, and every later parallel_for of
    // this thread ran on it alone.
    struct Inside {
      Inside() { t_inside_parallel = true; }
      ~Inside() { t_inside_parallel = false; }
    } inside;
    bool woken = false;
    int64_t t0 = 0;
    // A job of few chunks is not timed: its first chunk is too large a part
    // of it to run alone (2 chunks of 5 ms each would lose all their
    // parallelism), so it wakes helpers at once, as the drivers chose those
    // chunks large.
    const bool timed = job->num_chunks >= kMinTimedChunksPerThread * threads;
    // A spinning worker takes a job in about a microsecond; a blocked one
    // must be woken. Each case has its own estimate (and gets its samples).
    bool helper_spinning = false;
    if (helpers > 0 && (policy == WakePolicy::kAlways ||
                        (policy == WakePolicy::kTimed && !timed))) {
      woken = wake(job, helpers) > 0;
    } else if (helpers > 0) {
      // The first chunk, timed, gives the rate (only the caller claims
      // chunks yet). Not worth a helper: the rest is one call of fn, as with
      // one thread, without per-chunk calls.
      t0 = now_ns();
      job->run_next_chunk();
      const int64_t left = job->num_chunks - 1;
      helper_spinning = spinning_.load(std::memory_order_relaxed) > 0;
      const WakeLatency& latency = helper_spinning ? spinning_latency_ : latency_;
      if (policy == WakePolicy::kTimed && !job->failed.load(std::memory_order_relaxed) &&
          worth_waking(now_ns() - t0, 1, left, latency.estimate(t0))) {
        woken = wake(job, static_cast<int>(std::min<int64_t>(helpers, left))) > 0;
      } else {
        job->run_rest_at_once();
      }
    }
    const int64_t caller_chunks = (t0 != 0 ? 1 : 0) + job->run_chunks();
    t_inside_parallel = false;  // (waiting below runs nothing)

    if (woken) {
      const int64_t caller_done = now_ns();
      std::unique_lock<std::mutex> lock(mutex_);
      jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
      lock.unlock();
      // The helpers' last chunks: spin first, then block.
      const auto all_done = [&] {
        return job->chunks_done.load(std::memory_order_acquire) == job->num_chunks;
      };
      if (!spin_until(all_done)) {
        lock.lock();
        done_cv_.wait(lock, all_done);
        lock.unlock();
      }
      if (t0 != 0) {
        // What the helpers cost this job, in the terms of worth_waking: the
        // latency L that explains its time, T = (T_alone + L) / 2, where
        // T_alone is every chunk at the caller's own rate. A helper that
        // came late, ran slowly (cold caches, a shared core) or held the
        // last chunks while descheduled all show up as a larger L; one that
        // did not help at all gives L = T_alone.
        const int64_t end = now_ns();
        (helper_spinning ? spinning_latency_ : latency_).add_sample(
            wake_cost_sample(end - t0, caller_done - t0, caller_chunks, job->num_chunks), end);
      }
    }
  }

 private:
  // Lists the job for `helpers` workers, or as many as run: returns how many, 0 (not listed: the
  // caller runs every chunk) when no worker thread can be started.
  int wake(const std::shared_ptr<Job>& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      helpers = std::min(helpers, ensure_workers(helpers));
      if (helpers <= 0) return 0;
      job->helpers_wanted = helpers;
      jobs_.push_back(job);
      published_.fetch_add(1, std::memory_order_release);
    }
    work_cv_.notify_all();
    return helpers;
  }

  // Starts workers up to `wanted`; returns how many there are. A thread that cannot be started
  // (std::thread's EAGAIN: no address space for its stack, a thread limit) is not an error of the
  // run: the job gets fewer helpers (it raised std::system_error out of the run, RESULTS.md 188).
  int ensure_workers(int wanted) {  // mutex_ held
    while (static_cast<int>(workers_.size()) < wanted) {
      try {
        workers_.emplace_back([this] { worker_loop(); });
      } catch (const std::exception&) {
        break;
      }
      workers_.back().detach();
    }
    return static_cast<int>(workers_.size());
  }

  // A listed job that still wants a helper, counted as taken; null if none.
  std::shared_ptr<Job> take_job() {  // mutex_ held
    for (const auto& j : jobs_) {
      if (j->helpers_wanted > 0) {
        --j->helpers_wanted;
        return j;
      }
    }
    return nullptr;
  }

  // After each job a worker watches published_ for up to kSpinNs before it
  // blocks on work_cv_, so that the next layer's job finds it awake.
  void worker_loop() {
    t_inside_parallel = true;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      std::shared_ptr<Job> job = take_job();
      if (!job) {
        const uint64_t seen = published_.load(std::memory_order_relaxed);
        lock.unlock();
        spinning_.fetch_add(1, std::memory_order_relaxed);
        spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
        spinning_.fetch_sub(1, std::memory_order_relaxed);
        lock.lock();
        job = take_job();
      }
      if (!job) work_cv_.wait(lock, [&] { return (job = take_job()) != nullptr; });
      lock.unlock();
      job->run_chunks();
      job.reset();  // the caller may have returned, leaving this the last owner: free it outside the lock
      lock.lock();
      done_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<std::shared_ptr<Job>> jobs_;  // a vector: its capacity is kept (a list allocated a node per job)
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> published_{0};  // jobs listed so far (spinning workers watch it)
  std::atomic<int> spinning_{0};        // workers spinning for the next job
  WakeLatency latency_;                 // waking a blocked worker
  WakeLatency spinning_latency_{WakeLatency::kInitialSpinningNs};  // taking a spinning one
};

}  // namespace

bool worth_waking(int64_t elapsed_ns, int64_t chunks_done, int64_t chunks_left,
                  int64_t wake_latency_ns) {
  if (chunks_done <= 0 || chunks_left <= 0) return false;
  // remaining = elapsed / done * left, compared without dividing (doubles:
  // the products can pass 2^63 for a huge latency).
  return static_cast<double>(elapsed_ns) * static_cast<double>(chunks_left) >=
         static_cast<double>(kWakeFactor) * static_cast<double>(wake_latency_ns) *
             static_cast<double>(chunks_done);
}

int64_t wake_cost_sample(int64_t job_ns, int64_t caller_ns, int64_t caller_chunks,
                         int64_t num_chunks) {
  if (caller_chunks <= 0) return 0;
  const double alone = static_cast<double>(caller_ns) / static_cast<double>(caller_chunks) *
                       static_cast<double>(num_chunks);
  return static_cast<int64_t>(2.0 * static_cast<double>(job_ns) - alone);
}

int64_t WakeLatency::estimate(int64_t now_ns) const {
  if (now_ns - last_ns_.load(std::memory_order_relaxed) > kForgetNs) return initial_ns_;
  return avg_ns_.load(std::memory_order_relaxed);
}

void WakeLatency::add_sample(int64_t sample_ns, int64_t now_ns) {
  const int64_t s = std::min(std::max<int64_t>(sample_ns, 0), kMaxSampleNs);
  const int64_t base = estimate(now_ns);
  avg_ns_.store(base + (s - base) / 4, std::memory_order_relaxed);
  last_ns_.store(now_ns, std::memory_order_relaxed);
}

void set_wake_policy_for_testing(WakePolicy policy) {
  g_wake_policy.store(policy, std::memory_order_relaxed);
}

int64_t runnable_threads_in_loadavg(const char* line) {
  // "0.52 0.58 0.59 3/467 12345": the fourth field's numerator.
  const char* p = line;
  for (int field = 0; field < 3; ++field) {
    while (*p && *p != ' ') ++p;
    while (*p == ' ') ++p;
  }
  if (*p < '0' || *p > '9') return -1;
  int64_t n = 0;
  for (; *p >= '0' && *p <= '9'; ++p) n = n * 10 + (*p - '0');
  return *p == '/' ? n : -1;
}

void set_spin_ns_for_testing(int64_t ns, bool even_when_busy) {
  g_spin_ns.store(ns < 0 ? kSpinNs : ns, std::memory_order_relaxed);
  g_spin_when_busy.store(even_when_busy, std::memory_order_relaxed);
}

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_num_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

void parallel_for(int64_t n, int64_t grain, ChunkFn fn, int max_threads) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = max_threads > 0 ? std::min(max_threads, get_num_threads()) : get_num_threads();
  if (t_inside_parallel || threads <= 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // The calling thread's last job, reused once no helper holds it (a new
  // one per call was a heap allocation per parallel layer per run).
  thread_local std::shared_ptr<Job> t_last_job;
  std::shared_ptr<Job> job;
  if (t_last_job && t_last_job.use_count() == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);  // after the helpers' release of it
    job = std::move(t_last_job);
    job->reset();
  } else {
    job = std::make_shared<Job>();
  }
  job->fn = &fn;
  job->n = n;
  job->grain = grain;
  job->num_chunks = (n + grain - 1) / grain;
  Pool::instance().run(job, threads);
  std::exception_ptr error = job->error;
  t_last_job = std::move(job);
  if (error) std::rethrow_exception(error);
}

}  // namespace int8rt
