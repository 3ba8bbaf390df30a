// Run-time options: one table, read once at start-up from the environment without malloc.
//
// Each option is ARENALLOC_<NAME> in the environment (upper case), may also be given in
// ARENALLOC_OPTIONS="name=value,...", and some have a glibc name (MALLOC_ARENA_MAX, ...) that is
// honoured when the arenalloc name is not set. A value that does not parse or is out of range
// produces one warning line naming the option and the accepted range; the default is kept.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arenalloc {

enum class OnError : uint8_t { kAbort = 0, kWarn = 1, kIgnore = 2 };

struct Options {
  size_t arena_max;        // 0 = automatic (8 x CPUs, capped)
  size_t mmap_threshold;   // bytes; blocks at or above get their own mapping
  uint32_t purge_delay_ms; // how long freed memory stays resident before it is purged
  bool purge_lazy;         // MADV_FREE instead of MADV_DONTNEED
  OnError on_error;
  bool stats_at_exit;
};

namespace options {

void init() noexcept;
const Options& get() noexcept;
// Effective arena count for the current options and CPU count.
size_t arena_count() noexcept;
// Parse and apply one option by name (used by init, ARENALLOC_OPTIONS and the C API).
// Returns false (after warning) if the name is unknown or the value malformed or out of range.
bool set(const char* name, size_t name_len, const char* value, size_t value_len) noexcept;

}  // namespace options
}  // namespace arenalloc
