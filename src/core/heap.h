// Heaps: one per thread, owning the pages it allocates from.
//
// The heap is reached through an initial-exec TLS pointer that starts out pointing at a static
// empty heap whose direct pointers all lead to an empty page: the malloc fast path therefore
// needs no "is this thread initialised?" test. Its first pop fails, and the slow path gives the
// thread a real heap.
//
//   direct[(n+7)/8]   for n <= 1 KiB, the page to pop from (the head of that class's queue)
//   queues[class]     pages with (probably) free blocks, most useful first
//   full              pages with no free block; their remote frees come via delayed_free
//   freed[class]      full pages that other threads have freed into since, oldest first
//   delayed_free      blocks other threads freed into full pages (atomic stack, see page.h)
//
// A full page's first remote free reaches the owner through delayed_free; the owner then moves
// the page from `full` to its class's `freed` list, and takes it back from there when the
// class's queue has no free block, before a page of the queue carves more. Until then the page is
// out of the fast paths and under full_lock, so another heap that would otherwise fault in fresh
// memory may take it instead (heaps_take_freed in process.cpp). A producer that is descheduled or
// waiting on its consumers would otherwise keep all the memory it handed out, every block freed,
// until it runs again (mimalloc-bench's xmalloc-test with 8 producers on 2 cores: the sum of every
// producer's last burst resident).
//
// Only the owner thread touches a heap, with one exception: its full and freed pages. Besides
// the heaps that take freed pages, a thread that frees into a page parked full by an owner that
// has not refilled a page for a while (a main thread that built the data and now waits on its
// workers) takes the page over (see steal_full_page in free.cpp), and the purger abandons to
// their arenas the full pages of idle heaps that others freed into (heaps_release_idle).
// `full_lock` orders all of them against the owner's moves into and out of those lists; the
// fast paths never touch full pages.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/arena.h"
#include "core/lock.h"
#include "core/page.h"
#include "core/page_map.h"
#include "core/segment.h"
#include "core/size_class.h"

