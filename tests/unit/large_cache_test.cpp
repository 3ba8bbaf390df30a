// The cached large block (large_cache_put and large_cache_take in large.cpp): a thread's heap
// keeps the large block it freed last, up to 512 KiB, for its next large malloc of the same span
// size, and gives it back to the arena when it exits, goes idle, or the program calls
// malloc_trim. A second free of a kept block is still reported: the diag tests' *_freed cases
// free a 300 KiB block, which is kept. Each test runs in a new thread, for a heap of its own.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <semaphore>
#include <thread>

#include "core/heap.h"
#include "core/private_heap.h"
#include "own_heap.h"

using namespace arenalloc;
using testcommon::in_new_thread;

namespace {

constexpr size_t kSize = 200000;  // a span of 4 slices

// Where a large block lives, noted before it is freed (the pointer is not used after).
struct Span {
  Segment* seg;
  Page* page;
  size_t first;
  explicit Span(const void* p)
      : seg(segment_of(p)), page(page_of(seg, p)), first(page->first_slice) {}
  // Whether the span is back in the arena's free slices.
  bool free_in_arena() const { return slice_is_free(seg, first); }
};

// A block of kSize, malloc'ed and freed: kept by the calling thread's heap.
Span kept_block() {
  void* p = std::malloc(kSize);
  const Span span(p);
  std::free(p);
  EXPECT_EQ(tls_heap->large_cache.load(), span.page);
  return span;
}

}  // namespace

TEST(LargeCache, AFreedLargeBlockServesTheNextMallocOfItsSize) {
  in_new_thread([] {
    void* p = std::malloc(kSize);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5a, kSize);
    const Span span(p);
    const auto where = reinterpret_cast<uintptr_t>(p);
    std::free(p);
    EXPECT_EQ(tls_heap->large_cache.load(), span.page);
    EXPECT_FALSE(span.free_in_arena()) << "kept by the heap, not returned to the arena";
    void* q = std::malloc(kSize - 1000);  // the same number of slices
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q), where);
    EXPECT_EQ(tls_heap->large_cache.load(), nullptr);
    EXPECT_EQ(malloc_usable_size(q), 4u << kSliceShift);
    std::free(q);
  });
}

TEST(LargeCache, AMallocOfAnotherSizeGivesItBackFirst) {
  in_new_thread([] {
    const Span span = kept_block();
    // Its slices go back to the arena before the new span is looked for: free, or part of it.
    void* other = std::malloc(2 * kSize);
    const Span other_span(other);
    EXPECT_EQ(tls_heap->large_cache.load(), nullptr);
    EXPECT_TRUE(span.free_in_arena() || other_span.page == span.page);
    std::free(other);
    EXPECT_EQ(tls_heap->large_cache.load(), other_span.page);
    void* again = std::malloc(2 * kSize);
    EXPECT_EQ(Span(again).page, other_span.page);
    std::free(again);
  });
}

TEST(LargeCache, TheNextLargeFreeReplacesIt) {
  in_new_thread([] {
    void* a = std::malloc(kSize);
    void* b = std::malloc(kSize);
    const Span a_span(a), b_span(b);
    std::free(a);
    EXPECT_EQ(tls_heap->large_cache.load(), a_span.page);
    std::free(b);
    EXPECT_EQ(tls_heap->large_cache.load(), b_span.page);
    EXPECT_TRUE(a_span.free_in_arena());
    EXPECT_FALSE(b_span.free_in_arena());
  });
}

TEST(LargeCache, CallocOfTheKeptBlockIsZeroed) {
  in_new_thread([] {
    auto* p = static_cast<unsigned char*>(std::malloc(kSize));
    std::memset(p, 0xab, kSize);
    const Span span(p);
    std::free(p);
    auto* q = static_cast<unsigned char*>(std::calloc(1, kSize));
    ASSERT_EQ(Span(q).page, span.page) << "calloc took the kept block";
    size_t nonzero = 0;
    for (size_t i = 0; i < kSize; ++i) nonzero += q[i] != 0;
    EXPECT_EQ(nonzero, 0u);
    std::free(q);
  });
}

TEST(LargeCache, BlocksAbove512KiBGoStraightBack) {
  in_new_thread([] {
    void* p = std::malloc(600000);  // 10 slices
    const Span span(p);
    std::free(p);
    EXPECT_EQ(tls_heap->large_cache.load(), nullptr);
    EXPECT_TRUE(span.free_in_arena());
  });
}

TEST(LargeCache, MallocTrimGivesItBack) {
  in_new_thread([] {
    const Span span = kept_block();
    malloc_trim(0);
    EXPECT_EQ(tls_heap->large_cache.load(), nullptr);
    EXPECT_TRUE(span.free_in_arena());
  });
}

TEST(LargeCache, ThreadExitGivesItBack) {
  Heap* heap = nullptr;
  Span* span = nullptr;
  in_new_thread([&] {
    void* p = std::malloc(kSize);
    span = new Span(p);
    std::free(p);
    heap = tls_heap;
    ASSERT_EQ(heap->large_cache.load(), span->page);
  });
  EXPECT_EQ(heap->large_cache.load(), nullptr);
  EXPECT_TRUE(span->free_in_arena());
  delete span;
}

TEST(LargeCache, ReclaimingAnIdleHeapGivesItBack) {
  std::binary_semaphore freed(0), done(0);
  Heap* heap = nullptr;
  Span* span = nullptr;
  std::thread owner([&] {
    void* p = std::malloc(kSize);
    span = new Span(p);
    std::free(p);
    heap = tls_heap;
    freed.release();
    done.acquire();  // stays alive, allocating nothing, while it is reclaimed
  });
  freed.acquire();
  EXPECT_EQ(heap->large_cache.load(), span->page);
  heap_reclaim_empty(heap);
  EXPECT_EQ(heap->large_cache.load(), nullptr);
  EXPECT_TRUE(span->free_in_arena());
  done.release();
  owner.join();
  delete span;
}

// A private heap's block freed with free() goes back to the private heap's arena, which its
// destroy unmaps: the thread's heap must not keep it (it did, and the purger then returned it to
// an arena that was gone: sanitize's PrivateHeaps.SharedByThreads under asan).
TEST(LargeCache, APrivateHeapsBlockIsNotKept) {
  in_new_thread([] {
    Heap* own = heap_for_thread();  // what the thread's first malloc would make
    ASSERT_NE(own, nullptr);
    ASSERT_EQ(tls_heap, own);
    PrivateHeap* h = private_heap_create();
    ASSERT_NE(h, nullptr);
    void* p = private_heap_alloc(h, kSize, 16, false);
    ASSERT_NE(p, nullptr);
    std::free(p);
    EXPECT_EQ(tls_heap->large_cache.load(), nullptr);
    private_heap_destroy(h);
    void* q = std::malloc(kSize);  // from the thread's own arena
    ASSERT_NE(q, nullptr);
    std::memset(q, 1, kSize);
    std::free(q);
  });
}
