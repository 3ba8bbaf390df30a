#include "core/page.h"

#include <gtest/gtest.h>

#include <set>

#include "core/segment.h"
#include "core/size_class.h"

using namespace arenalloc;

namespace {

Page* fresh_page(size_t size_class) {
  static Segment* seg = segment_map_new(nullptr);
  static size_t next_slice = kFirstUsableSlice;
  size_t slices = class_page_slices(size_class);
  Page* page = segment_make_page(seg, next_slice, slices);
  next_slice += slices;
  page_init_small(page, size_class, 0, 0, 0x1234567890abcdefull);
  return page;
}

Block* pop(Page* page) {
  Block* b = page->free;
  page->free = decode(page, b->next_encoded);
  ++page->used;
  return b;
}

}  // namespace

TEST(Page, CarvesEveryBlockExactlyOnceAligned) {
  for (size_t c : {size_t{0}, size_t{2}, size_t{15}, size_t{16}, size_t{30}, kClassCount - 1}) {
    Page* page = fresh_page(c);
    size_t bs = class_size(c);
    EXPECT_EQ(page->reserved, page->slice_count * kSliceSize / bs);
    std::set<uintptr_t> seen;
    for (;;) {
      page_collect(page);
      if (page->free == nullptr && page->capacity < page->reserved) page_extend(page);
      if (page->free == nullptr) break;
      Block* b = pop(page);
      auto addr = reinterpret_cast<uintptr_t>(b);
      ASSERT_TRUE(seen.insert(addr).second) << "block handed out twice";
      ASSERT_TRUE(page_is_block_start(page, b));
      size_t natural = bs & (~bs + 1);  // largest power of two dividing the size
      ASSERT_EQ(addr % (natural < 16 ? natural : 16), 0u);
    }
    EXPECT_EQ(seen.size(), page->reserved) << "class " << c;
    EXPECT_EQ(page->used, page->reserved);
  }
}

TEST(Page, ExtendsLazilyAboutOneOsPageAtATime) {
  Page* page = fresh_page(0);  // 16-byte blocks
  EXPECT_EQ(page->capacity, 4096u / 16);
  EXPECT_LT(page->capacity, page->reserved);
}

TEST(Page, LocalFreesComeBackThroughCollect) {
  Page* page = fresh_page(3);
  std::vector<Block*> blocks;
  while (page->free != nullptr) blocks.push_back(pop(page));
  for (Block* b : blocks) {
    b->next_encoded = encode(page, page->local_free);
    page->local_free = b;
    --page->used;
  }
  EXPECT_EQ(page->used, 0u);
  page_collect(page);
  size_t n = 0;
  for (Block* b = page->free; b != nullptr; b = decode(page, b->next_encoded)) ++n;
  EXPECT_EQ(n, blocks.size());
}

TEST(Page, ThreadFreeIsCountedAndKeepsTheDelayState) {
  Page* page = fresh_page(4);
  Block* a = pop(page);
  Block* b = pop(page);
  ASSERT_TRUE(page_set_delay_state(page, kNeverDelayed, false));
  // Two remote frees pushed as another thread would (push_remote): the list and its length.
  a->next_encoded = encode(page, nullptr);
  b->next_encoded = encode(page, a);
  page->thread_free.store(reinterpret_cast<uintptr_t>(b) | 2 * kThreadFreeOne | kNeverDelayed);
  page_collect_thread_free(page);
  EXPECT_EQ(page->used, 0u);
  EXPECT_EQ(page->thread_free.load(), uintptr_t{kNeverDelayed});
  EXPECT_EQ(page->local_free, b);
}

// page_collect takes the remote list as it is, without walking it: it becomes `free`, or waits in
// local_free while the owner's blocks there go first; `used` comes from the count in the word.
TEST(Page, CollectTakesTheRemoteListWhole) {
  Page* page = fresh_page(4);
  while (page->free != nullptr) pop(page);
  ASSERT_EQ(page->used, page->capacity);
  Block* blocks[3];
  for (uint32_t i = 0; i < 3; ++i)
    blocks[i] = reinterpret_cast<Block*>(page->start + i * page->block_size);
  // blocks[0] and blocks[1] freed remotely, blocks[2] by the owner onto local_free.
  blocks[0]->next_encoded = encode(page, nullptr);
  blocks[1]->next_encoded = encode(page, blocks[0]);
  page->thread_free.store(reinterpret_cast<uintptr_t>(blocks[1]) | 2 * kThreadFreeOne |
                          kNeverDelayed);
  blocks[2]->next_encoded = encode(page, nullptr);
  page->local_free = blocks[2];
  --page->used;
  uint32_t used_before = page->used;
  page_collect(page);
  EXPECT_EQ(page->used, used_before - 2);
  EXPECT_EQ(page->thread_free.load(), uintptr_t{kNeverDelayed});
  EXPECT_EQ(page->free, blocks[2]);
  EXPECT_EQ(page->local_free, blocks[1]);
  // The owner's block is used up: the next collect moves the remote list to `free`.
  page->free = nullptr;
  page_collect(page);
  EXPECT_EQ(page->free, blocks[1]);
  EXPECT_EQ(page->local_free, nullptr);
  EXPECT_EQ(decode(page, blocks[1]->next_encoded), blocks[0]);
  // With local_free empty the remote list becomes `free` at once.
  page->free = nullptr;
  blocks[0]->next_encoded = encode(page, nullptr);
  page->thread_free.store(reinterpret_cast<uintptr_t>(blocks[0]) | kThreadFreeOne | kNeverDelayed);
  page_collect(page);
  EXPECT_EQ(page->free, blocks[0]);
  EXPECT_EQ(page->local_free, nullptr);
}

