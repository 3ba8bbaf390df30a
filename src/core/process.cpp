// Initialisation, per-thread heaps' life cycle, and fork.
//
// Initialisation never calls malloc: it reads the environment with a plain scan, reserves the
// page map with mmap, and creates one pthread key (which does not allocate). It runs on the
// first allocation, which may come before any constructor (from another library's constructor,
// from dlsym, from the dynamic loader's own use of calloc), and again harmlessly from our own
// constructor. The fork handlers are added when the first heap is made.
//
// Heap structures are carved from mmapped chunks and recycled through a pool, never unmapped,
// so a pointer to a heap stays valid for the life of the process (see free_remote's delayed path).
#include "core/process.h"

#include <pthread.h>

#include <atomic>

#include "core/arena.h"
#include "core/checked.h"
#include "core/heap.h"
#include "core/heap_queues.h"
#include "core/page_map.h"
#include "core/private_heap.h"
#include "diag/options.h"
#include "diag/stats.h"
#include "os/os.h"

namespace arenalloc {
namespace {

std::atomic<int> g_state{0};  // 0 = not started, 1 = initialising, 2 = ready, 3 = failed
pthread_key_t g_thread_key;
uint64_t g_seed;

// Heap pool: free heaps, plus a list of every heap ever made (for the fork child).
Lock g_heaps_lock;
Heap* g_free_heaps = nullptr;
constexpr size_t kMaxHeapsListed = 4096;
// Enough for the heaps of all live threads; beyond, fork-child cleanup and heaps_take_freed skip.
Heap* g_all_heaps[kMaxHeapsListed];
std::atomic<size_t> g_all_count{0};
uint8_t* g_chunk = nullptr;
size_t g_chunk_left = 0;

// Call f on every heap listed, in the order they were made (g_heaps_lock held, or in a fork
// handler).
template <class F>
void for_each_listed_heap(F f) {
  for (size_t i = 0, n = g_all_count.load(std::memory_order_relaxed); i < n; ++i) f(g_all_heaps[i]);
}

constexpr size_t kHeapChunk = 256 * 1024;
constexpr size_t kHeapStride = align_up(sizeof(Heap), 64);

Heap* heap_pool_pop() {
  if (Heap* h = g_free_heaps) {
    g_free_heaps = h->next_free;
    return h;
  }
  if (g_chunk_left < kHeapStride) {
    g_chunk = static_cast<uint8_t*>(os::reserve_aligned(kHeapChunk, os::page_size()));
    if (g_chunk == nullptr) return nullptr;
    os::name_mapping(g_chunk, kHeapChunk, "arenalloc-heaps");
    g_chunk_left = kHeapChunk;
  }
  Heap* h = reinterpret_cast<Heap*>(g_chunk);
  g_chunk += kHeapStride;
  g_chunk_left -= kHeapStride;
  size_t count = g_all_count.load(std::memory_order_relaxed);
  if (count < kMaxHeapsListed) {
    g_all_heaps[count] = h;
    g_all_count.store(count + 1, std::memory_order_release);  // heaps_take_freed reads it unlocked
  }
  return h;
}

// A heap for a new thread, with its arena. The arena is chosen under the pool's lock: fork_prepare
// holds it while it locks the arenas in use, so no arena can come into use between the prepare
// handler's locking and the parent's unlocking (which would unlock a lock it never took).
Heap* heap_pool_take() {
  LockGuard guard(g_heaps_lock);
  Heap* h = heap_pool_pop();
  if (h == nullptr) return nullptr;
  // A recycled heap keeps its arena: a new generation of threads reuses the memory (and adopts
  // the abandoned pages) of the one before instead of spreading over fresh arenas.
  if (h->arena == nullptr || arena_index(h->arena) >= arena_count())
    h->arena = arena_for_new_heap();
  return h;
}

void heap_pool_put(Heap* h) {
  LockGuard guard(g_heaps_lock);
  h->thread_id = 0;
  h->thread = 0;
  h->next_free = g_free_heaps;
  g_free_heaps = h;
}

// The calling thread gives its heap back: its pages to the arenas, the heap to the pool.
void heap_release(Heap* heap) {
  heap_abandon(heap);
  if (tls_heap == heap) tls_heap = &g_empty_heap;
  heap_pool_put(heap);
}

void thread_exit(void* value) {
  Heap* heap = static_cast<Heap*>(value);
  if (heap == nullptr || heap == &g_empty_heap) return;
  heap_release(heap);
}

// Lock order: the heap pool, the thread heaps' full lists, private heaps, the arenas (then the
// segment pool). A thread taking another's full page holds only that heap's full_lock; an owner
// may take an arena lock under its own.
void fork_prepare() {
  g_heaps_lock.lock();
  for_each_listed_heap([](Heap* h) { h->full_lock.lock(); });
  private_heaps_lock_all();
  arenas_lock_all();
}
void fork_parent() {
  arenas_unlock_all();
  private_heaps_unlock_all();
  for_each_listed_heap([](Heap* h) { h->full_lock.unlock(); });
  g_heaps_lock.unlock();
}
void fork_child() {
  arenas_reset_locks();
  private_heaps_reset_locks();
  g_heaps_lock.reset();
  // Only the forking thread survives: the other threads' heaps are abandoned so their pages can
  // be adopted and their blocks freed and reused in the child.
  heaps_abandon_others(tls_heap);
  purger_after_fork_child();
}

[[gnu::constructor]] void library_constructor() {
  process_init();
  // Registered always: the option may be switched at run time (arenalloc_option_set).
  atexit([] {
    if (options::get(options::Id::kStats)) stats::print();
  });
}

}  // namespace

bool process_init() noexcept {
  int state = g_state.load(std::memory_order_acquire);
  if (state == 2) [[likely]]
    return true;
  if (state == 0 && g_state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
    options::init();
    page_map::init();
    arenas_init(options::arena_count());
    bool ok = pthread_key_create(&g_thread_key, thread_exit) == 0;
    g_seed = os::random_seed();
    g_state.store(ok ? 2 : 3, std::memory_order_release);
    return ok;
  }
  while ((state = g_state.load(std::memory_order_acquire)) == 1) os::yield();
  return state == 2;
}

bool process_init_for_heaps() noexcept {
  if (!process_init()) return false;
  // The fork handlers wait for the first heap: pthread_atfork maps 64 KiB of libc's read-only
  // data into the process, which a program that never allocates need not pay. A fork before
  // this point finds no heap and no lock held. After the initialisation's state is ready:
  // should pthread_atfork allocate, that malloc must not wait for this.
  static std::atomic<bool> registered{false};
  if (!registered.load(std::memory_order_acquire) && !registered.exchange(true))
    pthread_atfork(fork_prepare, fork_parent, fork_child);
  return true;
}

Heap* heap_for_thread() noexcept {
  if (tls_heap != &g_empty_heap) return tls_heap;
  if (!process_init_for_heaps()) return nullptr;
  Heap* h = heap_pool_take();
  if (h == nullptr) return nullptr;
  heap_reset_lists(h);
  h->thread_id = os::thread_id();
  h->thread = this_thread();
  h->checked = checking_wanted();
  h->is_private = 0;
  h->random = (g_seed ^ reinterpret_cast<uintptr_t>(h) ^ (uint64_t{h->thread_id} << 32)) | 1;
  tls_heap = h;
  // May call calloc (for keys past the first 32): the thread already has its heap by now.
  pthread_setspecific(g_thread_key, h);
  return h;
}

void heap_drop_for_thread() noexcept {
  Heap* heap = tls_heap;
  if (heap == &g_empty_heap) return;
  pthread_setspecific(g_thread_key, nullptr);  // no thread_exit for it
  heap_release(heap);
}

// A heap whose thread was inside one of its slow paths when the process forked (in_slow_path)
// may have its queues half-changed in the child: following them abandoned one page twice and
// looped an arena's abandoned list on it (stress.Fork.WhileOtherThreadsAllocate, a child hung
// now and then). Such a heap is left as it is, its pages lost to the child, and stays in_slow_path
// so that no reclaimer looks at it. Its full and freed lists change only under full_lock, which
// fork_prepare held: they are whole, and their pages are unstuck as every heap's.
void heaps_abandon_others(Heap* keep) noexcept {
  auto torn = [keep](const Heap* h) {
    return h != keep && h->in_slow_path.load(std::memory_order_relaxed) != 0;
  };
  for_each_listed_heap([&](Heap* h) {
    h->full_lock.reset();  // held by fork_prepare
    if (h->thread_id != 0) heap_unstick_after_fork(h, !torn(h));
  });
  for_each_listed_heap([&](Heap* h) {
    if (h == keep || h->thread_id == 0 || torn(h)) return;
    heap_abandon(h);
    heap_pool_put(h);
  });
}

namespace {

std::atomic<uint64_t> g_next_idle_scan_ms{0};

// Under g_heaps_lock. Heaps in the pool are looked at too: harmless (they have no pages), and
// thread_id is written without the lock.
void mark_idle_locked(uint64_t now) {
  g_next_idle_scan_ms.store(now + kIdleMs / 2, std::memory_order_relaxed);
  for_each_listed_heap([now](Heap* h) {
    uint32_t refills = h->refills.load(std::memory_order_relaxed);
    if (refills != h->seen_refills || h->seen_ms == 0) {
      h->seen_refills = refills;
      h->seen_ms = now;
      if (h->idle.load(std::memory_order_relaxed)) h->idle.store(0, std::memory_order_relaxed);
    } else if (now - h->seen_ms >= kIdleMs && !h->idle.load(std::memory_order_relaxed)) {
      h->idle_since_ms.store(h->seen_ms, std::memory_order_relaxed);
      h->idle.store(1, std::memory_order_relaxed);
    }
  });
}

// Whether a heap marked idle has been so long enough to have its pages reclaimed: a thread that
// waits for a core on an oversubscribed machine is idle by kIdleMs for tens of milliseconds, and
// taking its pages then only makes it fetch others when it runs again (larson, 8 threads on 2
// cores: 10% fewer ops/s with reclaim at kIdleMs).
bool idle_long_enough(const Heap* h, uint64_t now) {
  return now - h->idle_since_ms.load(std::memory_order_relaxed) >= kReclaimIdleMs;
}

bool idle_scan_due(uint64_t now) {
  return now >= g_next_idle_scan_ms.load(std::memory_order_relaxed);
}

}  // namespace

void heaps_mark_idle() noexcept {
  uint64_t now = os::now_ms();
  if (!idle_scan_due(now) || !g_heaps_lock.try_lock()) return;
  mark_idle_locked(now);
  g_heaps_lock.unlock();
}

// Looks at most at kFreedVictims heaps, from a place that moves with each call: no global count
// of freed pages (each page move would write one cache line shared by every thread: bench/handoff
// ran 8-20% slower with one).
constexpr size_t kFreedVictims = 64;

Page* heaps_take_freed(Heap* thief, size_t c) noexcept {
  size_t n = g_all_count.load(std::memory_order_acquire);
  size_t start = thief->thread_id + thief->pages_taken;
  for (size_t k = 0; k < n && k < kFreedVictims; ++k) {
    Heap* victim = g_all_heaps[(start + k) % n];
    if (victim == thief || !heap_has_freed(victim, c)) continue;
    if (Page* page = freed_take(victim, thief, c)) return page;
  }
  return nullptr;
}

void heaps_flush_large_caches() noexcept {
  // Without the pool's lock, as heaps_take_freed: a listed heap is never unmapped.
  size_t n = g_all_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) large_cache_flush(g_all_heaps[i]);
}

