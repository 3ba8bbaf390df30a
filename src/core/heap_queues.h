// The heap's page queues and full list, as the allocation side (heap.cpp) and the free side
// (free.cpp) both change them. Owner thread only, but for the full list (full_lock, heap.h).
#pragma once

#include "core/heap.h"

namespace arenalloc {

// Behind the pages in use (first, if there are none).
void queue_push_back(Heap* heap, Page* page);
// Requeue a page of the full list (full_lock held).
void page_unfull(Heap* heap, Page* page);
// Apply the blocks other threads freed into this heap's full pages (free.cpp).
void process_delayed(Heap* heap);

}  // namespace arenalloc
