// Heap slow paths on the allocation side: finding a page with free blocks, the page queues and
// the full list, retiring empty pages, and abandoning a heap at thread exit (frees: free.cpp).
#include "core/heap.h"

#include <errno.h>

#include <cstring>
#include <utility>

#include "core/checked.h"
#include "core/heap_queues.h"
#include "core/private_heap.h"
#include "diag/options.h"
#include "diag/report.h"
#include "diag/stats.h"

namespace arenalloc {

Page g_empty_page{};

namespace {
template <size_t... I>
constexpr Heap make_empty_heap(std::index_sequence<I...>) {
  // direct, queues, full, freed, freed_classes, delayed_free, arena, random, thread_id, checked,
  // is_private, next_free, thread, full_lock, pages_taken, kept_idle, refills, idle, seen_refills
  return Heap{{((void)I, &g_empty_page)...},
              {},
              {},
              {},
              {},
              {},
              nullptr,
              0,
              0,
              0,
              0,
              nullptr,
              {},
              {},
              0,
              {},
              {},
              0,
              0};
}
}  // namespace

// Constant-initialised: the fast path may read it before any constructor runs.
constinit Heap g_empty_heap = make_empty_heap(std::make_index_sequence<kDirectCount>{});
__thread Heap* tls_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

namespace {

uint64_t next_key(Heap* heap) {
  // xorshift64*: page keys need to be unpredictable from outside, not cryptographic.
  uint64_t x = heap->random;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  heap->random = x;
  return x * 0x2545F4914F6CDD1Dull;
}

void update_direct(Heap* heap, size_t c) {
  if (class_size(c) > kDirectMax) return;
  Page* page = heap->queues[c].first;
  if (page == nullptr || heap->checked || heap_class_watched(heap, c)) page = &g_empty_page;
  for (size_t i = class_direct_first(c); i <= class_direct_last(c); ++i) heap->direct[i] = page;
}

// A class's kept page (see page_kept) stops being special once another page joins the queue;
// if it is empty by then it goes back to the arena.
void unkeep(Heap* heap, PageList& q) {
  Page* first = q.first;
  if (first == nullptr || !page_kept(first)) return;
  page_unkeep(first);
  if (first->used == 0) {
    q.remove(first);
    first->held_in = HeldIn::kNone;
    arena_free_page(first);
  }
  (void)heap;
}

void queue_push_front(Heap* heap, Page* page) {
  if (heap->queues[page->size_class].first != page) unkeep(heap, heap->queues[page->size_class]);
  heap->queues[page->size_class].push_front(page);
  page->held_in = HeldIn::kQueue;
  update_direct(heap, page->size_class);
}

void queue_remove(Heap* heap, Page* page) {
  PageList& q = heap->queues[page->size_class];
  bool was_first = q.first == page;
  q.remove(page);
  page->held_in = HeldIn::kNone;
  if (was_first) update_direct(heap, page->size_class);
}

// Park a page that has no free block in the full list. False if remote frees arrived meanwhile
// (the caller collects them instead).
bool page_to_full(Heap* heap, Page* page) {
  if (!page_set_delay_state(page, kUseDelayed, true)) return false;
  if (size_t c = page->size_class; c > 0 && is_packing_class(c - 1)) [[unlikely]]
    use_packing_class(c - 1);              // a page's worth of blocks of the class above it
  if (page_kept(page)) page_unkeep(page);  // a full page is not empty: it retires once freed
  queue_remove(heap, page);
  LockGuard guard(heap->full_lock);
  heap->full.push_back(page);
  page->held_in = HeldIn::kFull;
  page_set_heap(page, heap, kOwnerFull);
  return true;
}

// Move a page of the queue to its front, as the class's current page.
Page* make_current(Heap* heap, Page* page) {
  if (heap->queues[page->size_class].first != page) {
    queue_remove(heap, page);
    queue_push_front(heap, page);
  }
  return page;
}

// Make a page that was just taken out of another list the heap's current page of its class.
// Returns it, or nullptr if it has no free block after all (then it is parked full).
Page* use_page(Heap* heap, Page* page) {
  page_collect(page);
  if (page->free == nullptr && page->capacity < page->reserved) page_extend(page);
  queue_push_front(heap, page);
  for (;;) {
    if (page->free != nullptr) return page;
    if (page_to_full(heap, page)) return nullptr;
    page_collect(page);  // remote frees arrived while parking it
  }
}

// Every kKeptReviewPages pages a heap takes from the arena, it reviews its kept pages: one that
// is empty and was empty at the review before, with no allocation from its class in between,
// goes back to the arena, so that a class the program has moved on from lends its memory to the
// classes it uses now (bench/glibc_simple: a batch of 1600 blocks of each size in turn, where
// glibc reuses one batch's memory for the next). A page found empty the first time is watched:
// its class's direct pointers lead to the empty page, so that the next malloc of the class takes
// the slow path and clears the watch (heap_note_class_used). Emptiness alone is not enough: in
// bench/glibc_thread classes with two blocks live on average are empty now and then, and a page
// given back and taken again lands elsewhere while another class takes the old one (peak RSS
// 9.3 -> 14.8 MiB). A malloc/free loop, which kept pages are for, takes no pages: reviews do not
// reach it.
constexpr uint32_t kKeptReviewPages = 8;

void review_kept_pages(Heap* heap) {
  for (size_t c = 0; c < kClassCount; ++c) {
    Page* page = heap->queues[c].first;
    bool empty = page != nullptr && page_kept(page) && page_used(page) == 0;
    if (!empty) {
      if (heap_class_watched(heap, c)) heap_class_not_idle(heap, c);
    } else if (!heap_class_watched(heap, c)) {
      heap->kept_idle[c / 64] |= uint64_t{1} << (c % 64);
      update_direct(heap, c);
    } else {
      heap_class_not_idle(heap, c);
      page_unkeep(page);
      queue_remove(heap, page);
      arena_free_page(page);
    }
  }
}

// Above the direct sizes, a class's current page is the fullest of the first kCandidatePages pages
// of its queue that have free blocks, so that blocks gather in few pages and the emptiest drain
// and go back to the arena (the whole queue is one class's, and a page is retired only once all
// its blocks are free). In bench/realloc_growth, where a thousand buffers move from class to class
// as they grow, the classes of 4-16 KiB held their blocks in pages 56-73% used (peak RSS 10.4 MiB;
// the fullest of 8: 9.9). A nearly full page is not preferred to one seen before it: it would be
// used up at once and send malloc back here. Not in the direct sizes, whose pages hold 64 blocks
// and more: bench/handoff (8-1000 B) ran 5-13% longer in four A/B runs for the same instructions,
// likely because the fullest page's free blocks lie scattered between live ones.
constexpr size_t kCandidatePages = 8;
bool nearly_full(const Page* page) {
  return page_used(page) * 8 > page->reserved * 7;
}
bool better_candidate(const Page* page, const Page* than) {
  return page_used(page) > page_used(than) && !nearly_full(page);
}

// Lending: a class above the direct sizes whose pages have no free block left takes one from a
// class up to half as large again (class_may_lend), if that class's current page has one at hand,
// before it carves new memory. With 8 classes per doubling, a thread with a few blocks live in
// each of many classes otherwise keeps each class's high-water mark carved and resident apart;
// lending pools them, as a best-fit heap does (bench/glibc_thread, 1024 blocks of 8 B..32 KiB per
// thread: peak RSS 8.8 -> 7.3 MiB, glibc 6.0). A lent block is freed into the page it came from
// like any other. Only above kDirectMax: the classes there already reach this slow path through
// malloc_generic, and extending their pages carves a block or two at a time (+1.5% instructions
// in glibc_thread, against +10% for lending in every class, for a tenth of the gain). The lender
// keeps the alignment asked for (aligned_class); a checked heap (align 0) does not borrow.
Page* lending_page(Heap* heap, size_t c, size_t align) {
  if (align == 0 || class_size(c) < kLendMinSize) return nullptr;
  for (size_t d = c + 1; d < kClassCount && class_may_lend(d, c); ++d) {
    if ((class_size(d) & (align - 1)) != 0) continue;
    Page* page = heap->queues[d].first;
    if (page != nullptr && page->free != nullptr) return page;
  }
  return nullptr;
}

// A page of class c from the arena (freed slices first, then fresh ones), the class's current.
Page* take_fresh_page(Heap* heap, size_t c) {
  if (++heap->pages_taken % kKeptReviewPages == 0) review_kept_pages(heap);
  Page* page = arena_take_span(heap->arena, class_page_slices(c), 1);
  if (page == nullptr) return nullptr;
  page_init_small(page, c, owner_tag(heap), owner_thread_tag(heap), next_key(heap));
  queue_push_front(heap, page);
  return page;
}

}  // namespace

void queue_push_back(Heap* heap, Page* page) {
  PageList& q = heap->queues[page->size_class];
  unkeep(heap, q);
  if (q.empty()) return queue_push_front(heap, page);
  q.push_back(page);
  page->held_in = HeldIn::kQueue;
}

namespace {
// Under full_lock, so a plain store suffices; and only on a change, so that the heaps looking
// for freed pages do not take the line away for nothing.
void note_freed_list(Heap* heap, size_t c) {
  std::atomic<uint64_t>& word = heap->freed_classes[c / 64];
  uint64_t bit = uint64_t{1} << (c % 64);
  uint64_t bits = word.load(std::memory_order_relaxed);
  uint64_t now = heap->freed[c].empty() ? bits & ~bit : bits | bit;
  if (now != bits) word.store(now, std::memory_order_relaxed);
}
}  // namespace

void full_lists_remove(Heap* heap, Page* page) {
  size_t c = page->size_class;
  if (page->held_in == HeldIn::kFreed) {
    heap->freed[c].remove(page);
    note_freed_list(heap, c);
  } else {
    heap->full.remove(page);
  }
  page->held_in = HeldIn::kNone;
}

void page_to_freed(Heap* heap, Page* page) {
  size_t c = page->size_class;
  heap->full.remove(page);
  heap->freed[c].push_back(page);
  page->held_in = HeldIn::kFreed;
  note_freed_list(heap, c);
}

Page* freed_take(Heap* from, Heap* to, size_t c) {
  if (from == to) {
    from->full_lock.lock();
  } else if (!from->full_lock.try_lock()) {
    return nullptr;
  }
  Page* page = from->freed[c].first;
  // Another heap leaves a checked heap's pages (their blocks wait on local_free for the checks)
  // and a private heap's (its arena holds only its own blocks) where they are.
  if (page != nullptr && from != to &&
      ((page->owner.load(std::memory_order_relaxed) & kOwnerChecked) != 0 ||
       arena_index(segment_of_page(page)->arena) == SIZE_MAX))
    page = nullptr;
  if (page != nullptr) {
    full_lists_remove(from, page);
    page_set_heap(page, to);  // its remote frees go on to thread_free (kNoDelayed)
  }
  from->full_lock.unlock();
  return page;
}

void page_unfull(Heap* heap, Page* page) {
  full_lists_remove(heap, page);
  page_set_delay_state(page, kNoDelayed, false);
  page_set_heap(page, heap);
  queue_push_back(heap, page);
}

Page* heap_find_page(Heap* heap, size_t c, size_t align) noexcept {
  // Up to here the malloc paths touch only the class's current page, which no reclaimer takes.
  OwnerSlowPath slow_path(heap);
  heap->refills.store(heap->refills.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (heap->idle.load(std::memory_order_relaxed)) heap->idle.store(0, std::memory_order_relaxed);
  process_delayed(heap);
  // Free blocks anywhere in the queue come before carving more of a page: they are resident
  // already, where carving faults in fresh memory (bench suite, peak RSS geometric mean -2.4%:
  // larson 6.9 -> 6.4 MiB, glibc_thread 7.2 -> 6.7, handoff 35.0 -> 31.6).
  // Of the pages with free blocks, the fullest of the first few (see kCandidatePages).
  PageList& q = heap->queues[c];
  Page* page = q.first;
  Page* extendable = nullptr;  // the first page that can still carve blocks
  Page* candidate = nullptr;
  size_t candidates = 0;
  const size_t most_candidates = class_size(c) > kDirectMax ? kCandidatePages : 1;
  while (page != nullptr) {
    page_collect(page);
    Page* next = page->next;
    if (page->free != nullptr) {
      if (candidate == nullptr || better_candidate(page, candidate)) candidate = page;
      if (++candidates == most_candidates) break;
    } else if (page->capacity < page->reserved) {
      if (extendable == nullptr) extendable = page;
    } else if (!page_to_full(heap, page)) {
      continue;  // remote frees arrived: collect them
    }
    page = next;
  }
  if (candidate != nullptr) return make_current(heap, candidate);
  // The oldest of the class's full pages that other threads have freed into since: their free
  // blocks are resident too (prodcons peak RSS 4,950 -> 4,570 KiB, 16 pairs 28,900 -> 26,400 KiB).
  while (heap_has_freed(heap, c))
    if (Page* taken = freed_take(heap, heap, c))
      if ((page = use_page(heap, taken)) != nullptr) return page;
  if (extendable != nullptr) {
    if (Page* lender = lending_page(heap, c, align)) return lender;
    page_extend(extendable);
    return make_current(heap, extendable);
  }
  // Adopt pages abandoned by exited threads before taking fresh memory (thread heaps only: a
  // private heap's segments hold only its own blocks).
  if (!heap->is_private)
    while ((page = arena_adopt_abandoned(heap->arena, c, heap)) != nullptr)
      if ((page = use_page(heap, page)) != nullptr) return page;
  if (Page* lender = lending_page(heap, c, align)) return lender;
  // Before fresh memory is faulted in (no freed slices wait anywhere), another thread's pages
  // that have been freed into while it did not allocate.
  if (!heap->is_private && !heap->checked) {
    heaps_reclaim_idle(heap);  // to the arenas' free slices, which take_fresh_page takes first
    if (arenas_dirty_bytes() < (class_page_slices(c) << kSliceShift))
      while ((page = heaps_take_freed(heap, c)) != nullptr)
        if ((page = use_page(heap, page)) != nullptr) return page;
  }
  return take_fresh_page(heap, c);
}

void heap_class_not_idle(Heap* heap, size_t c) noexcept {
  heap->kept_idle[c / 64] &= ~(uint64_t{1} << (c % 64));
  update_direct(heap, c);
}

void heap_set_checked(Heap* heap, bool checked) noexcept {
  if (heap == &g_empty_heap || heap->checked == checked) return;
  OwnerSlowPath slow_path(heap);
  heap->checked = checked;
  for (size_t c = 0; c < kClassCount; ++c) {
    for (Page* page = heap->queues[c].first; page != nullptr; page = page->next)
      page_set_heap(page, heap);
    update_direct(heap, c);
  }
  LockGuard guard(heap->full_lock);
  for_each_parked_page(heap, [&](Page* page) { page_set_heap(page, heap, kOwnerFull); });
}

void* heap_malloc_class(Heap* heap, size_t c, size_t align) noexcept {
  heap_note_class_used(heap, c);
  Page* page = heap->queues[c].first;
  if (page != nullptr && page->free != nullptr && !in_page_segment(page, page->free)) [[unlikely]]
    free_list_corrupted(page);
  if (page == nullptr || page->free == nullptr) {
    page = heap_find_page(heap, c, align);
    if (page == nullptr) [[unlikely]] {
      errno = ENOMEM;
      return nullptr;
    }
  }
  return heap_pop(page);
}

namespace {

[[gnu::noinline]] void* malloc_slow(size_t n, Heap* heap) noexcept {
  if (heap == &g_empty_heap) [[unlikely]] {
    heap = heap_for_thread();
    if (heap == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (heap->checked) [[unlikely]]
    return checked_malloc(heap, n, 0, false);
  // The direct sizes (up to 1 KiB) always come from classes; above, the mmap threshold may be
  // set below the largest class.
  if (n <= kMaxClassSize && (n <= kDirectMax || n < options::mmap_threshold()))
    return heap_malloc_class(heap, class_of(n), 16);
  return large_alloc(heap, n, 0, nullptr);
}

}  // namespace

// Above the direct sizes, the malloc fast path has no table: the class is computed, and a block
// popped from the class's current page when it has one, as heap_malloc_class does; when it has
// none (or the class's kept page is watched), heap_malloc_class takes the computed class. A
// checked heap, the shared empty heap (a thread's first request), a request at or above the mmap
// threshold and the direct sizes are malloc_slow's.
void* malloc_generic(size_t n, Heap* heap) noexcept {
  if (n > kDirectMax && n <= kMaxClassSize && n < options::mmap_threshold() && !heap->checked)
      [[likely]] {
    size_t c = class_above_direct(n);
    Page* page = heap->queues[c].first;
    if (page != nullptr && in_page_segment(page, page->free) && !heap_class_watched(heap, c))
        [[likely]]
      return heap_pop(page);
    // The shared empty heap (whose queues are empty) first makes the thread's heap, which may be
    // a checked one: malloc_slow.
    if (heap != &g_empty_heap) [[likely]]
      return heap_malloc_class(heap, c, 16);
  }
  return malloc_slow(n, heap);
}

void free_list_corrupted(Page* page) noexcept {
  diag::report_bad_link(page->free, page->block_size);
  page->free = nullptr;
}

void page_retire(Heap* heap, Page* page) noexcept {
  os::ErrnoGuard errno_guard;
  // The free fast path knows the owner by its thread pointer. Were a thread to exit without its
  // heap being abandoned (no key destructor ran) and another thread to get the same thread
  // pointer, it would free into the dead heap's pages: leave them to that heap, as before.
  if (owner_heap(page->owner.load(std::memory_order_relaxed)) != heap) [[unlikely]]
    return;
  OwnerSlowPath slow_path(heap);
  // Keep the last page of a class: a thread that allocates and frees one block in a loop must not
  // go to the arena each time.
  PageList& q = heap->queues[page->size_class];
  if (page->held_in == HeldIn::kQueue && q.first == page && page->next == nullptr) {
    page_keep(page);
    return;
  }
  if (page->held_in == HeldIn::kQueue)
    queue_remove(heap, page);
  else
    full_lists_remove(heap, page);
  arena_free_page(page);
}

void heap_collect(Heap* heap) noexcept {
  if (heap == &g_empty_heap) return;
  OwnerSlowPath slow_path(heap);
  process_delayed(heap);
  for (size_t c = 0; c < kClassCount; ++c) {
    Page* page = heap->queues[c].first;
    while (page != nullptr) {
      Page* next = page->next;
      page_collect_thread_free(page);
      if (page_used(page) == 0) {
        queue_remove(heap, page);
        arena_free_page(page);
      }
      page = next;
    }
  }
}

void heap_reset_lists(Heap* heap) noexcept {
  OwnerSlowPath slow_path(heap);
  for (auto& d : heap->direct) d = &g_empty_page;
  for (auto& q : heap->queues) q = PageList{};
  heap->pages_taken = 0;
  heap->last_large_size = 0;
  for (auto& bits : heap->kept_idle) bits = 0;
  LockGuard guard(heap->full_lock);  // heaps_release_idle may be looking at a recycled heap
  heap->full = PageList{};
  for (auto& list : heap->freed) list = PageList{};
  for (auto& bits : heap->freed_classes) bits.store(0, std::memory_order_relaxed);
  heap->delayed_free.store(nullptr, std::memory_order_relaxed);
}

void heap_unstick_after_fork(Heap* heap, bool queues_whole) noexcept {
  auto unstick = [](Page* page) {
    uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
    if ((tf & kDelayMask) == kDelayedFreeing) page->thread_free.store(kNoDelayed);
  };
  for_each_parked_page(heap, unstick);
  if (!queues_whole) return;
  for (auto& q : heap->queues)
    for (Page* page = q.first; page != nullptr; page = page->next) unstick(page);
}

void heap_abandon(Heap* heap) noexcept {
  OwnerSlowPath slow_path(heap);
  large_cache_flush(heap);
  // 1. Stop delayed frees into this heap, waiting out any in flight; full pages rejoin queues.
  heap->full_lock.lock();
  for_each_parked_page(heap, [&](Page* page) {
    full_lists_remove(heap, page);
    page_set_delay_state(page, kNeverDelayed, false);
    page_set_heap(page, heap);
    heap->queues[page->size_class].push_back(page);
    page->held_in = HeldIn::kQueue;
  });
  heap->full_lock.unlock();
  // 2. The delayed list is now final: apply it.
  process_delayed(heap);
  // 3. Return empty pages; abandon the others to the arena for adoption.
  for (size_t c = 0; c < kClassCount; ++c) {
    while (Page* page = heap->queues[c].pop_front()) {
      page->held_in = HeldIn::kNone;
      page_set_delay_state(page, kNeverDelayed, false);
      page_collect_thread_free(page);
      page->used = page_used(page);
      if (page->used == 0) {
        arena_free_page(page);
      } else {
        page_clear_owner(page);
        arena_abandon_page(page);
      }
    }
  }
  for (auto& d : heap->direct) d = &g_empty_page;
}

void heap_wait_unfrozen(Heap* heap) noexcept {
  for (unsigned spins = 0;; ++spins) {
    heap->in_slow_path.store(0, std::memory_order_relaxed);
    while (heap->frozen.load(std::memory_order_acquire) != 0) os::spin_pause(spins++);
    heap->in_slow_path.store(1, std::memory_order_seq_cst);
    if (heap->frozen.load(std::memory_order_seq_cst) == 0) return;
  }
}

namespace {

// Whether every block the page has handed out is on its thread_free list: then no thread holds
// one of its blocks, and nothing but its owner's slow paths can reach it. The list's length is
// counted in the same word (page.h), and `used` is read after it: were a block still live, `used`
// would exceed the count. The owner's free makes its push visible before its count falls
// (page_push). A count of 0 is left alone: the owner's own free that emptied the page is about
// to retire it.
bool page_all_freed_remotely(const Page* page) {
  if (page->kind != PageKind::kSmall || page_kept(page)) return false;
  uint32_t count = thread_free_count(page->thread_free.load(std::memory_order_acquire));
  uint32_t used = __atomic_load_n(&page->used, __ATOMIC_ACQUIRE);
  return count != 0 && used == count;
}

// Pages taken under one freeze of the victim (its owner waits meanwhile, should it need a slow
// path); a pass goes on with another batch while they fill up.
constexpr size_t kReclaimBatch = 64;

// One batch from the victim's queues, from class `*from` on; leaves in `*from` the class to go on
// with. Returns how many pages it put in `taken`.
size_t reclaim_batch(Heap* victim, size_t* from, Page** taken) {
  if (!victim->full_lock.try_lock()) return 0;  // another reclaimer, or the owner parking pages
  victim->frozen.store(1, std::memory_order_seq_cst);
  size_t count = 0;
  if (victim->in_slow_path.load(std::memory_order_seq_cst) == 0 && !victim->checked) {
    size_t c = *from;
    for (; c < kClassCount && count < kReclaimBatch; ++c) {
      Page* first = victim->queues[c].first;
      if (first == nullptr) continue;
      for (Page* page = first->next; page != nullptr && count < kReclaimBatch;) {
        Page* next = page->next;
        if (page_all_freed_remotely(page)) {
          queue_remove(victim, page);  // never the first: the direct pointers stay
          taken[count++] = page;
        }
        page = next;
      }
      if (count == kReclaimBatch) break;  // this class may have more
    }
    *from = c;
  }
  victim->frozen.store(0, std::memory_order_release);
  victim->full_lock.unlock();
  return count;
}

}  // namespace

size_t heap_reclaim_empty(Heap* victim) noexcept {
  if (!kReclaimIdlePages || !is_thread_heap(victim)) return 0;
  large_cache_flush(victim);
  Page* taken[kReclaimBatch];
  size_t total = 0, from = 0;
  for (;;) {
    size_t count = reclaim_batch(victim, &from, taken);
    for (size_t i = 0; i < count; ++i) {
      page_clear_owner(taken[i]);
      arena_free_page(taken[i]);
    }
    total += count;
    if (count < kReclaimBatch) return total;
  }
}

}  // namespace arenalloc