void heaps_release_idle() noexcept {
  if (!g_heaps_lock.try_lock()) return;
  uint64_t now = os::now_ms();
  if (idle_scan_due(now)) mark_idle_locked(now);
  for_each_listed_heap([now](Heap* h) {
    if (h->idle.load(std::memory_order_relaxed)) {
      heap_release_full(h);
      if (idle_long_enough(h, now)) heap_reclaim_empty(h);
    }
  });
  g_heaps_lock.unlock();
}

namespace {
std::atomic<uint64_t> g_next_reclaim_ms{0};
}  // namespace

void heaps_reclaim_idle(Heap* self) noexcept {
  if (!kReclaimIdlePages) return;
  uint64_t now = os::now_ms();
  uint64_t due = g_next_reclaim_ms.load(std::memory_order_relaxed);
  if (now < due || !g_next_reclaim_ms.compare_exchange_strong(due, now + kReclaimPeriodMs)) return;
  // Idleness as last marked (by frees into parked pages and the purger): marking it here too
  // would space the looks differently and delay the take-over of full pages (steal_full_page).
  bool pending = false;
  // Without the pool's lock, as heaps_take_freed: a listed heap is never unmapped, and
  // heap_reclaim_empty excludes its owner's slow paths (a recycled heap's reset among them).
  size_t n = g_all_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Heap* h = g_all_heaps[i];
    if (h == self || !h->idle.load(std::memory_order_relaxed)) continue;
    if (self != nullptr && idle_long_enough(h, now))
      heap_reclaim_empty(h);
    else
      pending = true;
  }
  // An idle heap not reclaimed from here: the thread that found it may not come back (one that
  // only frees another's data has nothing left to free once done), so the purger looks again.
  if (pending) purger_start_if_needed(true);
}

}  // namespace arenalloc
