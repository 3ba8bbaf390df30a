// Private heaps (arenalloc_heap_*): allocation from several threads, frees through the heap and
// through free() from other threads, reset and destroy (memory returned, heap reusable), huge
// blocks, and invalid handles (reported per on_error; the call does nothing).
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cxxapi_util.h"

using namespace cxxapi;

namespace {

struct Block {
  unsigned char* p;
  std::size_t n;
  std::uint64_t seed;
};

// A mix of sizes: mostly small, some up to 16 KiB, a few large (over 128 KiB).
std::size_t SizeFor(std::uint64_t i) {
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  if (i % 997 == 0) return 128 * KiB + x % (400 * KiB);
  if (i % 13 == 0) return 1 + x % (16 * KiB);
  return 1 + x % 512;
}

TEST(PrivateHeap, CreateAllocFree) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  auto* a = static_cast<unsigned char*>(arenalloc_heap_malloc(heap, 100));
  auto* z = static_cast<unsigned char*>(arenalloc_heap_calloc(heap, 100, 30));
  auto* al = static_cast<unsigned char*>(
      arenalloc_heap_alloc(heap, 500, ARENALLOC_ALIGN(4096) | ARENALLOC_ZERO));
  void* empty = arenalloc_heap_malloc(heap, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(z, nullptr);
  ASSERT_NE(al, nullptr);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(FirstNonZero(z, 3000), 3000u);
  EXPECT_EQ(FirstNonZero(al, 500), 500u);
  EXPECT_TRUE(IsAligned(al, 4096));
  EXPECT_TRUE(IsAligned(a, 16));
  EXPECT_EQ(arenalloc_usable_size(a), arenalloc_good_size(100, 0));
  EXPECT_EQ(malloc_usable_size(z), arenalloc_good_size(3000, 0));
  Fill(a, 100, 1);
  std::memset(z, 2, 3000);
  arenalloc_heap_free(heap, a);
  arenalloc_heap_free(heap, nullptr);  // like free(NULL)
  std::free(z);
  arenalloc_heap_free(heap, al);
  arenalloc_heap_free(heap, empty);
  arenalloc_heap_destroy(heap);
}

TEST(PrivateHeap, HeapFreeReusesTheBlock) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(arenalloc_heap_malloc(heap, 64));
  void* p = v[500];
  arenalloc_heap_free(heap, p);
  // Handed out again once the page's current free list runs out (a 64 KiB page: 1024 blocks).
  bool found = false;
  for (int i = 0; i < 2048 && !found; ++i) found = arenalloc_heap_malloc(heap, 64) == p;
  EXPECT_TRUE(found) << "a block freed with arenalloc_heap_free is reused by the heap";
  arenalloc_heap_destroy(heap);
}

TEST(PrivateHeap, FourThreadsAllocateConcurrently) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 30000;
  std::vector<std::vector<Block>> blocks(kThreads);
  std::atomic<int> go{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (go.load() == 0) {
      }
      auto& mine = blocks[t];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t id = static_cast<std::uint64_t>(t) * kPerThread + i;
        const std::size_t n = SizeFor(id);
        auto* p = static_cast<unsigned char*>(i % 5 == 0 ? arenalloc_heap_calloc(heap, 1, n)
                                                         : arenalloc_heap_malloc(heap, n));
        if (p == nullptr || !IsAligned(p, 16) || arenalloc_usable_size(p) < n) {
          failures.fetch_add(1);
          return;
        }
        if (i % 5 == 0 && FirstNonZero(p, n) != n) failures.fetch_add(1);
        Fill(p, n, id);
        mine.push_back({p, n, id});
        // Some blocks go straight back, through the heap or free().
        if (i % 7 == 3) {
          Block b = mine.back();
          mine.pop_back();
          if (FirstMismatch(b.p, b.n, b.seed) != b.n) failures.fetch_add(1);
          if (i % 2)
            arenalloc_heap_free(heap, b.p);
          else
            std::free(b.p);
        }
      }
    });
  }
  go.store(1);
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  // No two live blocks overlap, and every block kept its contents.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (auto& v : blocks)
    for (const Block& b : v)
      ranges.emplace_back(reinterpret_cast<std::uintptr_t>(b.p),
                          reinterpret_cast<std::uintptr_t>(b.p) + b.n);
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].second, ranges[i].first) << "blocks overlap";

  // Each thread checks and frees the blocks another thread allocated: half with
  // arenalloc_heap_free, half with free().
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto& theirs = blocks[(t + 1) % kThreads];
      for (std::size_t i = 0; i < theirs.size(); ++i) {
        const Block& b = theirs[i];
        if (FirstMismatch(b.p, b.n, b.seed) != b.n) failures.fetch_add(1);
        if (i % 2)
          arenalloc_heap_free(heap, b.p);
        else
          std::free(b.p);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  // The heap is still usable, and hands out memory it got back.
  void* p = arenalloc_heap_malloc(heap, 100);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 100);
  arenalloc_heap_destroy(heap);
}

