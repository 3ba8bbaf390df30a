// Kept pages (page_kept in page.h, review_kept_pages in heap.cpp): a class's last page stays with
// its heap when it empties, so that a malloc/free loop does not go to the arena on every free;
// once the heap has taken pages for other classes over two reviews with that page still empty,
// the page goes back to the arena for them. Each test runs in a new thread, for a heap of its own.
#include <gtest/gtest.h>

#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "own_heap.h"

using namespace arenalloc;
using testcommon::in_new_thread;

namespace {

constexpr size_t kSmall = 16;  // the class that goes idle
constexpr size_t kBig = 1024;  // the class that takes pages meanwhile

Page* first_page(size_t n) {
  return tls_heap->queues[class_of(n)].first;
}

// Allocates `count` blocks of kBig (several per page taken) and frees them.
void take_pages_for_another_class(size_t count) {
  std::vector<void*> blocks;
  for (size_t i = 0; i < count; ++i) blocks.push_back(alloc(kBig));
  for (void* p : blocks) dealloc(p);
}

}  // namespace

TEST(KeptPage, AnIdleClassGivesItsPageBackWhenOthersTakePages) {
  in_new_thread([] {
    dealloc(alloc(kSmall));
    Page* kept = first_page(kSmall);
    ASSERT_NE(kept, nullptr);
    ASSERT_TRUE(page_kept(kept));
    uint32_t taken = tls_heap->pages_taken;
    take_pages_for_another_class(4096);  // 4 MiB: about 64 pages, eight reviews
    ASSERT_GE(tls_heap->pages_taken - taken, 16u);
    EXPECT_EQ(first_page(kSmall), nullptr) << "the idle class kept its page";
    void* p = alloc(kSmall);  // and the class still works, from a new page
    ASSERT_NE(p, nullptr);
    EXPECT_NE(first_page(kSmall), nullptr);
    dealloc(p);
  });
}

TEST(KeptPage, AKeptPageInUseStays) {
  in_new_thread([] {
    dealloc(alloc(kSmall));      // kept
    void* live = alloc(kSmall);  // and in use again
    Page* kept = first_page(kSmall);
    ASSERT_TRUE(page_kept(kept));
    take_pages_for_another_class(4096);
    EXPECT_EQ(first_page(kSmall), kept);
    dealloc(live);
    EXPECT_EQ(first_page(kSmall), kept);  // empty and kept again, until the next reviews
    EXPECT_TRUE(page_kept(kept));
  });
}

// A page found empty by one review is watched: the class's next malloc takes the slow path and
// ends the watch. Used between two reviews, even if empty at both, the page stays.
TEST(KeptPage, APageUsedBetweenTwoReviewsStays) {
  in_new_thread([] {
    dealloc(alloc(kSmall));
    Page* kept = first_page(kSmall);
    size_t c = class_of(kSmall);
    auto watched = [c] { return heap_class_watched(tls_heap, c); };
    uint32_t start = tls_heap->pages_taken;
    std::vector<void*> big;
    while (!watched()) {
      big.push_back(alloc(kBig));
      ASSERT_LT(tls_heap->pages_taken - start, 64u) << "no review saw the empty kept page";
    }
    EXPECT_EQ(tls_heap->direct[direct_index(kSmall)], &g_empty_page);  // the next malloc: slow
    dealloc(alloc(kSmall));                                            // used, and empty again
    EXPECT_FALSE(watched());
    EXPECT_EQ(tls_heap->direct[direct_index(kSmall)], kept);
    uint32_t review = tls_heap->pages_taken;
    while (tls_heap->pages_taken - review < 8) big.push_back(alloc(kBig));
    EXPECT_EQ(first_page(kSmall), kept);
    EXPECT_TRUE(watched());  // empty again at that review: watched again
    for (void* p : big) dealloc(p);
  });
}

// The loop that kept pages exist for takes no pages after its first, so no review reaches it.
TEST(KeptPage, AMallocFreeLoopOverTwoClassesTakesNoPages) {
  in_new_thread([] {
    dealloc(alloc(kSmall));
    dealloc(alloc(kBig));
    uint32_t taken = tls_heap->pages_taken;
    Page* small_page = first_page(kSmall);
    Page* big_page = first_page(kBig);
    for (int i = 0; i < 100000; ++i) {
      dealloc(alloc(kSmall));
      dealloc(alloc(kBig));
    }
    EXPECT_EQ(tls_heap->pages_taken, taken);
    EXPECT_EQ(first_page(kSmall), small_page);
    EXPECT_EQ(first_page(kBig), big_page);
  });
}
