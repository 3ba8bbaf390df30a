// Cross-thread frees: producer/consumer and a Larson-like exchange workload.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

// A bounded multi-producer/multi-consumer queue of batches of blocks.
class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}
  void Push(std::vector<void*>&& batch) {
    std::unique_lock<std::mutex> lk(mu_);
    not_full_.wait(lk, [&] { return q_.size() < capacity_; });
    q_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  // Returns false when closed and drained.
  bool Pop(std::vector<void*>* out) {
    std::unique_lock<std::mutex> lk(mu_);
    not_empty_.wait(lk, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::vector<void*>> q_;
  size_t capacity_;
  bool closed_ = false;
};

std::atomic<bool> g_failed{false};
std::mutex g_fail_mu;
std::string g_fail_msg;

void Fail(const std::string& why) {
  std::lock_guard<std::mutex> lk(g_fail_mu);
  if (!g_failed.exchange(true)) g_fail_msg = why;
}

TEST(CrossThread, ProducerConsumer) {
  Watchdog wd(60, "CrossThread.ProducerConsumer");
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr int kBlocksPerProducer = 120000, kBatch = 32;
  g_failed = false;
  BatchQueue queue(256);
  std::atomic<size_t> consumed{0}, realloced{0};
  auto start = std::chrono::steady_clock::now();

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      Rng r(1000 + c);
      std::vector<void*> batch;
      size_t mine = 0;
      while (queue.Pop(&batch)) {
        for (void* p : batch) {
          BlockInfo bi;
          std::string why;
          if (!Check(p, &bi, &why)) {
            Fail("consumer: " + why);
            continue;  // leak it; memory is suspect
          }
          // Sometimes grow or shrink a malloc'd block in the foreign thread.
          if (bi.kind == kMalloc && r.OneIn(16)) {
            size_t n2 = r.LogUniform(16, 70000);
            void* q = std::realloc(p, n2);
            if (q == nullptr) {
              Fail("consumer: realloc failed");
              continue;
            }
            // The kept prefix must be intact: re-check what we can.
            uint64_t meta;
            std::memcpy(&meta, q, 8);
            if ((meta >> 56) != kMagic || (meta & ((uint64_t(1) << 40) - 1)) != bi.size) {
              Fail("consumer: realloc lost the block header");
              continue;
            }
            size_t keep = bi.size < n2 ? bi.size : n2;
            auto* b = static_cast<unsigned char*>(q);
            for (size_t i = 16, w = 0; i + 8 <= keep; i += 8, ++w) {
              uint64_t v;
              std::memcpy(&v, b + i, 8);
              if (v != PatternWord(bi.tag, w)) {
                Fail("consumer: realloc lost contents");
                break;
              }
            }
            Stamp(q, n2, kMalloc, 8, bi.tag + 1);
            BlockInfo b2;
            if (!Check(q, &b2, &why)) Fail("consumer after realloc: " + why);
            p = q;
            bi = b2;
            realloced.fetch_add(1, std::memory_order_relaxed);
          }
          ReleaseBlock(r, p, bi);
          ++mine;
        }
        batch.clear();
      }
      consumed.fetch_add(mine);
    });
  }

  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      Rng r(t + 1);
      std::vector<void*> batch;
      for (int i = 0; i < kBlocksPerProducer; ++i) {
        size_t n = r.LogUniform(16, 64 << 10);
        Kind kind = r.OneIn(4) ? Kind(r.Below(kKinds)) : kMalloc;
        batch.push_back(AllocBlock(r, n, kind, (uint64_t(t) << 32) | uint64_t(i)));
        if (batch.size() == kBatch) {
          queue.Push(std::move(batch));
          batch = {};
          batch.reserve(kBatch);
        }
      }
      if (!batch.empty()) queue.Push(std::move(batch));
    });
  }
  for (auto& th : producers) th.join();
  queue.Close();
  for (auto& th : consumers) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("producer/consumer: %zu blocks (%zu realloc'd cross-thread) in %.2f s\n",
              consumed.load(), realloced.load(), secs);
  EXPECT_FALSE(g_failed.load()) << g_fail_msg;
  EXPECT_EQ(consumed.load(), size_t(kProducers) * kBlocksPerProducer);
}

