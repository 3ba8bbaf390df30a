// Pages and their free lists.
//
// A page is a run of slices inside a segment that serves blocks of one size class (kind kSmall),
// or a single large block (kLarge), or the one block of a huge mapping (kHuge). Its descriptor
// lives in the segment header, found from any block address by mask and index (segment.h).
//
// Free lists: a small page keeps three, so that the owner and other threads never meet.
//   free         blocks malloc pops from, and the owner's frees push onto: a stack, so the block
//                freed last is handed out next while it is still in cache. (Pushing the owner's
//                frees onto a separate list until `free` ran dry, as mimalloc does, handed out
//                blocks freed long before: bench/handoff missed D1 22.6M times against 20.6M,
//                tcmalloc 16.3M.) Only the owner thread touches it.
//   local_free   remote frees the owner collected (page_collect_thread_free) while `free` still
//                had blocks, and a checked heap's own frees (debug mode: reuse waits, so that
//                the check at reuse sees more writes after free); they join `free` when it
//                runs dry.
//   thread_free  blocks freed by other threads: an atomic stack pushed with one CAS; the owner
//                takes it whole with one exchange when `free` and `local_free` are empty. A page
//                whose owner frees as much as it allocates may leave them there for a while:
//                at most the page's own blocks.
// The low two bits of thread_free hold the page's delayed-free state, which lets a page that the
// owner parked as full (no free blocks, out of its queue) be woken by the first remote free:
//   kNoDelayed       remote frees push onto thread_free.
//   kUseDelayed      the page is in its heap's full list: the next remote free goes instead to the
//                    heap's delayed_free list, so the owner notices and requeues the page.
//   kDelayedFreeing  a remote thread is doing that right now (others wait; the owner must not
//                    abandon the heap under it).
//   kNeverDelayed    the page is abandoned (its thread exited): remote frees push onto thread_free.
//
// `used` counts blocks handed out minus frees the owner knows of; the page is empty at zero.
// A free block holds two words: the next pointer, stored XORed with a per-page random key so a
// heap overflow into a freed block cannot aim the allocator at an address of the attacker's
// choosing, and a free mark (the page's key), written by free and cleared by malloc. A
// free that finds the mark already there is a double free (confirmed by a scan of the page's
// lists on the owner's side). Hence the smallest block is 16 bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace arenalloc {

struct Heap;

struct Block {
  uintptr_t next_encoded;
  uintptr_t free_mark;
};

enum class PageKind : uint8_t { kFree = 0, kSmall = 1, kLarge = 2, kHuge = 3 };

enum DelayState : uintptr_t {
  kNoDelayed = 0,
  kUseDelayed = 1,
  kDelayedFreeing = 2,
  kNeverDelayed = 3,
};
inline constexpr uintptr_t kDelayMask = 3;

// Bit 0 of Page::owner: the page sits in its heap's full list. Bit 1: its heap is checked (every
// operation on it takes the slow path, e.g. to perturb contents). Either bit makes the free fast
// path's owner comparison fail.
inline constexpr uintptr_t kOwnerFull = 1;
inline constexpr uintptr_t kOwnerChecked = 2;
inline constexpr uintptr_t kOwnerBits = kOwnerFull | kOwnerChecked;

