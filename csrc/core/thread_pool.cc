// The process-wide pool behind parallel_for (see thread_pool.h for the
// contract). Workers are started lazily, up to get_num_threads() - 1 of them.
//
// A call publishes a Job on a list; sleeping workers are woken, claim chunks
// from the job's atomic counter and leave when none are left. The caller also
// claims chunks, then unlists the job and waits until every chunk has run
// (not for the helpers: the job is shared, see Pool::run). Several
// callers (for example several execution contexts on user threads) may have
// jobs listed at once; workers serve them in order.
#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <list>
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

struct Job {
  const std::function<void(int64_t, int64_t)>* fn = nullptr;  // valid while chunks remain
  int64_t n = 0;
  int64_t grain = 1;
  int64_t num_chunks = 0;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<int64_t> chunks_done{0};
  int helpers_wanted = 0;  // guarded by Pool::mutex_
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;  // the first exception

  // Claims and runs chunks until none are left. Once every chunk is claimed,
  // fn is never touched again, so a late helper is harmless after the caller
  // has returned.
  void run_chunks() {
    for (;;) {
      int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= num_chunks) return;
      if (!failed.load(std::memory_order_relaxed)) {
        int64_t begin = c * grain;
        int64_t end = std::min(n, begin + grain);
        try {
          (*fn)(begin, end);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!failed.exchange(true)) error = std::current_exception();
        }
      }
      chunks_done.fetch_add(1, std::memory_order_acq_rel);
    }
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
  void run(const std::shared_ptr<Job>& job, int threads) {
    int helpers = static_cast<int>(std::min<int64_t>(job->num_chunks, threads)) - 1;
    if (helpers > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      ensure_workers(helpers);
      job->helpers_wanted = helpers;
      jobs_.push_back(job);
    }
    if (helpers > 0) work_cv_.notify_all();

    t_inside_parallel = true;
    job->run_chunks();
    t_inside_parallel = false;

    if (helpers > 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      jobs_.remove(job);
      done_cv_.wait(lock, [&] { return job->chunks_done.load(std::memory_order_acquire) == job->num_chunks; });
    }
  }

 private:
  void ensure_workers(int wanted) {  // mutex_ held
    while (static_cast<int>(workers_.size()) < wanted) {
      workers_.emplace_back([this] { worker_loop(); });
      workers_.back().detach();
    }
  }

  void worker_loop() {
    t_inside_parallel = true;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      std::shared_ptr<Job> job;
      work_cv_.wait(lock, [&] {
        for (const auto& j : jobs_) {
          if (j->helpers_wanted > 0) {
            job = j;
            return true;
          }
        }
        return false;
      });
      --job->helpers_wanted;
      lock.unlock();
      job->run_chunks();
      lock.lock();
      done_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::list<std::shared_ptr<Job>> jobs_;
  std::vector<std::thread> workers_;
};

}  // namespace

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_num_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

void parallel_for(int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn, int max_threads) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = max_threads > 0 ? std::min(max_threads, get_num_threads()) : get_num_threads();
  if (t_inside_parallel || threads <= 1 || n <= grain) {
    fn(0, n);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  job->grain = grain;
  job->num_chunks = (n + grain - 1) / grain;
  Pool::instance().run(job, threads);
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace int8rt
