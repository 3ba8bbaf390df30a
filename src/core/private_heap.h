// Private heaps: a heap the program creates, allocates from (from any thread), and destroys with
// all its blocks in one call: the region pattern, without the program tracking its blocks.
//
// A private heap is a Heap (size-classed pages, as a thread's) over an Arena of its own, so its
// segments hold only its blocks and destroying it gives them back at once. Allocation takes the
// private heap's lock (any thread may allocate); free() from any thread works as for any block
// (a remote free onto the page); arenalloc_heap_free under the lock frees as the owner.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/arena.h"
#include "core/heap.h"
#include "core/lock.h"

namespace arenalloc {

struct PrivateHeap {
  uint64_t magic;
  Lock lock;       // serialises use of `heap` (allocation, owner frees, reset)
  Heap heap;       // is_private set; heap.arena == &arena
  Arena arena;     // its own segments, maintained on its own slow paths
  Lock huge_lock;  // guards `huge` (free() of a huge block may come from any thread)
  PageList huge;   // its huge blocks, unmapped at reset and destroy
  PrivateHeap* next;
  PrivateHeap* prev;
};

PrivateHeap* private_heap_create() noexcept;
// nullptr if h is not a live private heap (reported).
PrivateHeap* private_heap_check(void* h) noexcept;
void* private_heap_alloc(PrivateHeap* h, size_t size, size_t align, bool zero) noexcept;
void private_heap_free(PrivateHeap* h, void* p) noexcept;
void private_heap_reset(PrivateHeap* h) noexcept;
void private_heap_destroy(PrivateHeap* h) noexcept;
// free() of a huge block of a private heap: take it off the heap's list.
void private_heap_forget_huge(Page* page) noexcept;

// Maintain every private heap's arena: purge what is due (the purger), or everything (trim).
void private_heaps_maintain(bool force) noexcept;
// Statistics: call fn for every private heap's arena (under the registry lock).
void private_heaps_visit(void (*fn)(Arena* arena, void* ctx), void* ctx) noexcept;
// fork(): hold every private heap's locks across fork.
void private_heaps_lock_all() noexcept;
void private_heaps_unlock_all() noexcept;
void private_heaps_reset_locks() noexcept;

}  // namespace arenalloc
