// The heap's page queues and full list, as the allocation side (heap.cpp) and the free side
// (free.cpp) both change them. Owner thread only, but for the full list (full_lock, heap.h).
#pragma once

#include "core/heap.h"

namespace arenalloc {

// Behind the pages in use (first, if there are none).
void queue_push_back(Heap* heap, Page* page);
// Requeue a page of the full list or a freed list (full_lock held).
void page_unfull(Heap* heap, Page* page);
// Call f on each page of the full list and the freed lists (full_lock held); f may take the page
// out of its list.
template <class F>
void for_each_parked_page(Heap* heap, F f) {
  auto walk = [&](PageList& list) {
    for (Page* page = list.first; page != nullptr;) {
      Page* next = page->next;
      f(page);
      page = next;
    }
  };
  walk(heap->full);
  for (auto& list : heap->freed) walk(list);
}
// Take a page out of whichever of the full list and the freed lists holds it (full_lock held).
void full_lists_remove(Heap* heap, Page* page);
// A full page that other threads began to free into: to the back of its class's freed list
// (full_lock held).
void page_to_freed(Heap* heap, Page* page);
// The oldest page of `from`'s freed list of class c, now `to`'s and in none of its lists;
// nullptr if there is none. Another heap (to != from) does not wait for from's full_lock.
Page* freed_take(Heap* from, Heap* to, size_t c);
// Apply the blocks other threads freed into this heap's full pages (free.cpp).
void process_delayed(Heap* heap);

}  // namespace arenalloc
