#include "core/alloc.h"

#include <errno.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/arena.h"
#include "core/checked.h"
#include "core/private_heap.h"
#include "diag/options.h"
#include "diag/report.h"
#include "os/os.h"

namespace arenalloc {
namespace {

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

// Whether p starts a block of its page (found from p, so the multiply test is exact for small
// pages).
bool is_block_start(const Page* page, const void* p) {
  return page->kind == PageKind::kSmall ? small_page_block_start(page, p)
                                        : page_is_block_start(page, p);
}

// The page of a block the program hands back to us, or nullptr after reporting it. The page map
// answers in one load; the segment map where it cannot (a map that could not be reserved or
// made writable, see page_map.h).
Page* owned_page(const void* p, const char* op) {
  Page* page = page_map::find(p);
  if (page == nullptr) page = find_page(p);
  if (page == nullptr || page->kind == PageKind::kFree || !is_block_start(page, p) ||
      (kFastPathChecks && page->kind == PageKind::kSmall &&
       static_cast<const Block*>(p)->free_mark == free_mark(page, p))) {
    diag::report_invalid_free(p, op);
    return nullptr;
  }
  return page;
}

}  // namespace

size_t aligned_class(size_t size, size_t align) noexcept {
  if (size > kMaxClassSize || align > kSliceSize) return kClassCount;
  if (size > kDirectMax && size >= options::mmap_threshold()) return kClassCount;
  size_t c = class_of(aligned_request(size, align));
  // A packing class is a multiple of 16 only: the series class above it is the one that is a
  // multiple of the alignment (see size_class.h).
  return align <= 16 || (class_size(c) & (align - 1)) == 0 ? c : c + 1;
}

void* heap_alloc(Heap* heap, size_t size, size_t align, bool zero) noexcept {
  if (heap == &g_empty_heap) [[unlikely]] {
    heap = heap_for_thread();
    if (heap == nullptr) return out_of_memory();
  }
  if (heap->checked) [[unlikely]]
    return checked_malloc(heap, size, align, zero);
  if (size > kMaxRequest || align > kMaxAlignment) return out_of_memory();
  size_t c = aligned_class(size, align);
  bool is_zero = false;
  void* p = c < kClassCount ? heap_malloc_class(heap, c, align < 16 ? 16 : align)
                            : large_alloc(heap, size, align, zero ? &is_zero : nullptr);
  if (p != nullptr && zero && !is_zero) std::memset(p, 0, size);
  return p;
}

void dealloc_sized_slow(void* p, size_t size, Page* page, size_t align) noexcept {
  if (!page_map::known(page)) return dealloc_sized_unmapped(p, size, align);
  bool ok = size <= page->block_size;
  if (ok && debug_mode())
    ok = size == debug_requested_size(page, p);  // blocks carry a tail
  else if (ok && page->kind == PageKind::kSmall)
    ok = class_may_lend(page->size_class, aligned_class(size, align));
  else if (ok && page->kind == PageKind::kLarge)
    ok = (size == 0 ? 1 : size) + kSliceSize > page->block_size;
  if (!ok && page->kind != PageKind::kFree) {
    // Under on_error=warn the block is leaked: a wrong size may mean a wrong pointer.
    if (diag::report_size_mismatch(p, size, page->block_size)) return;
  }
  free_generic(p, page, tls_heap);
}

void dealloc_sized_unmapped(void* p, size_t size, size_t align) noexcept {
  if (p == nullptr) return;  // a sized delete of a null pointer
  Page* page = find_page(p);
  if (page == nullptr) return free_not_ours(p);
  dealloc_sized_slow(p, size, page, align);
}

size_t good_size(size_t size, size_t align) noexcept {
  if (size > kMaxRequest || align > kMaxAlignment) return 0;
  size_t c = aligned_class(size, align);
  if (c < kClassCount) return class_size(c);
  size_t slices = span_slices(size);
  size_t align_slices = align > kSliceSize ? align >> kSliceShift : 1;
  // A span must fit in a segment after its header, starting on an aligned slice (large_alloc).
  size_t first = align_slices > kFirstUsableSlice ? align_slices : kFirstUsableSlice;
  if (size < options::mmap_threshold() && size <= kLargeMax && first + slices <= kSlicesPerSegment)
    return slices << kSliceShift;
  return align_up(size, os::page_size());
}

void* alloc_aligned(size_t size, size_t align) noexcept {
  if (align <= 16) return alloc(size);  // every block is 16-aligned
  // Up to the direct sizes, the aligned request's class is malloc's fast path.
  if (void* p = alloc_aligned_direct(size, align)) return p;
  return heap_alloc(tls_heap, size, align, false);
}

void* alloc_zeroed_slow(size_t total) noexcept {
  if (total == SIZE_MAX) return out_of_memory();  // count * size overflowed
  return heap_alloc(tls_heap, total, 0, true);
}

size_t resize_in_place(void* p, size_t size) noexcept {
  Page* page = owned_page(p, "resize of a pointer not allocated, or already freed");
  if (page == nullptr) return 0;
  if (debug_mode()) return debug_requested_size(page, p);  // the canaries stay where they are
  switch (page->kind) {
    case PageKind::kLarge:
      if (size <= kLargeMax) {
        size_t slices = span_slices(size);
        if (slices > page->slice_count)
          arena_grow_large(page, slices);
        else if (slices < page->slice_count)
          arena_shrink_large(page, slices);
      }
      break;
    case PageKind::kHuge:
      if (size > kMaxClassSize) huge_resize_in_place(page, size);
      break;
    default:
      break;
  }
  return page->block_size;
}

namespace {

// From this size on, a large block that realloc grows goes to a mapping of its own.
constexpr size_t kHugeGrowthMin = size_t{1} << 20;

// What a small block that must grow from `usable` to `size` bytes is given. Growing out of its
// class by less than a quarter: room for the next steps of a string or buffer grown a little at a
// time (as tcmalloc does), rather than a move at every class (8 per doubling); bench/
// realloc_growth: memcpy 71.6M -> 29.4M instructions under callgrind, user time -10%. But never
// past the power of two at or above `size`: buffers are often capped there (redis's 8 KiB
// listpacks grew 6656 -> 9216 and ended 1 KiB short of full, used_memory +12%).
size_t realloc_room(size_t usable, size_t size) {
  if (size >= usable + usable / 4) return size;  // a big step, such as a vector doubling
  size_t room = std::min(usable + usable / 4, std::bit_ceil(size));
  return room <= kMaxClassSize ? room : size;
}

// realloc of a live small block (live_small_block) to a small size: kept in place, or moved to a
// block of its new class (with realloc_room's room to grow), the result in *result; false when
// anything else applies (null, size 0, large and huge blocks, debug mode, a bad pointer), which
// reallocate's general path answers. It skips owned_page's lookups and the general path's
// switch: malloc(24), realloc to 40, to 72, free: 340 -> 276 instructions.
[[gnu::always_inline]] inline bool small_realloc(void* p, size_t size, void** result) noexcept {
  const Page* page = page_map::lookup(p);
  if (!live_small_block(page, p) || size - 1 >= kMaxClassSize) [[unlikely]]
    return false;
  size_t usable = page->block_size;
  if (size <= usable && size >= usable / 2) {
    *result = p;
    return true;
  }
  size_t room = size > usable ? realloc_room(usable, size) : size;
  void* q = alloc(room);
  if (q == nullptr && room != size) q = alloc(size);
  if (q != nullptr) {  // otherwise the original block stays valid
    std::memcpy(q, p, usable < size ? usable : size);
    dealloc(p);
  }
  *result = q;
  return true;
}

}  // namespace

void* reallocate(void* p, size_t size) noexcept {
  if (void* result; small_realloc(p, size, &result)) [[likely]]
    return result;
  if (p == nullptr) return alloc(size);
  if (size == 0) {  // as glibc: free and return NULL
    dealloc(p);
    return nullptr;
  }
  Page* page = owned_page(p, "realloc of a pointer not allocated, or already freed");
  if (page == nullptr) return nullptr;
  if (size > kMaxRequest) return out_of_memory();
  size_t usable = page->block_size;
  size_t room = size;    // what the new block gets, if the block moves
  bool promote = false;  // into a mapping of its own
  if (debug_mode())
    usable = debug_requested_size(page, p);  // and always move: fresh canaries
  else
    switch (page->kind) {
      case PageKind::kSmall:
        if (size <= usable && size >= usable / 2) return p;
        if (size > usable) room = realloc_room(usable, size);
        break;
      case PageKind::kLarge:
        if (size <= usable && size >= usable / 2) return p;
        if (size < usable && size > kMaxClassSize) {  // the tail goes back, nothing is copied
          arena_shrink_large(page, slices_for(size));
          return p;
        }
        // A large block that grows past 1 MiB moves into a mapping of its own, copied once while
        // it is small: its later growth needs no copy (within the mapping, or by mremap into a
        // larger one), as glibc's mmapped chunks grow. Growing in place in its span would only
        // put the copy off to when the span is full, and make it larger. Not where the program
        // cycles blocks that large (it freed a large one, or unmapped a huge one within the
        // purge delay): spans serve it better, as the next block reuses the freed memory.
        promote = size > usable && size >= kHugeGrowthMin && !large_blocks_freed(size) &&
                  !huge_freed_lately(size);
        if (!promote && size > usable && size <= kLargeMax && size < options::mmap_threshold() &&
            arena_grow_large(page, slices_for(size)))
          return p;
        break;
      case PageKind::kHuge:
        if (size > kMaxClassSize && huge_resize_in_place(page, size)) return p;
        // A private heap tracks its huge blocks by page: those are copied.
        if (size > usable && page->owner.load(std::memory_order_relaxed) == 0)
          if (Page* moved = huge_move(page, size)) return moved->start;
        break;
      case PageKind::kFree:
        break;
    }
  void* q = promote ? huge_alloc_block(room) : nullptr;
  if (q == nullptr) q = alloc(room);
  if (q == nullptr && room != size) q = alloc(size);
  if (q == nullptr) return nullptr;  // the original block stays valid
  std::memcpy(q, p, usable < size ? usable : size);
  if (page->kind == PageKind::kLarge && !checking_wanted())
    large_free(tls_heap, page, true);
  else
    dealloc(p);
  return q;
}

size_t usable_size_slow(const void* p) noexcept {
  if (p == nullptr) return 0;
  Page* page = owned_page(p, "malloc_usable_size of a pointer not allocated, or already freed");
  if (page == nullptr) return 0;
  return debug_mode() ? debug_requested_size(page, p) : page->block_size;
}

bool trim(size_t pad) noexcept {
  heap_collect(tls_heap);
  heaps_flush_large_caches();
  size_t purged = 0;
  for (size_t i = 0; i < arenas_in_use(); ++i) purged += arena_maintain(arena_at(i), true, pad);
  size_t dirty_before = arenas_dirty_bytes();
  private_heaps_maintain(true);
  return purged != 0 || arenas_dirty_bytes() < dirty_before;
}

}  // namespace arenalloc