// Cache-line aligned (128 bytes): the pages of one segment are often owned by different threads
// (adopted, taken from another arena, taken from an idle owner), and each owner writes its page's
// lists and count on every malloc and free. Packed at 112 bytes, neighbouring descriptors shared
// lines: bench/handoff ran about 20% slower once its workers took the main thread's pages.
// The first line holds everything the malloc and free fast paths read or write, so a free into a
// page whose descriptor has gone cold (larson: random frees over thousands of pages) misses once;
// the second holds the rest, with thread_free, whose CAS by other threads' frees would otherwise
// take the owner's line away on every remote free.
struct alignas(64) Page {
  // First line: the fast paths.
  Block* free;
  Block* local_free;
  uintptr_t key;
  // Heap* of the owner | kOwnerFull; 0 for large and abandoned pages. Only the owner changes it
  // while it owns the page, so the owner may read it plainly; others read it relaxed.
  std::atomic<uintptr_t> owner;
  uint8_t* start;  // first block
  // Small pages: `(p - start) * block_magic < block_limit` exactly when p starts one of the
  // page's blocks (a divisibility test by multiplication, with the block-count bound folded in:
  // see page_init_small). One multiply instead of a division on the free path.
  uint64_t block_magic;
  uint64_t block_limit;
  uint32_t used;
  uint32_t capacity;  // blocks carved out of the page so far
  // Second line.
  std::atomic<uintptr_t> thread_free;  // Block* | DelayState
  size_t block_size;                   // for kLarge and kHuge, the usable size of the one block
  Page* next;  // in a heap queue, the full list, or an arena's abandoned list
  Page* prev;
  uint32_t reserved;  // blocks that fit in the page
  uint8_t size_class;
  PageKind kind;
  uint8_t is_zero;  // kLarge/kHuge: the block's memory is known to read as zero
  uint8_t in_queue;
  uint16_t first_slice;
  uint16_t slice_count;
  // The page is its class's only page and was kept when it emptied: `used` carries kKeptBias so
  // that a malloc/free loop on it does not call page_retire on every free.
  uint8_t kept;
};
static_assert(offsetof(Page, capacity) + sizeof(uint32_t) <= 64, "fast-path fields in one line");
static_assert(sizeof(Page) == 128);

inline constexpr uint32_t kKeptBias = 1u << 30;
// Blocks in use, without the kept-page bias.
inline uint32_t page_used(const Page* page) {
  return page->used - (page->kept ? kKeptBias : 0);
}

inline Block* decode(const Page* page, uintptr_t encoded) {
  return reinterpret_cast<Block*>(kFastPathChecks ? encoded ^ page->key : encoded);
}
inline uintptr_t encode(const Page* page, Block* next) {
  return kFastPathChecks ? reinterpret_cast<uintptr_t>(next) ^ page->key
                         : reinterpret_cast<uintptr_t>(next);
}

// The mark does not depend on the block: reading it from one freed block tells no more than its
// encoded link does (the key, given the address), and the free path saves an instruction.
inline uintptr_t free_mark(const Page* page, const void* /*block*/) {
  return page->key;
}

// Whether `block` is on one of the page's free lists (the owner's check of a suspected double
// free). Walks defensively: a corrupted link ends the walk rather than being followed.
bool page_contains_free_block(const Page* page, const Block* block, const Block* delayed);

inline Heap* owner_heap(uintptr_t owner) {
  return reinterpret_cast<Heap*>(owner & ~kOwnerBits);
}

// Page operations used by the heap (page.cpp). All are owner-thread only.
void page_init_small(Page* page, size_t size_class, uintptr_t owner, uintptr_t key);
// Carve more blocks onto `free` (at most ~one OS page worth at a time, so RSS follows use).
void page_extend(Page* page);
// Move local_free and then thread_free onto `free` when `free` is empty.
void page_collect(Page* page);
// Take the remote frees now (used when the page must be judged empty or not).
void page_collect_thread_free(Page* page);
// Set the delayed-free state, waiting out a remote free that is in kDelayedFreeing.
// Returns false if `only_if_empty_list` and blocks are already on thread_free.
bool page_set_delay_state(Page* page, DelayState state, bool only_if_empty_list);

// Whether p is where a block of this page begins (interior and wild pointers are not). Exact for
// any p, so it also checks links read from free lists, which may point anywhere.
inline bool page_is_block_start(const Page* page, const void* p) {
  size_t offset = static_cast<size_t>(static_cast<const uint8_t*>(p) - page->start);
  return offset < size_t{page->reserved} * page->block_size && offset % page->block_size == 0;
}

// The same for a small page and a p that lies in the page's slices (the page was found from p):
// one multiply instead of a division, exact there (see page_init_small). For a wild pointer (a
// decoded link that was overwritten) it errs with a chance of about block_limit / 2^64.
[[gnu::always_inline]] inline bool small_page_block_start(const Page* page, const void* p) {
  uint64_t offset = static_cast<uint64_t>(static_cast<const uint8_t*>(p) - page->start);
  return offset * page->block_magic < page->block_limit;
}

inline bool page_all_free(const Page* page) {
  return page_used(page) == 0;
}
inline bool page_has_free(const Page* page) {
  return page->free != nullptr || page->capacity < page->reserved;
}

}  // namespace arenalloc
