// Blocks above the largest size class: single-block spans of slices in the heap's arena, and
// huge blocks (at or above the mmap threshold) in mappings of their own.
#include <errno.h>

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
}  // namespace

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
      page = arena_take_span(heap->arena, slices, align_slices);
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
