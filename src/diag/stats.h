// Process-wide statistics counters. Only slow paths (spans, huge mappings, purges) count here,
// with relaxed atomics; the fast paths keep nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace arenalloc::stats {

struct Global {
  std::atomic<uint64_t> segments_mapped{0};
  std::atomic<uint64_t> bytes_purged{0};
  std::atomic<uint64_t> huge_count{0};
  std::atomic<uint64_t> huge_bytes{0};
  std::atomic<uint64_t> large_count{0};
  std::atomic<uint64_t> large_bytes{0};
};

Global& global() noexcept;

inline void huge_allocated(size_t bytes) {
  global().huge_count.fetch_add(1, std::memory_order_relaxed);
  global().huge_bytes.fetch_add(bytes, std::memory_order_relaxed);
}
inline void huge_freed(size_t bytes) {
  global().huge_count.fetch_sub(1, std::memory_order_relaxed);
  global().huge_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}
inline void large_allocated(size_t bytes) {
  global().large_count.fetch_add(1, std::memory_order_relaxed);
  global().large_bytes.fetch_add(bytes, std::memory_order_relaxed);
}
inline void large_freed(size_t bytes) {
  global().large_count.fetch_sub(1, std::memory_order_relaxed);
  global().large_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

// Write a readable summary to stderr (no malloc).
void print() noexcept;

}  // namespace arenalloc::stats
