// Private heaps (core/private_heap.h) shared by threads: allocation from any thread under the
// heap's lock, frees by other threads (remote frees onto the heap's pages, and owner frees under
// the lock), large and huge blocks, reset and destroy after the threads are done, while other
// threads use their own heaps and trim() runs.
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/checked.h"
#include "core/private_heap.h"
#include "sanitize_util.h"

namespace {

using san::Rng;

class PrivateHeaps : public san::LeakCheckedTest {};

void* heap_block(arenalloc::PrivateHeap* h, Rng& r, size_t n, uint64_t seed) {
  size_t align = r.OneIn(4) ? size_t{16} << r.Below(8) : 0;
  bool zero = r.OneIn(4);
  void* p = arenalloc::private_heap_alloc(h, n, align, zero);
  if (p == nullptr) {
    san::fail("private_heap_alloc(%zu, %zu) failed", n, align);
    return nullptr;
  }
  if (align != 0 && reinterpret_cast<uintptr_t>(p) % align != 0)
    san::fail("%p not aligned to %zu", p, align);
  if (zero) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n && i < san::kFullFill; ++i)
      if (b[i] != 0) {
        san::fail("private_heap_alloc zeroed: byte %zu of %p is %u", i, p, b[i]);
        break;
      }
  }
  san::stamp(p, n, seed);
  return p;
}

TEST_F(PrivateHeaps, SharedByThreads) {
  constexpr size_t kSlots = 256;
  const size_t rounds = san::scaled(8);
  san::Trimmer trimmer(1000);
  for (size_t round = 0; round < rounds; ++round) {
    arenalloc::PrivateHeap* h = arenalloc::private_heap_create();
    ASSERT_NE(h, nullptr);
    std::vector<std::atomic<void*>> slots(kSlots);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Rng r(round * 10 + t);
        for (int i = 0; i < 1500; ++i) {
          size_t n = r.SmallSkewed();
          if (r.OneIn(200)) n = r.LogUniform(128 * 1024 + 1, 2 << 20);
          if (r.OneIn(1500)) n = r.LogUniform(8 << 20, 9 << 20);
          void* mine = r.OneIn(6) ? nullptr : heap_block(h, r, n, r.Next());
          void* old = slots[r.Below(kSlots)].exchange(mine, std::memory_order_acq_rel);
          if (old == nullptr) continue;
          if (san::verify(old, "private heap block") == 0) continue;
          if (r.OneIn(2))
            arenalloc::dealloc(old);  // free(): a remote free onto the heap's page
          else
            arenalloc::private_heap_free(h, old);  // the heap's own free, under its lock
        }
      });
    }
    // Meanwhile a thread with a heap of its own.
    threads.emplace_back([&] {
      Rng r(round + 99);
      std::vector<void*> v;
      for (int i = 0; i < 3000; ++i) {
        v.push_back(san::make_block(r, r.SmallSkewed(), r.Next()));
        if (v.size() > 100) {
          san::release_block(r, v.front(), "own heap");
          v.erase(v.begin());
        }
      }
      for (void* b : v) san::release_block(r, b, "own heap");
    });
    for (auto& t : threads) t.join();
    // Half the rounds free what is left; the others let reset or destroy drop it.
    if (round % 2 == 0) {
      Rng r(round);
      for (auto& s : slots)
        if (void* b = s.exchange(nullptr)) {
          if (san::verify(b, "private heap end") != 0) arenalloc::dealloc(b);
        }
    }
    if (round % 3 == 1) {
      arenalloc::private_heap_reset(h);
      Rng r(round + 5);
      for (int i = 0; i < 500; ++i) heap_block(h, r, r.SmallSkewed(), r.Next());
    }
    arenalloc::private_heap_destroy(h);
    if (san::g_errors.load() != 0) break;
  }
}

// Debug mode (ARENALLOC_OPTIONS=debug=1, a start-up option: ctest runs this test so, see
// CMakeLists.txt) puts a guard page after every large block. Dropping a private heap's blocks
// (reset with blocks alive, destroy) must not leave those pages inaccessible for whatever is
// allocated there next, in the heap or, after destroy, anywhere (its segments are reused).
TEST(PrivateHeapsDebug, NoGuardPagesLeftAfterResetOrDestroy) {
  if (!arenalloc::debug_mode()) GTEST_SKIP() << "runs with ARENALLOC_OPTIONS=debug=1";
  arenalloc::PrivateHeap* h = arenalloc::private_heap_create();
  ASSERT_NE(h, nullptr);
  for (size_t n : {300 * 1024ul, 700 * 1024ul}) {
    void* p = arenalloc::private_heap_alloc(h, n, 0, false);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, n);
  }
  arenalloc::private_heap_reset(h);  // the two blocks go with their guard pages
  for (int i = 0; i < 8; ++i) {
    void* q = arenalloc::private_heap_alloc(h, 1 << 20, 0, false);
    ASSERT_NE(q, nullptr);
    std::memset(q, 2, 1 << 20);
  }
  void* last = arenalloc::private_heap_alloc(h, 300 * 1024, 0, false);
  ASSERT_NE(last, nullptr);
  arenalloc::private_heap_destroy(h);  // with a block alive: its segment goes to the pool
  std::vector<void*> v;
  for (int i = 0; i < 64; ++i) {
    void* q = arenalloc::alloc(1 << 20);
    ASSERT_NE(q, nullptr);
    std::memset(q, 3, 1 << 20);
    v.push_back(q);
  }
  for (void* q : v) arenalloc::dealloc(q);
}

}  // namespace
