// Checked heaps: every malloc and free of such a heap takes the slow path so it can fill and
// verify memory. Two options turn them on (read at start-up; perturb also by mallopt):
//
//   perturb (MALLOC_PERTURB_=b)  new blocks are filled with ~b, freed blocks with b (past the
//                                two words of free-list links), as glibc does.
//   debug (ARENALLOC_DEBUG=1)    every block carries canary bytes after the requested size and
//                                the size in its last word; free verifies them and reports a
//                                write past the end. Freed blocks are filled with a pattern that
//                                is verified when the block is handed out again (a write after
//                                free is reported). Blocks carved onto a page's free list are
//                                given the same look (fill and free mark), so every block handed
//                                out must have it: a write over the mark is reported too. New
//                                blocks are filled with a pattern, not zero. Large and huge blocks
//                                end with a PROT_NONE guard page, so a run past the end faults at
//                                once. malloc_usable_size returns the requested size; realloc
//                                always moves.
//
// Nothing here costs anything when both are off: a thread's heap is checked only if they are
// on, and unchecked heaps never reach this code.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/heap.h"
#include "diag/options.h"

namespace arenalloc {

inline constexpr uint8_t kNewFill = 0xA5;     // new blocks (debug)
inline constexpr uint8_t kFreedFill = 0xDF;   // freed blocks (debug)
inline constexpr uint8_t kCanaryFill = 0xFB;  // after the requested size (debug)

inline bool debug_mode() noexcept {
  return options::get(options::Id::kDebug) != 0;
}
// Whether new heaps start checked, and frees go through checked_free: perturb or debug on.
inline bool checking_wanted() noexcept {
  return options::get(options::Id::kPerturb) != 0 || debug_mode();
}
// Allocation on a checked heap (any size, any alignment).
void* checked_malloc(Heap* heap, size_t size, size_t align, bool zero) noexcept;
// Called by every free that does not take the fast path, for small, large and huge blocks:
// verifies and fills per the options. False if the block must not be freed (reported).
bool checked_free(Page* page, void* p) noexcept;
// Debug mode: make the `count` blocks from `first` that page_extend is carving for a checked heap
// look freed (the freed fill and the free mark), so that checked_pop can tell a freed block whose
// mark was overwritten from a block never handed out. page_extend calls it for pages whose owner
// is checked; nothing when debug mode is off.
void checked_carve(Page* page, uint8_t* first, size_t count) noexcept;
// Debug mode: the size the block was requested with (its usable size).
size_t debug_requested_size(const Page* page, const void* p) noexcept;

}  // namespace arenalloc
