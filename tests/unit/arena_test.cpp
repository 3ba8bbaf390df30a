#include "core/arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/huge_pages.h"
#include "core/process.h"
#include "diag/options.h"
#include "os/os.h"

using namespace arenalloc;

namespace {
// An arena of its own (the table has kMaxArenas; the test process uses the first few).
Arena* test_arena() {
  process_init();
  return arena_at(kMaxArenas - 1);
}

// A span of `slices` taken as a large block's, every byte of it written (so resident), or nullptr.
Page* take_filled_large_span(Arena* arena, size_t slices) {
  Page* page = arena_take_span(arena, slices, 1);
  if (page == nullptr) return page;
  page->kind = PageKind::kLarge;
  std::memset(page->start, 0x5a, slices * kSliceSize);
  return page;
}
}  // namespace

TEST(Arena, SpansAreDisjointAndSliceAligned) {
  Arena* arena = test_arena();
  Page* a = arena_take_span(arena, 3, 1);
  Page* b = arena_take_span(arena, 5, 1);
  Page* c = arena_take_span(arena, 2, 16);
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(a->is_zero);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->start) % kSliceSize, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c->start) % (16 * kSliceSize), 0u);
  EXPECT_GE(b->start, a->start + 3 * kSliceSize);
  for (Page* p : {a, b, c}) arena_free_page(p);
}

TEST(Arena, FreedSpanIsReusedDirtyThenPurgedClean) {
  Arena* arena = test_arena();
  Page* a = arena_take_span(arena, 16, 1);
  ASSERT_NE(a, nullptr);
  uint8_t* start = a->start;
  std::memset(start, 0x77, 16 * kSliceSize);
  arena_free_page(a);
  Page* again = arena_take_span(arena, 16, 1);
  ASSERT_EQ(again->start, start);
  EXPECT_FALSE(again->is_zero);  // reused before the purge delay: still holds old data
  size_t rss_used = os::resident_bytes();
  arena_free_page(again);
  EXPECT_GE(arena_maintain(arena, true), 16 * kSliceSize);
  EXPECT_LT(os::resident_bytes() + 8 * kSliceSize, rss_used);
  Page* clean = arena_take_span(arena, 16, 1);
  EXPECT_TRUE(clean->is_zero);
  EXPECT_EQ(clean->start[100], 0);
  arena_free_page(clean);
}

// A span a growing buffer has left goes back purged and counted clean, unless one at least its
// size (of the same power of two of slices or above) was left within the purge delay; then it
// waits for reuse like any freed span.
TEST(Arena, VacatedSpanIsPurgedAtOnceUnlessOneWasJustVacated) {
  Arena* arena = test_arena();
  ASSERT_TRUE(options::set(options::Id::kPurgeDelay, 60000));  // a slow machine stays within it
  arena_maintain(arena, true);
  const size_t slices = 64;
  Page* a = take_filled_large_span(arena, slices);
  ASSERT_NE(a, nullptr);
  size_t dirty = arenas_dirty_bytes();
  size_t rss = os::resident_bytes();
  arena_free_vacated(a);
  EXPECT_EQ(arenas_dirty_bytes(), dirty);
  EXPECT_LT(os::resident_bytes() + slices / 2 * kSliceSize, rss);
  Page* b = take_filled_large_span(arena, slices);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->is_zero);  // the purged slices
  dirty = arenas_dirty_bytes();
  arena_free_vacated(b);
  EXPECT_EQ(arenas_dirty_bytes(), dirty + slices * kSliceSize);
  // A larger one (the next old block of a buffer grown by a quarter at a time) is purged.
  Page* c = take_filled_large_span(arena, slices + slices / 2);
  ASSERT_NE(c, nullptr);
  dirty = arenas_dirty_bytes();
  arena_free_vacated(c);
  EXPECT_EQ(arenas_dirty_bytes(), dirty);
  arena_maintain(arena, true);
}

// Once a large block at least its size was freed the ordinary way, a vacated span is kept for
// reuse too: the program cycles blocks that large.
TEST(Arena, VacatedSpanIsKeptOnceSuchSpansWereFreed) {
  Arena* arena = test_arena();
  arena_maintain(arena, true);
  const size_t slices = 128;  // another power of two than the test above
  Page* a = arena_take_span(arena, slices, 1);
  ASSERT_NE(a, nullptr);
  a->kind = PageKind::kLarge;
  arena_free_page(a);
  Page* b = take_filled_large_span(arena, slices);
  ASSERT_NE(b, nullptr);
  size_t dirty = arenas_dirty_bytes();
  arena_free_vacated(b);
  EXPECT_EQ(arenas_dirty_bytes(), dirty + slices * kSliceSize);
  arena_maintain(arena, true);
}

TEST(Arena, GrowLargeInPlaceOnlyIntoFreeSlices) {
  Arena* arena = test_arena();
  arena_maintain(arena, true);
  Page* a = arena_take_span(arena, 2, 1);
  ASSERT_NE(a, nullptr);
  a->kind = PageKind::kLarge;
  EXPECT_TRUE(arena_grow_large(a, 6));
  EXPECT_EQ(a->slice_count, 6u);
  EXPECT_EQ(a->block_size, 6 * kSliceSize);
  Page* b = arena_take_span(arena, 1, 1);
  ASSERT_EQ(b->start, a->start + 6 * kSliceSize);
  EXPECT_FALSE(arena_grow_large(a, 7));
  arena_free_page(a);
  arena_free_page(b);
}