// Larson-like: each worker owns an array of slots; it repeatedly verifies and
// frees a random slot's block and allocates a new one, and sometimes swaps a
// block with a shared exchange array (so blocks migrate between threads).
// Workers are replaced every round, so blocks also outlive their allocating
// thread and are freed by threads created later.
TEST(CrossThread, LarsonExchange) {
  Watchdog wd(60, "CrossThread.LarsonExchange");
  constexpr int kThreads = 4, kSlots = 4000, kRounds = 12, kOpsPerRound = 60000;
  constexpr int kExchange = 512;
  g_failed = false;
  std::vector<std::vector<void*>> slots(kThreads, std::vector<void*>(kSlots, nullptr));
  std::vector<std::atomic<void*>> exchange(kExchange);
  for (auto& e : exchange) e.store(nullptr);
  {
    Rng r(7);
    for (int t = 0; t < kThreads; ++t)
      for (int s = 0; s < kSlots; ++s)
        slots[t][s] = AllocBlock(r, r.LogUniform(16, 2048), kMalloc, uint64_t(t * kSlots + s));
  }
  auto start = std::chrono::steady_clock::now();
  std::atomic<size_t> ops{0};
  size_t rss_start = RssBytes();
  std::vector<size_t> rss_per_round;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      // Rotate arrays between rounds: thread t works on another thread's blocks.
      std::vector<void*>* mine = &slots[(t + round) % kThreads];
      workers.emplace_back([&, mine, t, round] {
        Rng r(uint64_t(round) * 100 + t);
        uint64_t tag = (uint64_t(round) << 40) | (uint64_t(t) << 32);
        for (int i = 0; i < kOpsPerRound && !g_failed.load(std::memory_order_relaxed); ++i) {
          void*& slot = (*mine)[r.Below(kSlots)];
          if (slot != nullptr) {
            BlockInfo bi;
            std::string why;
            if (!Check(slot, &bi, &why)) {
              Fail("larson: " + why);
              return;
            }
            ReleaseBlock(r, slot, bi);
            slot = nullptr;
          }
          size_t n = r.OneIn(64) ? r.LogUniform(4096, 128 << 10) : r.LogUniform(16, 1024);
          Kind kind = r.OneIn(8) ? Kind(r.Below(kKinds)) : kMalloc;
          slot = AllocBlock(r, n, kind, ++tag);
          if (r.OneIn(8)) {
            // Swap with the shared exchange array.
            slot = exchange[r.Below(kExchange)].exchange(slot, std::memory_order_acq_rel);
          }
        }
        ops.fetch_add(kOpsPerRound);
      });
    }
    for (auto& w : workers) w.join();
    ASSERT_FALSE(g_failed.load()) << g_fail_msg;
    rss_per_round.push_back(RssBytes());
  }
  // Verify and free everything that is left.
  Rng r(99);
  auto drain = [&](void* p) {
    if (p == nullptr) return;
    BlockInfo bi;
    std::string why;
    if (!Check(p, &bi, &why)) {
      Fail("larson final: " + why);
      return;
    }
    ReleaseBlock(r, p, bi);
  };
  for (auto& v : slots)
    for (void* p : v) drain(p);
  for (auto& e : exchange) drain(e.load());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("larson: %zu operations in %.2f s; RSS start %.1f MiB, after each round:", ops.load(),
              secs, MiB(rss_start));
  for (size_t r : rss_per_round) std::printf(" %.1f", MiB(r));
  std::printf(" MiB\n");
  EXPECT_FALSE(g_failed.load()) << g_fail_msg;
  // The live set is constant (~11 MiB): after the first rounds RSS must be
  // flat, whatever thread allocated or freed the blocks.
  size_t growth = rss_per_round.back() - std::min(rss_per_round[2], rss_per_round.back());
  EXPECT_LT(growth, size_t(64) << 20)
      << "RSS grew by " << MiB(growth) << " MiB between round 3 and round " << kRounds
      << " with a constant live set (memory of exited threads not reused?)";
}

