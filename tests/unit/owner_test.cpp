// Page ownership as the free fast path sees it: Page::owner_thread against the calling thread's
// thread pointer (heap.h). A page matches the thread whose heap owns it, and no other; a page
// whose thread is gone matches no thread, so a new thread that gets the dead one's thread
// pointer (glibc reuses thread descriptors) frees into it through the slow path.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "core/page_map.h"
#include "core/private_heap.h"

using namespace arenalloc;

namespace {

Page* page_of_block(const void* p) {
  Page* page = page_map::find(p);
  if (page == nullptr) page = find_page(p);
  return page;
}

uintptr_t owner_thread_of(const void* p) {
  return page_of_block(p)->owner_thread.load(std::memory_order_relaxed);
}

}  // namespace

TEST(Owner, APageMatchesTheThreadThatOwnsItAndNoOther) {
  void* p = alloc(48);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(owner_thread_of(p), this_thread());
  EXPECT_EQ(owner_heap(page_of_block(p)->owner.load()), tls_heap);
  uintptr_t other = 0;
  uintptr_t seen = 0;
  std::thread t([&] {
    other = this_thread();
    seen = owner_thread_of(p);
  });
  t.join();
  EXPECT_NE(other, this_thread());
  EXPECT_NE(seen, other);
  dealloc(p);
}

TEST(Owner, PagesOfAnExitedThreadMatchNoThread) {
  std::vector<void*> blocks;
  uintptr_t first_thread = 0;
  std::thread a([&] {
    first_thread = this_thread();
    for (size_t i = 0; i < 3000; ++i) blocks.push_back(alloc(16 + (i % 64) * 16));
    for (size_t i = 0; i < blocks.size(); i += 2) {  // leave the pages partly free
      dealloc(blocks[i]);
      blocks[i] = nullptr;
    }
  });
  a.join();
  for (void* p : blocks) {
    if (p == nullptr) continue;
    ASSERT_NE(owner_thread_of(p) & ~kOwnerBits, first_thread) << p;
  }
  // A new thread, most likely on the exited one's descriptor: its frees go through the slow path
  // into the abandoned pages, and the blocks are handed out again.
  uintptr_t second_thread = 0;
  size_t reused = 0;
  std::thread b([&] {
    second_thread = this_thread();
    for (void* p : blocks)
      if (p != nullptr) dealloc(p);
    std::vector<void*> again;
    for (size_t i = 0; i < 3000; ++i) again.push_back(alloc(16 + (i % 64) * 16));
    for (void* q : again) {
      for (void* p : blocks) reused += (p == q);
      dealloc(q);
    }
  });
  b.join();
  if (second_thread == first_thread)
    std::printf("the second thread reused the first one's thread pointer\n");
  EXPECT_GT(reused, 0u);  // the abandoned pages were adopted, their blocks handed out again
}

TEST(Owner, APrivateHeapsPagesMatchNoThread) {
  PrivateHeap* h = private_heap_create();
  ASSERT_NE(h, nullptr);
  void* p = private_heap_alloc(h, 64, 16, false);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(owner_thread_of(p) & ~kOwnerBits, 0u);
  private_heap_free(h, p);
  private_heap_destroy(h);
}

// A thread that only frees (a consumer) takes no page over, even from an idle owner: it would
// never allocate from them, and what it left in them stayed resident (mimalloc-bench's
// xmalloc-test with 8 threads: peak RSS 141 -> 226 MiB when such threads got heaps). Their frees
// go to the owner; the purger hands an idle owner's full pages to the arena instead.
TEST(Owner, AThreadThatOnlyFreesTakesNoPagesOver) {
  std::vector<void*> blocks;
  std::mutex mu;
  std::condition_variable cv;
  bool filled = false, done = false;
  std::thread owner([&] {
    for (size_t i = 0; i < 8192; ++i) blocks.push_back(alloc(64));  // several pages, parked full
    std::unique_lock<std::mutex> lock(mu);
    filled = true;
    cv.notify_all();
    cv.wait(lock, [&] { return done; });  // alive, and idle: no page refill
    for (void* p : blocks)
      if (p != nullptr) dealloc(p);
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return filled; });
  }
  Heap* owner_heap_of_blocks = owner_heap(page_of_block(blocks[0])->owner.load());
  ASSERT_NE(owner_heap_of_blocks, nullptr);
  ASSERT_NE(page_of_block(blocks[0])->owner.load() & kOwnerFull, 0u);  // parked full
  // Let the idleness scan see the owner's refill count stand still for kIdleMs.
  for (int i = 0; i < 3 && !owner_heap_of_blocks->idle.load(); ++i) {
    heaps_mark_idle();
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * kIdleMs));
    heaps_mark_idle();
  }
  ASSERT_TRUE(owner_heap_of_blocks->idle.load());
  bool had_heap = true, has_heap = true;
  std::thread consumer([&] {
    had_heap = tls_heap != &g_empty_heap;
    for (size_t i = 0; i < blocks.size(); i += 2) {
      dealloc(blocks[i]);
      blocks[i] = nullptr;
    }
    has_heap = tls_heap != &g_empty_heap;
  });
  consumer.join();
  ASSERT_FALSE(had_heap);  // the thread had not allocated
  EXPECT_FALSE(has_heap) << "a thread that only freed got a heap (it took pages over)";
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  owner.join();
}
