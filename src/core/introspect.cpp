// Statistics snapshot: walks every arena's segments and page descriptors (see diag/stats.h).
#include <bit>

#include "core/arena.h"
#include "core/heap.h"
#include "diag/stats.h"
#include "os/os.h"

namespace arenalloc::stats {
namespace {

void add_segment(const Segment* seg, ArenaStats& a, ClassStats* classes) {
  a.segments++;
  a.bytes_reserved += kSegmentSize;
  for (size_t w = 0; w < kSliceWords; ++w)
    a.bytes_dirty += uint64_t(std::popcount(seg->dirty_mask[w])) << kSliceShift;
  bool in_run = false;
  for (size_t i = kFirstUsableSlice; i < kSlicesPerSegment; ++i) {
    bool free = slice_is_free(seg, i);
    if (free && !in_run) a.free_runs++;
    in_run = free;
    if (free) continue;
    const Page* page = seg->slice_page[i];
    if (page->first_slice != i) continue;
    a.bytes_committed += size_t{page->slice_count} << kSliceShift;
    // Owners update `used` without synchronisation: the figure is a moment's estimate.
    // One read of `used` (a kept page carries kKeptBias in it; no live page has 2^30 blocks).
    uint32_t used = __atomic_load_n(&page->used, __ATOMIC_RELAXED);
    if (used >= kKeptBias) used -= kKeptBias;
    if (page->kind == PageKind::kSmall) {
      a.small_pages++;
      a.bytes_in_use += uint64_t{used} * page->block_size;
      ClassStats& c = classes[page->size_class];
      c.pages++;
      c.blocks_in_use += used;
      c.blocks_free += page->reserved - used;
    } else if (page->kind == PageKind::kLarge) {
      a.large_blocks++;
      a.bytes_in_use += page->block_size;
    }
  }
  a.bytes_committed += a.bytes_dirty;
}

}  // namespace

void take_snapshot(Snapshot* out) noexcept {
  *out = Snapshot{};
  out->arena_count = arena_count();
  for (size_t i = 0; i < arenas_in_use(); ++i) {
    Arena* arena = arena_at(i);
    ArenaStats& a = out->arenas[i];
    {
      LockGuard guard(arena->lock);
      for (Segment* seg = arena->segments; seg != nullptr; seg = seg->next)
        add_segment(seg, a, out->classes);
      a.abandoned_pages = arena->abandoned_count.load(std::memory_order_relaxed);
    }
    out->bytes_in_use += a.bytes_in_use;
    out->bytes_committed += a.bytes_committed;
    out->bytes_dirty += a.bytes_dirty;
    out->bytes_reserved += a.bytes_reserved;
  }
  Global& g = global();
  out->huge_count = g.huge_count.load(std::memory_order_relaxed);
  out->huge_bytes = g.huge_bytes.load(std::memory_order_relaxed);
  out->huge_peak_count = g.huge_peak_count.load(std::memory_order_relaxed);
  out->huge_peak_bytes = g.huge_peak_bytes.load(std::memory_order_relaxed);
  out->segments_mapped = g.segments_mapped.load(std::memory_order_relaxed);
  out->bytes_purged = g.bytes_purged.load(std::memory_order_relaxed);
  os::SyscallCounts sc = os::syscall_counts();
  out->mmap_calls = sc.mmap;
  out->munmap_calls = sc.munmap;
  out->madvise_calls = sc.madvise;
  out->mremap_calls = sc.mremap;
  out->brk_calls = sc.brk;
  out->rss = os::resident_bytes();
  out->peak_rss = os::peak_resident_bytes();
}

}  // namespace arenalloc::stats
