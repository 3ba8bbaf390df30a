#include "core/page_map.h"

#include "core/page.h"
#include "core/segment.h"
#include "os/os.h"

namespace arenalloc::page_map {

namespace {

uintptr_t g_no_entries[1] = {0};  // g_entries until the map is reserved

uintptr_t* entries_of(const Segment* seg) {
  return g_entries + (reinterpret_cast<uintptr_t>(seg) >> kSliceShift);
}

bool covers(const Segment* seg) {
  return g_index_mask != 0 && (reinterpret_cast<uintptr_t>(seg) >> kSliceShift) <= g_index_mask;
}

uintptr_t entry_of(const Page* page) {
  return page == nullptr
             ? 0
             : reinterpret_cast<uintptr_t>(page) ^ reinterpret_cast<uintptr_t>(g_entry_key);
}

void copy(const Segment* seg, size_t first, size_t count) {
  uintptr_t* entries = entries_of(seg);
  for (size_t i = first; i < first + count; ++i)
    __atomic_store_n(&entries[i], entry_of(seg->slice_page[i]), __ATOMIC_RELAXED);
}

}  // namespace

uintptr_t* g_entries = g_no_entries;
size_t g_index_mask = 0;
Page g_unknown_page;
constinit Page* const g_entry_key = &g_unknown_page;

void init() noexcept {
  if (g_index_mask != 0) return;
  void* p = os::reserve_readonly(kEntries * sizeof(uintptr_t));
  if (p == nullptr) return;
  os::name_mapping(p, kEntries * sizeof(uintptr_t), "arenalloc-page-map");
  g_entries = static_cast<uintptr_t*>(p);
  __atomic_store_n(&g_index_mask, kEntries - 1, __ATOMIC_RELEASE);  // after g_entries
}

void add(const Segment* seg) noexcept {
  if (!covers(seg)) return;
  // If the entries cannot be made writable they stay zero, and lookups in this segment take the
  // slow path.
  static_assert(kSlicesPerSegment * sizeof(uintptr_t) % 4096 == 0);
  if (!os::make_writable(entries_of(seg), kSlicesPerSegment * sizeof(uintptr_t))) return;
  copy(seg, 0, kSlicesPerSegment);
}

void update(const Segment* seg, size_t first, size_t count) noexcept {
  // Entry 0 (the header slice) is set exactly when add succeeded.
  if (covers(seg) && __atomic_load_n(entries_of(seg), __ATOMIC_RELAXED) != 0)
    copy(seg, first, count);
}

void remove(const Segment* seg) noexcept {
  if (!covers(seg)) return;
  uintptr_t* entries = entries_of(seg);
  if (__atomic_load_n(&entries[0], __ATOMIC_RELAXED) == 0) return;  // never written
  for (size_t i = 0; i < kSlicesPerSegment; ++i) __atomic_store_n(&entries[i], 0, __ATOMIC_RELAXED);
}

}  // namespace arenalloc::page_map
