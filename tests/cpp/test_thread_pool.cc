// parallel_for: every index exactly once, exceptions propagate, nesting is
// serial; the wake-up decision (worth_waking, WakeLatency) and both paths a
// job can take (caller only, helpers woken), forced with WakePolicy; with
// workers spinning between jobs (forced whatever the machine's load), every
// job still finishes, and an idle pool blocks (its threads sleep and use no
// CPU); the runnable-thread count that turns spinning off on a busy machine.
#include <gtest/gtest.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <mutex>
#include <utility>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/threading.h"

namespace int8rt {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int64_t n : {1, 2, 7, 64, 1000, 12345}) {
    for (int64_t grain : {1, 3, 64, 100000}) {
      std::vector<std::atomic<int>> hits(n);
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " grain=" << grain << " i=" << i;
    }
  }
}

TEST(ThreadPool, RethrowsFirstException) {
  EXPECT_THROW(parallel_for(100, 1,
                            [](int64_t b, int64_t e) {
                              // fn may get several chunks in one call
                              if (b <= 37 && 37 < e) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  parallel_for(100, 7, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPool, NestedCallsRunSerially) {
  std::atomic<int64_t> total{0};
  parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      parallel_for(10, 1, [&](int64_t nb, int64_t ne) { total += ne - nb; });
    }
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, ThreadCountIsSettable) {
  int before = get_num_threads();
  set_num_threads(1);
  EXPECT_EQ(get_num_threads(), 1);
  set_num_threads(0);
  EXPECT_GE(get_num_threads(), 1);
  set_num_threads(before);
}

TEST(ThreadPool, WorthWakingComparesRemainingWorkWithLatency) {
  // Nothing measured yet, or nothing left: never.
  EXPECT_FALSE(worth_waking(1000000, 0, 10, 1));
  EXPECT_FALSE(worth_waking(1000000, 5, 0, 1));
  // 10 us per chunk, latency 20 us: kWakeFactor * 20 us = 80 us is the bar.
  ASSERT_EQ(kWakeFactor, 4);
  EXPECT_FALSE(worth_waking(10000, 1, 7, 20000));   // 70 us left
  EXPECT_TRUE(worth_waking(10000, 1, 8, 20000));    // 80 us left
  EXPECT_TRUE(worth_waking(30000, 3, 8, 20000));    // same rate over 3 chunks
  EXPECT_FALSE(worth_waking(30000, 4, 8, 20000));   // 7.5 us per chunk: 60 us left
  // Huge values do not overflow into a wrong answer.
  EXPECT_FALSE(worth_waking(INT64_MAX / 2, 1, 1, INT64_MAX / 2));
  EXPECT_TRUE(worth_waking(INT64_MAX / 2, 1, INT64_MAX / 2, 1000));
}

TEST(ThreadPool, WakeLatencyAveragesCapsAndForgets) {
  WakeLatency w;
  const int64_t t = int64_t{1} << 40;
  EXPECT_EQ(w.estimate(t), WakeLatency::kInitialNs);
  w.add_sample(WakeLatency::kInitialNs + 80000, t);
  EXPECT_EQ(w.estimate(t), WakeLatency::kInitialNs + 20000);  // a quarter of the way
  EXPECT_EQ(w.estimate(t + WakeLatency::kForgetNs), WakeLatency::kInitialNs + 20000);
  EXPECT_EQ(w.estimate(t + WakeLatency::kForgetNs + 1), WakeLatency::kInitialNs);
  // A stall longer than the cap counts as the cap; a negative sample (clock
  // read on another core) as zero.
  WakeLatency big;
  big.add_sample(int64_t{1} << 50, t);
  EXPECT_EQ(big.estimate(t),
            WakeLatency::kInitialNs + (WakeLatency::kMaxSampleNs - WakeLatency::kInitialNs) / 4);
  WakeLatency neg;
  neg.add_sample(-5, t);
  EXPECT_EQ(neg.estimate(t), WakeLatency::kInitialNs - WakeLatency::kInitialNs / 4);
}

TEST(ThreadPool, WakeCostSampleIsTheLatencyThatExplainsTheJob) {
  // 10 chunks of 10 us at the caller's rate: 100 us alone.
  // Helper from the start, as fast: 50 us, cost 0.
  EXPECT_EQ(wake_cost_sample(50000, 50000, 5, 10), 0);
  // Helper 20 us late, then as fast: caller 6 chunks in 60 us, job 60 us.
  EXPECT_EQ(wake_cost_sample(60000, 60000, 6, 10), 20000);
  // Helper never helped: the caller ran all 10 chunks, the job took 100 us.
  EXPECT_EQ(wake_cost_sample(100000, 100000, 10, 10), 100000);
  // The caller waited 30 us for the helper's last chunk after its own 5.
  EXPECT_EQ(wake_cost_sample(80000, 50000, 5, 10), 60000);
  // A helper that did more than half: negative (clamped by add_sample).
  EXPECT_LT(wake_cost_sample(40000, 40000, 2, 10), 0);
  EXPECT_EQ(wake_cost_sample(1000, 1000, 0, 10), 0);
}

// Restores the default policy and thread count when a test ends.
class WakePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { threads_ = get_num_threads(); }
  void TearDown() override {
    set_wake_policy_for_testing(WakePolicy::kTimed);
    set_spin_ns_for_testing(-1);
    set_num_threads(threads_);
  }
  int threads_ = 1;
};

TEST_F(WakePolicyTest, NeverWakingRunsTheFirstChunkThenTheRestOnTheCaller) {
  set_num_threads(2);
  set_wake_policy_for_testing(WakePolicy::kNever);
  const std::thread::id me = std::this_thread::get_id();
  for (int64_t n : {2, 17, 1000}) {
    for (int64_t grain : {1, 3, 64}) {
      if (n <= grain) continue;  // one chunk: never a job
      std::vector<std::pair<int64_t, int64_t>> calls;
      bool all_on_caller = true;
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        if (std::this_thread::get_id() != me) all_on_caller = false;
        calls.emplace_back(b, e);  // only the caller runs, so no lock
      });
      EXPECT_TRUE(all_on_caller) << "n=" << n << " grain=" << grain;
      ASSERT_EQ(calls.size(), 2u) << "n=" << n << " grain=" << grain;
      EXPECT_EQ(calls[0], std::make_pair(int64_t{0}, grain));
      EXPECT_EQ(calls[1], std::make_pair(grain, n));
    }
  }
  // An exception in the first chunk skips the rest; one in the rest is
  // rethrown too.
  int calls = 0;
  EXPECT_THROW(parallel_for(100, 1,
                            [&](int64_t b, int64_t) {
                              ++calls;
                              if (b == 0) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
  EXPECT_THROW(parallel_for(100, 1,
                            [&](int64_t b, int64_t) {
                              if (b == 1) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
}

TEST_F(WakePolicyTest, WokenHelpersTakeChunks) {
  set_num_threads(2);
  set_wake_policy_for_testing(WakePolicy::kAlways);
  for (int rep = 0; rep < 20; ++rep) {
    // The chunk that starts on the caller waits until another thread has run
    // a chunk, which only a woken helper can do (the deadline only turns a
    // missing helper into a failure instead of a hang).
    const std::thread::id me = std::this_thread::get_id();
    std::atomic<bool> helper_ran{false};
    std::vector<std::atomic<int>> hits(64);
    parallel_for(64, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      if (std::this_thread::get_id() != me) {
        helper_ran = true;
        return;
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!helper_ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    });
    ASSERT_TRUE(helper_ran.load()) << "rep " << rep;
    for (int i = 0; i < 64; ++i) ASSERT_EQ(hits[i].load(), 1) << "rep " << rep << " i=" << i;
  }
}

TEST_F(WakePolicyTest, TimedDecisionWakesHelpersAtOnceForFewChunks) {
  // 2 chunks with 2 threads is below kMinTimedChunksPerThread * threads:
  // chunk 0 on the caller waits for chunk 1 to run elsewhere, which only a
  // helper woken before chunk 0 ends can do (the deadline turns a missing
  // helper into a failure instead of a hang).
  set_num_threads(2);
  ASSERT_LT(2, kMinTimedChunksPerThread * 2);
  for (int rep = 0; rep < 20; ++rep) {
    const std::thread::id me = std::this_thread::get_id();
    std::atomic<bool> helper_ran{false};
    std::atomic<int> calls{0};
    parallel_for(2, 1, [&](int64_t, int64_t) {
      ++calls;
      if (std::this_thread::get_id() != me) {
        helper_ran = true;
        return;
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!helper_ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    });
    ASSERT_TRUE(helper_ran.load()) << "rep " << rep;
    EXPECT_EQ(calls.load(), 2);
  }
}

TEST_F(WakePolicyTest, TimedDecisionCoversEveryIndexOnceEitherWay) {
  // Chunks of ~0 and of ~200 us: small jobs stay on the caller, large ones
  // wake a helper after the first chunk; both must cover every index once.
  set_num_threads(2);
  for (int sleep_us : {0, 200}) {
    for (int64_t n : {2, 3, 40}) {
      std::vector<std::atomic<int>> hits(n);
      std::mutex m;
      std::set<std::thread::id> ids;
      parallel_for(n, 1, [&](int64_t b, int64_t e) {
        if (sleep_us) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        std::lock_guard<std::mutex> lock(m);
        ids.insert(std::this_thread::get_id());
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "sleep " << sleep_us << " n=" << n << " i=" << i;
      EXPECT_LE(ids.size(), 2u);
    }
  }
}

TEST(ThreadPool, RunnableThreadsAreReadFromLoadavg) {
  EXPECT_EQ(runnable_threads_in_loadavg("0.52 0.58 0.59 3/467 12345\n"), 3);
  EXPECT_EQ(runnable_threads_in_loadavg("19.93 17.02 12.10 21/1043 99\n"), 21);
  EXPECT_EQ(runnable_threads_in_loadavg("0.00 0.00 0.00 1/1 1"), 1);
  EXPECT_EQ(runnable_threads_in_loadavg("0.52 0.58 0.59"), -1);
  EXPECT_EQ(runnable_threads_in_loadavg("0.52 0.58 0.59 3"), -1);
  EXPECT_EQ(runnable_threads_in_loadavg(""), -1);
}

TEST_F(WakePolicyTest, EveryJobFinishesWithSpinningAndBlockedHelpers) {
  // Jobs back to back (helpers still spinning from the last one), and after
  // pauses longer than the spin (helpers blocked, woken again), with spinning
  // on and off: every index of every job runs exactly once.
  set_num_threads(2);
  for (int64_t spin : {int64_t{-1}, int64_t{0}, int64_t{1000000}}) {
    set_spin_ns_for_testing(spin, /*even_when_busy=*/true);
    for (WakePolicy policy : {WakePolicy::kAlways, WakePolicy::kTimed}) {
      set_wake_policy_for_testing(policy);
      for (int job = 0; job < 400; ++job) {
        const int64_t n = 2 + job % 37;
        std::vector<std::atomic<int>> hits(n);
        parallel_for(n, 1 + job % 3, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(hits[i].load(), 1) << "spin " << spin << " job " << job << " i=" << i;
        }
        if (job % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
}

// The threads of this process other than the caller: tid -> (state,
// utime + stime in clock ticks), from /proc/self/task/<tid>/stat.
std::map<long, std::pair<char, long>> other_threads() {
  std::map<long, std::pair<char, long>> out;
  const long self = syscall(SYS_gettid);
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return out;
  while (dirent* d = readdir(dir)) {
    const long tid = std::atol(d->d_name);
    if (tid <= 0 || tid == self) continue;
    std::ifstream f("/proc/self/task/" + std::string(d->d_name) + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;  // the thread exited meanwhile
    // After "pid (comm) ": state, then fields 4..; utime and stime are
    // fields 14 and 15 (comm may hold spaces: parse after the last ')').
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    char state = '?';
    rest >> state;
    std::string field;
    for (int i = 4; i <= 13; ++i) rest >> field;
    long utime = 0, stime = 0;
    rest >> utime >> stime;
    out[tid] = {state, utime + stime};
  }
  closedir(dir);
  return out;
}

TEST_F(WakePolicyTest, IdlePoolBlocksInsteadOfSpinning) {
  // After a job the helpers spin for at most kSpinNs, then block: each
  // other thread reaches the sleeping state ('S') and then uses no CPU. A
  // helper that spun forever would stay 'R' (the deadline turns that into
  // a failure; under load a helper may take a while to be scheduled and
  // notice its spin is over, hence seconds, not microseconds).
  set_num_threads(2);
  set_wake_policy_for_testing(WakePolicy::kAlways);
  set_spin_ns_for_testing(-1, /*even_when_busy=*/true);
  std::atomic<int64_t> sum{0};
  for (int job = 0; job < 20; ++job) {
    parallel_for(64, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  }
  ASSERT_EQ(sum.load(), 20 * 64);
  ASSERT_FALSE(other_threads().empty()) << "no helper thread was started";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::map<long, std::pair<char, long>> threads;
  for (;;) {
    threads = other_threads();
    bool all_asleep = true;
    for (const auto& t : threads) all_asleep = all_asleep && t.second.first == 'S';
    if (all_asleep) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "a pool thread never blocked";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Blocked, they stay blocked: no CPU time over 300 ms (one clock tick of
  // slack for the tick that was running when they blocked).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (const auto& t : other_threads()) {
    const auto before = threads.find(t.first);
    if (before == threads.end()) continue;
    EXPECT_EQ(t.second.first, 'S') << "thread " << t.first;
    EXPECT_LE(t.second.second - before->second.second, 1) << "thread " << t.first << " used CPU while idle";
  }
}

}  // namespace
}  // namespace int8rt
