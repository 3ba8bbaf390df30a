// Error reports: one line on stderr, written without malloc, then the action chosen by the
// on_error option (abort by default; warn leaks the bad block rather than touching it).
#pragma once

#include <cstddef>

namespace arenalloc::diag {

[[gnu::cold]] void report_invalid_free(const void* p, const char* why) noexcept;
[[gnu::cold]] void report_double_free(const void* p, size_t block_size) noexcept;
// A sized free whose size does not fit the block. Returns true if the caller must not free it
// (on_error=warn leaks it); false to go on (ignore).
[[gnu::cold]] bool report_size_mismatch(const void* p, size_t size, size_t block_size) noexcept;
// Debug mode. Each returns true if the caller must not free the block (on_error=warn leaks it).
[[gnu::cold]] bool report_overflow(const void* p, size_t size, size_t offset) noexcept;
[[gnu::cold]] void report_write_after_free(const void* p, size_t block_size,
                                           size_t offset) noexcept;
[[gnu::cold]] void report_corruption(const void* p, size_t block_size, const char* what) noexcept;
// A free-list link that leads out of its page (a freed block was written after free; which one
// is no longer known, only where its link now leads).
[[gnu::cold]] void report_bad_link(const void* link, size_t block_size) noexcept;
// A private-heap handle that is not one (never created, or destroyed).
[[gnu::cold]] void report_invalid_heap(const void* handle) noexcept;
// A warning about configuration (bad option value, ...): printed, never fatal.
[[gnu::cold]] void warn(const char* message) noexcept;

}  // namespace arenalloc::diag
