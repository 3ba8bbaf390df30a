// Statistics.
//
// Two kinds of numbers. Process-wide event counters (segments mapped, huge blocks, bytes purged,
// system calls) are relaxed atomics bumped on slow paths only. Everything about what is in use
// (per arena, per size class) is not counted at all while the program runs: a snapshot walks the
// arenas' segments and reads the page descriptors, so the fast paths pay nothing. Blocks freed by
// other threads and not yet collected by their owner still count as in use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/config.h"
#include "core/size_class.h"

namespace arenalloc::stats {

struct Global {
  std::atomic<uint64_t> segments_mapped{0};
  std::atomic<uint64_t> bytes_purged{0};
  std::atomic<uint64_t> huge_count{0};
  std::atomic<uint64_t> huge_bytes{0};
  std::atomic<uint64_t> huge_peak_count{0};
  std::atomic<uint64_t> huge_peak_bytes{0};
  std::atomic<uint64_t> large_count{0};
  std::atomic<uint64_t> large_bytes{0};
};

Global& global() noexcept;

void huge_allocated(size_t bytes) noexcept;
void huge_freed(size_t bytes) noexcept;
inline void large_allocated(size_t bytes) {
  global().large_count.fetch_add(1, std::memory_order_relaxed);
  global().large_bytes.fetch_add(bytes, std::memory_order_relaxed);
}
inline void large_freed(size_t bytes) {
  global().large_count.fetch_sub(1, std::memory_order_relaxed);
  global().large_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}
inline void large_resized(size_t from, size_t to) {  // grown or shrunk in place
  global().large_bytes.fetch_add(to - from, std::memory_order_relaxed);
}

struct ClassStats {
  uint64_t pages;
  uint64_t blocks_in_use;
  uint64_t blocks_free;  // carved or not yet carved, in those pages
};

struct ArenaStats {
  uint64_t segments;
  uint64_t bytes_in_use;     // blocks handed out (small and large)
  uint64_t bytes_committed;  // slices in pages, plus free slices not yet purged
  uint64_t bytes_dirty;      // free slices not yet purged
  uint64_t bytes_reserved;   // address space of its segments
  uint64_t small_pages;
  uint64_t large_blocks;
  uint64_t abandoned_pages;
  uint64_t free_runs;  // runs of free slices
};

struct Snapshot {
  size_t arena_count;  // configured
  ArenaStats arenas[kMaxArenas];
  ClassStats classes[kClassCount];
  uint64_t huge_count, huge_bytes, huge_peak_count, huge_peak_bytes;
  uint64_t segments_mapped, bytes_purged;
  uint64_t mmap_calls, munmap_calls, madvise_calls, mremap_calls, brk_calls;
  uint64_t rss, peak_rss;
  // Sums over arenas.
  uint64_t bytes_in_use, bytes_committed, bytes_dirty, bytes_reserved;
};

// Fill `out` (walks every arena under its lock; core/introspect.cpp).
void take_snapshot(Snapshot* out) noexcept;

// Human-readable report on stderr (arenalloc_stats_print, ARENALLOC_STATS=1).
void print() noexcept;
// JSON into buf (always NUL-terminated when len > 0); returns the full length it needed.
size_t to_json(char* buf, size_t len) noexcept;

}  // namespace arenalloc::stats
