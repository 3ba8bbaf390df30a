// Transparent huge pages for large heaps, the policy of huge_pages=large (why: huge_pages.cpp).
// A segment is advised MADV_HUGEPAGE when slices are taken from it while the segments hold
// huge_pages_threshold() bytes (in use or waiting to be purged), from its second 2 MiB on, so that
// the header alone never makes 2 MiB resident. A purge that leaves pages present in a 2 MiB range
// it touched withdraws the advice until the segment is pooled; a segment taken from the pool while
// the heap is small loses it. (huge_pages=always and never advise every segment and huge block as
// it is mapped, in segment.cpp.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/segment.h"

namespace arenalloc {

inline constexpr size_t kHugePageSize = size_t{2} << 20;
// A heap is large from this much per arena that holds 2 MiB or more: each such arena's segments
// end in a 2 MiB range it uses in part, at most 2 MiB of RSS for every 32 MiB when the heap
// crosses it, less as it grows.
inline constexpr size_t kHugePagesPerArena = size_t{32} << 20;
inline constexpr size_t kSlicesPerHugePage = kHugePageSize >> kSliceShift;

// The 2 MiB ranges of a segment that slices [first, first + count) touch, one bit each.
inline uint32_t huge_ranges_of(size_t first, size_t count) {
  size_t lo = first / kSlicesPerHugePage, hi = (first + count - 1) / kSlicesPerHugePage;
  return static_cast<uint32_t>(((uint64_t{2} << hi) - 1) & ~((uint64_t{1} << lo) - 1));
}

// The bytes the segments must hold (in use or waiting to be purged) for huge pages.
size_t huge_pages_threshold();
// Slices are being taken from `seg` (its arena's lock held).
void segment_use_huge_pages(Segment* seg);
// Slices in the 2 MiB ranges `touched` (huge_ranges_of) were just purged (`lazy`: MADV_FREE).
void segment_purged_huge_pages(Segment* seg, uint32_t touched, bool lazy);
// `seg` goes to the pool of empty segments, or (`taken`) comes out of it.
void segment_pooled_huge_pages(Segment* seg, bool taken);
// A huge block of `size` bytes was just mapped (or moved by realloc) at `seg`, `mapping` bytes in
// all. Advised MADV_HUGEPAGE from kHugePagesPerArena bytes, unless calloc made it (huge_declined).
void huge_block_use_huge_pages(Segment* seg, size_t mapping, size_t size);

}  // namespace arenalloc
