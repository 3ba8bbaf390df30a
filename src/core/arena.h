// Arenas.
//
// An arena is a locked pool of segments. Heaps (one per thread) are spread over the arenas
// round-robin and come here only on slow paths: for a fresh page, to return an empty page, for a
// large block, and to abandon pages at thread exit. The lock is never taken per block.
//
// Free slices stay "dirty" (resident) for the purge delay after they are freed, so a burst that
// frees and reallocates does not cost madvise calls and page faults; after the delay they are
// purged (MADV_DONTNEED by default). A segment that becomes entirely free and clean is handed to
// a process-wide pool of empty segments that every arena draws from before mapping new ones.
//
// Abandoned pages (still holding live blocks when their thread exited) wait in per-class lists
// until a heap of this arena needs a page of that class and adopts them; maintenance also sweeps
// them, returning those whose blocks have all been freed by other threads meanwhile.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/config.h"
#include "core/lock.h"
#include "core/page.h"
#include "core/segment.h"
#include "core/size_class.h"

namespace arenalloc {

struct PageList {
  Page* first = nullptr;
  Page* last = nullptr;
  void push_front(Page* p);
  void push_back(Page* p);
  void remove(Page* p);
  Page* pop_front();
  bool empty() const { return first == nullptr; }
};

// Every member has a constant initialiser, so the arena table is constant-initialised (.bss):
// no start-up code touches the arenas a process never uses.
struct Arena {
  Lock lock;
  Segment* segments = nullptr;  // doubly linked through Segment::next/prev
  PageList abandoned[kClassCount];
  // Written under the lock; read without it to skip arenas with nothing to do.
  std::atomic<size_t> abandoned_count{0};
  std::atomic<uint64_t> next_maintenance_ms{0};  // 0: maintain at the first chance
  size_t dirty_slices = 0;
  // Slices handed out to pages and large blocks; written under the lock, read without it.
  std::atomic<size_t> used_slices{0};
};

// Process-wide arena table (core/arena.cpp).
Arena* arena_at(size_t index);
// Position in the table; SIZE_MAX for an arena outside it (a private heap's).
size_t arena_index(const Arena* arena);
// The arena for a thread's new heap (round-robin over arena_count()).
Arena* arena_for_new_heap();
// Arenas [0, arenas_in_use()) have been handed to heaps; the others are untouched.
size_t arenas_in_use();
// Of those, the arenas whose pages and large blocks hold at least `bytes`.
size_t arenas_holding(size_t bytes);
size_t arena_count();
void arenas_init(size_t count);
void arenas_set_count(size_t count);  // for threads created later

// Slow paths; each takes the arena lock.
Page* arena_take_span(Arena* arena, size_t slices, size_t align_slices);  // kind left kFree
void arena_free_page(Page* page);  // page of any kind but huge: slices back to its arena
// A large block that a growing buffer has left: realloc has just copied it elsewhere, or its
// thread has just allocated a larger one (see large_free in free.cpp). Its memory holds nothing
// the program needs, and the purge delay would keep it resident beside the copy, so it is purged
// at once. Unless the program has freed a large block at least this size the ordinary way (it
// cycles large blocks, and reuses such memory: bench/large, where a free after a larger malloc
// is mostly not a buffer's growth, ran 12% longer without this), or a block at least its size
// was vacated within the purge delay (a program that grows buffers that often reuses the memory
// before the delay is out). Either way it is freed as any block, spared a purge and a refault.
void arena_free_vacated(Page* page);
// Whether a large block of at least `size` bytes was freed the ordinary way (not vacated): the
// program cycles blocks that large.
bool large_blocks_freed(size_t size);
// Note a large block freed the ordinary way, for large_blocks_freed (arena_free_page does it for
// a kLarge page; a block the heap keeps instead says so here).
void arena_note_large_freed(const Page* page);
// An abandoned page of the class for `heap`: from its own arena first, then from any other.
Page* arena_adopt_abandoned(Arena* home, size_t size_class, Heap* heap);
void arena_abandon_page(Page* page);  // page->owner already cleared
// Grow a large block in place to `slices` slices if the slices after it are free.
bool arena_grow_large(Page* page, size_t slices);
// Shrink a large block in place to `slices` slices, releasing its tail.
void arena_shrink_large(Page* page, size_t slices);
// Purge due dirty slices and sweep abandoned pages; `force` purges everything now. Returns the
// bytes purged. Arenas are also maintained when due by any thread's slow path, so memory of an
// arena no thread uses any more is still purged.
size_t arena_maintain(Arena* arena, bool force, size_t keep_bytes = 0);

// Maintain every arena whose deadline has passed (any thread, outside arena locks; arenas whose
// lock is busy are left for the next caller).
void arenas_maintain_due() noexcept;
// The same for one arena outside the table (a private heap's): try_lock, maintain if due.
void arena_try_maintain_due(Arena* arena) noexcept;
// The background purger (core/purger.cpp): started once freed memory waits to be purged, so it
// goes back to the OS after purge_delay even if the program stops calling the allocator; or,
// with `reclaim_pending`, once an idle heap's pages may wait to be reclaimed (heaps_reclaim_idle).
void purger_start_if_needed(bool reclaim_pending = false) noexcept;
void purger_after_fork_child() noexcept;
// Bytes of freed memory waiting to be purged, over all arenas.
size_t arenas_dirty_bytes() noexcept;
// Bytes of slices handed out to pages and large blocks, over all arenas.
size_t arenas_used_bytes() noexcept;

// Drop every block of the arena at once (a private heap's reset or destroy). Reset
// (keep_segments): the slices become free and dirty, purged after the delay. Destroy: purged now,
// the segments go to the pool of empty segments.
void arena_discard_all(Arena* arena, bool keep_segments);

// fork(): hold every arena lock across fork, then release (parent) or reset (child).
void arenas_lock_all();
void arenas_unlock_all();
void arenas_reset_locks();

}  // namespace arenalloc
