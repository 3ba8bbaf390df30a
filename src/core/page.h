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
// The top 16 bits count the blocks on the list (user-space addresses fit in 47 bits; a page has
// at most 4096 blocks), so that whether every block a page handed out has come back is one
// comparison with `used` (heap_reclaim_empty).
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

// Which list of its heap holds a small page (heap.h): none (a page being handed over, or not a
// heap's), a class queue, the full list, or the class's list of full pages freed into since.
enum class HeldIn : uint8_t { kNone = 0, kQueue = 1, kFull = 2, kFreed = 3 };

enum DelayState : uintptr_t {
  kNoDelayed = 0,
  kUseDelayed = 1,
  kDelayedFreeing = 2,
  kNeverDelayed = 3,
};
inline constexpr uintptr_t kDelayMask = 3;
inline constexpr unsigned kThreadFreeCountShift = 48;
inline constexpr uintptr_t kThreadFreeOne = uintptr_t{1} << kThreadFreeCountShift;
inline constexpr uintptr_t kThreadFreeListMask = (kThreadFreeOne - 1) & ~kDelayMask;
// The list and the count of a thread_free word.
inline Block* thread_free_list(uintptr_t tf) {
  return reinterpret_cast<Block*>(tf & kThreadFreeListMask);
}
inline uint32_t thread_free_count(uintptr_t tf) {
  return static_cast<uint32_t>(tf >> kThreadFreeCountShift);
}

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
// The first line holds everything the malloc and free fast paths read or write (sized delete's
// size test included), so a free into a page whose descriptor has gone cold (larson: random frees
// over thousands of pages) misses once; the second holds the rest, with thread_free, whose CAS by
// other threads' frees would otherwise take the owner's line away on every remote free.
struct alignas(64) Page {
  // First line: the fast paths.
  Block* free;
  // block_size / 2, for sized free's fast test (alloc.h; see page_set_block_size).
  size_t half_size;
  uintptr_t key;
  // The owner's thread pointer (the one a thread reads at %fs:0 on x86-64) with owner's bits:
  // what the free fast path compares with its own thread pointer, which costs one instruction
  // where reading the thread's heap costs two (a shared library finds its TLS offset in the GOT).
  // 0, or bits that match no thread, where `owner` has no thread (see page_set_owner).
  std::atomic<uintptr_t> owner_thread;
  uint8_t* start;  // first block
  // Small pages: `(p - start) * block_magic < block_limit` exactly when p starts one of the
  // page's blocks (a divisibility test by multiplication, with the block-count bound folded in:
  // see page_init_small). One multiply instead of a division on the free path.
  uint64_t block_magic;
  uint64_t block_limit;
  uint32_t used;
  // block_size, for sized free's fast test, where it is below 4 GiB; else 0 (and half_size 0).
  uint32_t short_size;
  // Second line.
  std::atomic<uintptr_t> thread_free;  // Block* | DelayState
  size_t block_size;                   // for kLarge and kHuge, the usable size of the one block
  Block* local_free;  // remote frees collected early, and a checked heap's own frees
  // Heap* of the owner | kOwnerFull | kOwnerChecked; 0 for large and abandoned pages. Only the
  // owner changes it while it owns the page, so the owner may read it plainly; others read it
  // relaxed.
  std::atomic<uintptr_t> owner;
  Page* next;  // in a heap queue, the full list, or an arena's abandoned list
  Page* prev;
  uint32_t reserved;  // blocks that fit in the page
  uint32_t capacity;  // blocks carved out of the page so far
  uint8_t size_class;
  PageKind kind;
  uint8_t is_zero;  // kLarge/kHuge: the block's memory is known to read as zero
  HeldIn held_in;
  uint16_t first_slice;
  uint16_t slice_count;
};
static_assert(offsetof(Page, short_size) + sizeof(uint32_t) <= 64, "fast-path fields in one line");
static_assert(sizeof(Page) == 128);

// Sized free accepts without a second look the sizes from half the block to the block: those
// whose `short_size - size`, unsigned, is at most half_size (a size above the block wraps around
// to a huge number). Every block size is even (a multiple of 16, of a slice, or of an OS page), so
// the half is exact. Sizes of 4 GiB and more are left to the slow path (both fields 0, as in the
// page map's sentinel, which only size 0 passes, to be sent on by the owner test).
inline void page_set_block_size(Page* page, size_t block_size) {
  page->block_size = block_size;
  bool fits = block_size <= UINT32_MAX;
  page->short_size = fits ? static_cast<uint32_t>(block_size) : 0;
  page->half_size = fits ? block_size / 2 : 0;
}
[[gnu::always_inline]] inline bool sized_free_fits(const Page* page, size_t size) {
  return uint64_t{page->short_size} - size <= page->half_size;
}

// The two owner words change together. A thread whose pages another thread may free into gets
// `thread` = its thread pointer; a heap that no thread owns (a private heap) gets 0, which, with
// the same bits, is no thread's.
inline void page_set_owner(Page* page, uintptr_t owner, uintptr_t thread) {
  page->owner.store(owner, std::memory_order_relaxed);
  page->owner_thread.store(thread, std::memory_order_relaxed);
}
inline void page_clear_owner(Page* page) {
  page_set_owner(page, 0, 0);
}

// A page is kept when it is its class's only page and it empties: `used` then carries kKeptBias
// (beyond any real count), so that a malloc/free loop on it does not call page_retire on every
// free.
inline constexpr uint32_t kKeptBias = 1u << 30;
inline bool page_kept(const Page* page) {
  return page->used >= kKeptBias;
}
inline void page_keep(Page* page) {
  page->used += kKeptBias;
}
inline void page_unkeep(Page* page) {
  page->used -= kKeptBias;
}
// Blocks in use, without the kept-page bias.
inline uint32_t page_used(const Page* page) {
  return page->used - (page_kept(page) ? kKeptBias : 0);
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
// `owner`: what page_set_owner sets, before the first blocks are carved.
void page_init_small(Page* page, size_t size_class, uintptr_t owner, uintptr_t owner_thread,
                     uintptr_t key);
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