TEST(Page, DelayStateOnlyIfEmptyRefusesWhenBlocksWait) {
  Page* page = fresh_page(5);
  Block* a = pop(page);
  a->next_encoded = encode(page, nullptr);
  page->thread_free.store(reinterpret_cast<uintptr_t>(a) | kNoDelayed);
  EXPECT_FALSE(page_set_delay_state(page, kUseDelayed, true));
  EXPECT_TRUE(page_set_delay_state(page, kUseDelayed, false));
  EXPECT_EQ(page->thread_free.load() & kDelayMask, uintptr_t{kUseDelayed});
  EXPECT_EQ(page->thread_free.load() & ~kDelayMask, reinterpret_cast<uintptr_t>(a));
}

TEST(Page, FastBlockStartTestMatchesDivision) {
  for (size_t c = 0; c < kClassCount; c += 3) {
    Page* page = fresh_page(c);
    size_t span = page->slice_count * kSliceSize;
    for (size_t off = 0; off < span; off += (off % 997 == 0 ? 1 : 13)) {
      const uint8_t* p = page->start + off;
      bool expected = off % page->block_size == 0 && off / page->block_size < page->reserved;
      ASSERT_EQ(small_page_block_start(page, p), expected) << "class " << c << " offset " << off;
      ASSERT_EQ(page_is_block_start(page, p), expected);
    }
    for (size_t k = 0; k < page->reserved; ++k)
      ASSERT_TRUE(small_page_block_start(page, page->start + k * page->block_size));
    EXPECT_FALSE(small_page_block_start(page, page->start + page->reserved * page->block_size));
    EXPECT_FALSE(small_page_block_start(page, page->start - 16));
  }
}

// The page map folds bits 47-63 of an address away (page_map.h), so free(p | 1 << 63) finds p's
// page; the multiply test must reject every such address of every block start. (With an even
// multiplier, classes such as 48 or 144 accepted some: 48-byte blocks at offset 2^63.)
TEST(Page, FastBlockStartRejectsHighBitAliases) {
  for (size_t c = 0; c < kClassCount; ++c) {
    Page* page = fresh_page(c);
    for (size_t q : {size_t{0}, size_t{1}, size_t{page->reserved} - 1})
      for (uint64_t k = 1; k < (uint64_t{1} << 17); ++k) {
        const uint8_t* p = page->start + q * page->block_size + (k << 47);
        ASSERT_FALSE(small_page_block_start(page, p))
            << "class " << c << " block " << q << " k " << k;
      }
  }
}

// Sized free's fast test (alloc.h) takes exactly the sizes from half the block to the block, for
// every class, a large block and one of 4 GiB or more (whose sizes all go to the slow path but 0).
TEST(Page, SizedFreeFastTestTakesHalfTheBlockToTheBlock) {
  auto expect_range = [](const Page* page, size_t lo, size_t hi) {
    for (size_t size : {size_t{0}, size_t{1}, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 2 * hi,
                        SIZE_MAX, SIZE_MAX - hi, SIZE_MAX / 2, SIZE_MAX / 2 + lo})
      ASSERT_EQ(sized_free_fits(page, size), size >= lo && size <= hi)
          << "block " << page->block_size << " size " << size;
  };
  for (size_t c = 0; c < kClassCount; ++c) {
    Page* page = fresh_page(c);
    expect_range(page, page->block_size / 2, page->block_size);
  }
  Page large{};
  page_set_block_size(&large, 40 * kSliceSize);
  expect_range(&large, 20 * kSliceSize, 40 * kSliceSize);
  Page huge{};
  page_set_block_size(&huge, size_t{5} << 30);
  EXPECT_EQ(huge.block_size, size_t{5} << 30);
  EXPECT_TRUE(sized_free_fits(&huge, 0));
  for (size_t size : {size_t{1}, size_t{5} << 29, size_t{5} << 30, SIZE_MAX})
    EXPECT_FALSE(sized_free_fits(&huge, size)) << size;
}

// A page's `used` count carries the kept-page bias while the page is kept, and only then.
TEST(Page, KeptPagesCountWithTheBias) {
  Page* page = fresh_page(4);
  Block* a = pop(page);
  EXPECT_FALSE(page_kept(page));
  page_keep(page);
  EXPECT_TRUE(page_kept(page));
  EXPECT_EQ(page_used(page), 1u);
  page_unkeep(page);
  EXPECT_FALSE(page_kept(page));
  EXPECT_EQ(page_used(page), 1u);
  (void)a;
}

TEST(Page, FreeListIsEncoded) {
  Page* page = fresh_page(6);
  Block* first = page->free;
  ASSERT_NE(first, nullptr);
  // The stored link is not the plain address of the next block.
  EXPECT_NE(first->next_encoded, reinterpret_cast<uintptr_t>(decode(page, first->next_encoded)));
}
