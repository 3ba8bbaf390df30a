// Freed lists (heap.h): a full page that other threads begin to free into moves, at its owner's
// next refill, from the full list to its class's freed list. The owner takes it back from there
// when the class's queue has no free block, before a page carves more; another heap takes it
// instead of faulting in fresh memory; the purger abandons it with an idle heap's full pages;
// thread exit gives it back like any other. Each test drives one owner thread step by step, and
// frees from a thread without a heap (which never takes pages over, see steal_full_page).
#include <gtest/gtest.h>
#include <malloc.h>

#include <functional>
#include <semaphore>
#include <thread>
#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "core/heap_queues.h"

using namespace arenalloc;

namespace {

constexpr size_t kSize = 64;
const size_t kClass = class_of(kSize);

// A thread that runs the steps it is given, one at a time, in order.
class Owner {
 public:
  Owner() : thread_([this] { loop(); }) {}
  ~Owner() {
    run(nullptr);
    thread_.join();
  }
  void run(std::function<void()> step) {
    step_ = std::move(step);
    go_.release();
    done_.acquire();
  }

 private:
  void loop() {
    for (;;) {
      go_.acquire();
      if (!step_) {
        done_.release();
        return;
      }
      step_();
      done_.release();
    }
  }
  std::function<void()> step_;
  std::binary_semaphore go_{0}, done_{0};
  std::thread thread_;
};

// Frees the blocks from a new thread that has no heap (so it takes no page over).
void free_from_heapless_thread(const std::vector<void*>& blocks) {
  std::thread([&] {
    for (void* p : blocks) dealloc(p);
    EXPECT_EQ(tls_heap, &g_empty_heap) << "the freeing thread got a heap";
  }).join();
}

// Fills a page of kSize whose every block it allocates, and starts another: the first is parked
// full. Returns the first page's blocks; the others go to `rest` (a page adopted with blocks of
// an earlier test still live, when the tests run in one process, is filled and skipped).
std::vector<void*> fill_one_page(std::vector<void*>* rest) {
  std::vector<void*> first;
  first.reserve(4096);
  Page* page = nullptr;
  for (;;) {
    first.push_back(alloc(kSize));
    page = page_map::find(first[0]);
    while (page->free != nullptr || page->capacity < page->reserved) first.push_back(alloc(kSize));
    if (first.size() == page->reserved) break;
    rest->insert(rest->end(), first.begin(), first.end());
    first.clear();
  }
  for (void* q : first) EXPECT_EQ(page_map::find(q), page);
  rest->push_back(alloc(kSize));  // another page: the first one goes to the full list
  EXPECT_NE(page_map::find(rest->back()), page);
  EXPECT_EQ(page->held_in, HeldIn::kFull);
  return first;
}

// The owner's next refill (of another class): it processes its delayed list.
void refill_another_class() {
  EXPECT_NE(heap_find_page(tls_heap, class_of(4096), 16), nullptr);
}

// An owner's page parked full, then freed into by another thread (the blocks `freed_ones` picks,
// all of them if none), and moved to the freed list by the owner's next refill.
struct FreedIntoPage {
  Owner owner;
  std::vector<void*> first, rest;
  Heap* heap = nullptr;
  Page* page = nullptr;

  explicit FreedIntoPage(const std::vector<size_t>& freed_ones = {}) {
    owner.run([&] {
      first = fill_one_page(&rest);
      heap = tls_heap;
    });
    page = page_map::find(first[0]);
    std::vector<void*> freed;
    for (size_t i : freed_ones) freed.push_back(first[i]);
    free_from_heapless_thread(freed_ones.empty() ? first : freed);
    owner.run([] { refill_another_class(); });
    EXPECT_EQ(page->held_in, HeldIn::kFreed);
  }
};

}  // namespace

// Its free blocks are resident, so the owner takes it back before a page of its queue carves
// more blocks (fresh memory).
TEST(FreedPage, TheOwnerMovesItToTheFreedListAndTakesItBackBeforeCarving) {
  FreedIntoPage t({5, 7});
  auto& [owner, first, rest, heap, page] = t;
  EXPECT_TRUE(heap_has_freed(heap, kClass));
  owner.run([&] {
    // Use up the second page's free blocks; it could carve more, but the next two blocks come
    // from the freed page's room.
    Page* second = page_map::find(rest.back());
    while (second->free != nullptr) rest.push_back(alloc(kSize));
    ASSERT_LT(second->capacity, second->reserved);
    const uint32_t carved = second->capacity;
    void* a = alloc(kSize);
    void* b = alloc(kSize);
    EXPECT_TRUE((a == first[5] && b == first[7]) || (a == first[7] && b == first[5]));
    EXPECT_EQ(second->capacity, carved) << "the second page carved while the freed page had room";
    EXPECT_EQ(heap->queues[kClass].first, page);
    first[5] = a;
    first[7] = b;
  });
  EXPECT_EQ(page->held_in, HeldIn::kQueue);
  EXPECT_FALSE(heap_has_freed(heap, kClass));
  owner.run([&] {
    for (void* p : first) dealloc(p);
    for (void* p : rest) dealloc(p);
  });
}

TEST(FreedPage, AnotherHeapTakesItBeforeFaultingInFreshMemory) {
  FreedIntoPage t;  // every block of the page freed
  auto& [owner, first, rest, heap, page] = t;
  std::thread([&] {
    malloc_trim(0);  // no freed slices anywhere: the next page would be fresh memory
    ASSERT_EQ(arenas_dirty_bytes(), 0u);
    void* p = alloc(kSize);
    EXPECT_EQ(page_map::find(p), page) << "a fresh page was taken instead of the freed one";
    EXPECT_EQ(owner_heap(page->owner.load()), tls_heap);
    EXPECT_EQ(page_used(page), 1u);
    dealloc(p);
  }).join();
  EXPECT_FALSE(heap_has_freed(heap, kClass));
  owner.run([&] {
    for (void* p : rest) dealloc(p);
  });
}

TEST(FreedPage, AnIdleHeapsFreedPagesAreAbandonedToTheArena) {
  FreedIntoPage t({1});
  auto& [owner, first, rest, heap, page] = t;
  EXPECT_EQ(heap_release_full(heap), 1u);  // what the purger does to an idle heap
  EXPECT_EQ(page->owner.load(), 0u);
  EXPECT_FALSE(heap_has_freed(heap, kClass));
  std::thread([&] {
    void* p = alloc(kSize);  // adopts the abandoned page: its one free block
    EXPECT_EQ(p, first[1]);
    dealloc(p);
  }).join();
  first.erase(first.begin() + 1);
  free_from_heapless_thread(first);
  owner.run([&] {
    for (void* p : rest) dealloc(p);
  });
}

TEST(FreedPage, ThreadExitGivesFreedPagesBack) {
  Page* page = nullptr;
  {
    FreedIntoPage t;  // every block of the page freed
    page = t.page;
    t.owner.run([&] {
      for (void* p : t.rest) dealloc(p);
    });
  }  // the owner exits
  EXPECT_EQ(page->kind, PageKind::kFree) << "an empty freed page outlived its thread";
}
