// Arenas: spans of slices, purging after a delay, abandoned pages, the empty-segment pool.
#include "core/arena.h"

#include <bit>

#include "core/checked.h"
#include "core/heap.h"
#include "core/huge_pages.h"
#include "core/page_map.h"
#include "core/recent_sizes.h"
#include "diag/options.h"
#include "diag/stats.h"
#include "os/os.h"

namespace arenalloc {

// ---- page lists ----

void PageList::push_front(Page* p) {
  p->prev = nullptr;
  p->next = first;
  if (first != nullptr)
    first->prev = p;
  else
    last = p;
  first = p;
}
void PageList::push_back(Page* p) {
  p->next = nullptr;
  p->prev = last;
  if (last != nullptr)
    last->next = p;
  else
    first = p;
  last = p;
}
void PageList::remove(Page* p) {
  if (p->prev != nullptr)
    p->prev->next = p->next;
  else
    first = p->next;
  if (p->next != nullptr)
    p->next->prev = p->prev;
  else
    last = p->prev;
  p->next = p->prev = nullptr;
}
Page* PageList::pop_front() {
  Page* p = first;
  if (p != nullptr) remove(p);
  return p;
}

// ---- the arena table and the pool of empty segments ----

namespace {

constinit Arena g_arenas[kMaxArenas];
std::atomic<size_t> g_arena_count{1};
std::atomic<size_t> g_next_arena{0};
std::atomic<size_t> g_arenas_in_use{0};  // arenas [0, this) have been given to a heap

// The earliest maintenance deadline of any arena: slow paths of every arena check it.
std::atomic<uint64_t> g_maintenance_due{UINT64_MAX};
// Abandoned pages per class over all arenas: adoption looks beyond the home arena only if > 0.
std::atomic<uint32_t> g_abandoned_by_class[kClassCount];
// Slices handed out to pages and large blocks, and free slices not yet purged, over all arenas.
std::atomic<size_t> g_used_slices{0};
std::atomic<size_t> g_dirty_slices{0};

void add(std::atomic<size_t>& counter, ptrdiff_t delta) {
  counter.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
}

// The largest large block freed so far: a program that cycles blocks of that size needs a few of
// them kept resident, or every reuse faults its pages back in (glibc raises its trim threshold
// the same way when it sees large frees).
std::atomic<size_t> g_largest_large_free{0};

// The blocks vacated lately (arena_free_vacated). Only one at least as large counts: the old
// blocks of one buffer grown by a quarter at a time (perl's strings) follow each other within
// milliseconds, each larger than the last.
RecentSizes g_vacated;
// Smaller vacated blocks are freed as any block: they add little to the peak, other blocks reuse
// them soon, and a purge for each would be most of the system calls of a program that grows
// buffers now and then (a vector grown to 8 MiB every 600 ms: 5 madvise calls a cycle, 3 from
// 1 MiB on).
constexpr size_t kVacatedPurgeMinSlices = 16;  // 1 MiB

// Freed memory beyond this is purged at once rather than after the purge delay: the largest of
// trim_threshold, a quarter of the memory in use, and four of the largest large blocks freed. A
// program that frees most of its heap gives it back immediately; a steady one keeps a reserve.
size_t dirty_limit() {
  size_t used = g_used_slices.load(std::memory_order_relaxed) << kSliceShift;
  size_t limit = options::get(options::Id::kTrimThreshold);
  if (used / 4 > limit) limit = used / 4;
  size_t large = 4 * g_largest_large_free.load(std::memory_order_relaxed);
  return large > limit ? large : limit;
}
// Purges forced by the limit back off. A program that swings between a peak and a trough faster
// than the purge delay would otherwise purge at every trough and fault the memory back in at the
// next peak: hundreds of madvise calls a second. After a forced purge the limit waits
// `g_forced_backoff` purge delays, doubled (up to 64) each time forced purges follow each other
// within four of their waits, reset after a quiet spell. Memory freed meanwhile is still purged
// once it has waited the purge delay. Only at the default trim threshold: one that the program
// or user set is applied at every free, as glibc does.
std::atomic<uint64_t> g_forced_purge_ms{0};
std::atomic<uint32_t> g_forced_backoff{1};

bool default_trim_threshold() {
  return options::get(options::Id::kTrimThreshold) == options::kDefaultTrimThreshold;
}

bool too_much_dirty(uint64_t now) {
  if ((g_dirty_slices.load(std::memory_order_relaxed) << kSliceShift) <= dirty_limit())
    return false;
  if (!default_trim_threshold()) return true;
  uint64_t last = g_forced_purge_ms.load(std::memory_order_relaxed);
  uint32_t backoff = g_forced_backoff.load(std::memory_order_relaxed);
  uint64_t wait = backoff * options::purge_delay_ms();
  if (last != 0 && now - last < wait) return false;
  bool again = last != 0 && now - last < 4 * wait;  // the program came back for the memory
  g_forced_backoff.store(again ? (backoff < 64 ? 2 * backoff : 64) : 1, std::memory_order_relaxed);
  g_forced_purge_ms.store(now, std::memory_order_relaxed);
  return true;
}

void arm_deadline(std::atomic<uint64_t>& deadline, uint64_t t) {
  uint64_t cur = deadline.load(std::memory_order_relaxed);
  while (t < cur && !deadline.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
  }
}

void arm(Arena* arena, uint64_t t) {
  arm_deadline(arena->next_maintenance_ms, t);
  arm_deadline(g_maintenance_due, t);
}

Lock g_pool_lock;
Segment* g_pool = nullptr;  // empty, purged segments, linked through next

Segment* pool_take() {
  Segment* seg;
  {
    LockGuard guard(g_pool_lock);
    seg = g_pool;
    if (seg != nullptr) g_pool = seg->next;
  }
  if (seg != nullptr) segment_pooled_huge_pages(seg, true);
  return seg;
}

void pool_put(Segment* seg) {
  segment_pooled_huge_pages(seg, false);
  LockGuard guard(g_pool_lock);
  seg->next = g_pool;
  seg->prev = nullptr;
  seg->arena = nullptr;
  g_pool = seg;
}

void link_segment(Arena* arena, Segment* seg) {
  seg->arena = arena;
  seg->prev = nullptr;
  seg->next = arena->segments;
  if (arena->segments != nullptr) arena->segments->prev = seg;
  arena->segments = seg;
}

void unlink_segment(Arena* arena, Segment* seg) {
  if (seg->prev != nullptr)
    seg->prev->next = seg->next;
  else
    arena->segments = seg->next;
  if (seg->next != nullptr) seg->next->prev = seg->prev;
  seg->next = seg->prev = nullptr;
}

uint32_t now32(uint64_t now) {
  return static_cast<uint32_t>(now);
}

// Purge the dirty slices of `seg` that have waited the purge delay (all of them if `force`),
// keeping `keep_bytes` of the arena's dirty memory resident.
size_t purge_segment(Arena* arena, Segment* seg, uint64_t now, bool force, size_t keep_bytes) {
  const uint32_t delay = options::purge_delay_ms();
  const size_t keep = keep_bytes >> kSliceShift;
  const bool lazy = options::get(options::Id::kPurgeMethod) == uint64_t(PurgeMethod::kFree);
  uint64_t next_deadline = 0;
  size_t purged = 0;
  size_t run_start = 0, run_len = 0;
  uint32_t huge_ranges = 0;  // the 2 MiB ranges the purge touched
  auto flush = [&] {
    if (run_len == 0) return;
    os::purge(reinterpret_cast<uint8_t*>(seg) + (run_start << kSliceShift), run_len << kSliceShift,
              lazy);
    mark_slices(seg->dirty_mask, run_start, run_len, false);
    huge_ranges |= huge_ranges_of(run_start, run_len);
    purged += run_len;
    run_len = 0;
  };
  for (size_t w = 0; w < kSliceWords; ++w) {
    uint64_t bits = seg->dirty_mask[w];
    while (bits != 0) {
      size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      bits &= bits - 1;
      uint32_t waited = now32(now) - seg->dirty_since_ms[i];
      bool kept = arena->dirty_slices - purged - run_len <= keep;
      if ((force || waited >= delay) && !kept) {
        if (run_len != 0 && run_start + run_len == i) {
          ++run_len;
        } else {
          flush();
          run_start = i;
          run_len = 1;
        }
      } else {
        uint64_t deadline = now + (waited < delay ? delay - waited : delay);
        if (next_deadline == 0 || deadline < next_deadline) next_deadline = deadline;
      }
    }
  }
  flush();
  if (purged != 0) segment_purged_huge_pages(seg, huge_ranges, lazy);
  seg->purge_at_ms = next_deadline;
  arena->dirty_slices -= purged;
  add(g_dirty_slices, -static_cast<ptrdiff_t>(purged));
  return purged << kSliceShift;
}

// Slices that are no longer dirty (taken, or just purged) leave the dirty counts. Returns how many
// were dirty.
size_t clear_dirty(Arena* arena, Segment* seg, size_t first, size_t count) {
  size_t dirty = count_slices(seg->dirty_mask, first, count);
  mark_slices(seg->dirty_mask, first, count, false);
  arena->dirty_slices -= dirty;
  add(g_dirty_slices, -static_cast<ptrdiff_t>(dirty));
  return dirty;
}

// Slices handed out to pages and large blocks (`delta` of them, or given back), in the arena's
// count and the process's.
void count_used(Arena* arena, ptrdiff_t delta) {
  add(arena->used_slices, delta);
  add(g_used_slices, delta);
}

// Slices leave the free set for a page or a large block. Returns how many were dirty.
size_t take_slices(Arena* arena, Segment* seg, size_t first, size_t count) {
  mark_slices(seg->free_mask, first, count, false);
  seg->free_slices -= static_cast<uint32_t>(count);
  count_used(arena, static_cast<ptrdiff_t>(count));
  return clear_dirty(arena, seg, first, count);
}

// Spans from this size on are large blocks, never small pages (512 KiB).
constexpr size_t kReplaceDirtySlices = 8;

// A run of `slices` starting on a dirty slice in one of the arena's segments (arena locked): the
// segment, with the run's first slice in *first; nullptr if none. A large span takes the run
// that holds the most dirty slices, in any segment, if one holds any; among equals, the one in
// the smallest hole (best fit: a block of up to a segment finds a hole for it more often, so
// fewer fresh slices are faulted in).
Segment* find_dirty_span(Arena* arena, size_t slices, size_t align_slices, int* first) {
  if (slices >= kReplaceDirtySlices) {
    Segment* best = nullptr;
    size_t best_dirty = 0, best_hole = SIZE_MAX;
    for (Segment* seg = arena->segments; seg != nullptr; seg = seg->next) {
      if (seg->purge_at_ms == 0) continue;  // nothing dirty in it
      size_t dirty, hole;
      int run = find_most_dirty_run(seg, slices, align_slices, &dirty, &hole);
      if (run >= 0 && dirtier_or_tighter(dirty, hole, best_dirty, best_hole)) {
        best = seg;
        best_dirty = dirty;
        best_hole = hole;
        *first = run;
      }
    }
    return best;
  }
  if (arena->dirty_slices < slices) return nullptr;
  for (Segment* seg = arena->segments; seg != nullptr; seg = seg->next) {
    if (seg->purge_at_ms == 0) continue;  // nothing dirty in it
    *first = find_dirty_run(seg, slices, align_slices);
    if (*first >= 0) return seg;
  }
  return nullptr;
}

// Slices [first, first + count) of the arena's segment become a page (arena locked).
Page* make_span_page(Arena* arena, Segment* seg, size_t first, size_t count) {
  size_t dirty = take_slices(arena, seg, first, count);
  segment_use_huge_pages(seg);
  Page* page = segment_make_page(seg, first, count);
  // Purged slices read as zero, unless they were purged with MADV_FREE (kept until the kernel
  // needs the memory).
  page->is_zero =
      dirty == 0 && options::get(options::Id::kPurgeMethod) != uint64_t(PurgeMethod::kFree);
  return page;
}

// The header of a segment going to the pool, from its page descriptors on (the bitmaps and the
// slice table ahead of them are rewritten when it is taken again).
void purge_header(Segment* seg) {
  os::purge(reinterpret_cast<uint8_t*>(seg) + kPurgeableHeaderStart,
            kFirstUsableSlice * kSliceSize - kPurgeableHeaderStart, false);
}

// Slices go back to the free set, dirty from now on; the segment's purge deadline is armed.
void mark_released(Arena* arena, Segment* seg, size_t first, size_t count, uint64_t now) {
  mark_slices(seg->free_mask, first, count, true);
  mark_slices(seg->dirty_mask, first, count, true);
  for (size_t i = first; i < first + count; ++i) seg->dirty_since_ms[i] = now32(now);
  seg->free_slices += static_cast<uint32_t>(count);
  arena->dirty_slices += count;
  add(g_dirty_slices, static_cast<ptrdiff_t>(count));
  count_used(arena, -static_cast<ptrdiff_t>(count));
  uint64_t due = now + options::purge_delay_ms();
  if (seg->purge_at_ms == 0 || due < seg->purge_at_ms) {
    seg->purge_at_ms = due;
    arm(arena, due);
  }
}

// A page's slices are about to go back to the free set (arena locked).
void page_to_free_kind(Page* page) {
  page->kind = PageKind::kFree;
  page_clear_owner(page);
  page->held_in = HeldIn::kNone;
}

// Collect remote frees on abandoned pages; return the ones that became empty.
void sweep_abandoned(Arena* arena, uint64_t now) {
  if (arena->abandoned_count.load(std::memory_order_relaxed) == 0) return;
  for (size_t c = 0; c < kClassCount; ++c) {
    Page* page = arena->abandoned[c].first;
    while (page != nullptr) {
      Page* next = page->next;
      page_collect_thread_free(page);
      if (page_all_free(page)) {
        arena->abandoned[c].remove(page);
        arena->abandoned_count.fetch_sub(1, std::memory_order_relaxed);
        g_abandoned_by_class[c].fetch_sub(1, std::memory_order_relaxed);
        page->kind = PageKind::kFree;
        page->held_in = HeldIn::kNone;
        // Its thread exited at least a purge delay ago (abandoning armed this sweep), and its
        // last blocks were freed since: released as if freed a delay ago, so purged now.
        uint64_t delay = options::purge_delay_ms();
        mark_released(arena, segment_of_page(page), page->first_slice, page->slice_count,
                      now > delay ? now - delay : 0);
      }
      page = next;
    }
  }
}

// `force` purges all dirty memory but `keep_bytes` now; otherwise only what waited the delay.
size_t maintain_locked(Arena* arena, uint64_t now, bool force, size_t keep_bytes) {
  sweep_abandoned(arena, now);
  size_t purged = 0;
  uint64_t next = UINT64_MAX;
  Segment* seg = arena->segments;
  while (seg != nullptr) {
    Segment* following = seg->next;
    if (seg->purge_at_ms != 0 && (force || seg->purge_at_ms <= now))
      purged += purge_segment(arena, seg, now, force, keep_bytes);
    if (seg->purge_at_ms != 0 && seg->purge_at_ms < next) next = seg->purge_at_ms;
    // An entirely free, clean segment goes to the shared pool (its page descriptors purged too),
    // unless it is the arena's last one.
    if (seg->free_slices == segment_usable_slices() && seg->purge_at_ms == 0 &&
        (arena->segments != seg || seg->next != nullptr)) {
      unlink_segment(arena, seg);
      purge_header(seg);
      pool_put(seg);
    }
    seg = following;
  }
  if (arena->abandoned_count.load(std::memory_order_relaxed) != 0) {
    uint64_t sweep = now + options::purge_delay_ms();
    if (sweep < next) next = sweep;
  }
  arena->next_maintenance_ms.store(next, std::memory_order_relaxed);
  arm_deadline(g_maintenance_due, next);
  if (purged != 0) stats::global().bytes_purged.fetch_add(purged, std::memory_order_relaxed);
  return purged;
}

// A large span that no dirty run can hold is about to fault in fresh memory although the arena
// holds at least as much dirty memory: too fragmented to serve it. Purge a quarter of the span's
// size of it now, so that RSS does not add each new size on top of the last ones freed (a
// program cycling large blocks of varying sizes would otherwise keep the sum of its recent sizes
// resident). A quarter, and only when the dirty memory would cover the span: more is faulted
// back in by later blocks that would have fit. bench/large, peak RSS, page faults and time
// (/usr/bin/time, median of 5): before 199 MiB, 49.3k, 0.15 s; a quarter 183 MiB, 49.4k,
// 0.16 s; half 166 MiB, 57.5k, 0.17 s; the whole span's size 140 MiB, 73.7k, 0.21 s (tcmalloc
// 157 MiB, 43.4k, 0.14 s).
void purge_unusable_dirty(Arena* arena, size_t slices) {
  size_t keep = (arena->dirty_slices - slices / 4) << kSliceShift;
  maintain_locked(arena, os::now_ms(), true, keep);
}

void release_slices(Arena* arena, Segment* seg, size_t first, size_t count) {
  uint64_t now = os::now_ms();
  mark_released(arena, seg, first, count, now);
  size_t top_pad = options::get(options::Id::kTopPad);
  if (too_much_dirty(now)) {
    // Purge so that the arenas together keep the limit (the process as a whole stays under it),
    // or half of it where the threshold was set and there is no backoff: the next frees then do
    // not purge again at once. Not less at the default: the dirty slices left over from a fall
    // are scattered between pages in use, one madvise call per run, and the backoff already
    // spaces the forced purges out (random_sizes 4000000 2: 230-237 madvise calls with half the
    // limit kept, 23-25 with the limit).
    size_t others = (g_dirty_slices.load(std::memory_order_relaxed) - arena->dirty_slices)
                    << kSliceShift;
    size_t target = default_trim_threshold() ? dirty_limit() : dirty_limit() / 2;
    size_t keep = others < target ? target - others : 0;
    maintain_locked(arena, now, true, keep > top_pad ? keep : top_pad);
  } else if (now >= arena->next_maintenance_ms.load(std::memory_order_relaxed)) {
    maintain_locked(arena, now, false, top_pad);
  }
}

}  // namespace

void arenas_maintain_due() noexcept {
  uint64_t due = g_maintenance_due.load(std::memory_order_relaxed);
  if (due == UINT64_MAX) return;  // nothing scheduled: no need to read the clock
  uint64_t now = os::now_ms();
  if (now < due) return;
  g_maintenance_due.store(UINT64_MAX, std::memory_order_relaxed);
  for (size_t i = 0, n = arenas_in_use(); i < n; ++i) {
    Arena& arena = g_arenas[i];
    uint64_t due = arena.next_maintenance_ms.load(std::memory_order_relaxed);
    if (due == UINT64_MAX) continue;
    if (now >= due && arena.lock.try_lock()) {
      maintain_locked(&arena, now, false, options::get(options::Id::kTopPad));
      arena.lock.unlock();
    }
    arm_deadline(g_maintenance_due, arena.next_maintenance_ms.load(std::memory_order_relaxed));
  }
}

Arena* arena_at(size_t index) {
  return &g_arenas[index];
}

void arena_try_maintain_due(Arena* arena) noexcept {
  uint64_t due = arena->next_maintenance_ms.load(std::memory_order_relaxed);
  if (due == UINT64_MAX) return;
  uint64_t now = os::now_ms();
  if (now < due) return;
  if (!arena->lock.try_lock()) return;
  maintain_locked(arena, now, false, options::get(options::Id::kTopPad));
  arena->lock.unlock();
}

size_t arenas_dirty_bytes() noexcept {
  return g_dirty_slices.load(std::memory_order_relaxed) << kSliceShift;
}
size_t arenas_used_bytes() noexcept {
  return g_used_slices.load(std::memory_order_relaxed) << kSliceShift;
}
size_t arena_count() {
  return g_arena_count.load(std::memory_order_relaxed);
}

void arenas_init(size_t count) {
  // The table stays untouched (zero, in .bss) until arenas are used: a process pays only for the
  // arenas its threads use. A zero deadline just means "maintain at the first chance".
  arenas_set_count(count);
}

size_t arena_index(const Arena* arena) {
  auto i = static_cast<size_t>(arena - g_arenas);
  return arena >= g_arenas && i < kMaxArenas ? i : SIZE_MAX;
}

Arena* arena_for_new_heap() {
  size_t n = g_next_arena.fetch_add(1, std::memory_order_relaxed) % arena_count();
  size_t used = g_arenas_in_use.load(std::memory_order_relaxed);
  while (n + 1 > used &&
         !g_arenas_in_use.compare_exchange_weak(used, n + 1, std::memory_order_relaxed)) {
  }
  return &g_arenas[n];
}

size_t arenas_in_use() {
  return g_arenas_in_use.load(std::memory_order_relaxed);
}

size_t arenas_holding(size_t bytes) {
  size_t n = 0;
  for (size_t i = 0, used = arenas_in_use(); i < used; ++i)
    n += (g_arenas[i].used_slices.load(std::memory_order_relaxed) << kSliceShift) >= bytes;
  return n;
}

void arenas_set_count(size_t count) {
  if (count < 1) count = 1;
  if (count > kMaxArenas) count = kMaxArenas;
  g_arena_count.store(count, std::memory_order_relaxed);
}

namespace {

// Dirty slices of another arena of the table, for `arena`, which holds its own lock and found no
// dirty run of its own: otherwise a program whose threads change arenas, or whose busiest thread
// is not always on the same arena, leaves freed memory resident in one arena while another
// faults in fresh memory (mimalloc-bench's mstress with 8 threads: peak RSS 306 MiB with 8
// arenas, 163 MiB with one). The page stays in the other arena's segment, which is where it
// goes back when freed. Only try_lock: the caller's lock is held, so waiting could deadlock.
Page* take_dirty_from_other_arena(Arena* arena, size_t slices, size_t align_slices) {
  if (arena_index(arena) == SIZE_MAX) return nullptr;  // a private heap's arena keeps to itself
  size_t n = arenas_in_use();
  for (size_t i = 0; i < n; ++i) {
    Arena* other = &g_arenas[i];
    if (other == arena || !other->lock.try_lock()) continue;  // its counts need its lock
    Page* page = nullptr;
    int first;
    if (Segment* seg = find_dirty_span(other, slices, align_slices, &first))
      page = make_span_page(other, seg, static_cast<size_t>(first), slices);
    other->lock.unlock();
    if (page != nullptr) return page;
  }
  return nullptr;
}

}  // namespace

Page* arena_take_span(Arena* arena, size_t slices, size_t align_slices) {
  arenas_maintain_due();
  purger_start_if_needed();
  LockGuard guard(arena->lock);
  int first = -1;
  Segment* seg = find_dirty_span(arena, slices, align_slices, &first);
  if (seg == nullptr)
    if (Page* page = take_dirty_from_other_arena(arena, slices, align_slices)) return page;
  if (seg == nullptr && slices >= kReplaceDirtySlices && arena->dirty_slices >= slices)
    purge_unusable_dirty(arena, slices);
  if (seg == nullptr) {
    for (seg = arena->segments; seg != nullptr; seg = seg->next) {
      first = find_free_run(seg, slices, align_slices);
      if (first >= 0) break;
    }
  }
  if (seg == nullptr) {
    seg = pool_take();
    if (seg == nullptr) seg = segment_map_new(arena);
    if (seg == nullptr) return nullptr;
    link_segment(arena, seg);
    first = find_free_run(seg, slices, align_slices);
    if (first < 0) return nullptr;  // request larger than a segment: callers prevent this
  }
  return make_span_page(arena, seg, static_cast<size_t>(first), slices);
}

void arena_note_large_freed(const Page* page) {
  size_t bytes = size_t{page->slice_count} << kSliceShift;
  size_t cur = g_largest_large_free.load(std::memory_order_relaxed);
  while (bytes > cur && !g_largest_large_free.compare_exchange_weak(cur, bytes)) {
  }
}

void arena_free_page(Page* page) {
  Segment* seg = segment_of_page(page);
  Arena* arena = seg->arena;
  if (page->kind == PageKind::kLarge) arena_note_large_freed(page);
  {
    LockGuard guard(arena->lock);
    page_to_free_kind(page);
    release_slices(arena, seg, page->first_slice, page->slice_count);
  }
  arenas_maintain_due();
  purger_start_if_needed();
}

bool large_blocks_freed(size_t size) {
  return size <= g_largest_large_free.load(std::memory_order_relaxed);
}

void arena_free_vacated(Page* page) {
  Segment* seg = segment_of_page(page);
  Arena* arena = seg->arena;
  size_t first = page->first_slice, count = page->slice_count;
  if (count < kVacatedPurgeMinSlices || large_blocks_freed(count << kSliceShift))
    return arena_free_page(page);
  uint64_t now = os::now_ms();
  bool recent = g_vacated.seen(count, now, options::purge_delay_ms());
  g_vacated.note(count, now);
  if (recent) return arena_free_page(page);
  // The slices are still the block's, so no other thread touches them while they are purged;
  // outside the lock, as the purge of several MiB takes a while.
  const bool lazy = options::get(options::Id::kPurgeMethod) == uint64_t(PurgeMethod::kFree);
  bool purged = os::purge(page->start, count << kSliceShift, lazy);
  {
    LockGuard guard(arena->lock);
    page_to_free_kind(page);
    mark_released(arena, seg, first, count, now);
    if (purged) {
      clear_dirty(arena, seg, first, count);
      segment_purged_huge_pages(seg, huge_ranges_of(first, count), lazy);
    }
  }
  arenas_maintain_due();
  purger_start_if_needed();
}

Page* arena_adopt_abandoned(Arena* home, size_t size_class, Heap* heap) {
  if (g_abandoned_by_class[size_class].load(std::memory_order_relaxed) == 0) return nullptr;
  size_t n = arenas_in_use();
  size_t home_index = arena_index(home);
  for (size_t k = 0; k < n; ++k) {
    Arena* arena = &g_arenas[(home_index + k) % n];
    if (arena->abandoned_count.load(std::memory_order_relaxed) == 0) continue;
    LockGuard guard(arena->lock);
    Page* page = arena->abandoned[size_class].pop_front();
    if (page == nullptr) continue;
    arena->abandoned_count.fetch_sub(1, std::memory_order_relaxed);
    g_abandoned_by_class[size_class].fetch_sub(1, std::memory_order_relaxed);
    page_set_heap(page, heap);
    page_set_delay_state(page, kNoDelayed, false);
    return page;
  }
  return nullptr;
}

void arena_abandon_page(Page* page) {
  Arena* arena = segment_of_page(page)->arena;
  LockGuard guard(arena->lock);
  arena->abandoned[page->size_class].push_back(page);
  arena->abandoned_count.fetch_add(1, std::memory_order_relaxed);
  g_abandoned_by_class[page->size_class].fetch_add(1, std::memory_order_relaxed);
  arm(arena, os::now_ms() + options::purge_delay_ms());
}

bool arena_grow_large(Page* page, size_t slices) {
  Segment* seg = segment_of_page(page);
  Arena* arena = seg->arena;
  LockGuard guard(arena->lock);
  size_t end = size_t{page->first_slice} + page->slice_count;
  size_t extra = slices - page->slice_count;
  if (size_t{page->first_slice} + slices > kSlicesPerSegment) return false;
  for (size_t i = end; i < end + extra; ++i)
    if (!slice_is_free(seg, i)) return false;
  take_slices(arena, seg, end, extra);
  for (size_t i = end; i < end + extra; ++i) seg->slice_page[i] = page;
  page_map::update(seg, end, extra);
  stats::large_resized(page->block_size, slices << kSliceShift);
  page->slice_count = static_cast<uint16_t>(slices);
  page_set_block_size(page, slices << kSliceShift);
  return true;
}

void arena_discard_all(Arena* arena, bool keep_segments) {
  LockGuard guard(arena->lock);
  uint64_t now = os::now_ms();
  size_t purged = 0;
  Segment* seg = arena->segments;
  while (seg != nullptr) {
    Segment* following = seg->next;
    if (debug_mode()) {
      // Debug mode ends large blocks with a PROT_NONE page (core/checked.h): give it back
      // before the slices are reused.
      for (size_t i = kFirstUsableSlice; i < kSlicesPerSegment; ++i) {
        Page* page = seg->slice_page[i];
        if (page->first_slice == i && page->kind == PageKind::kLarge)
          os::protect(page->start + page->block_size - os::page_size(), os::page_size(), true);
      }
    }
    if (keep_segments) {
      // Reset: every page becomes free slices, dirty, purged after the delay like any freed
      // memory, so a heap that is refilled at once reuses them without page faults.
      for (size_t i = kFirstUsableSlice; i < kSlicesPerSegment; ++i) {
        Page* page = seg->slice_page[i];
        if (page->first_slice != i || page->kind == PageKind::kFree) continue;
        if (slice_is_free(seg, i)) continue;
        page_to_free_kind(page);
        mark_released(arena, seg, i, page->slice_count, now);
      }
    } else {
      // Destroy: purge it all now and give the segment to the pool.
      size_t dirty = count_slices(seg->dirty_mask, 0, kSlicesPerSegment);
      count_used(arena, -static_cast<ptrdiff_t>(segment_usable_slices() - seg->free_slices));
      add(g_dirty_slices, -static_cast<ptrdiff_t>(dirty));
      arena->dirty_slices -= dirty;
      constexpr size_t kUsableBytes = kSegmentSize - kFirstUsableSlice * kSliceSize;
      os::purge(reinterpret_cast<uint8_t*>(seg) + kFirstUsableSlice * kSliceSize, kUsableBytes,
                false);
      purge_header(seg);
      purged += kUsableBytes;
      segment_reset_slices(seg);
      unlink_segment(arena, seg);
      pool_put(seg);
    }
    seg = following;
  }
  if (purged != 0) stats::global().bytes_purged.fetch_add(purged, std::memory_order_relaxed);
}

void arena_shrink_large(Page* page, size_t slices) {
  Segment* seg = segment_of_page(page);
  Arena* arena = seg->arena;
  LockGuard guard(arena->lock);
  size_t tail = page->slice_count - slices;
  release_slices(arena, seg, page->first_slice + slices, tail);
  stats::large_resized(page->block_size, slices << kSliceShift);
  page->slice_count = static_cast<uint16_t>(slices);
  page_set_block_size(page, slices << kSliceShift);
}

size_t arena_maintain(Arena* arena, bool force, size_t keep_bytes) {
  LockGuard guard(arena->lock);
  return maintain_locked(arena, os::now_ms(), force,
                         force ? keep_bytes : options::get(options::Id::kTopPad));
}

// Lock order: an arena's lock, then the segment pool's.
void arenas_lock_all() {
  for (size_t i = 0; i < arenas_in_use(); ++i) g_arenas[i].lock.lock();
  g_pool_lock.lock();
}
void arenas_unlock_all() {
  g_pool_lock.unlock();
  for (size_t i = 0; i < arenas_in_use(); ++i) g_arenas[i].lock.unlock();
}
void arenas_reset_locks() {
  for (size_t i = 0; i < arenas_in_use(); ++i) g_arenas[i].lock.reset();
  g_pool_lock.reset();
}

}  // namespace arenalloc
