// Error reports: one line on stderr, written without malloc, then the action chosen by the
// on_error option (abort by default; warn leaks the bad block rather than touching it).
#pragma once

namespace arenalloc::diag {

[[gnu::cold]] void report_invalid_free(const void* p, const char* why) noexcept;
// A warning about configuration (bad option value, ...): printed, never fatal.
[[gnu::cold]] void warn(const char* message) noexcept;

}  // namespace arenalloc::diag
