// The data model shared by the measurement code and the renderers (text, JSON, HTML):
// one Report holds, for each benchmark (a command), one Cell per allocator with its
// raw runs and their summary statistics.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stats.hpp"

namespace arenalloc_cli {

enum class RunStatus { Ok, ExitNonZero, Crashed, Timeout, ExecFailed, PreloadFailed, Unverified };

const char* status_name(RunStatus s);  // "ok", "exit", "crash", "timeout", ...

struct Run {
  int index = 0;  // 0-based, warmups first
  bool warmup = false;
  RunStatus status = RunStatus::Ok;
  int exit_code = 0;
  int signal = 0;
  double start_s = 0;  // when the run started, seconds after the comparison began
  double wall_s = 0, user_s = 0, sys_s = 0;
  long maxrss_kib = 0;
  std::map<std::string, std::string> metrics;  // key=value pairs from the program's output
  std::string detail;                          // failure message / output tail
};

struct SyscallCounts {
  std::map<std::string, long> calls;  // mmap, munmap, brk, madvise, mremap
};

struct Allocator {
  std::string name;
  std::string lib;  // empty: the system allocator (no preload)
};

struct MissingAllocator {
  std::string name;
  std::string looked_for;  // path(s)
  std::string hint;        // how to get it
};

struct Cell {
  std::vector<Run> runs;
  // Summary over the measured (non-warmup) successful runs.
  int measured = 0, ok = 0;
  Stat wall, user, sys, rss_kib;
  std::map<std::string, Stat> metrics;  // numeric program metrics (e.g. rss_after_kib)
  std::string failure;                  // "" when every measured run succeeded
  std::optional<SyscallCounts> syscalls;
  std::string syscalls_error;
  bool good() const { return failure.empty() && ok > 0; }
};

struct BenchResult {
  std::string name;
  std::vector<std::string> argv;
  std::vector<Cell> cells;  // parallel to Report::allocators
};

struct Report {
  std::string mode;  // "command" or "suite"
  std::vector<Allocator> allocators;
  std::vector<MissingAllocator> missing;
  std::vector<BenchResult> benches;
  int runs = 0, warmup = 0;
  double timeout_s = 0;
  bool syscalls = false;
  std::string syscalls_note;  // e.g. strace missing
  std::string started_at;     // ISO 8601 UTC
  std::string host;           // uname + CPU count
  double total_s = 0;
};

// Summarizes a cell's runs (fills measured/ok/wall/.../failure).
void summarize(Cell& cell);

// Index of the allocator with the lowest median of `metric` among good cells, or -1.
enum class Metric { Wall, User, Sys, Rss };
const Stat& metric_of(const Cell& c, Metric m);
int best_index(const BenchResult& b, Metric m);

// Geometric mean over the benchmarks where every allocator succeeded; one per allocator
// (empty when there is no such benchmark). `used` receives how many benchmarks counted.
std::vector<double> geomeans(const Report& r, Metric m, int* used = nullptr);

// Short failure label for tables: "CRASH SIGSEGV", "TIMEOUT", "EXIT 1", ...
std::string failure_label(const Cell& c);

// The three renderers.
std::string render_text(const Report& r);
std::string render_json(const Report& r);
std::string render_html(const Report& r);

}  // namespace arenalloc_cli