TEST(PrivateHeap, BlocksFreedWithFreeFromOtherThreadsAreReused) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  constexpr int kBlocks = 20000;
  std::vector<void*> blocks;
  for (int i = 0; i < kBlocks; ++i) blocks.push_back(arenalloc_heap_malloc(heap, 256));
  std::unordered_set<void*> first(blocks.begin(), blocks.end());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < kBlocks; i += 4) std::free(blocks[i]);
    });
  for (auto& th : threads) th.join();
  std::size_t reused = 0;
  for (int i = 0; i < kBlocks; ++i) reused += first.count(arenalloc_heap_malloc(heap, 256));
  EXPECT_GT(reused, kBlocks * 9u / 10) << "blocks freed by other threads come back to the heap";
  arenalloc_heap_destroy(heap);
}

TEST(PrivateHeap, ReallocOfAHeapBlock) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  auto* p = static_cast<unsigned char*>(arenalloc_heap_malloc(heap, 100));
  Fill(p, 100, 9);
  auto* q = static_cast<unsigned char*>(std::realloc(p, 100000));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(FirstMismatch(q, 100, 9), 100u);
  std::free(q);
  arenalloc_heap_destroy(heap);
}

// Fills `bytes` of small blocks from the heap (each one touched); returns them.
std::vector<void*> FillHeap(arenalloc_heap_t* heap, std::size_t bytes, std::size_t block = 1024) {
  std::vector<void*> v;
  v.reserve(bytes / block);
  for (std::size_t done = 0; done < bytes; done += block) {
    void* p = arenalloc_heap_malloc(heap, block);
    if (p == nullptr) break;
    std::memset(p, 0x77, block);
    v.push_back(p);
  }
  return v;
}

TEST(PrivateHeap, ResetReturnsMemoryAndReusesIt) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  const std::size_t rss0 = RssBytes();
  std::vector<void*> old_blocks = FillHeap(heap, 64 * MiB);
  ASSERT_EQ(old_blocks.size(), 64 * KiB);
  const std::size_t rss_full = RssBytes();
  EXPECT_GE(rss_full, rss0 + 60 * MiB);

  arenalloc_heap_reset(heap);
  // Reset keeps the memory for the heap's next blocks; malloc_trim gives it back now.
  EXPECT_EQ(malloc_trim(0), 1);
  const std::size_t rss_reset = RssBytes();
  EXPECT_LE(rss_reset + 56 * MiB, rss_full)
      << "reset + malloc_trim returns the heap's memory to the system: " << rss_full / KiB
      << " KiB -> " << rss_reset / KiB << " KiB";

  // The heap is usable after reset, and its new blocks reuse the old blocks' memory (the heap
  // keeps its address space: every new block lies where old blocks were).
  std::vector<void*> new_blocks = FillHeap(heap, 16 * MiB);
  ASSERT_EQ(new_blocks.size(), 16 * KiB);
  const auto [lo, hi] = std::minmax_element(old_blocks.begin(), old_blocks.end(),
                                            [](void* a, void* b) { return a < b; });
  std::size_t inside = 0;
  for (void* p : new_blocks)
    inside += p >= *lo && static_cast<char*>(p) < static_cast<char*>(*hi) + 1024;
  EXPECT_EQ(inside, new_blocks.size()) << "new blocks outside the memory the heap had before reset";
  for (std::size_t i = 0; i < new_blocks.size(); i += 2) arenalloc_heap_free(heap, new_blocks[i]);

  // Reset twice in a row, and reset of an empty heap, are fine.
  arenalloc_heap_reset(heap);
  arenalloc_heap_reset(heap);
  void* p = arenalloc_heap_malloc(heap, 32);
  ASSERT_NE(p, nullptr);
  arenalloc_heap_destroy(heap);
}

