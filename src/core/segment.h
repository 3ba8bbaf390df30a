// Segments and the segment map.
//
// A segment is kSegmentSize bytes aligned to kSegmentSize. Its first two slices are the header:
// the page descriptors for every slice, the map from slice to the page that covers it, and the
// arena's bookkeeping of which slices are free and which free slices still hold memory (dirty,
// waiting to be purged). A huge block's mapping starts with the same header, with one page.
//
// The segment map is one byte per possible segment address over the whole user address space
// (2^48 / 32 MiB = 8 MiB of reserved, lazily touched memory). free() consults it before reading
// any header, so a pointer arenalloc never returned is recognised instead of dereferenced.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/config.h"
#include "core/page.h"

namespace arenalloc {

struct Arena;

enum class SegmentKind : uint8_t { kNormal = 1, kHuge = 2 };

inline constexpr size_t kSliceWords = kSlicesPerSegment / 64;
inline constexpr uint64_t kSegmentCookie = 0x61726e616c6c6f63ull;  // "arnalloc"

struct Segment {
  uint64_t cookie;
  SegmentKind kind;
  bool huge_pages;  // advised MADV_HUGEPAGE (huge_pages=large, segment_use_huge_pages)
  // A purge left holes while advised: no advice until it is pooled. A huge block's: calloc made
  // it, so it is never advised, not even once realloc has moved it (the header moves with it).
  bool huge_declined;
  uint32_t free_slices;  // count of bits in free_mask
  Arena* arena;
  size_t mapping_size;  // huge: the whole mapping
  Segment* next;        // in its arena's list, or the pool of empty segments
  Segment* prev;
  uint64_t purge_at_ms;                 // earliest deadline of a dirty slice; 0 = none dirty
  uint64_t free_mask[kSliceWords];      // slice is free
  uint64_t dirty_mask[kSliceWords];     // free slice whose memory may still be resident
  Page* slice_page[kSlicesPerSegment];  // slice -> the page covering it (pages[0] if none)
  Page pages[kSlicesPerSegment];        // descriptor of the page starting at each slice
  uint32_t dirty_since_ms[kSlicesPerSegment];
};
static_assert(sizeof(Segment) <= kFirstUsableSlice * kSliceSize,
              "the header must fit before the first usable slice");
static_assert(offsetof(Segment, pages) + sizeof(Page) <= kHugeHeaderSize,
              "a huge block's header must fit in kHugeHeaderSize");
// The part of the header that may be purged when a segment is idle: the page descriptors.
inline constexpr size_t kPurgeableHeaderStart = align_up(offsetof(Segment, pages), 4096);

inline Segment* segment_of(const void* p) {
  return reinterpret_cast<Segment*>(reinterpret_cast<uintptr_t>(p) & ~(kSegmentSize - 1));
}

inline Page* page_of(Segment* seg, const void* p) {
  size_t slice = (reinterpret_cast<uintptr_t>(p) >> kSliceShift) & (kSlicesPerSegment - 1);
  return seg->slice_page[slice];
}

inline Segment* segment_of_page(const Page* page) {
  return reinterpret_cast<Segment*>(reinterpret_cast<uintptr_t>(page) & ~(kSegmentSize - 1));
}

// ---- segment map ----
namespace segmap {
inline constexpr size_t kEntries = size_t{1} << (kAddressBits - kSegmentShift);
// In .bss: untouched entries cost no memory, and the fast path needs no pointer load.
extern uint8_t table[kEntries] ARENALLOC_HIDDEN;
inline bool contains(const void* p) {
  size_t index = reinterpret_cast<uintptr_t>(p) >> kSegmentShift;
  if (index >= kEntries) [[unlikely]]
    return false;
  return __atomic_load_n(&table[index], __ATOMIC_RELAXED) != 0;
}
void add(const Segment* seg) noexcept;
void remove(const Segment* seg) noexcept;
}  // namespace segmap

// The page covering p, found the authoritative way (the segment map, then the segment's slice
// table); nullptr if p is in none of our segments. The free fast paths ask the page map first.
inline Page* find_page(const void* p) {
  return segmap::contains(p) ? page_of(segment_of(p), p) : nullptr;
}

// ---- slice bitmaps ----
// First run of `count` free slices starting at a multiple of `align` (both in slices); -1 if none.
int find_free_run(const Segment* seg, size_t count, size_t align);
// The same, but only runs that start on a dirty slice (memory still resident: reusing it costs
// no page faults and lets the rest be purged).
int find_dirty_run(const Segment* seg, size_t count, size_t align);
// The run of `count` free slices that holds the most dirty ones; among equals, the one in the
// smallest hole (free run), so that big holes stay whole for big blocks; -1 if no free run holds
// any. *dirty: how many; *hole: the length of that hole. O(slices per segment), for large spans.
int find_most_dirty_run(const Segment* seg, size_t count, size_t align, size_t* dirty,
                        size_t* hole);
void mark_slices(uint64_t* mask, size_t first, size_t count, bool set);
inline bool slice_is_free(const Segment* seg, size_t i) {
  return (seg->free_mask[i / 64] >> (i % 64)) & 1;
}
inline bool slice_is_dirty(const Segment* seg, size_t i) {
  return (seg->dirty_mask[i / 64] >> (i % 64)) & 1;
}
// The order find_most_dirty_run and the arena's search over segments both follow: more dirty
// slices first, then (when there are any) the smaller hole.
inline bool dirtier_or_tighter(size_t dirty, size_t hole, size_t best_dirty, size_t best_hole) {
  return dirty > best_dirty || (dirty == best_dirty && dirty > 0 && hole < best_hole);
}
bool any_slice_set(const uint64_t* mask, size_t first, size_t count);
// How many of slices [first, first + count) are set in the mask.
size_t count_slices(const uint64_t* mask, size_t first, size_t count);
// The first slice from `from` on whose bit is `set`; kSlicesPerSegment if none.
size_t next_slice(const uint64_t* mask, size_t from, bool set);

// A fresh normal segment for `arena`, mapped and named; all slices but the header free and clean.
Segment* segment_map_new(Arena* arena);
// Mark every slice free (and none dirty) but the header and, in secure mode, the guard slices.
void segment_reset_slices(Segment* seg);
bool secure_mode();
// Slices a segment can hand out (fewer in secure mode, which keeps guard slices).
size_t segment_usable_slices();
// Turn slices [first, first+count) into a page descriptor (slice map updated).
Page* segment_make_page(Segment* seg, size_t first, size_t count);

// ---- huge blocks ----
// A block of `size` bytes aligned to `align` in a mapping of its own; nullptr if out of memory.
// `zeroed`: for calloc, whose untouched pages must stay unbacked (Segment::huge_declined).
Page* huge_alloc(size_t size, size_t align, bool zeroed = false);
void huge_free(Page* page);
// Whether a huge block of at least `size` bytes was freed within the purge delay: the program
// cycles blocks that large (see reallocate).
bool huge_freed_lately(size_t size);
// Grow or shrink in place within the mapping; false if it does not fit.
bool huge_resize_in_place(Page* page, size_t size);
// Grow a huge block by moving its pages, not its bytes (mremap into a new segment-aligned
// mapping): no copy, and the old and new block are never resident together. Returns the moved
// block's page, or nullptr (the block is unchanged; the caller copies instead).
Page* huge_move(Page* page, size_t size);

}  // namespace arenalloc
