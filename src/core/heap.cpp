// Heap slow paths: finding a page with free blocks, frees that are not the fast local case,
// retiring empty pages, and abandoning a heap at thread exit.
#include "core/heap.h"

#include <errno.h>

#include <cstring>
#include <utility>

#include "core/checked.h"
#include "core/private_heap.h"
#include "diag/options.h"
#include "diag/report.h"
#include "diag/stats.h"

namespace arenalloc {

Page g_empty_page{};

namespace {
template <size_t... I>
constexpr Heap make_empty_heap(std::index_sequence<I...>) {
  return Heap{
      {((void)I, &g_empty_page)...}, {}, {}, {}, nullptr, 0, 0, 0, 0, nullptr, {}, {}, 0, {}, 0, 0};
}
}  // namespace

// Constant-initialised: the fast path may read it before any constructor runs.
constinit Heap g_empty_heap = make_empty_heap(std::make_index_sequence<kDirectCount>{});
__thread Heap* tls_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

namespace {

// free() must leave errno as it found it; its slow paths may sleep on a futex or call madvise.
class ErrnoGuard {
 public:
  ErrnoGuard() : saved_(errno) {}
  ~ErrnoGuard() { errno = saved_; }

 private:
  int saved_;
};

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
  if (page == nullptr || heap->checked) page = &g_empty_page;
  for (size_t i = class_direct_first(c); i <= class_direct_last(c); ++i) heap->direct[i] = page;
}

// A class's kept page (see Page::kept) stops being special once another page joins the queue;
// if it is empty by then it goes back to the arena.
void unkeep(Heap* heap, PageList& q) {
  Page* first = q.first;
  if (first == nullptr || !first->kept) return;
  first->kept = 0;
  first->used -= kKeptBias;
  if (first->used == 0) {
    q.remove(first);
    first->in_queue = 0;
    arena_free_page(first);
  }
  (void)heap;
}

void queue_push_front(Heap* heap, Page* page) {
  if (heap->queues[page->size_class].first != page) unkeep(heap, heap->queues[page->size_class]);
  heap->queues[page->size_class].push_front(page);
  page->in_queue = 1;
  update_direct(heap, page->size_class);
}

// Behind the pages in use (first, if there are none).
void queue_push_back(Heap* heap, Page* page) {
  PageList& q = heap->queues[page->size_class];
  unkeep(heap, q);
  if (q.empty()) return queue_push_front(heap, page);
  q.push_back(page);
  page->in_queue = 1;
}

void queue_remove(Heap* heap, Page* page) {
  PageList& q = heap->queues[page->size_class];
  bool was_first = q.first == page;
  q.remove(page);
  page->in_queue = 0;
  if (was_first) update_direct(heap, page->size_class);
}

// Park a page that has no free block in the full list. False if remote frees arrived meanwhile
// (the caller collects them instead).
bool page_to_full(Heap* heap, Page* page) {
  if (!page_set_delay_state(page, kUseDelayed, true)) return false;
  if (page->kept) {  // a full page is not empty: it retires normally once freed
    page->kept = 0;
    page->used -= kKeptBias;
  }
  queue_remove(heap, page);
  LockGuard guard(heap->full_lock);
  heap->full.push_back(page);
  page->owner.store(owner_tag(heap) | kOwnerFull, std::memory_order_relaxed);
  return true;
}

// Requeue a page of the full list (full_lock held).
void page_unfull(Heap* heap, Page* page) {
  heap->full.remove(page);
  page_set_delay_state(page, kNoDelayed, false);
  page->owner.store(owner_tag(heap), std::memory_order_relaxed);
  queue_push_back(heap, page);
}

// Hand a freed block (already marked) to the page's owner: onto thread_free, or through the
// owner's delayed list if the page is parked in its full list.
[[gnu::always_inline]] inline void push_remote(Page* page, Block* block) {
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
      block->next_encoded = encode(page, reinterpret_cast<Block*>(tf & ~kDelayMask));
      desired = reinterpret_cast<uintptr_t>(block) | state;
      delayed = false;
    }
    if (page->thread_free.compare_exchange_weak(tf, desired, std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
      break;
  }
  if (!delayed) return;
  // The page is parked in its owner's full list: hand the block to the owner so it requeues the
  // page. The owner cannot go away meanwhile: abandoning waits for kDelayedFreeing to clear.
  Heap* owner = owner_heap(page->owner.load(std::memory_order_acquire));
  Block* head = owner->delayed_free.load(std::memory_order_relaxed);
  do {
    block->next_encoded = reinterpret_cast<uintptr_t>(head);
  } while (!owner->delayed_free.compare_exchange_weak(head, block, std::memory_order_release,
                                                      std::memory_order_relaxed));
  page->thread_free.store(kNoDelayed, std::memory_order_release);
}

[[gnu::always_inline]] inline void free_remote(Page* page, Block* block) {
  // Another thread may free the same block concurrently only in a buggy program; the mark still
  // catches the common sequential double free across threads.
  if (kFastPathChecks && block->free_mark == free_mark(page, block)) [[unlikely]]
    return diag::report_double_free(block, page->block_size);
  block->free_mark = free_mark(page, block);
  push_remote(page, block);
}

// A thread that frees into a page parked in another heap's full list takes the page over, so
// that the room the free leaves is used at once by the thread that made it. The owner would
// otherwise reclaim it only when it next runs out of a page, which a thread that has stopped
// allocating (a main thread that built the data and now waits on its workers) never does, while
// the threads freeing its blocks fault in fresh pages to replace them. A full page is out of its
// owner's fast paths, so its full_lock is all the two need to agree on. Checked and private
// heaps keep their pages. A block the owner's delayed list still holds for the page goes to the
// new owner when the old one processes that list.
[[gnu::noinline]] bool steal_full_page(Heap* heap, Page* page, uintptr_t owner) {
  if (heap == &g_empty_heap || heap->is_private || heap->checked || (owner & kOwnerChecked))
    return false;
  Heap* victim = owner_heap(owner);
  if (victim->is_private) return false;
  victim->full_lock.lock();
  bool stolen = page->owner.load(std::memory_order_relaxed) == owner;
  if (stolen) {
    page_set_delay_state(page, kNoDelayed, false);  // waits out a remote free in flight
    victim->full.remove(page);
    page->owner.store(owner_tag(heap), std::memory_order_relaxed);
  }
  victim->full_lock.unlock();
  if (!stolen) return false;
  page_collect_thread_free(page);
  queue_push_back(heap, page);
  return true;
}

// Whether a free into a page with this owner should try steal_full_page: the page is parked full
// and its owner is idle (no page refill for kIdleMs). A busy owner takes the page back through
// its delayed list soon, and a producer whose every page its consumer took would go to the arena
// for each new one (bench/prodcons: 2.5x slower). Frees that find a busy owner have idleness
// looked at again now and then (heaps_mark_idle reads the clock).
[[gnu::always_inline]] inline bool worth_stealing(Heap* heap, uintptr_t owner) {
  if ((owner & kOwnerFull) == 0) return false;
  if (owner_heap(owner)->idle.load(std::memory_order_relaxed)) [[unlikely]]
    return true;
  if (heap != &g_empty_heap && (++heap->steal_misses & 255) == 0) [[unlikely]]
    heaps_mark_idle();
  return false;
}

// A free into a page another heap owns (or none).
[[gnu::always_inline]] inline void free_foreign(Heap* heap, Page* page, Block* block) {
  uintptr_t owner = page->owner.load(std::memory_order_relaxed);
  if (worth_stealing(heap, owner) && steal_full_page(heap, page, owner))
    return heap_free_local(heap, page, block);
  free_remote(page, block);
}

// Free of a block of a page this heap owns, full or not.
void free_owned(Heap* heap, Page* page, Block* block) {
  if (page->owner.load(std::memory_order_relaxed) & kOwnerFull) {
    heap->full_lock.lock();
    bool still_ours = page->owner.load(std::memory_order_relaxed) == (owner_tag(heap) | kOwnerFull);
    if (still_ours) page_unfull(heap, page);
    heap->full_lock.unlock();
    if (!still_ours) return free_foreign(heap, page, block);  // another thread took it
  }
  heap_free_local(heap, page, block);
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

void process_delayed(Heap* heap) {
  if (heap->delayed_free.load(std::memory_order_relaxed) == nullptr) return;
  Block* block = heap->delayed_free.exchange(nullptr, std::memory_order_acquire);
  LockGuard guard(heap->full_lock);
  while (block != nullptr) {
    Page* page = page_of(segment_of(block), block);
    Block* next = delayed_next(block, page);
    uintptr_t owner = page->owner.load(std::memory_order_relaxed);
    if (owner_heap(owner) != heap) {
      push_remote(page, block);  // another thread took the page meanwhile
    } else {
      if (owner & kOwnerFull) page_unfull(heap, page);
      heap_push_local(heap, page, block);  // checked by the remote free that delayed it
    }
    block = next;
  }
}

}  // namespace

Page* heap_find_page(Heap* heap, size_t c) noexcept {
  heap->refills.store(heap->refills.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (heap->idle.load(std::memory_order_relaxed)) heap->idle.store(0, std::memory_order_relaxed);
  process_delayed(heap);
  PageList& q = heap->queues[c];
  Page* page = q.first;
  while (page != nullptr) {
    page_collect(page);
    if (page->free == nullptr && page->capacity < page->reserved) page_extend(page);
    if (page->free != nullptr) {
      if (page != q.first) {
        queue_remove(heap, page);
        queue_push_front(heap, page);
      }
      return page;
    }
    Page* next = page->next;
    if (!page_to_full(heap, page)) continue;  // remote frees arrived: collect them
    page = next;
  }
  // Adopt pages abandoned by exited threads before taking fresh memory (thread heaps only: a
  // private heap's segments hold only its own blocks).
  while (!heap->is_private && (page = arena_adopt_abandoned(heap->arena, c, heap)) != nullptr) {
    page_collect(page);
    if (page->free == nullptr && page->capacity < page->reserved) page_extend(page);
    queue_push_front(heap, page);
    for (;;) {
      if (page->free != nullptr) return page;
      if (page_to_full(heap, page)) break;
      page_collect(page);  // remote frees arrived while parking it
    }
  }
  page = arena_take_span(heap->arena, class_page_slices(c), 1);
  if (page == nullptr) return nullptr;
  page_init_small(page, c, owner_tag(heap), next_key(heap));
  queue_push_front(heap, page);
  return page;
}

void heap_set_checked(Heap* heap, bool checked) noexcept {
  if (heap == &g_empty_heap || heap->checked == checked) return;
  heap->checked = checked;
  for (size_t c = 0; c < kClassCount; ++c) {
    for (Page* page = heap->queues[c].first; page != nullptr; page = page->next)
      page->owner.store(owner_tag(heap), std::memory_order_relaxed);
    update_direct(heap, c);
  }
  LockGuard guard(heap->full_lock);
  for (Page* page = heap->full.first; page != nullptr; page = page->next)
    page->owner.store(owner_tag(heap) | kOwnerFull, std::memory_order_relaxed);
}

void* heap_malloc_class(Heap* heap, size_t c) noexcept {
  if (heap == &g_empty_heap) [[unlikely]] {
    heap = heap_for_thread();
    if (heap == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  Page* page = heap->queues[c].first;
  if (page != nullptr && page->free != nullptr && !in_page_segment(page, page->free)) [[unlikely]]
    free_list_corrupted(page);
  if (page == nullptr || page->free == nullptr) {
    page = heap_find_page(heap, c);
    if (page == nullptr) [[unlikely]] {
      errno = ENOMEM;
      return nullptr;
    }
  }
  return heap_pop(page);
}

void* malloc_generic(size_t n, Heap* heap) noexcept {
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
    return heap_malloc_class(heap, class_of(n));
  return large_alloc(heap, n, 0, nullptr);
}

void free_list_corrupted(Page* page) noexcept {
  diag::report_bad_link(page->free, page->block_size);
  page->free = nullptr;
}

void page_retire(Heap* heap, Page* page) noexcept {
  ErrnoGuard errno_guard;
  // Keep the last page of a class: a thread that allocates and frees one block in a loop must not
  // go to the arena each time.
  PageList& q = heap->queues[page->size_class];
  if (page->in_queue && q.first == page && page->next == nullptr) {
    page->kept = 1;
    page->used += kKeptBias;
    return;
  }
  if (page->in_queue)
    queue_remove(heap, page);
  else
    heap->full.remove(page);
  arena_free_page(page);
}

void free_generic(void* p, Page* page, Heap* heap) noexcept {
  ErrnoGuard errno_guard;
  uintptr_t owner = page->owner.load(std::memory_order_relaxed);
  switch (page->kind) {
    case PageKind::kSmall:
      // The page was found from p, so the multiply test is exact (a division here was a fifth of
      // the remote-free path in mimalloc-bench's xmalloc-test).
      if (!small_page_block_start(page, p))
        return diag::report_invalid_free(p, "not the start of a block");
      if (checking_wanted() && !checked_free(page, p)) return;
      if (owner_heap(owner) == heap) return free_owned(heap, page, static_cast<Block*>(p));
      return free_foreign(heap, page, static_cast<Block*>(p));
    case PageKind::kLarge:
      if (p != page->start) return diag::report_invalid_free(p, "not the start of a block");
      if (!checked_free(page, p)) return;
      stats::large_freed(page->block_size);
      return arena_free_page(page);
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

void free_marked(void* p, Page* page, Heap* heap) noexcept {
  ErrnoGuard errno_guard;
  Block* block = static_cast<Block*>(p);
  if (page_contains_free_block(page, block, heap->delayed_free.load(std::memory_order_acquire)))
    return diag::report_double_free(p, page->block_size);
  heap_push_local(heap, page, block);  // the program's data merely looked like the mark
}

void free_not_ours(void* p) noexcept {
  if (p == nullptr) return;
  ErrnoGuard errno_guard;
  diag::report_invalid_free(p, "not allocated by arenalloc");
}

void free_unmapped(void* p) noexcept {
  Page* page = find_page(p);
  if (page == nullptr) return free_not_ours(p);
  heap_free_in_page(page, p);
}

void heap_collect(Heap* heap) noexcept {
  if (heap == &g_empty_heap) return;
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
  for (auto& d : heap->direct) d = &g_empty_page;
  for (auto& q : heap->queues) q = PageList{};
  heap->full = PageList{};
  heap->delayed_free.store(nullptr, std::memory_order_relaxed);
}

void heap_unstick_after_fork(Heap* heap) noexcept {
  auto unstick = [](Page* page) {
    uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
    if ((tf & kDelayMask) == kDelayedFreeing) page->thread_free.store(kNoDelayed);
  };
  for (Page* page = heap->full.first; page != nullptr; page = page->next) unstick(page);
  for (auto& q : heap->queues)
    for (Page* page = q.first; page != nullptr; page = page->next) unstick(page);
}

void heap_abandon(Heap* heap) noexcept {
  // 1. Stop delayed frees into this heap, waiting out any in flight; full pages rejoin queues.
  heap->full_lock.lock();
  while (Page* page = heap->full.pop_front()) {
    page_set_delay_state(page, kNeverDelayed, false);
    page->owner.store(owner_tag(heap), std::memory_order_relaxed);
    heap->queues[page->size_class].push_back(page);
    page->in_queue = 1;
  }
  heap->full_lock.unlock();
  // 2. The delayed list is now final: apply it.
  process_delayed(heap);
  // 3. Return empty pages; abandon the others to the arena for adoption.
  for (size_t c = 0; c < kClassCount; ++c) {
    while (Page* page = heap->queues[c].pop_front()) {
      page->in_queue = 0;
      page_set_delay_state(page, kNeverDelayed, false);
      page_collect_thread_free(page);
      page->used = page_used(page);
      page->kept = 0;
      if (page->used == 0) {
        arena_free_page(page);
      } else {
        page->owner.store(0, std::memory_order_relaxed);
        arena_abandon_page(page);
      }
    }
  }
  for (auto& d : heap->direct) d = &g_empty_page;
}

}  // namespace arenalloc
