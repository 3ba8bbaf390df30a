// The allocation operations behind the public API, above the heap fast paths: alignment,
// zeroing, resizing, sizes, trimming. Failures set errno to ENOMEM and return nullptr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/checked.h"
#include "core/heap.h"

namespace arenalloc {

// Any request on any heap (a thread's or a private one): picks the class, span or mapping.
void* heap_alloc(Heap* heap, size_t size, size_t align, bool zero) noexcept;
// The class whose blocks fit `size` at `align`, or kClassCount if none (span or mapping).
size_t aligned_class(size_t size, size_t align) noexcept;
// The usable size a request would get; 0 if it cannot be satisfied.
size_t good_size(size_t size, size_t align) noexcept;
// Grow or shrink a block without moving it; returns its usable size afterwards (0 if p is
// invalid, after a report). The caller compares it with `size`.
size_t resize_in_place(void* p, size_t size) noexcept;
void* alloc_aligned(size_t size, size_t align) noexcept;  // align: a power of two
void* reallocate(void* p, size_t size) noexcept;          // realloc, glibc semantics
[[gnu::noinline]] size_t usable_size_slow(const void* p) noexcept;
bool trim(size_t pad) noexcept;  // purge now what can be, keeping about `pad` bytes per arena

inline void* alloc(size_t size) noexcept {
  return heap_malloc(tls_heap, size);
}
inline void dealloc(void* p) noexcept {
  heap_free(p);
}

// A block of `size` bytes at `align` from malloc's direct fast path, or nullptr where
// alloc_aligned must answer (sizes or alignments above the direct sizes, an empty list; a checked
// heap's and the shared empty heap's direct pointers all lead to the empty page). Never sets
// errno, so posix_memalign saves and restores it only around alloc_aligned.
inline void* alloc_aligned_direct(size_t size, size_t align) noexcept {
  if (size > kDirectMax || align > kDirectMax) return nullptr;
  return heap_malloc_direct(tls_heap, aligned_request(size, align));
}

// calloc: overflow-checked; a small block from the direct fast path, then memset (a tail call,
// as memset returns the block); the rest out of line, where fresh memory is not zeroed again.
[[gnu::noinline]] void* alloc_zeroed_slow(size_t total) noexcept;
inline void* alloc_zeroed(size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) [[unlikely]]
    return alloc_zeroed_slow(SIZE_MAX);
  if (void* p = heap_malloc_direct(tls_heap, total)) [[likely]]
    return std::memset(p, 0, total);
  return alloc_zeroed_slow(total);
}

// Whether p is a live block of a small page, `page` being its page map entry, checked as free's
// fast path checks a block (its start, its free mark), and debug mode off (its blocks carry their
// requested sizes): the case that malloc_usable_size and realloc answer inline. Null and unknown
// pointers find the sentinel page, which is not small.
[[gnu::always_inline]] inline bool live_small_block(const Page* page, const void* p) noexcept {
  return page->kind == PageKind::kSmall && small_page_block_start(page, p) &&
         !(kFastPathChecks && static_cast<const Block*>(p)->free_mark == free_mark(page, p)) &&
         !debug_mode();
}

// malloc_usable_size, 0 for nullptr: a live small block's class size here; large and huge
// blocks, debug mode's requested sizes, null and bad pointers out of line. Ruby and redis ask on
// every allocation and free (with a loop around it, 53 -> 29 instructions a call).
inline size_t usable_size(const void* p) noexcept {
  const Page* page = page_map::lookup(p);
  if (live_small_block(page, p)) [[likely]]
    return page->block_size;
  return usable_size_slow(p);
}

// Sized free (free_sized, sized operator delete): the size must be one the block could have
// been allocated or reallocated with; a mismatch is reported. Sizes from half the block to the
// block (every request of the class, and realloc's in-place shrinks) pass with one subtraction
// and one compare (see page_set_block_size); the rest is judged out of line. An address the page
// map does not know (nullptr among them) finds the sentinel page, which no size but 0 passes;
// with 0 it goes on to the free path, which sends it on as well.
[[gnu::noinline]] void dealloc_sized_slow(void* p, size_t size, Page* page, size_t align) noexcept;
[[gnu::noinline]] void dealloc_sized_unmapped(void* p, size_t size, size_t align) noexcept;
inline void dealloc_sized(void* p, size_t size, size_t align) noexcept {
  Page* page = page_map::lookup(p);
  if (!sized_free_fits(page, size)) [[unlikely]]
    return dealloc_sized_slow(p, size, page, align);
  heap_free_in_page(page, p, size);
}

}  // namespace arenalloc
