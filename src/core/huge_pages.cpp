// Transparent huge pages for large heaps (huge_pages=large).
#include "core/huge_pages.h"

#include <bit>

#include "core/arena.h"
#include "diag/options.h"
#include "os/os.h"

namespace arenalloc {

// A heap of hundreds of MiB touched at random spends much of its time in page faults and TLB
// misses: 4 KiB pages fault one at a time, and the TLB reaches a few MiB of them. With a huge page
// each 2 MiB is one fault and one TLB entry. But a huge page is resident as a whole once any byte
// of it is touched, which would multiply a small program's RSS (the suite's small rows 1.5-3x
// under huge_pages=always), so only a heap that is already large has them, where a partly used
// 2 MiB costs a few percent at most.
//
// khugepaged collapses an advised 2 MiB range with any page present into one huge page, filling
// its holes. A purge makes such holes where it leaves pages present in a range it touched (slices
// in use, or free and not yet purged); so such a purge withdraws the segment's advice, and the
// memory purged stays given back. A purge that empties whole ranges (a large block's, most of a
// phase's pages) leaves nothing to collapse, and the advice stays. Huge pages already made stay
// until purges split them.
//
// Not the default: every measurement found RSS larger with it (peak_fall +4.4% at the peak,
// sqlite3 +4%, perl +3.5%, clang +1%), and on the project's current host (Intel Xeon, where the
// first measurements ran on AMD EPYC) time longer as well: the suite's time geometric mean 8%,
// sqlite3 7% (docs/PERFORMANCE.md, "Huge pages left to the kernel").
namespace {

// Whether this policy is the one in force (huge_pages=large).
bool policy_is_large() {
  return options::get(options::Id::kHugePages) == uint64_t(HugePages::kLarge);
}

bool heap_is_large() {
  // The threshold's walk over the arenas only once the heap could be large: a small heap asks on
  // every page it makes.
  size_t held = arenas_used_bytes() + arenas_dirty_bytes();
  return held >= kHugePagesPerArena && held >= huge_pages_threshold();
}

void set_huge_pages(Segment* seg, bool huge) {
  seg->huge_pages = huge;
  os::advise_huge(reinterpret_cast<uint8_t*>(seg) + kHugePageSize, kSegmentSize - kHugePageSize,
                  huge);
}

// Whether 2 MiB range r of the segment has nothing present: every slice free and purged.
bool huge_range_empty(const Segment* seg, size_t r) {
  size_t first = r * kSlicesPerHugePage;
  return count_slices(seg->free_mask, first, kSlicesPerHugePage) == kSlicesPerHugePage &&
         !any_slice_set(seg->dirty_mask, first, kSlicesPerHugePage);
}

}  // namespace

size_t huge_pages_threshold() {
  // An arena holding less than a huge page's worth (a main thread that only starts workers)
  // leaves little to a partly used range.
  size_t arenas = arenas_holding(kHugePageSize);
  return (arenas > 1 ? arenas : 1) * kHugePagesPerArena;
}

void segment_use_huge_pages(Segment* seg) {
  if (seg->huge_pages || seg->huge_declined) return;
  if (!policy_is_large()) return;
  if (!heap_is_large()) return;
  set_huge_pages(seg, true);
}

void segment_purged_huge_pages(Segment* seg, uint32_t touched, bool lazy) {
  if (!seg->huge_pages) return;
  touched &= ~uint32_t{1};  // the header's range is never advised
  bool holes = lazy;        // MADV_FREE leaves the pages present until the kernel needs them
  for (; touched != 0 && !holes; touched &= touched - 1)
    holes = !huge_range_empty(seg, static_cast<size_t>(std::countr_zero(touched)));
  if (!holes) return;
  set_huge_pages(seg, false);
  seg->huge_declined = true;
}

// A block of 32 MiB or more is a large heap by itself, with at most its last 2 MiB range used in
// part (its first holds the header and the block's start): GNU sort's 50 MiB buffer 1.45x faster,
// sqlite3 (arrays doubled to 64 MiB) 1.18x, for 9% and 1.3% more peak RSS. Not calloc's: a large
// zeroed table is often touched sparsely, and under a huge page each touch would make 2 MiB
// resident where the program counts on untouched zero pages costing nothing.
void huge_block_use_huge_pages(Segment* seg, size_t mapping, size_t size) {
  if (seg->huge_declined || size < kHugePagesPerArena) return;
  if (!policy_is_large()) return;
  seg->huge_pages = true;
  os::advise_huge(seg, mapping, true);
}

void segment_pooled_huge_pages(Segment* seg, bool taken) {
  // A pooled segment is purged whole: nothing of it is left for khugepaged to fill.
  seg->huge_declined = false;
  if (taken && seg->huge_pages && !heap_is_large()) set_huge_pages(seg, false);
}

}  // namespace arenalloc
