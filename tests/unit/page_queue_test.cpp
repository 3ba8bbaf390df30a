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

namespace {

// Fills four pages of `size`'s class (the fourth the current one), then frees `freed[i]` blocks of
// page i (they rejoin the queue in that order, behind the current page), and mallocs one more:
// the index of the page it came from. `reserved`: the blocks a page of the class holds.
size_t page_chosen(size_t size, uint32_t reserved, const size_t (&freed)[3]) {
  const size_t c = class_of(size);
  std::vector<std::vector<void*>> blocks(4);
  std::vector<Page*> page(4);
  for (size_t i = 0; i < blocks.size(); ++i) {
    void* p = alloc(size);
    page[i] = page_of(segment_of(p), p);
    blocks[i].push_back(p);
    while (blocks[i].size() < page[i]->reserved) blocks[i].push_back(alloc(size));
    EXPECT_EQ(tls_heap->queues[c].first, page[i]);
  }
  EXPECT_EQ(page[0]->reserved, reserved);
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < freed[i]; ++k) {
      dealloc(blocks[i].back());
      blocks[i].pop_back();
    }
  EXPECT_EQ(page[3]->free, nullptr);
  void* p = alloc(size);
  Page* from = page_of(segment_of(p), p);
  EXPECT_EQ(tls_heap->queues[c].first, from);
  dealloc(p);
  for (auto& list : blocks)
    for (void* b : list) dealloc(b);
  for (size_t i = 0; i < page.size(); ++i)
    if (page[i] == from) return i;
  return SIZE_MAX;
}

}  // namespace

// Above the direct sizes: the fullest page that is not nearly full (over 7/8 in use).
TEST(PageQueue, TheFullestOfThePagesWithFreeBlocksBecomesCurrent) {
  in_new_thread([] {
    // 2048-byte blocks, 32 a page: 24 in use on the first page, 30 on the second (nearly full),
    // 27 on the third.
    EXPECT_EQ(page_chosen(2048, 32, {8, 2, 5}), 2u);
  });
}

// In the direct sizes the first page with free blocks is taken, the fullest or not: their pages
// hold 64 blocks and more, and the first page's free blocks are more often in runs.
TEST(PageQueue, TheDirectSizesTakeTheFirstPageWithFreeBlocks) {
  in_new_thread([] { EXPECT_EQ(page_chosen(kSize, 64, {20, 3, 10}), 0u); });
}
