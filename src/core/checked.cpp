#include "core/checked.h"

#include <errno.h>

#include <cstddef>
#include <cstring>

#include "core/alloc.h"
#include "diag/options.h"
#include "diag/report.h"
#include "os/os.h"

namespace arenalloc {
namespace {

// Debug layout of a block: [0, n) the program's bytes, then canary bytes, then the size n in the
// block's last word. Large and huge blocks end with a guard page, before which the same layout
// ends.
constexpr size_t kDebugTail = 2 * sizeof(size_t);

size_t guard_bytes(const Page* page) {
  return page->kind == PageKind::kSmall ? 0 : os::page_size();
}

// The end of the bytes the debug layout uses (the size word is just before it).
uint8_t* debug_end(const Page* page, const void* p) {
  return const_cast<uint8_t*>(static_cast<const uint8_t*>(p)) + page->block_size -
         guard_bytes(page);
}

size_t first_not(const uint8_t* p, size_t n, uint8_t value) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value) return i;
  return n;
}

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

// Pop a block of class c for a checked heap, verifying (debug) that a block freed before has not
// been written since, and that its free-list link is sane.
void* checked_pop(Heap* heap, size_t c, bool debug) {
  heap_note_class_used(heap, c);
  Page* page = heap->queues[c].first;
  if (page == nullptr || page->free == nullptr) {
    page = heap_find_page(heap, c, 0);
    if (page == nullptr) return nullptr;
  }
  Block* block = page->free;
  Block* next = decode(page, block->next_encoded);
  if (next != nullptr && !page_is_block_start(page, next)) {
    // The link was overwritten: drop the rest of the list rather than follow it.
    diag::report_corruption(block, page->block_size, "free-list link overwritten after free");
    next = nullptr;
  }
  page->free = next;
  ++page->used;
  if (debug) {
    // Every block on a free list of a checked page looks freed: the free mark, then the fill
    // (checked_free and the free that follows it, or checked_carve for blocks never handed out).
    // A byte that differs was written after free, the mark's bytes included.
    auto* bytes = reinterpret_cast<uint8_t*>(block);
    uintptr_t mark = free_mark(page, block);
    uint8_t want[sizeof mark];
    std::memcpy(want, &mark, sizeof mark);
    size_t at = offsetof(Block, free_mark);
    while (at < sizeof(Block) && bytes[at] == want[at - offsetof(Block, free_mark)]) ++at;
    if (at == sizeof(Block))
      at += first_not(bytes + sizeof(Block), page->block_size - sizeof(Block), kFreedFill);
    if (at != page->block_size) diag::report_write_after_free(block, page->block_size, at);
  }
  block->free_mark = 0;
  return block;
}

}  // namespace

void* checked_malloc(Heap* heap, size_t size, size_t align, bool zero) noexcept {
  const bool debug = debug_mode();
  size_t tail = debug ? kDebugTail : 0;
  if (size > kMaxRequest || align > kMaxAlignment) return out_of_memory();
  size_t c = aligned_class(size + tail, align);
  void* p;
  if (c < kClassCount) {
    p = checked_pop(heap, c, debug);
  } else {
    size_t guard = debug ? os::page_size() : 0;
    p = large_alloc(heap, size + tail + guard, align, nullptr);
    if (p != nullptr && debug) {
      Page* page = page_of(segment_of(p), p);
      os::protect(debug_end(page, p), guard, false);
    }
  }
  if (p == nullptr) return nullptr;
  auto* bytes = static_cast<uint8_t*>(p);
  if (debug) {
    Page* page = page_of(segment_of(p), p);
    uint8_t* end = debug_end(page, p);
    std::memset(bytes, zero ? 0 : kNewFill, size);
    std::memset(bytes + size, kCanaryFill,
                static_cast<size_t>(end - bytes) - size - sizeof(size_t));
    std::memcpy(end - sizeof(size_t), &size, sizeof(size_t));
  } else if (zero) {
    std::memset(bytes, 0, size);
  } else if (uint64_t b = options::get(options::Id::kPerturb)) {
    std::memset(bytes, int(~b & 0xff), size);
  }
  return p;
}

bool checked_free(Page* page, void* p) noexcept {
  auto* bytes = static_cast<uint8_t*>(p);
  if (debug_mode()) {
    if (page->kind == PageKind::kSmall) {
      auto* block = static_cast<Block*>(p);
      if (block->free_mark == free_mark(page, block)) {
        diag::report_double_free(p, page->block_size);
        return false;
      }
    }
    uint8_t* end = debug_end(page, p);
    size_t room = static_cast<size_t>(end - bytes) - sizeof(size_t);
    size_t n;
    std::memcpy(&n, end - sizeof(size_t), sizeof(size_t));
    size_t at = n <= room ? first_not(bytes + n, room - n, kCanaryFill) : 0;
    if (n > room || at != room - n) {
      // The size word itself may be what was overwritten: report where the canary starts.
      if (diag::report_overflow(p, n <= room ? n : room, n <= room ? n + at : room)) return false;
    }
    if (page->kind == PageKind::kSmall) {
      if (page->block_size > sizeof(Block))
        std::memset(bytes + sizeof(Block), kFreedFill, page->block_size - sizeof(Block));
    } else {
      os::protect(end, guard_bytes(page), true);  // give the guard page back before reuse
    }
    return true;
  }
  if (uint64_t b = options::get(options::Id::kPerturb);
      b != 0 && page->kind != PageKind::kHuge && page->block_size > sizeof(Block))
    std::memset(bytes + sizeof(Block), int(b), page->block_size - sizeof(Block));
  return true;
}

void checked_carve(Page* page, uint8_t* first, size_t count) noexcept {
  if (!debug_mode()) return;
  const size_t bs = page->block_size;
  std::memset(first, kFreedFill, count * bs);  // page_extend writes the links after this
  for (size_t i = 0; i < count; ++i) {
    auto* block = reinterpret_cast<Block*>(first + i * bs);
    block->free_mark = free_mark(page, block);
  }
}

size_t debug_requested_size(const Page* page, const void* p) noexcept {
  size_t n;
  std::memcpy(&n, debug_end(page, p) - sizeof(size_t), sizeof(size_t));
  return n;
}

}  // namespace arenalloc
