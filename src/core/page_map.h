// The page map: from any address to the descriptor of the page covering it, in one load.
//
// A flat array of Page* indexed by address >> kSliceShift, covering the low 2^47 bytes of
// address space (where Linux places every mapping not asked for higher): 2^31 entries, 16 GiB of
// address space reserved read-only at start-up. Untouched entries read as zero through the
// kernel's shared zero page, so they cost no RSS and no commit charge, and any pointer, however
// wild, can be looked up without a fault. Registering a segment makes the one OS page of entries
// that covers it writable (512 slices x 8 bytes = 4 KiB) and copies the segment's slice table
// there; unregistering zeroes them.
//
// The map is a cache for the free fast paths: the segment map and each segment's slice table
// (segment.h) stay authoritative. An address the map does not know (an entry never written, or
// zeroed) reads as `g_unknown_page`, a descriptor that no heap owns, of no kind and with no
// blocks, so the fast paths' owner and size tests send it to the slow path without a null test
// of their own; the slow path asks the segment map. An entry holds its Page* XORed with the
// sentinel's address, which turns the zero of untouched memory into the sentinel at the cost of
// one `xor` on the free path (the null test it replaces took two instructions). So arenalloc works
// unchanged, only slower, where the map cannot be reserved (a tight `ulimit -v`): `g_index_mask`
// then stays 0 and every lookup reads the sentinel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace arenalloc {

struct Page;
struct Segment;

namespace page_map {

inline constexpr size_t kCoveredBits = 47;
inline constexpr size_t kEntries = size_t{1} << (kCoveredBits - kSliceShift);

// Separate variables rather than one struct: each is then one rip-relative operand on the free
// path. Until the map is reserved (or if it cannot be), g_entries is a single zero entry and the
// mask is 0, so every lookup reads that entry and finds the sentinel.
extern uintptr_t* g_entries ARENALLOC_HIDDEN;
// kEntries - 1 once reserved; 0 before, or if the reservation failed.
extern size_t g_index_mask ARENALLOC_HIDDEN;
// What lookup answers for an address the map does not know: all zero (owner 0, kind kFree,
// block_size 0). Only the slow paths compare with it (known()).
extern Page g_unknown_page ARENALLOC_HIDDEN;
// &g_unknown_page, the key of the entries' XOR. A variable, not the constant: the free path then
// XORs with a memory operand instead of materialising the address first. A pointer, so that it is
// initialised statically (constinit): malloc runs before any constructor.
extern Page* const g_entry_key ARENALLOC_HIDDEN;

// A mask rather than a bounds test saves the free path a compare and a branch. A pointer at or
// above 2^47 (never one of ours: nothing is mapped there unless asked for) reads the entry of
// the address with bits 47-63 cleared. The callers' block-start test rejects it: exactly where
// that address starts a block (page_init_small picks the multiplier for that), and otherwise
// but for a chance of about block_limit / 2^64, as for any wild pointer.
[[gnu::always_inline]] inline Page* lookup(const void* p) {
  // The mask is read before g_entries (init stores them in the other order), so a lookup racing
  // with init never indexes the one-entry stand-in with the full mask. On x86-64 outside
  // sanitizer builds the read is plain, so that the compiler folds it into the `and`, and a
  // compiler fence keeps the order (the processor keeps loads in order).
#if defined(ARENALLOC_TSAN) || !defined(__x86_64__)
  size_t mask = __atomic_load_n(&g_index_mask, __ATOMIC_ACQUIRE);
#else
  size_t mask = g_index_mask;
#endif
  size_t index = (reinterpret_cast<uintptr_t>(p) >> kSliceShift) & mask;
  __atomic_signal_fence(__ATOMIC_ACQUIRE);
  return reinterpret_cast<Page*>(__atomic_load_n(&g_entries[index], __ATOMIC_RELAXED) ^
                                 reinterpret_cast<uintptr_t>(g_entry_key));
}

// Whether lookup found a page (rather than the sentinel).
inline bool known(const Page* page) {
  return page != &g_unknown_page;
}

// lookup for the slow paths: nullptr where the map does not know p.
inline Page* find(const void* p) {
  Page* page = lookup(p);
  return known(page) ? page : nullptr;
}

// Reserve the map (process start-up, before the first segment).
void init() noexcept;
// A segment was mapped: make its entries writable and copy its slice table.
void add(const Segment* seg) noexcept;
// Copy slices [first, first+count) of a registered segment's slice table into the map.
void update(const Segment* seg, size_t first, size_t count) noexcept;
// Forget a segment that is being unmapped.
void remove(const Segment* seg) noexcept;

}  // namespace page_map
}  // namespace arenalloc
