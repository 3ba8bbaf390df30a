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

// Private heaps live in slots of one reserved region, so a handle is validated by arithmetic
// (inside the region, on a slot boundary, live magic) without a lock or a list walk. A freed
// slot is purged and reused; its magic is cleared, so a stale handle is recognised.
constexpr size_t kSlotBytes = align_up(sizeof(PrivateHeap), 4096);
constexpr size_t kMaxHeaps = 65536;
std::atomic<uint8_t*> g_slots{nullptr};
size_t g_slots_used = 0;              // under g_registry_lock
PrivateHeap* g_free_slots = nullptr;  // under g_registry_lock, linked through next

uint8_t* slots() {
  uint8_t* base = g_slots.load(std::memory_order_acquire);
  if (base != nullptr) return base;
  auto* fresh = static_cast<uint8_t*>(os::reserve_aligned(kSlotBytes * kMaxHeaps, 4096));
  if (fresh == nullptr) return nullptr;
  os::name_mapping(fresh, kSlotBytes * kMaxHeaps, "arenalloc-private-heaps");
  if (!g_slots.compare_exchange_strong(base, fresh, std::memory_order_acq_rel)) {
    os::release(fresh, kSlotBytes * kMaxHeaps);
    return base;
  }
  return fresh;
}

// A zeroed slot, or nullptr (out of slots or address space). Under g_registry_lock.
PrivateHeap* take_slot() {
  if (PrivateHeap* h = g_free_slots) {
    g_free_slots = h->next;
    return h;
  }
  uint8_t* base = slots();
  if (base == nullptr || g_slots_used == kMaxHeaps) return nullptr;
  return reinterpret_cast<PrivateHeap*>(base + kSlotBytes * g_slots_used++);
}

void free_huge_blocks(PrivateHeap* h) {
  LockGuard guard(h->huge_lock);
  while (Page* page = h->huge.pop_front()) huge_free(page);
}

}  // namespace

PrivateHeap* private_heap_create() noexcept {
  if (!process_init_for_heaps()) return nullptr;
  LockGuard guard(g_registry_lock);
  PrivateHeap* h = take_slot();
  if (h == nullptr) return nullptr;
  // Slots are zero (fresh, or purged when freed): locks free, lists empty.
  h->arena.next_maintenance_ms.store(UINT64_MAX, std::memory_order_relaxed);
  Heap* heap = &h->heap;
  heap_reset_lists(heap);
  heap->arena = &h->arena;
  heap->is_private = 1;
  heap->thread = 0;  // no thread's: its pages' owner_thread matches none
  heap->checked = checking_wanted();
  heap->random = (os::random_seed() ^ reinterpret_cast<uintptr_t>(h)) | 1;
  __atomic_store_n(&h->magic, kPrivateMagic, __ATOMIC_RELEASE);
  h->next = g_registry;
  if (g_registry != nullptr) g_registry->prev = h;
  g_registry = h;
  return h;
}

PrivateHeap* private_heap_check(void* handle) noexcept {
  // A handle is only dereferenced once it is known to be one of the slots.
  uint8_t* base = g_slots.load(std::memory_order_acquire);
  auto offset = static_cast<size_t>(static_cast<uint8_t*>(handle) - base);
  if (base != nullptr && handle != nullptr && offset < kSlotBytes * kMaxHeaps &&
      offset % kSlotBytes == 0) {
    auto* h = static_cast<PrivateHeap*>(handle);
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == kPrivateMagic) return h;
  }
  diag::report_invalid_heap(handle);
  return nullptr;
}

void* private_heap_alloc(PrivateHeap* h, size_t size, size_t align, bool zero) noexcept {
  LockGuard guard(h->lock);
  if (align <= 16 && !zero && size <= kDirectMax) return heap_malloc(&h->heap, size);
  void* p = heap_alloc(&h->heap, size, align, zero);
  if (p != nullptr) {
    Page* page = page_of(segment_of(p), p);
    if (page->kind == PageKind::kHuge) {  // remember it, to unmap it at reset and destroy
      page_set_heap(page, &h->heap);
      LockGuard huge_guard(h->huge_lock);
      h->huge.push_back(page);
    }
  }
  return p;
}

void private_heap_free(PrivateHeap* h, void* p) noexcept {
  if (p == nullptr) return;
  Page* page = find_page(p);
  if (page == nullptr) return free_not_ours(p);
  LockGuard guard(h->lock);
  free_generic(p, page, &h->heap);
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
  heap_reset_lists(&h->heap);
}

void private_heap_destroy(PrivateHeap* h) noexcept {
  {
    LockGuard guard(g_registry_lock);
    if (h->prev != nullptr)
      h->prev->next = h->next;
    else
      g_registry = h->next;
    if (h->next != nullptr) h->next->prev = h->prev;
  }
  {
    LockGuard guard(h->lock);
    __atomic_store_n(&h->magic, 0, __ATOMIC_RELEASE);
    free_huge_blocks(h);
    arena_discard_all(&h->arena, /*keep_segments=*/false);
  }
  os::purge(h, kSlotBytes, false);  // zero for the next heap in this slot
  LockGuard guard(g_registry_lock);
  h->next = g_free_slots;
  g_free_slots = h;
}

void private_heaps_maintain(bool force) noexcept {
  LockGuard guard(g_registry_lock);
  for (PrivateHeap* h = g_registry; h != nullptr; h = h->next) {
    if (force)
      arena_maintain(&h->arena, true);
    else
      arena_try_maintain_due(&h->arena);
  }
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
