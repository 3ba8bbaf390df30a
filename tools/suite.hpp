// The benchmark suite run by `arenalloc compare --suite`: which programs, with which
// arguments, and where to find them.
#pragma once

#include <string>
#include <vector>

namespace arenalloc_cli {

struct SuiteEntry {
  std::string name;                     // label in reports (and for --only)
  std::string program;                  // program name in the bench directory
  std::vector<std::string> args;        // full-size arguments (empty: the program's defaults)
  std::vector<std::string> quick_args;  // tiny arguments for --quick
  std::string what;                     // one-line description
};

const std::vector<SuiteEntry>& suite_entries();

// The benchmark directory: `dir` if given, else <exe dir>/bench, else
// <exe dir>/../libexec/arenalloc/bench. Throws CliError if it does not exist.
std::string find_bench_dir(const std::string& dir);

// Entries selected by `only` (comma-separated, empty = all); throws CliError on an
// unknown name.
std::vector<SuiteEntry> select_entries(const std::string& only);

}  // namespace arenalloc_cli
