// Lending (lending_page in heap.cpp, class_may_lend in size_class.h): a class above the direct
// sizes whose pages have no free block takes one from a class up to half as large again before it
// carves new memory; sized free accepts the request's size for such a block. Each test runs in a
// new thread, for a heap of its own.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "own_heap.h"

using namespace arenalloc;
using testcommon::in_new_thread;

extern "C" void free_sized(void* p, size_t size);
extern "C" void free_aligned_sized(void* p, size_t align, size_t size);

namespace {

// Leaves exactly one free block on the current page of the class of `size`, whose other carved
// blocks stay live (returned).
std::vector<void*> one_free_block_of(size_t size) {
  std::vector<void*> blocks;
  do blocks.push_back(alloc(size));
  while (tls_heap->queues[class_of(size)].first->free != nullptr);
  dealloc(blocks.back());
  blocks.pop_back();
  return blocks;
}

void free_all(const std::vector<void*>& blocks) {
  for (void* p : blocks) dealloc(p);
}

}  // namespace

TEST(ClassMayLend, UpToHalfAsLargeAgainAboveTheDirectSizes) {
  const size_t c = class_of(1280);
  EXPECT_TRUE(class_may_lend(c, c));
  EXPECT_TRUE(class_may_lend(class_of(1920), c));
  EXPECT_FALSE(class_may_lend(class_of(1921), c));
  EXPECT_FALSE(class_may_lend(class_of(1024), c)) << "a smaller class never lends";
  // The direct sizes (up to 1 KiB) are served only by their own class.
  EXPECT_FALSE(class_may_lend(class_of(1152), class_of(1024)));
  EXPECT_FALSE(class_may_lend(class_of(80), class_of(64)));
}

TEST(Lending, AFullClassTakesALargerClassesFreeBlockBeforeNewMemory) {
  in_new_thread([] {
    std::vector<void*> lender = one_free_block_of(1920);
    void* free_block = tls_heap->queues[class_of(1920)].first->free;
    ASSERT_NE(free_block, nullptr);
    // Class 1280 has no page yet: its first block is the lender's free one.
    void* p = alloc(1200);
    EXPECT_EQ(p, free_block);
    EXPECT_EQ(usable_size(p), 1920u);
    EXPECT_EQ(tls_heap->queues[class_of(1280)].first, nullptr) << "no page taken for the class";
    // The next one finds no lender and carves from a page of its own class.
    void* q = alloc(1200);
    EXPECT_EQ(usable_size(q), 1280u);
    // Sized free with the request's size passes for the lent block (a mismatch would abort).
    free_sized(p, 1200);
    free_sized(q, 1200);
    free_all(lender);
  });
}

TEST(Lending, TheDirectSizesNeverBorrow) {
  in_new_thread([] {
    std::vector<void*> lender = one_free_block_of(1152);
    void* p = alloc(1000);
    EXPECT_EQ(usable_size(p), 1024u);
    dealloc(p);
    free_all(lender);
  });
}

TEST(Lending, TheLenderKeepsTheAlignmentAskedFor) {
  in_new_thread([] {
    // 6144 is within half of 4096 but not a multiple of 4096: it may not lend to ALIGN(4096).
    std::vector<void*> lender = one_free_block_of(6144);
    void* p = alloc_aligned(4096, 4096);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
    EXPECT_EQ(usable_size(p), 4096u);
    // Without the alignment it may (p keeps the class's only carved block in use).
    void* q = alloc(4096);
    EXPECT_EQ(usable_size(q), 6144u);
    free_aligned_sized(p, 4096, 4096);
    free_sized(q, 4096);
    free_all(lender);
  });
}

TEST(Lending, ASizeBelowTheLendingRangeIsStillAMismatch) {
  // A lent 1920-byte block freed as 900 bytes (below half the block, and of a class that never
  // borrows) is reported.
  EXPECT_DEATH(in_new_thread([] {
                 std::vector<void*> lender = one_free_block_of(1920);
                 void* p = alloc(1200);
                 if (usable_size(p) == 1920) free_sized(p, 900);
               }),
               "size mismatch");
}

// A thread brings a packing class (size_class.h) into use when it fills a page of the class above
// it: blocks of 8300 bytes come from the 9216-byte class until a page of it (14 blocks in two
// slices) is full, then from the 8736-byte packing class (15 in the same two slices). No other
// test here uses those sizes (and ctest runs each test in a process of its own).
TEST(PackingClass, ComesIntoUseWhenAPageOfTheClassAboveFills) {
  ASSERT_EQ(class_size(class_of(8300)), 9216u);
  std::vector<void*> blocks;
  for (int i = 0; i < 40; ++i) {
    blocks.push_back(std::malloc(8300));
    ASSERT_NE(blocks.back(), nullptr);
  }
  EXPECT_EQ(malloc_usable_size(blocks.front()), 9216u);
  EXPECT_EQ(class_size(class_of(8300)), 8736u);
  EXPECT_EQ(malloc_usable_size(blocks.back()), 8736u);
  for (void* p : blocks) std::free(p);
}
