// Frees that are not the fast local case: blocks freed by other threads (thread_free, or the
// owner's delayed list when the page is parked full), frees into full pages, full pages taken
// over from an idle owner, large and huge blocks, and pointers that are not ours.
#include <cstring>

#include "core/checked.h"
#include "core/heap.h"
#include "core/heap_queues.h"
#include "core/private_heap.h"
#include "diag/report.h"
#include "diag/stats.h"
#include "os/os.h"

namespace arenalloc {
namespace {

// Frees by this thread that found a full page's owner busy (see worth_stealing).
__thread uint32_t tls_steal_misses __attribute__((tls_model("initial-exec")));

// Push a block onto the heap's delayed list (plain links, see heap.h).
void push_delayed(Heap* heap, Block* block) {
  Block* head = heap->delayed_free.load(std::memory_order_relaxed);
  do {
    block->next_encoded = reinterpret_cast<uintptr_t>(head);
  } while (!heap->delayed_free.compare_exchange_weak(head, block, std::memory_order_release,
                                                     std::memory_order_relaxed));
}

// The thread_free word `tf` with `block` pushed onto its list (the block's link written) and the
// count raised.
[[gnu::always_inline]] inline uintptr_t with_pushed(Page* page, Block* block, uintptr_t tf) {
  block->next_encoded = encode(page, thread_free_list(tf));
  return reinterpret_cast<uintptr_t>(block) | ((tf & ~kThreadFreeListMask) + kThreadFreeOne);
}

// Whether the push that replaced `tf` brought the page's thread_free list to half its blocks.
[[gnu::always_inline]] inline bool filled_half(const Page* page, uintptr_t tf) {
  return kReclaimIdlePages && thread_free_count(tf) + 1 == page->reserved / 2;
}

// Hand a freed block (already marked) to the page's owner: onto thread_free, or through the
// owner's delayed list if the page is parked in its full list. Returns whether the page's
// thread_free list has just reached half the page's blocks (once per page and collection).
// This is the general loop; push_remote below makes the common first attempt inline.
[[gnu::noinline]] bool push_remote_contended(Page* page, Block* block) {
  uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
  bool delayed;
  for (unsigned spins = 0;; ++spins) {
    uintptr_t state = tf & kDelayMask;
    uintptr_t desired;
    if (state == kDelayedFreeing) {
      // Another remote free is between its two steps.
      os::spin_pause(spins);
      tf = page->thread_free.load(std::memory_order_relaxed);
      continue;
    }
    if (state == kUseDelayed) {
      desired = (tf & ~kDelayMask) | kDelayedFreeing;
      delayed = true;
    } else {
      desired = with_pushed(page, block, tf);
      delayed = false;
    }
    if (page->thread_free.compare_exchange_weak(tf, desired, std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
      break;
  }
  if (!delayed) return filled_half(page, tf);
  // The page is parked in its owner's full list: hand the block to the owner so it requeues the
  // page. The owner cannot go away meanwhile: abandoning waits for kDelayedFreeing to clear.
  push_delayed(owner_heap(page->owner.load(std::memory_order_acquire)), block);
  page->thread_free.store(kNoDelayed, std::memory_order_release);
  return false;
}

// The common case inline: no delayed-free state to honour (kNoDelayed, or kNeverDelayed for an
// abandoned page) and no lost race. The loop's spin state kept two registers saved on every
// remote free when it was inline.
[[gnu::always_inline]] inline bool push_remote(Page* page, Block* block) {
  uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
  uintptr_t state = tf & kDelayMask;
  if (state == kNoDelayed || state == kNeverDelayed) [[likely]] {
    uintptr_t desired = with_pushed(page, block, tf);
    if (page->thread_free.compare_exchange_weak(tf, desired, std::memory_order_acq_rel,
                                                std::memory_order_relaxed)) [[likely]]
      return filled_half(page, tf);
  }
  return push_remote_contended(page, block);
}

// A thread that only frees another's data (a consumer, or a clean-up thread once the builder
// waits) may be the only one running, and take no fresh memory: it has idleness marked and, if a
// heap is idle, the purger started, which reclaims from heaps idle for kReclaimIdleMs. The purger
// starts even if no heap is idle yet: a thread that hands what it built to another and waits
// becomes idle only kIdleMs after its last refill, and the other may have freed everything by
// then (64 MiB of 256-byte blocks: 15 ms), leaving no remote free to look again. Every block
// stayed resident in the builder's pages until it allocated again (RSS at the peak 1.5 s
// later, and as long as the builder waited). Whoever frees here makes the process
// multi-threaded, so the thread adds none to a program that had one. Starting it allocates
// (pthread_create calls malloc), which gives a thread that had no heap one: that heap goes back
// at once, so that the thread still takes no pages over (see steal_full_page).
[[gnu::noinline]] void remote_frees_filled_half_a_page() {
  os::ErrnoGuard errno_guard;  // the purger may be started
  bool heapless = tls_heap == &g_empty_heap;
  heaps_mark_idle();
  heaps_reclaim_idle(nullptr);
  purger_start_if_needed(true);
  if (heapless) heap_drop_for_thread();
}

// Mark the block freed and hand it to the page's owner, the double-free check done.
[[gnu::always_inline]] inline void mark_and_push_remote(Page* page, Block* block) {
  block->free_mark = free_mark(page, block);
  if (push_remote(page, block)) [[unlikely]]
    remote_frees_filled_half_a_page();
}

[[gnu::always_inline]] inline void free_remote(Page* page, Block* block) {
  // Another thread may free the same block concurrently only in a buggy program; the mark still
  // catches the common sequential double free across threads.
  if (kFastPathChecks && block->free_mark == free_mark(page, block)) [[unlikely]]
    return diag::report_double_free(block, page->block_size);
  mark_and_push_remote(page, block);
}

// A thread that frees into a page parked in another heap's full list takes the page over, so
// that the room the free leaves is used at once by the thread that made it. The owner would
// otherwise reclaim it only when it next runs out of a page, which a thread that has stopped
// allocating (a main thread that built the data and now waits on its workers) never does, while
// the threads freeing its blocks fault in fresh pages to replace them. A full page is out of its
// owner's fast paths, so its full_lock is all the two need to agree on. Checked and private
// heaps keep their pages. A block the owner's delayed list still holds for the page goes to the
// new owner when the old one processes that list.
// A thread that has not allocated (a consumer, a clean-up thread) takes nothing: it would never
// allocate from the pages, and what it did not free in them stayed resident (mimalloc-bench's
// xmalloc-test, 8 threads: peak RSS 137 MiB, 226 MiB when such threads got a heap here). Its
// frees go to the owner, and the purger hands an idle owner's full pages that received them to
// the arena (heaps_release_idle). Returns the heap that took the page, or nullptr.
[[gnu::noinline]] Heap* steal_full_page(Heap* heap, Page* page, uintptr_t owner) {
  Heap* victim = owner_heap(owner);
  if (victim->is_private || (owner & kOwnerChecked)) return nullptr;
  if (!is_thread_heap(heap) || heap->checked) return nullptr;
  victim->full_lock.lock();
  bool stolen = page->owner.load(std::memory_order_relaxed) == owner;
  if (stolen) {
    page_set_delay_state(page, kNoDelayed, false);  // waits out a remote free in flight
    full_lists_remove(victim, page);
    page_set_heap(page, heap);
  }
  victim->full_lock.unlock();
  if (!stolen) return nullptr;
  page_collect_thread_free(page);
  OwnerSlowPath slow_path(heap);
  queue_push_back(heap, page);
  return heap;
}

// Whether a free into a page with this owner should try steal_full_page: the page is parked full
// and its owner is idle (no page refill for kIdleMs). A busy owner takes the page back through
// its delayed list soon, and a producer whose every page its consumer took would go to the arena
// for each new one (bench/prodcons: 2.5x slower). Frees that find a busy owner have idleness
// looked at again now and then (heaps_mark_idle reads the clock).
[[gnu::always_inline]] inline bool worth_stealing(uintptr_t owner) {
  if ((owner & kOwnerFull) == 0) return false;
  if (owner_heap(owner)->idle.load(std::memory_order_relaxed)) [[unlikely]]
    return true;
  if ((++tls_steal_misses & 255) == 0) [[unlikely]]
    heaps_mark_idle();
  return false;
}

// The common case of worth_stealing's answer "no" for a page parked full, decided without the
// general path: a busy owner, and a free other than the one in 256 that looks at idleness again
// (that one, and a free into an idle owner's page, go to worth_stealing).
[[gnu::always_inline]] inline bool busy_owner_keeps_page(uintptr_t owner) {
  if (owner_heap(owner)->idle.load(std::memory_order_relaxed)) return false;
  if (((tls_steal_misses + 1) & 255) == 0) return false;
  ++tls_steal_misses;
  return true;
}

// A free into a page another heap owns (or none).
[[gnu::always_inline]] inline void free_foreign(Heap* heap, Page* page, Block* block) {
  uintptr_t owner = page->owner.load(std::memory_order_relaxed);
  if (worth_stealing(owner))
    if (Heap* taker = steal_full_page(heap, page, owner))
      return heap_free_local(taker, page, block);
  free_remote(page, block);
}

// Free of a block of a page this heap owns, full or not, as `owner` (read once by the caller)
// says. Read again here, a full page's owner could already be 0: the purger may have abandoned
// the page meanwhile (heap_release_full), and the free must then not push onto it.
void free_owned(Heap* heap, Page* page, Block* block, uintptr_t owner) {
  if (owner & kOwnerFull) {
    OwnerSlowPath slow_path(heap);  // the page rejoins the queue
    heap->full_lock.lock();
    bool still_ours = page->owner.load(std::memory_order_relaxed) == (owner_tag(heap) | kOwnerFull);
    if (still_ours) page_unfull(heap, page);
    heap->full_lock.unlock();
    if (!still_ours) return free_foreign(heap, page, block);  // another thread took it
  }
  // A checked heap (debug mode, perturb) hands a freed block out again only once the page's free
  // list has run dry: the longer it waits, the more writes after free the check at reuse catches.
  heap_free_onto(heap, page, block, heap->checked ? &page->local_free : &page->free);
}

// Whether p starts a block of a small page (a link on the delayed list, which are not encoded).
bool is_small_block(const void* p) {
  const Page* page = find_page(p);
  return page != nullptr && page->kind == PageKind::kSmall && small_page_block_start(page, p);
}

// The next block of a delayed list (links there are plain pointers), or nullptr after reporting a
// link that a write after free overwrote (the rest of the list is dropped).
Block* delayed_next(Block* block, const Page* page) {
  Block* next = reinterpret_cast<Block*>(block->next_encoded);
  if (next != nullptr && !is_small_block(next)) [[unlikely]] {
    diag::report_bad_link(next, page->block_size);
    return nullptr;
  }
  return next;
}

}  // namespace

void process_delayed(Heap* heap) {
  if (heap->delayed_free.load(std::memory_order_relaxed) == nullptr) return;
  Block* block = heap->delayed_free.exchange(nullptr, std::memory_order_acquire);
  LockGuard guard(heap->full_lock);
  while (block != nullptr) {
    Page* page = page_of(segment_of(block), block);
    Block* next = delayed_next(block, page);
    uintptr_t owner = page->owner.load(std::memory_order_relaxed);
    if (owner_heap(owner) != heap) {
      (void)push_remote(page, block);  // another thread took the page meanwhile
    } else if (owner & kOwnerFull) {
      // The page's first remote free: it waits in the freed list (see heap.h), the block on
      // local_free, which is the owner's while the page is parked (and its taker's after it,
      // ordered by full_lock).
      if (page->held_in == HeldIn::kFull) page_to_freed(heap, page);
      if (page_push(page, block, &page->local_free)) page_retire(heap, page);
    } else {
      heap_push_local(heap, page, block);  // checked by the remote free that delayed it
    }
    block = next;
  }
}

void free_generic(void* p, Page* page, Heap* heap) noexcept {
  // A test and a tail call before free_known's prologue (six registers saved): free(NULL) and
  // delete of a null pointer, frequent in C and C++ programs, take this way.
  if (!page_map::known(page)) return free_unmapped(p);
  free_known(p, page, heap);
}

namespace {

// Every free_known but the common remote free, with errno saved around it.
[[gnu::noinline]] void free_known_slow(void* p, Page* page, Heap* heap) noexcept {
  os::ErrnoGuard errno_guard;
  uintptr_t owner = page->owner.load(std::memory_order_relaxed);
  switch (page->kind) {
    case PageKind::kSmall:
      // The page was found from p, so the multiply test is exact (a division here was a fifth of
      // the remote-free path in mimalloc-bench's xmalloc-test).
      if (!small_page_block_start(page, p))
        return diag::report_invalid_free(p, "not the start of a block");
      if (checking_wanted() && !checked_free(page, p)) return;
      if (owner_heap(owner) == heap) return free_owned(heap, page, static_cast<Block*>(p), owner);
      return free_foreign(heap, page, static_cast<Block*>(p));
    case PageKind::kLarge:
      if (p != page->start) return diag::report_invalid_free(p, "not the start of a block");
      if (!checked_free(page, p)) return;
      return large_free(heap, page, false);
    case PageKind::kHuge:
      if (p != page->start) return diag::report_invalid_free(p, "not the start of a block");
      if (!checked_free(page, p)) return;
      if (owner != 0) private_heap_forget_huge(page);
      return huge_free(page);
    case PageKind::kFree:
      break;
  }
  diag::report_invalid_free(p, "not allocated, or already freed");
}

}  // namespace

// The common case first: a block of a small page that another heap owns, and that it has not
// parked full or whose busy owner keeps it (a producer's pages fill before its consumer frees
// into them: a third of bench/prodcons's remote frees), no checked mode, no double free. It
// makes no system call, so errno needs no saving, and it keeps to scratch registers: the six
// saved registers and errno's save of the general path were a quarter of a remote free's
// instructions (bench/prodcons, 84 in free_known).
void free_known(void* p, Page* page, Heap* heap) noexcept {
  uintptr_t owner = page->owner.load(std::memory_order_relaxed);
  auto* block = static_cast<Block*>(p);
  if (page->kind == PageKind::kSmall && owner_heap(owner) != heap &&
      small_page_block_start(page, p) && !checking_wanted() &&
      !(kFastPathChecks && block->free_mark == free_mark(page, block))) [[likely]]
    if ((owner & kOwnerFull) == 0 || busy_owner_keeps_page(owner))
      return mark_and_push_remote(page, block);
  free_known_slow(p, page, heap);  // a suspected double free is reported there, errno saved
}

void free_generic_here(void* p, Page* page) noexcept {
  if (!page_map::known(page)) return free_unmapped(p);  // as free_generic, without tls_heap
  free_known(p, page, tls_heap);
}

void large_free(Heap* heap, Page* page, bool vacated) noexcept {
  size_t size = page->block_size;
  stats::large_freed(size);
  // A block freed right after its thread allocated one at least a quarter larger is taken for
  // the old buffer of a growing one (std::vector copies into twice the size, then frees the old).
  // One allocation answers for one free.
  if (vacated || heap->last_large_size >= size + size / 4) {
    if (heap != &g_empty_heap) heap->last_large_size = 0;  // shared: never written
    return arena_free_vacated(page);
  }
  if (large_cache_put(heap, page)) return;
  arena_free_page(page);
}

void free_generic_here(void* p, size_t, Page* page) noexcept {
  free_generic_here(p, page);
}

void free_marked_here(void* p, Page* page) noexcept {
  free_marked(p, page, tls_heap);
}
void free_marked_here(void* p, size_t, Page* page) noexcept {
  free_marked(p, page, tls_heap);
}

void page_retire_here(void*, Page* page) noexcept {
  page_retire(tls_heap, page);
}
void page_retire_here(void*, size_t, Page* page) noexcept {
  page_retire(tls_heap, page);
}

void free_marked(void* p, Page* page, Heap* heap) noexcept {
  os::ErrnoGuard errno_guard;
  OwnerSlowPath slow_path(heap);
  Block* block = static_cast<Block*>(p);
  if (page_contains_free_block(page, block, heap->delayed_free.load(std::memory_order_acquire)))
    return diag::report_double_free(p, page->block_size);
  heap_push_local(heap, page, block);  // the program's data merely looked like the mark
}

void free_not_ours(void* p) noexcept {
  if (p == nullptr) return;
  os::ErrnoGuard errno_guard;
  diag::report_invalid_free(p, "not allocated by arenalloc");
}

void free_unmapped(void* p) noexcept {
  if (p == nullptr) return;  // free(NULL), frequent: answered before the segment map is asked
  Page* page = find_page(p);
  if (page == nullptr) return free_not_ours(p);
  heap_free_in_page(page, p);
}

size_t heap_release_full(Heap* heap) noexcept {
  if (!heap->full_lock.try_lock()) return 0;
  size_t released = 0;
  for_each_parked_page(heap, [&](Page* page) {
    // A page still in kUseDelayed has had no remote free: all its blocks are the owner's. (Freed
    // pages have all had one.)
    if ((page->thread_free.load(std::memory_order_acquire) & kDelayMask) == kUseDelayed) return;
    page_set_delay_state(page, kNeverDelayed, false);  // waits out a remote free in flight
    full_lists_remove(heap, page);
    page_clear_owner(page);
    arena_abandon_page(page);
    ++released;
  });
  if (released != 0) {
    // The first remote free into each of those pages went to the delayed list: hand those blocks
    // to their pages now; the owner gets back the ones of pages it still has.
    Block* block = heap->delayed_free.exchange(nullptr, std::memory_order_acquire);
    while (block != nullptr) {
      Page* page = page_of(segment_of(block), block);
      Block* next = delayed_next(block, page);
      if (owner_heap(page->owner.load(std::memory_order_relaxed)) != heap) {
        (void)push_remote(page, block);
      } else {
        push_delayed(heap, block);
      }
      block = next;
    }
  }
  heap->full_lock.unlock();
  return released;
}

}  // namespace arenalloc