TEST(PrivateHeap, DestroyReturnsMemory) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  std::vector<void*> blocks = FillHeap(heap, 64 * MiB, 200);
  ASSERT_GT(blocks.size(), 0u);
  // Some large blocks too.
  for (int i = 0; i < 20; ++i) {
    void* p = arenalloc_heap_malloc(heap, 1 * MiB);
    ASSERT_NE(p, nullptr);
    TouchPages(p, 1 * MiB);
  }
  const std::size_t rss_full = RssBytes();
  arenalloc_heap_destroy(heap);
  const std::size_t rss_after = RssBytes();
  EXPECT_LE(rss_after + 72 * MiB, rss_full)
      << "destroy returns the heap's memory: " << rss_full / KiB << " KiB -> " << rss_after / KiB
      << " KiB";
}

TEST(PrivateHeap, HugeBlocksAreUnmappedAtResetAndDestroy) {
  HugeFrom1MiB mapped;
  const std::size_t n = 20 * MiB;  // above the mmap threshold: a mapping of its own
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  for (int round = 0; round < 2; ++round) {
    const std::size_t rss0 = RssBytes();
    std::vector<void*> huge;
    for (int i = 0; i < 4; ++i) {
      void* p = arenalloc_heap_alloc(heap, n, i == 0 ? ARENALLOC_ZERO : 0);
      ASSERT_NE(p, nullptr);
      EXPECT_GE(arenalloc_usable_size(p), n);
      TouchPages(p, n);
      huge.push_back(p);
    }
    // One freed with free(), one with the heap: the others are left to reset/destroy.
    std::free(huge[1]);
    arenalloc_heap_free(heap, huge[2]);
    const std::size_t rss_full = RssBytes();
    EXPECT_GE(rss_full, rss0 + 36 * MiB);
    if (round == 0)
      arenalloc_heap_reset(heap);
    else
      arenalloc_heap_destroy(heap);
    const std::size_t rss_after = RssBytes();
    EXPECT_LE(rss_after + 36 * MiB, rss_full)
        << (round == 0 ? "reset" : "destroy")
        << " unmaps the heap's huge blocks: " << rss_full / KiB << " KiB -> " << rss_after / KiB
        << " KiB";
  }
}

TEST(PrivateHeap, ManyHeaps) {
  std::vector<arenalloc_heap_t*> heaps;
  for (int i = 0; i < 64; ++i) {
    arenalloc_heap_t* h = arenalloc_heap_create();
    ASSERT_NE(h, nullptr);
    for (int j = 0; j < 100; ++j) ASSERT_NE(arenalloc_heap_malloc(h, 16 + j), nullptr);
    heaps.push_back(h);
  }
  for (std::size_t i = 0; i < heaps.size(); i += 2) arenalloc_heap_destroy(heaps[i]);
  for (std::size_t i = 1; i < heaps.size(); i += 2) {
    arenalloc_heap_reset(heaps[i]);
    ASSERT_NE(arenalloc_heap_malloc(heaps[i], 100), nullptr);
    arenalloc_heap_destroy(heaps[i]);
  }
}

