// Thread churn: many short-lived threads allocate, hand some blocks to a
// long-lived thread, free the rest and exit. RSS must stay bounded and a
// second round must not grow it (no per-thread leak).
// Own executable: RSS is measured for the whole process.
#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

constexpr int kConcurrent = 16;
constexpr int kBlocksPerThread = 12, kHandedPerThread = 3;

struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<void*> pending;
  size_t freed = 0;
  bool stop = false;
  std::atomic<bool> failed{false};
  std::string why;

  void Give(void* const* blocks, int n) {
    std::lock_guard<std::mutex> lk(mu);
    pending.insert(pending.end(), blocks, blocks + n);
    if (pending.size() >= 256) cv.notify_one();
  }
  void Run() {
    Rng r(17);
    std::vector<void*> work;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait_for(lk, std::chrono::milliseconds(5),
                    [&] { return stop || pending.size() >= 256; });
        work.swap(pending);
        if (stop && work.empty()) return;
      }
      for (void* p : work) {
        BlockInfo bi;
        std::string w;
        if (!Check(p, &bi, &w)) {
          if (!failed.exchange(true)) why = w;
          continue;
        }
        ReleaseBlock(r, p, bi);
      }
      {
        std::lock_guard<std::mutex> lk(mu);
        freed += work.size();
      }
      work.clear();
    }
  }
  // Waits until everything handed so far has been freed.
  void Drain(size_t expected) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (freed >= expected) return;
        cv.notify_one();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
};

Collector* g_collector;
std::atomic<bool> g_thread_failed{false};

void* ShortLived(void* arg) {
  uint64_t id = reinterpret_cast<uintptr_t>(arg);
  Rng r(id);
  void* blocks[kBlocksPerThread];
  for (int i = 0; i < kBlocksPerThread; ++i) {
    size_t n = i == 0 ? r.LogUniform(16 << 10, 64 << 10) : r.LogUniform(16, 4096);
    Kind kind = r.OneIn(4) ? Kind(r.Below(kKinds)) : kMalloc;
    blocks[i] = AllocBlock(r, n, kind, (id << 8) | uint64_t(i));
  }
  g_collector->Give(blocks, kHandedPerThread);
  for (int i = kHandedPerThread; i < kBlocksPerThread; ++i) {
    BlockInfo bi;
    std::string why;
    if (!Check(blocks[i], &bi, &why)) {
      g_thread_failed = true;
      continue;
    }
    ReleaseBlock(r, blocks[i], bi);
  }
  return nullptr;
}

double Churn(int threads, uint64_t first_id) {
  auto start = std::chrono::steady_clock::now();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  for (int done = 0; done < threads;) {
    pthread_t ths[kConcurrent];
    int n = 0;
    for (; n < kConcurrent && done < threads; ++n, ++done) {
      void* arg = reinterpret_cast<void*>(uintptr_t(first_id + uint64_t(done)));
      if (pthread_create(&ths[n], &attr, ShortLived, arg) != 0) {
        std::fprintf(stderr, "pthread_create failed\n");
        std::abort();
      }
    }
    for (int k = 0; k < n; ++k) pthread_join(ths[k], nullptr);
  }
  pthread_attr_destroy(&attr);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(ThreadChurn, RssStaysBoundedAndDoesNotGrow) {
  Watchdog wd(90, "ThreadChurn.RssStaysBoundedAndDoesNotGrow");
  constexpr int kRound1 = 100000, kRound2 = 50000;
  Collector collector;
  g_collector = &collector;
  std::thread collector_thread([&] { collector.Run(); });

  Churn(200, 1u << 30);  // warm-up: thread stacks cache, collector buffers
  collector.Drain(200 * kHandedPerThread);
  size_t rss0 = RssBytes();

  double t1 = Churn(kRound1, 0);
  collector.Drain(size_t(200 + kRound1) * kHandedPerThread);
  size_t rss1 = RssBytes();

  double t2 = Churn(kRound2, kRound1);
  collector.Drain(size_t(200 + kRound1 + kRound2) * kHandedPerThread);
  size_t rss2 = RssBytes();

  {
    std::lock_guard<std::mutex> lk(collector.mu);
    collector.stop = true;
    collector.cv.notify_one();
  }
  collector_thread.join();
  std::printf(
      "thread churn: %d threads in %.2f s, then %d in %.2f s; RSS %.1f -> %.1f -> %.1f MiB\n",
      kRound1, t1, kRound2, t2, MiB(rss0), MiB(rss1), MiB(rss2));
  EXPECT_FALSE(g_thread_failed.load()) << "a short-lived thread found a corrupted block";
  EXPECT_FALSE(collector.failed.load()) << collector.why;
  EXPECT_LT(rss1, rss0 + (32 << 20))
      << "RSS grew by " << MiB(rss1 - rss0) << " MiB over " << kRound1 << " threads";
  EXPECT_LT(rss2, rss1 + (8 << 20)) << "second round grew RSS by " << MiB(rss2 - rss1) << " MiB";
}

}  // namespace