namespace arenalloc {

struct Heap {
  Page* direct[kDirectCount];
  PageList queues[kClassCount];
  PageList full;
  PageList freed[kClassCount];
  // A bit per class whose freed list is not empty: written under full_lock, read without it.
  std::atomic<uint64_t> freed_classes[(kClassCount + 63) / 64];
  std::atomic<Block*> delayed_free;
  Arena* arena;
  uint64_t random;
  uint32_t thread_id;
  uint8_t checked;     // every malloc and free of this heap takes the slow path (perturb, debug)
  uint8_t is_private;  // a private heap's (core/private_heap.h): never adopts abandoned pages
  Heap* next_free;     // in the pool of unused heaps
  uintptr_t thread;    // the owning thread's thread pointer; 0 for a private heap
  Lock full_lock;      // the full list and its pages' owner fields (see above)
  // Kept pages yield to other classes (review_kept_pages in heap.cpp): kept_idle has a bit per
  // class whose kept page was empty at the last review and has not been allocated from since.
  uint32_t pages_taken;
  uint64_t kept_idle[(kClassCount + 63) / 64];
  // The size of this heap's last large or huge allocation, until a free takes it as the step of
  // a growing buffer (see large_free); 0 then.
  size_t last_large_size;
  // Idleness, for steal_full_page (free.cpp): the owner counts its page refills and clears
  // `idle`; heaps_mark_idle sets it once `refills` has not moved for kIdleMs (seen_* are its
  // notes, under the heap pool's lock). `idle` is read on other threads' frees: its cache line
  // is not one the owner writes.
  std::atomic<uint32_t> refills{0};
  alignas(64) std::atomic<uint8_t> idle{0};
  std::atomic<uint64_t> idle_since_ms{0};  // when the refills last seen moving were seen
  uint32_t seen_refills = 0;
  uint64_t seen_ms = 0;
  // Reclaiming an idle heap's empty pages (heap_reclaim_empty): the owner raises in_slow_path
  // around each of its slow paths that touch its queues (OwnerSlowPath), a reclaimer raises
  // frozen; each looks at the other's flag after raising its own, so the two never overlap.
  // slow_depth counts the owner's nested slow paths (owner only). A line of their own: the owner
  // writes in_slow_path on every slow path, and others read `idle` on their frees.
  alignas(64) std::atomic<uint8_t> in_slow_path{0};
  std::atomic<uint8_t> frozen{0};
  uint32_t slow_depth = 0;
  // The large block this thread freed last, kept for its next large malloc of the same size
  // (large.cpp). The owner puts one; any thread may take it (an exchange).
  std::atomic<Page*> large_cache{nullptr};
};

// The calling thread's thread pointer: what Page::owner_thread holds for its pages.
[[gnu::always_inline]] inline uintptr_t this_thread() {
  return reinterpret_cast<uintptr_t>(__builtin_thread_pointer());
}

// What Page::owner holds for a page of this heap (not in the full list).
inline uintptr_t owner_tag(const Heap* heap) {
  return reinterpret_cast<uintptr_t>(heap) | (heap->checked ? kOwnerChecked : 0);
}

// What Page::owner_thread holds for a page of this heap (not in the full list).
inline uintptr_t owner_thread_tag(const Heap* heap) {
  return heap->thread | (heap->checked ? kOwnerChecked : 0);
}

// Give the page to the heap; bits: kOwnerFull for its full list.
inline void page_set_heap(Page* page, const Heap* heap, uintptr_t bits = 0) {
  page_set_owner(page, owner_tag(heap) | bits, owner_thread_tag(heap) | bits);
}

extern Heap g_empty_heap ARENALLOC_HIDDEN;
extern Page g_empty_page ARENALLOC_HIDDEN;
extern __thread Heap* tls_heap ARENALLOC_HIDDEN __attribute__((tls_model("initial-exec")));

// ---- slow paths (heap.cpp, free.cpp, large.cpp) ----
[[gnu::noinline]] void* malloc_generic(size_t n, Heap* heap) noexcept;
[[gnu::noinline]] void free_generic(void* p, Page* page, Heap* heap) noexcept;
// free_generic for a page the page map knows.
[[gnu::noinline]] void free_known(void* p, Page* page, Heap* heap) noexcept;
[[gnu::noinline]] void page_retire(Heap* heap, Page* page) noexcept;
// free_generic, page_retire and free_marked for the calling thread's heap: they read tls_heap
// there, so that the free fast path need not (two instructions). Each takes the page after the
// caller's own arguments (a sized free's size, which it ignores), so that the fast path computes
// the page straight into the register every exit wants it in and keeps the size where it came:
// no register moves on the fast path (sized delete 58 -> 57 instructions with its call).
[[gnu::noinline]] void free_generic_here(void* p, Page* page) noexcept;
[[gnu::noinline]] void free_generic_here(void* p, size_t size, Page* page) noexcept;
[[gnu::noinline]] void page_retire_here(void* p, Page* page) noexcept;
[[gnu::noinline]] void page_retire_here(void* p, size_t size, Page* page) noexcept;
[[gnu::noinline]] void free_marked_here(void* p, Page* page) noexcept;
[[gnu::noinline]] void free_marked_here(void* p, size_t size, Page* page) noexcept;
// Free a large block, checks done. `vacated`: realloc has just copied it elsewhere. Such a block,
// or one its thread has just outgrown, goes back at once (arena_free_vacated).
void large_free(Heap* heap, Page* page, bool vacated) noexcept;
[[gnu::noinline]] void free_not_ours(void* p) noexcept;
// A free of a pointer the page map does not know (its lookup found the sentinel): nullptr, one
// of ours that the map does not cover, or not ours at all.
[[gnu::noinline]] void free_unmapped(void* p) noexcept;
// A local free that found the block's free mark: a double free, unless the program's data
// happened to look like the mark.
[[gnu::noinline]] void free_marked(void* p, Page* page, Heap* heap) noexcept;

// The page's free list leads out of the page: report it and drop the list (its blocks leak).
[[gnu::noinline]] void free_list_corrupted(Page* page) noexcept;
// A page with a free block for class c: from the queue, an abandoned page, a larger class that
// lends one (its blocks aligned to `align`; 0: none may lend), or the arena.
Page* heap_find_page(Heap* heap, size_t size_class, size_t align) noexcept;
// Blocks above kMaxClassSize: a span of slices, or a huge mapping above the mmap threshold.
// `is_zero` only for calloc (nullptr otherwise): set to whether the block is known to be zero.
void* large_alloc(Heap* heap, size_t n, size_t align, bool* is_zero) noexcept;
// A large block freed the ordinary way (checks done, stats counted): kept as the heap's cached
// large block if it may be, and true then; the block the cache held before goes to the arena.
bool large_cache_put(Heap* heap, Page* page) noexcept;
// The heap's cached large block back to its arena, if it holds one (any thread).
void large_cache_flush(Heap* heap) noexcept;
// The same for every thread's heap (malloc_trim; process.cpp).
void heaps_flush_large_caches() noexcept;
// A block of n bytes in a mapping of its own whatever its size; nullptr if none can be had
// (mmap_max reached, out of memory), errno untouched.
void* huge_alloc_block(size_t n) noexcept;
// Collect remote frees on this heap's pages, return empty ones (malloc_trim).
void heap_collect(Heap* heap) noexcept;
// Thread exit: give the heap's pages back or abandon them to the arena.
void heap_abandon(Heap* heap) noexcept;
// The calling thread's heap, created on first use; nullptr only if out of memory.
Heap* heap_for_thread() noexcept;
// Give the calling thread's heap back as its exit would (abandoned, to the pool), and leave the
// thread without one, as before its first allocation.
void heap_drop_for_thread() noexcept;
// Fork child: abandon the heaps of the threads that did not survive the fork (process.cpp).
void heaps_abandon_others(Heap* keep) noexcept;
// Mark idle the heaps whose owner has not refilled a page for kIdleMs, and not idle the others.
// At most once per kIdleMs / 2; never waits for a lock (process.cpp).
void heaps_mark_idle() noexcept;
// Maintenance (the purger): abandon to their arenas the full pages that other threads freed
// blocks into, of every heap marked idle, so that their memory goes back to the arenas once
// freed (a thread that stopped allocating never processes those frees). heap_release_full does
// one heap (free.cpp); 0 if its full_lock is taken.
void heaps_release_idle() noexcept;
size_t heap_release_full(Heap* heap) noexcept;
// A page of class c from another thread's heap's freed list, for `thief`, which would otherwise
// fault in fresh memory; nullptr if none can be had without waiting (process.cpp).
Page* heaps_take_freed(Heap* thief, size_t c) noexcept;
inline constexpr uint64_t kIdleMs = 5;
// Fork child: a remote free caught mid-way (kDelayedFreeing) by the fork never completes; let
// the heap's pages go on as if it had (its queues' pages too if `queues_whole`).
void heap_unstick_after_fork(Heap* heap, bool queues_whole) noexcept;
// Allocate a block of class c (any size class, not only the direct ones), or of a larger class
// whose blocks are aligned to `align` too (see lending_page). `heap` is a made heap, not the
// shared empty one, and not a checked one: the callers make the thread's heap first and send a
// checked heap to checked_malloc.
void* heap_malloc_class(Heap* heap, size_t size_class, size_t align) noexcept;
// Clear class c's kept_idle bit and give it its direct pointers back.
[[gnu::noinline]] void heap_class_not_idle(Heap* heap, size_t c) noexcept;
// Empty queues, full list and delayed list; direct pointers to the empty page (a new heap, a
// private heap's reset).
void heap_reset_lists(Heap* heap) noexcept;
// Whether class c's freed list has pages (without full_lock: a hint, to be confirmed under it).
inline bool heap_has_freed(const Heap* heap, size_t c) noexcept {
  return (heap->freed_classes[c / 64].load(std::memory_order_relaxed) >> (c % 64)) & 1;
}
// Whether class c's kept page was found empty by the last review (kept_idle).
inline bool heap_class_watched(const Heap* heap, size_t c) noexcept {
  return (heap->kept_idle[c / 64] >> (c % 64)) & 1;
}
// Class c is allocated from through the slow path: its kept page, if any, is not idle.
inline void heap_note_class_used(Heap* heap, size_t c) noexcept {
  if (heap_class_watched(heap, c)) [[unlikely]]
    heap_class_not_idle(heap, c);
}
// Make the heap checked or not (mallopt(M_PERTURB) for the calling thread; see core/checked.h).
void heap_set_checked(Heap* heap, bool checked) noexcept;

// Reclaim: a thread about to take fresh memory, or the purger, looks at the heaps of threads that
// have gone idle (a main thread that built the data and now waits on its workers) for pages other
// than a class's current one whose every handed-out block has come back through thread_free.
// Only their owner would collect those blocks, and it does not allocate: the pages would stay
// resident, every block free (mimalloc-bench's larson with 8 threads: 275 of the main thread's
// pages, 15.8 MiB). Such a page is safe to take without the owner's help: it has no live block,
// so neither the owner's free fast path nor a remote free can reach it, and the malloc fast path
// only pops from a class's current page; the owner's slow paths are kept out by OwnerSlowPath.
// Returns the number of pages given back to their arenas.
size_t heap_reclaim_empty(Heap* victim) noexcept;
// heap_reclaim_empty on every heap but `self` idle for kReclaimIdleMs, at most once per
// kReclaimPeriodMs (process.cpp), by a thread about to take fresh memory; an idle heap not
// reclaimed from (too recently idle, or `self` nullptr: a remote free that has just filled half a
// page's thread_free list) starts the purger, which looks again.
void heaps_reclaim_idle(Heap* self) noexcept;
inline constexpr uint64_t kReclaimPeriodMs = 50;
// How long a heap must have been idle (no page refill) before its pages are reclaimed.
inline constexpr uint64_t kReclaimIdleMs = 100;
// x86-64's store order makes the owner's free visible before its count falls (page_push); the
// thread sanitizer would see the reclaimer's reads of `used` as races.
#if defined(__x86_64__) && !defined(ARENALLOC_TSAN)
inline constexpr bool kReclaimIdlePages = true;
#else
inline constexpr bool kReclaimIdlePages = false;
#endif

// Whether the heap is a thread's own: neither the shared empty heap nor a private heap (those
// never take other threads' pages, nor have theirs reclaimed).
inline bool is_thread_heap(const Heap* heap) {
  return heap != &g_empty_heap && !heap->is_private;
}

// A reclaimer is looking at the heap: step back until it is done.
[[gnu::noinline]] void heap_wait_unfrozen(Heap* heap) noexcept;

// The owner's side of the exclusion with heap_reclaim_empty, around a slow path that touches the
// heap's queues. Nests. The shared empty heap and private heaps are never reclaimed from. The
// flag also tells a fork child which threads were changing their queues when the process forked
// (heaps_abandon_others).
class OwnerSlowPath {
 public:
  explicit OwnerSlowPath(Heap* heap) noexcept : heap_(is_thread_heap(heap) ? heap : nullptr) {
    if (heap_ == nullptr || heap_->slow_depth++ != 0) return;
    heap_->in_slow_path.store(1, std::memory_order_seq_cst);
    if (heap_->frozen.load(std::memory_order_seq_cst) != 0) [[unlikely]]
      heap_wait_unfrozen(heap_);
  }
  ~OwnerSlowPath() {
    if (heap_ != nullptr && --heap_->slow_depth == 0)
      heap_->in_slow_path.store(0, std::memory_order_release);
  }
  OwnerSlowPath(const OwnerSlowPath&) = delete;
  OwnerSlowPath& operator=(const OwnerSlowPath&) = delete;

