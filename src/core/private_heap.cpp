#include "core/private_heap.h"

#include "core/alloc.h"
#include "core/checked.h"
#include "core/process.h"
#include "diag/report.h"
#include "os/os.h"

namespace arenalloc {
namespace {

constexpr uint64_t kPrivateMagic = 0x70726976686561ull;  // "privhea"

Lock g_registry_lock;
PrivateHeap* g_registry = nullptr;

size_t struct_bytes() { return align_up(sizeof(PrivateHeap), os::page_size()); }

void free_huge_blocks(PrivateHeap* h) {
  LockGuard guard(h->huge_lock);
  while (Page* page = h->huge.pop_front()) huge_free(page);
}

void reset_heap_lists(Heap* heap) {
  for (auto& d : heap->direct) d = &g_empty_page;
  for (auto& q : heap->queues) q = PageList{};
  heap->full = PageList{};
  heap->delayed_free.store(nullptr, std::memory_order_relaxed);
}

}  // namespace

PrivateHeap* private_heap_create() noexcept {
  if (!process_init()) return nullptr;
  auto* h = static_cast<PrivateHeap*>(os::reserve_aligned(struct_bytes(), os::page_size()));
  if (h == nullptr) return nullptr;
  os::name_mapping(h, struct_bytes(), "arenalloc-private-heap");
  // Fresh memory is zero: locks free, lists empty.
  h->magic = kPrivateMagic;
  h->arena.index = UINT32_MAX;  // not in the arena table: never adopted from, never brk
  h->arena.next_maintenance_ms.store(UINT64_MAX, std::memory_order_relaxed);
  Heap* heap = &h->heap;
  reset_heap_lists(heap);
  heap->arena = &h->arena;
  heap->is_private = 1;
  heap->checked = checking_wanted();
  heap->random = (os::random_seed() ^ reinterpret_cast<uintptr_t>(h)) | 1;
  LockGuard guard(g_registry_lock);
  h->next = g_registry;
  if (g_registry != nullptr) g_registry->prev = h;
  g_registry = h;
  return h;
}

PrivateHeap* private_heap_check(void* handle) noexcept {
  {
    // A handle is only dereferenced once it is found among the live heaps.
    LockGuard guard(g_registry_lock);
    for (PrivateHeap* h = g_registry; h != nullptr; h = h->next)
      if (h == handle && h->magic == kPrivateMagic) return h;
  }
  diag::report_invalid_heap(handle);
  return nullptr;
}

void* private_heap_alloc(PrivateHeap* h, size_t size, size_t align, bool zero) noexcept {
  LockGuard guard(h->lock);
  void* p = heap_alloc(&h->heap, size, align, zero);
  if (p != nullptr) {
    Page* page = page_of(segment_of(p), p);
    if (page->kind == PageKind::kHuge) {  // remember it, to unmap it at reset and destroy
      page->owner.store(reinterpret_cast<uintptr_t>(&h->heap), std::memory_order_relaxed);
      LockGuard huge_guard(h->huge_lock);
      h->huge.push_back(page);
    }
  }
  return p;
}

void private_heap_free(PrivateHeap* h, void* p) noexcept {
  if (p == nullptr) return;
  if (!segmap::contains(p)) return free_not_ours(p);
  LockGuard guard(h->lock);
  free_generic(&h->heap, page_of(segment_of(p), p), p);
}

void private_heap_forget_huge(Page* page) noexcept {
  auto* heap = owner_heap(page->owner.load(std::memory_order_relaxed));
  auto* h = reinterpret_cast<PrivateHeap*>(reinterpret_cast<uint8_t*>(heap) -
                                           offsetof(PrivateHeap, heap));
  LockGuard guard(h->huge_lock);
  h->huge.remove(page);
}

void private_heap_reset(PrivateHeap* h) noexcept {
  LockGuard guard(h->lock);
  free_huge_blocks(h);
  arena_discard_all(&h->arena, /*keep_segments=*/true);
  reset_heap_lists(&h->heap);
}

void private_heap_destroy(PrivateHeap* h) noexcept {
  {
    LockGuard guard(g_registry_lock);
    if (h->prev != nullptr) h->prev->next = h->next;
    else g_registry = h->next;
    if (h->next != nullptr) h->next->prev = h->prev;
  }
  {
    LockGuard guard(h->lock);
    free_huge_blocks(h);
    arena_discard_all(&h->arena, /*keep_segments=*/false);
    h->magic = 0;
  }
  os::release(h, struct_bytes());
}

void private_heaps_visit(void (*fn)(Arena* arena, void* ctx), void* ctx) noexcept {
  LockGuard guard(g_registry_lock);
  for (PrivateHeap* h = g_registry; h != nullptr; h = h->next) fn(&h->arena, ctx);
}

// Lock order: registry, then each heap's lock, its huge list's, its arena's.
void private_heaps_lock_all() noexcept {
  g_registry_lock.lock();
  for (PrivateHeap* h = g_registry; h != nullptr; h = h->next) {
    h->lock.lock();
    h->huge_lock.lock();
    h->arena.lock.lock();
  }
}
void private_heaps_unlock_all() noexcept {
  for (PrivateHeap* h = g_registry; h != nullptr; h = h->next) {
    h->arena.lock.unlock();
    h->huge_lock.unlock();
    h->lock.unlock();
  }
  g_registry_lock.unlock();
}
void private_heaps_reset_locks() noexcept {
  for (PrivateHeap* h = g_registry; h != nullptr; h = h->next) {
    h->arena.lock.reset();
    h->huge_lock.reset();
    h->lock.reset();
  }
  g_registry_lock.reset();
}

}  // namespace arenalloc
