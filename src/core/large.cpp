// Blocks above the largest size class: single-block spans of slices in the heap's arena, and
// huge blocks (at or above the mmap threshold) in mappings of their own.
#include <errno.h>

#include "core/checked.h"
#include "core/heap.h"
#include "diag/options.h"
#include "diag/stats.h"

namespace arenalloc {

namespace {
// mmap_max: how many blocks may have a mapping of their own at once.
bool below_mmap_max() {
  return stats::global().huge_count.load(std::memory_order_relaxed) <
         options::get(options::Id::kMmapMax);
}

// The cached large block. A program that mallocs and frees a buffer of the same large size over
// and over (one per request, per file, per frame) would otherwise go to the arena twice a round:
// its lock, the slice bitmaps, the page map, the purge clock (malloc(200000) + free: 1139
// instructions; 293 with the cache; glibc 308, mimalloc 336, tcmalloc 80). So a thread's heap
// keeps the large block it freed last, up to kLargeCacheMaxSlices, and its next large malloc of
// the same span size takes it back as it is. While kept the page is kFree, so that a second free
// of the block is reported as before; its slices stay taken (not dirty, so not purged) until the
// owner frees another large block, or mallocs one (of any size), or exits, or goes idle
// (heap_reclaim_empty), or the program calls malloc_trim. Only blocks of the heap's own arena: not
// a private heap's (its arena holds only its own blocks and goes when it is destroyed). Not in
// debug, perturb or secure mode, where a freed block must not come back at once.
constexpr size_t kLargeCacheMaxSlices = 8;  // 512 KiB: at most that much kept per thread

// The kept block, now the caller's alone; nullptr if there is none. A load first: most calls find
// the slot empty, and need not take its line for writing.
Page* large_cache_claim(Heap* heap) {
  if (heap->large_cache.load(std::memory_order_relaxed) == nullptr) return nullptr;
  return heap->large_cache.exchange(nullptr, std::memory_order_acquire);
}

Page* large_cache_take(Heap* heap, size_t slices, size_t align_slices) {
  Page* page = large_cache_claim(heap);
  if (page == nullptr) return nullptr;
  if (page->slice_count == slices && page->first_slice % align_slices == 0) return page;
  // Another size: the program does not cycle this one. Its slices go back before the new span is
  // looked for, so that they can be part of it (bench/large, blocks of 100 KiB-32 MiB at random:
  // peak RSS 164.3 MiB without the cache, 166.4 kept until the next large free, 164.3 so).
  arena_free_page(page);
  return nullptr;
}
}  // namespace

bool large_cache_put(Heap* heap, Page* page) noexcept {
  // Only a block of the heap's own arena: not a private heap's block freed with free() (its
  // arena goes when that heap is destroyed), nor another arena's (it goes back there).
  if (heap == &g_empty_heap || heap->is_private || page->slice_count > kLargeCacheMaxSlices ||
      segment_of_page(page)->arena != heap->arena || checking_wanted() || secure_mode())
    return false;
  arena_note_large_freed(page);
  page->kind = PageKind::kFree;
  page->is_zero = false;
  if (Page* before = heap->large_cache.exchange(page, std::memory_order_acq_rel))
    arena_free_page(before);
  return true;
}

void large_cache_flush(Heap* heap) noexcept {
  if (Page* page = large_cache_claim(heap)) arena_free_page(page);
}

void* huge_alloc_block(size_t n) noexcept {
  if (!below_mmap_max()) return nullptr;
  Page* page = huge_alloc(n, 16);
  return page == nullptr ? nullptr : page->start;
}

void* large_alloc(Heap* heap, size_t n, size_t align, bool* is_zero) noexcept {
  if (n > kMaxRequest || align > kMaxAlignment) [[unlikely]] {
    errno = ENOMEM;
    return nullptr;
  }
  size_t slices = span_slices(n);
  Page* page = nullptr;
  bool mapped_alone = n >= options::mmap_threshold() && below_mmap_max();
  if (!mapped_alone && n <= kLargeMax && align <= kLargeMax) {
    if (heap == &g_empty_heap) heap = heap_for_thread();
    if (heap != nullptr) {
      size_t align_slices = align > kSliceSize ? align >> kSliceShift : 1;
      page = large_cache_take(heap, slices, align_slices);
      if (page == nullptr) page = arena_take_span(heap->arena, slices, align_slices);
    }
    if (page != nullptr) {
      page->kind = PageKind::kLarge;
      page_set_block_size(page, slices << kSliceShift);
      page->reserved = 1;
      page->capacity = 1;
      page->used = 1;
      page->free = page->local_free = nullptr;
      page_clear_owner(page);
      page->thread_free.store(kNoDelayed, std::memory_order_relaxed);
      stats::large_allocated(page->block_size);
    }
  }
  if (page == nullptr) {
    page = huge_alloc(n, align, is_zero != nullptr);
    if (page == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (heap != nullptr && heap != &g_empty_heap) heap->last_large_size = n;
  if (is_zero != nullptr) *is_zero = page->is_zero;
  return page->start;
}

}  // namespace arenalloc