 private:
  Heap* heap_;
};

// ---- fast paths ----

[[gnu::always_inline]] inline void* heap_pop(Page* page) {
  Block* block = page->free;
  page->free = decode(page, block->next_encoded);
  if constexpr (kFastPathChecks) block->free_mark = 0;
  ++page->used;
  return block;
}

// Whether a block on the page's free list lies in the page's segment (page descriptors live in
// their segment's header). A use-after-free write over a freed block's link decodes to a wild
// address, which this stops before malloc follows it; and null (an empty list) fails it too, so
// the malloc fast path makes one test for both (the slow path tells them apart).
[[gnu::always_inline]] inline bool in_page_segment(const Page* page, const Block* block) {
  return ((reinterpret_cast<uintptr_t>(page) ^ reinterpret_cast<uintptr_t>(block)) >>
          kSegmentShift) == 0;
}

// The page malloc pops from, held in a register other than the return value's. Left to itself,
// GCC loads the page into rax, the return register (the direct index was computed there), and
// must then copy the block into rax at the end: one instruction of malloc's 17. An empty asm
// that names rcx for it (x86-64 only; it emits nothing) steers the allocator, and the block is
// loaded straight into rax.
[[gnu::always_inline]] inline Page* pinned_off_return_register(Page* page) {
#if defined(__x86_64__)
  asm("" : "+c"(page));
#endif
  return page;
}

// A block of n bytes from the class's current page, or nullptr where malloc_generic must answer
// (n above the direct sizes, the page's list empty, or its link corrupt).
[[gnu::always_inline]] inline void* heap_malloc_direct(Heap* heap, size_t n) noexcept {
  if (n <= kDirectMax) [[likely]] {
    Page* page = pinned_off_return_register(heap->direct[direct_index(n)]);
    if (kFastPathChecks ? in_page_segment(page, page->free) : page->free != nullptr) [[likely]]
      return heap_pop(page);
  }
  return nullptr;
}

[[gnu::always_inline]] inline void* heap_malloc(Heap* heap, size_t n) noexcept {
  if (void* p = heap_malloc_direct(heap, n)) [[likely]]
    return p;
  return malloc_generic(n, heap);
}

// Push onto one of the page's owner lists, without the double-free check (the caller did it);
// true if that emptied the page (the caller retires it).
[[gnu::always_inline]] inline bool page_push(Page* page, Block* block, Block** list) noexcept {
  if constexpr (kFastPathChecks) block->free_mark = free_mark(page, block);
  block->next_encoded = encode(page, *list);
  *list = block;
  // The count falls last: a reclaimer that sees it fall sees the push (heap_reclaim_empty).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return --page->used == 0;
}

[[gnu::always_inline]] inline void heap_push_onto(Heap* heap, Page* page, Block* block,
                                                  Block** list) noexcept {
  if (page_push(page, block, list)) [[unlikely]]
    page_retire(heap, page);
}

// The owner's free: onto `free`, so the next malloc of the class from this page gets the block
// freed last, still in cache (see page.h).
[[gnu::always_inline]] inline void heap_push_local(Heap* heap, Page* page, Block* block) noexcept {
  heap_push_onto(heap, page, block, &page->free);
}

// The owner's free onto one of its lists: the double-free check, then the push.
[[gnu::always_inline]] inline void heap_free_onto(Heap* heap, Page* page, Block* block,
                                                  Block** list) noexcept {
  if (kFastPathChecks && block->free_mark == free_mark(page, block)) [[unlikely]]
    return free_marked(block, page, heap);
  heap_push_onto(heap, page, block, list);
}

[[gnu::always_inline]] inline void heap_free_local(Heap* heap, Page* page, void* p) noexcept {
  heap_free_onto(heap, page, static_cast<Block*>(p), &page->free);
}

// Whether the calling thread owns the page, not full and not checked, as the free fast path asks:
// then the page's heap is this thread's (tls_heap). A plain read rather than an atomic one: it
// may race with an arena handing an abandoned page to another thread, which changes no answer
// (neither value is this thread's), and the compiler then folds the load into the comparison.
// Sanitizer builds read it atomically, as everywhere else.
[[gnu::always_inline]] inline bool owned_here(const Page* page) {
#if defined(ARENALLOC_TSAN)
  return page->owner_thread.load(std::memory_order_relaxed) == this_thread();
#else
  return *reinterpret_cast<const uintptr_t*>(&page->owner_thread) == this_thread();
#endif
}

// Free p, known to be in one of our segments, whose page is `page`: heap_free_local for the
// calling thread's heap, spelt out so that the fast path never needs the heap's address (its
// slow exits read it). `size`: a sized free's size, passed on to the exits (see
// free_generic_here).
template <typename... Size>
[[gnu::always_inline]] inline void heap_free_in_page(Page* page, void* p, Size... size) noexcept {
  if (owned_here(page) && (!kFastPathChecks || small_page_block_start(page, p))) [[likely]] {
    Block* block = static_cast<Block*>(p);
    if (kFastPathChecks && block->free_mark == free_mark(page, block)) [[unlikely]]
      return free_marked_here(p, size..., page);
    if (page_push(page, block, &page->free)) [[unlikely]]
      page_retire_here(p, size..., page);
    return;
  }
  free_generic_here(p, size..., page);
}

// An address the page map does not know (nullptr among them) finds its sentinel page, which no
// heap owns: free_generic sends it on to free_unmapped.
[[gnu::always_inline]] inline void heap_free(void* p) noexcept {
  heap_free_in_page(page_map::lookup(p), p);
}

}  // namespace arenalloc
