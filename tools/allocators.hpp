// Which allocators to compare and where their libraries are: arenalloc (next to this
// executable, --lib or ARENALLOC_LIB), glibc (no preload), the peers at their Debian
// paths, and custom NAME=/path/lib.so entries.
#pragma once

#include <string>
#include <vector>

#include "report.hpp"

namespace arenalloc_cli {

struct LibLookup {
  std::string path;                // found library ("" if none)
  std::vector<std::string> tried;  // candidates looked at
  bool explicit_path = false;      // from --lib or ARENALLOC_LIB
};

// Finds libarenalloc.so: cli_lib, else $ARENALLOC_LIB, else <exe dir>/libarenalloc.so,
// else <exe dir>/../lib/libarenalloc.so.
LibLookup locate_arenalloc(const std::string& cli_lib);

// "" when path is a readable ELF shared object, else a one-line reason.
std::string check_library(const std::string& path);

struct AllocatorSet {
  std::vector<Allocator> found;
  std::vector<MissingAllocator> missing;  // defaults that are not installed
};

// list: comma-separated names (arenalloc, glibc, jemalloc, tcmalloc, mimalloc) and
// NAME=/path/lib.so entries; empty means every known allocator that is available.
// Throws CliError for an unknown name, a duplicate, or an explicitly named allocator
// whose library is missing or unreadable.
AllocatorSet resolve_allocators(const std::string& list, const std::string& cli_lib);

// The library for `arenalloc run`; throws CliError when not found or unusable.
std::string arenalloc_library_or_throw(const std::string& cli_lib);

}  // namespace arenalloc_cli
