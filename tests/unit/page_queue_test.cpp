// A class's page queue (heap_find_page in heap.cpp): when the current page runs out of free
// blocks, free blocks anywhere in the queue are used before the page carves new ones. Carving
// touches memory the process has not used yet, while the freed blocks are resident already. Of
// the pages with free blocks, the fullest (but for nearly full ones) is taken, so that the others
// drain and can go back to the arena.
// Each test runs in a new thread, for a heap of its own.
#include <gtest/gtest.h>

#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "own_heap.h"

using namespace arenalloc;
using testcommon::in_new_thread;

namespace {

constexpr size_t kSize = 1024;  // 64 blocks a page, carved 4 at a time

Page* current_page() {
  return tls_heap->queues[class_of(kSize)].first;
}

}  // namespace

TEST(PageQueue, FreeBlocksOfAnotherPageComeBeforeCarvingTheCurrentOne) {
  in_new_thread([] {
    // Fill a first page until the class moves on to a second one.
    std::vector<void*> first_blocks;
    Page* first = nullptr;
    for (;;) {
      void* p = alloc(kSize);
      if (first == nullptr) first = current_page();
      if (current_page() != first) {
        dealloc(p);  // the second page's first block: back on its free list
        break;
      }
      first_blocks.push_back(p);
    }
    Page* second = current_page();
    ASSERT_EQ(first_blocks.size(), first->reserved);
    // Use up what the second page has carved so far; it still has blocks to carve.
    std::vector<void*> second_blocks;
    while (second->free != nullptr) second_blocks.push_back(alloc(kSize));
    ASSERT_LT(second->capacity, second->reserved);
    const uint32_t carved = second->capacity;
    // A block of the first page is freed: the next malloc reuses it.
    void* reused = first_blocks[first_blocks.size() / 2];
    dealloc(reused);
    void* p = alloc(kSize);
    EXPECT_EQ(p, reused);
    EXPECT_EQ(second->capacity, carved) << "the second page carved blocks while one was free";
    // With no free block left anywhere, the second page carves again.
    void* q = alloc(kSize);
    EXPECT_EQ(page_of(segment_of(q), q), second);
    EXPECT_GT(second->capacity, carved);
    dealloc(p);
    dealloc(q);
    for (void* b : first_blocks)
      if (b != reused) dealloc(b);
    for (void* b : second_blocks) dealloc(b);
  });
}

TEST(PageQueue, TheFullestOfThePagesWithFreeBlocksBecomesCurrent) {
  in_new_thread([] {
    // Four full pages; the fourth is the current one.
    std::vector<std::vector<void*>> pages(4);
    std::vector<Page*> page(4);
    for (size_t i = 0; i < pages.size(); ++i) {
      void* p = alloc(kSize);
      page[i] = page_of(segment_of(p), p);
      pages[i].push_back(p);
      while (pages[i].size() < page[i]->reserved) pages[i].push_back(alloc(kSize));
      ASSERT_EQ(current_page(), page[i]);
    }
    for (size_t i = 1; i < page.size(); ++i) ASSERT_NE(page[i], page[i - 1]);
    const uint32_t reserved = page[0]->reserved;
    ASSERT_EQ(reserved, 64u);
    // The first page gets 20 free blocks, the second 3 (nearly full: more than 7/8 in use), the
    // third 10; they rejoin the queue in that order, behind the current page.
    auto free_blocks = [&](size_t i, size_t n) {
      for (size_t k = 0; k < n; ++k) {
        dealloc(pages[i].back());
        pages[i].pop_back();
      }
    };
    free_blocks(0, 20);
    free_blocks(1, 3);
    free_blocks(2, 10);
    ASSERT_EQ(page[3]->free, nullptr);
    // The next block comes from the third page: the fullest that is not nearly full.
    void* p = alloc(kSize);
    EXPECT_EQ(page_of(segment_of(p), p), page[2]);
    EXPECT_EQ(current_page(), page[2]);
    pages[2].push_back(p);
    for (auto& blocks : pages)
      for (void* b : blocks) dealloc(b);
  });
}
