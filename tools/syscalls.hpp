// Counting the allocator's memory system calls with `strace -f -c`.
#pragma once

#include <string>
#include <vector>

#include "report.hpp"

namespace arenalloc_cli {

// The system calls counted (also the table columns).
const std::vector<std::string>& counted_syscalls();

// Path of strace, or "" when it is not installed.
std::string strace_path();

// Runs argv once under strace with `preload` prepended to LD_PRELOAD. Returns false with
// a one-line reason in *err when no counts could be obtained.
bool count_syscalls(const std::string& strace, const std::vector<std::string>& argv,
                    const std::string& preload, double timeout_s, SyscallCounts* out,
                    std::string* err);

// Parses the table written by `strace -c` (exposed for tests).
SyscallCounts parse_strace_summary(const std::string& text);

}  // namespace arenalloc_cli