// Each round, new threads free every block of the previous round (allocated
// by threads that have exited since) and allocate a same-sized replacement
// set. The live set is constant, so the memory of exited threads must be
// reused and RSS must not grow round after round.
TEST(CrossThread, MemoryOfExitedThreadsIsReused) {
  Watchdog wd(60, "CrossThread.MemoryOfExitedThreadsIsReused");
  constexpr int kThreads = 2, kRounds = 20, kBlocks = 20000;
  g_failed = false;
  std::vector<std::vector<void*>> sets(kThreads, std::vector<void*>(kBlocks, nullptr));
  std::vector<size_t> rss;
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t, round] {
        Rng r(uint64_t(round) * 10 + t);
        for (void*& p : sets[t]) {
          if (p != nullptr) {
            BlockInfo bi;
            std::string why;
            if (!Check(p, &bi, &why)) {
              Fail("exited-thread reuse: " + why);
              return;
            }
            ReleaseBlock(r, p, bi);
          }
          size_t n = r.OneIn(100) ? r.LogUniform(4096, 64 << 10) : r.LogUniform(16, 1024);
          p = AllocBlock(r, n, r.OneIn(8) ? Kind(r.Below(kKinds)) : kMalloc, uint64_t(round));
        }
      });
    }
    for (auto& w : workers) w.join();
    ASSERT_FALSE(g_failed.load()) << g_fail_msg;
    rss.push_back(RssBytes());
  }
  Rng r(5);
  for (auto& v : sets)
    for (void* p : v) {
      BlockInfo bi;
      std::string why;
      if (Check(p, &bi, &why)) ReleaseBlock(r, p, bi);
    }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("exited-thread reuse: %.2f s; RSS after each round:", secs);
  for (size_t x : rss) std::printf(" %.1f", MiB(x));
  std::printf(" MiB\n");
  size_t growth = rss.back() - std::min(rss[2], rss.back());
  EXPECT_LT(growth, size_t(32) << 20)
      << "RSS grew by " << MiB(growth) << " MiB from round 3 to round " << kRounds
      << " with a constant live set: memory freed into exited threads' heaps is not reused";
}

// A thread that built data and went idle (here: blocked in join) keeps its full pages; the thread
// freeing its blocks takes those pages over once the owner has not refilled a page for a while,
// and then reuses the room in them instead of fresh memory (heap.cpp, steal_full_page).
TEST(CrossThread, FullPagesOfAnIdleThreadAreReusedByTheThreadFreeingThem) {
  Watchdog wd(30, "CrossThread.FullPagesOfAnIdleThreadAreReusedByTheThreadFreeingThem");
  constexpr size_t kSize = 64, kBlocks = 8192;  // 8 pages of 1024 blocks
  constexpr uintptr_t kPageMask = ~uintptr_t{0xFFFF};
  std::vector<void*> built(kBlocks);
  for (void*& p : built) {
    p = std::malloc(kSize);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5A, kSize);
  }
  std::vector<uintptr_t> pages;
  for (void* p : built) pages.push_back(reinterpret_cast<uintptr_t>(p) & kPageMask);
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());

  size_t reused = 0;
  std::vector<void*> fresh;
  std::thread worker([&] {
    // A thread takes pages over only once it has a heap (its first allocation), and once the
    // owner has been seen idle: frees that find the owner busy look at all heaps now and then
    // (every 256th), and a heap whose refills stood still for 10 ms between two looks is idle.
    // So: free some, wait, free the rest (every other block).
    fresh.push_back(std::malloc(kSize));
    for (size_t i = 0; i < kBlocks; i += 2) {
      if (i == 1024) std::this_thread::sleep_for(std::chrono::milliseconds(40));
      std::free(built[i]);
    }
    for (size_t i = 1; i < kBlocks / 2; ++i) {
      void* p = std::malloc(kSize);
      if (p == nullptr) return;
      fresh.push_back(p);
      if (std::binary_search(pages.begin(), pages.end(),
                             reinterpret_cast<uintptr_t>(p) & kPageMask))
        ++reused;
    }
  });
  worker.join();
  ASSERT_EQ(fresh.size(), kBlocks / 2);
  std::printf("idle thread's pages: %zu of %zu new blocks reused them\n", reused, kBlocks / 2);
  // The owner's last page stays in its queue (not full), so about 7 of 8 pages can be taken.
  EXPECT_GE(reused, kBlocks / 4) << "of " << kBlocks / 2 << " new blocks, only " << reused
                                 << " reused the idle thread's freed room";
  for (size_t i = 1; i < kBlocks; i += 2) {
    EXPECT_EQ(static_cast<unsigned char*>(built[i])[kSize - 1], 0x5A) << "block " << i;
    std::free(built[i]);
  }
  for (void* p : fresh) std::free(p);
}

}  // namespace
