#include "core/alloc.h"

#include <errno.h>

#include <cstring>

#include "core/arena.h"
#include "diag/options.h"
#include "diag/report.h"

namespace arenalloc {
namespace {

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

// The page of a block the program hands back to us, or nullptr after reporting it.
Page* owned_page(const void* p, const char* op) {
  if (!segmap::contains(p)) {
    diag::report_invalid_free(p, op);
    return nullptr;
  }
  Page* page = page_of(segment_of(p), p);
  if (page->kind == PageKind::kFree || !page_is_block_start(page, p)) {
    diag::report_invalid_free(p, op);
    return nullptr;
  }
  return page;
}

}  // namespace

void* alloc_aligned(size_t size, size_t align) noexcept {
  if (align <= 8 || (align == 16 && size > 8)) return alloc(size);  // every class >= 16 is
  if (size > kMaxRequest || align > kMaxAlignment) return out_of_memory();
  if (size <= kMaxClassSize && align <= kSliceSize) {
    // Pages start on slice boundaries, so a class that is a multiple of `align` gives aligned
    // blocks. Every power of two up to kMaxClassSize is a class, so the search ends.
    for (size_t c = class_of(size); c < kClassCount; ++c)
      if (class_size(c) % align == 0) return heap_malloc_class(tls_heap, c, size);
  }
  return large_alloc(tls_heap, size, align, nullptr);
}

void* alloc_zeroed(size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return out_of_memory();
  if (total <= kMaxClassSize) {
    void* p = alloc(total);
    if (p != nullptr) std::memset(p, 0, total);
    return p;
  }
  bool is_zero = false;
  void* p = large_alloc(tls_heap, total, 0, &is_zero);
  if (p != nullptr && !is_zero) std::memset(p, 0, total);
  return p;
}

void* reallocate(void* p, size_t size) noexcept {
  if (p == nullptr) return alloc(size);
  if (size == 0) {  // as glibc: free and return NULL
    dealloc(p);
    return nullptr;
  }
  Page* page = owned_page(p, "realloc of a pointer not allocated, or already freed");
  if (page == nullptr) return nullptr;
  if (size > kMaxRequest) return out_of_memory();
  size_t usable = page->block_size;
  switch (page->kind) {
    case PageKind::kSmall:
      if (size <= usable && size >= usable / 2) return p;
      break;
    case PageKind::kLarge:
      if (size <= usable && size >= usable / 2) return p;
      if (size > usable && size <= kLargeMax && size < options::mmap_threshold() &&
          arena_grow_large(page, (size + kSliceSize - 1) >> kSliceShift))
        return p;
      break;
    case PageKind::kHuge:
      if (size > kMaxClassSize && huge_resize_in_place(page, size)) return p;
      break;
    case PageKind::kFree:
      break;
  }
  void* q = alloc(size);
  if (q == nullptr) return nullptr;  // the original block stays valid
  std::memcpy(q, p, usable < size ? usable : size);
  dealloc(p);
  return q;
}

size_t usable_size(const void* p) noexcept {
  if (p == nullptr) return 0;
  Page* page = owned_page(p, "malloc_usable_size of a pointer not allocated, or already freed");
  return page == nullptr ? 0 : page->block_size;
}

bool trim() noexcept {
  heap_collect(tls_heap);
  size_t purged = 0;
  for (size_t i = 0; i < kMaxArenas; ++i) purged += arena_maintain(arena_at(i), true);
  return purged != 0;
}

}  // namespace arenalloc