TEST(Arena, SpanComesFromAnotherArenasDirtySlicesBeforeFreshMemory) {
  process_init();
  arenas_set_count(kMaxArenas);
  while (arenas_in_use() < kMaxArenas) arena_for_new_heap();  // every arena in the table in use
  Arena* a = arena_at(kMaxArenas - 1);
  Arena* b = arena_at(kMaxArenas - 2);
  Page* freed = arena_take_span(b, 4, 1);
  ASSERT_NE(freed, nullptr);
  uint8_t* start = freed->start;
  std::memset(start, 0x5c, 4 * kSliceSize);
  arena_free_page(freed);
  ASSERT_EQ(b->dirty_slices, 4u);
  // a has no dirty slice of its own: it takes b's (resident) rather than fault in fresh memory.
  Page* taken = arena_take_span(a, 4, 1);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->start, start);
  EXPECT_FALSE(taken->is_zero);
  EXPECT_EQ(segment_of_page(taken)->arena, b);
  EXPECT_EQ(b->dirty_slices, 0u);
  arena_free_page(taken);  // back to the arena of its segment
  EXPECT_EQ(b->dirty_slices, 4u);
  EXPECT_EQ(a->dirty_slices, 0u);
}

// Sets huge_pages for one test, the default again after it.
struct HugePagesPolicy {
  explicit HugePagesPolicy(HugePages policy) {
    options::set(options::Id::kHugePages, uint64_t(policy));
  }
  ~HugePagesPolicy() { options::set(options::Id::kHugePages, uint64_t(HugePages::kDefault)); }
};

// Takes spans (never written: address space, no RSS) until the segments hold
// huge_pages_threshold() and a huge page more.
void TakeUntilTheHeapIsLarge(Arena* arena, std::vector<Page*>* ballast) {
  while (arenas_used_bytes() + arenas_dirty_bytes() < huge_pages_threshold() + kHugePageSize) {
    Page* p = arena_take_span(arena, kSlicesPerHugePage, 1);
    ASSERT_NE(p, nullptr);
    ballast->push_back(p);
  }
}

// huge_pages=large: once the segments hold huge_pages_threshold(), a segment slices are taken
// from is advised; a purge that empties whole 2 MiB ranges keeps the advice, one that leaves pages
// present beside its holes withdraws it for good (until the segment is pooled).
TEST(Arena, LargeHeapSegmentsGetHugePagesUntilAPurgeLeavesHoles) {
  HugePagesPolicy large(HugePages::kLarge);
  Arena* arena = test_arena();
  arena_maintain(arena, true);  // no dirty runs left to be taken first
  std::vector<Page*> ballast;   // never written: address space, no RSS
  ASSERT_NO_FATAL_FAILURE(TakeUntilTheHeapIsLarge(arena, &ballast));
  Page* whole = arena_take_span(arena, kSlicesPerHugePage, kSlicesPerHugePage);
  ASSERT_NE(whole, nullptr);
  Segment* seg = segment_of_page(whole);
  EXPECT_TRUE(seg->huge_pages);
  std::memset(whole->start, 1, kHugePageSize);
  arena_free_page(whole);
  EXPECT_GE(arena_maintain(arena, true), kHugePageSize);
  EXPECT_TRUE(seg->huge_pages) << "a purge of a whole 2 MiB range withdrew the advice";
  EXPECT_FALSE(seg->huge_declined);

  // Two spans side by side in one 2 MiB range (earlier holes of the size taken on the way).
  Page* half = arena_take_span(arena, kSlicesPerHugePage / 2, kSlicesPerHugePage);
  ASSERT_NE(half, nullptr);
  Page* kept = nullptr;
  for (int tries = 0; tries < 64 && kept == nullptr; ++tries) {
    Page* p = arena_take_span(arena, kSlicesPerHugePage / 2, kSlicesPerHugePage / 2);
    ASSERT_NE(p, nullptr);
    if (p->start == half->start + kHugePageSize / 2)
      kept = p;
    else
      ballast.push_back(p);
  }
  ASSERT_NE(kept, nullptr) << "no span next to " << static_cast<void*>(half->start);
  Segment* shared = segment_of_page(half);
  ASSERT_TRUE(shared->huge_pages);
  std::memset(half->start, 1, kHugePageSize);
  arena_free_page(half);
  arena_maintain(arena, true);
  EXPECT_FALSE(shared->huge_pages) << "a purge left a hole beside live slices, still advised";
  EXPECT_TRUE(shared->huge_declined);
  // Declined: taking more slices from it does not advise it again.
  Page* more = arena_take_span(arena, 1, 1);
  ASSERT_NE(more, nullptr);
  if (segment_of_page(more) == shared) {
    EXPECT_FALSE(shared->huge_pages);
  }

  arena_free_page(more);
  arena_free_page(kept);
  for (Page* p : ballast) arena_free_page(p);
  arena_maintain(arena, true);
}

// The default policy advises no segment, however large the heap.
TEST(Arena, LargeHeapSegmentsAreLeftToTheKernelByDefault) {
  HugePagesPolicy policy(HugePages::kDefault);
  Arena* arena = test_arena();
  arena_maintain(arena, true);
  std::vector<Page*> ballast;  // never written: address space, no RSS
  ASSERT_NO_FATAL_FAILURE(TakeUntilTheHeapIsLarge(arena, &ballast));
  Page* whole = arena_take_span(arena, kSlicesPerHugePage, kSlicesPerHugePage);
  ASSERT_NE(whole, nullptr);
  EXPECT_FALSE(segment_of_page(whole)->huge_pages);
  arena_free_page(whole);
  for (Page* p : ballast) arena_free_page(p);
  arena_maintain(arena, true);
}