// ---- invalid handles ----

// A handle arenalloc never made, one it destroyed, a malloc'ed block, NULL.
struct BadHandles {
  long on_stack[8] = {};
  void* from_malloc = std::malloc(64);
  arenalloc_heap_t* destroyed = [] {
    arenalloc_heap_t* h = arenalloc_heap_create();
    arenalloc_heap_destroy(h);
    return h;
  }();
  ~BadHandles() { std::free(from_malloc); }
  std::vector<arenalloc_heap_t*> all() {
    return {reinterpret_cast<arenalloc_heap_t*>(on_stack),
            static_cast<arenalloc_heap_t*>(from_malloc), destroyed, nullptr};
  }
};

TEST(PrivateHeapDeathTest, InvalidHandleAborts) {
  UseThreadsafeDeathTests();
  BadHandles bad;
  for (arenalloc_heap_t* h : bad.all()) {
    EXPECT_DEATH(arenalloc_heap_alloc(h, 10, 0), "arenalloc: invalid heap handle") << h;
    EXPECT_DEATH(arenalloc_heap_malloc(h, 10), "invalid heap handle") << h;
    EXPECT_DEATH(arenalloc_heap_calloc(h, 1, 10), "invalid heap handle") << h;
    EXPECT_DEATH(arenalloc_heap_reset(h), "invalid heap handle") << h;
    EXPECT_DEATH(arenalloc_heap_destroy(h), "invalid heap handle") << h;
    EXPECT_DEATH(
        {
          void* p = std::malloc(10);
          arenalloc_heap_free(h, p);
        },
        "invalid heap handle")
        << h;
  }
}

TEST(PrivateHeap, InvalidHandleUnderWarnDoesNothing) {
  BadHandles bad;
  OnErrorScope warn("warn");
  for (arenalloc_heap_t* h : bad.all()) {
    StderrCapture err;
    errno = 0;
    EXPECT_EQ(arenalloc_heap_alloc(h, 10, 0), nullptr);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(arenalloc_heap_malloc(h, 10), nullptr);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(arenalloc_heap_calloc(h, 2, 10), nullptr);
    EXPECT_EQ(errno, EINVAL);
    // free through a bad handle does nothing: the block stays valid.
    auto* p = static_cast<unsigned char*>(std::malloc(100));
    Fill(p, 100, 4);
    arenalloc_heap_free(h, p);
    void* other = std::malloc(100);  // would likely reuse p's memory had it been freed
    EXPECT_EQ(FirstMismatch(p, 100, 4), 100u);
    std::free(other);
    std::free(p);
    arenalloc_heap_reset(h);
    arenalloc_heap_destroy(h);
    const std::string text = err.Take();
    std::size_t reports = 0;
    for (std::size_t pos = text.find("invalid heap handle"); pos != std::string::npos;
         pos = text.find("invalid heap handle", pos + 1))
      ++reports;
    EXPECT_EQ(reports, 6u) << text;
  }
  // The destroyed heap's memory was not touched by the calls above: a live heap still works.
  arenalloc_heap_t* live = arenalloc_heap_create();
  ASSERT_NE(arenalloc_heap_malloc(live, 10), nullptr);
  arenalloc_heap_destroy(live);
}

TEST(PrivateHeap, InvalidHandleUnderIgnoreIsSilent) {
  BadHandles bad;
  OnErrorScope ignore("ignore");
  StderrCapture err;
  for (arenalloc_heap_t* h : bad.all()) {
    errno = 0;
    EXPECT_EQ(arenalloc_heap_malloc(h, 10), nullptr);
    EXPECT_EQ(errno, EINVAL);
    arenalloc_heap_reset(h);
    arenalloc_heap_destroy(h);
  }
  EXPECT_EQ(err.Take(), "");
}

}  // namespace
