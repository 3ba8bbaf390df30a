// Page-level free-list operations (see page.h for the three lists and the delayed-free states).
#include "core/page.h"

#include "core/checked.h"
#include "core/size_class.h"
#include "diag/options.h"
#include "diag/report.h"
#include "os/os.h"

namespace arenalloc {

void page_init_small(Page* page, size_t size_class, uintptr_t owner, uintptr_t owner_thread,
                     uintptr_t key) {
  page->free = nullptr;
  page->local_free = nullptr;
  page->used = 0;
  page->capacity = 0;
  page_set_block_size(page, class_size(size_class));
  page->reserved =
      static_cast<uint32_t>((size_t{page->slice_count} << kSliceShift) / page->block_size);
  // With c = ceil(2^64 / size), or one more to make it odd, offset * c (mod 2^64) is q * e for
  // offset = q * size, where e = size * c - 2^64 is in [1, 2 * size]; for any other offset in
  // the page it is at least about 2^64 / size. So offset * c < reserved * e exactly for the
  // starts of blocks 0 .. reserved-1. An odd c also rejects the addresses that differ from a
  // block's only in bits 47-63, which the page map's mask folds onto it (page_map.h): for
  // those the product is at least 2^47 (checked for every class by brute force).
  uint64_t c = UINT64_MAX / page->block_size + 1;
  c |= 1;
  uint64_t e = page->block_size * c;  // mod 2^64
  page->block_magic = c;
  page->block_limit = page->reserved * e;
  page->size_class = static_cast<uint8_t>(size_class);
  page->kind = PageKind::kSmall;
  page->held_in = HeldIn::kNone;
  page->key = key;
  page->thread_free.store(kNoDelayed, std::memory_order_relaxed);
  page_set_owner(page, owner, owner_thread);
  page->next = page->prev = nullptr;
  page_extend(page);
}

void page_extend(Page* page) {
  size_t bs = page->block_size;
  size_t extend = 4096 / bs;
  if (extend == 0) extend = 1;
  size_t left = page->reserved - page->capacity;
  if (extend > left) extend = left;
  if (extend == 0) return;
  uint8_t* first = page->start + page->capacity * bs;
  // A checked heap's page (its owner is set before any extension): debug mode makes the new
  // blocks look freed (checked.h). Unchecked heaps pay one test per extension.
  if (page->owner.load(std::memory_order_relaxed) & kOwnerChecked) [[unlikely]]
    checked_carve(page, first, extend);
  if (options::get(options::Id::kSecure) != 0 && extend > 1) {
    // Secure mode: hand the new blocks out in a random order, so the address of the next block
    // cannot be predicted from the last one.
    uint16_t order[4096 / 16];
    size_t n =
        extend < sizeof(order) / sizeof(order[0]) ? extend : sizeof(order) / sizeof(order[0]);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint16_t>(i);
    uint64_t x = page->key ^ (uint64_t{page->capacity} << 32) ^ reinterpret_cast<uintptr_t>(first);
    for (size_t i = n - 1; i > 0; --i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      size_t j = x % (i + 1);
      uint16_t t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    Block* head = page->free;
    for (size_t i = 0; i < n; ++i) {
      auto* b = reinterpret_cast<Block*>(first + order[i] * bs);
      b->next_encoded = encode(page, head);
      head = b;
    }
    page->free = head;
    page->capacity += static_cast<uint32_t>(n);
    return;
  }
  uint8_t* p = first;
  for (size_t i = 1; i < extend; ++i, p += bs)
    reinterpret_cast<Block*>(p)->next_encoded = encode(page, reinterpret_cast<Block*>(p + bs));
  // The extension goes in front of whatever is free (normally nothing).
  reinterpret_cast<Block*>(p)->next_encoded = encode(page, page->free);
  page->free = reinterpret_cast<Block*>(first);
  page->capacity += static_cast<uint32_t>(extend);
}

namespace {

// Take the page's remote-free list whole. Its length is in the thread_free word, so `used` is
// made exact without walking it.
Block* take_thread_free(Page* page) {
  uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
  if ((tf & ~kDelayMask) == 0) return nullptr;
  while (!page->thread_free.compare_exchange_weak(tf, tf & kDelayMask, std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
  }
  page->used -= thread_free_count(tf);
  return thread_free_list(tf);
}

}  // namespace

void page_collect_thread_free(Page* page) {
  Block* head = take_thread_free(page);
  if (head == nullptr) return;
  // Find the list's tail to splice it onto local_free, checking each link on the way.
  Block* tail = head;
  for (Block* next; (next = decode(page, tail->next_encoded)) != nullptr; tail = next) {
    if (!small_page_block_start(page, next)) [[unlikely]] {
      // A freed block was written after free: keep what came before, leak the rest.
      diag::report_bad_link(next, page->block_size);
      break;
    }
  }
  tail->next_encoded = encode(page, page->local_free);
  page->local_free = head;
}

void page_collect(Page* page) {
  if (page->free != nullptr) return;
  // The remote list is not walked: it becomes `free` as it is, or waits in local_free behind the
  // owner's blocks there. Walking it (to splice it onto local_free) read every block another
  // thread had freed, from that thread's cache: a fifth of prodcons's time with 16 pairs. Its
  // links are checked as malloc pops them, as those of the owner's own frees are.
  Block* remote = take_thread_free(page);
  if (page->local_free == nullptr) {
    page->free = remote;
  } else {
    page->free = page->local_free;
    page->local_free = remote;
  }
}

namespace {
bool on_list(const Page* page, const Block* list, const Block* block, bool encoded) {
  for (uint32_t steps = 0; list != nullptr && steps <= page->reserved; ++steps) {
    if (list == block) return true;
    if (!page_is_block_start(page, list)) return false;
    list =
        encoded ? decode(page, list->next_encoded) : reinterpret_cast<Block*>(list->next_encoded);
  }
  return false;
}
}  // namespace

bool page_contains_free_block(const Page* page, const Block* block, const Block* delayed) {
  const Block* remote = thread_free_list(page->thread_free.load(std::memory_order_acquire));
  return on_list(page, page->free, block, true) || on_list(page, page->local_free, block, true) ||
         on_list(page, remote, block, true) || on_list(page, delayed, block, false);
}

bool page_set_delay_state(Page* page, DelayState state, bool only_if_empty_list) {
  uintptr_t tf = page->thread_free.load(std::memory_order_relaxed);
  for (unsigned spins = 0;; ++spins) {
    if ((tf & kDelayMask) == kDelayedFreeing) {
      // A remote free is between its two steps.
      os::spin_pause(spins);
      tf = page->thread_free.load(std::memory_order_relaxed);
      continue;
    }
    if (only_if_empty_list && (tf & ~kDelayMask) != 0) return false;
    if ((tf & kDelayMask) == state) return true;
    if (page->thread_free.compare_exchange_weak(
            tf, (tf & ~kDelayMask) | state, std::memory_order_acq_rel, std::memory_order_relaxed))
      return true;
  }
}

}  // namespace arenalloc
