#include "suite.hpp"

#include <sys/stat.h>

#include "util.hpp"

namespace arenalloc_cli {

const std::vector<SuiteEntry>& suite_entries() {
  // Arguments stay empty where the program's defaults are the suite's sizes (each takes
  // 1-5 s under glibc on a 2-core machine; see bench/README.md).
  // One benchmark per line:
  // clang-format off
  static const std::vector<SuiteEntry> entries = {
      {"larson", "larson", {}, {"20000", "2", "100", "8", "1000", "2"}, "server simulation, cross-thread frees"},
      {"prodcons", "prodcons", {}, {"20000", "1"}, "producer/consumer pairs, every free remote"},
      {"cache_scratch", "cache_scratch", {}, {"200", "2", "8", "100"}, "passive false sharing"},
      {"cache_thrash", "cache_thrash", {}, {"200", "2", "8", "100"}, "active false sharing"},
      {"random_sizes", "random_sizes", {}, {"20000", "1", "500"}, "8 B..64 KiB, live set in phases"},
      {"random_sizes_mt", "random_sizes", {"4000000", "2"}, {"20000", "2", "500"}, "same, 2 threads"},
      {"glibc_simple", "glibc_simple", {}, {"2000"}, "fixed-size small batches (bench-malloc-simple)"},
      {"glibc_thread", "glibc_thread", {}, {"20000", "2"}, "threaded working sets (bench-malloc-thread)"},
      {"realloc_growth", "realloc_growth", {}, {"200", "1", "4096", "50"}, "buffers grown by realloc"},
      {"large", "large", {}, {"20", "1", "102400", "4194304"}, "100 KiB..32 MiB blocks"},
      {"peak_fall", "peak_fall", {}, {"16", "2", "10", "10"}, "RSS at the peak and after the fall"},
      {"handoff", "handoff", {}, {"20000", "2", "1000"}, "data built by main, replaced by workers"},
      {"micro", "micro", {}, {"2000"}, "malloc API micro-benchmarks (Google Benchmark)"},
  };
  // clang-format on
  return entries;
}

std::string find_bench_dir(const std::string& dir) {
  auto is_dir = [](const std::string& d) {
    struct stat st;
    return stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  if (!dir.empty()) {
    if (!is_dir(dir)) throw CliError("benchmark directory '" + dir + "' does not exist");
    return dir;
  }
  const std::string base = exe_dir();
  for (const std::string& cand : {base + "/bench", base + "/../libexec/arenalloc/bench"})
    if (is_dir(cand)) return cand;
  throw CliError("benchmark directory not found (looked for " + base +
                 "/bench); build the benchmarks (cmake --build build) or pass --bench-dir DIR");
}

std::vector<SuiteEntry> select_entries(const std::string& only) {
  if (only.empty()) return suite_entries();
  std::vector<SuiteEntry> out;
  for (const std::string& name : split(only, ',')) {
    bool found = false;
    for (const SuiteEntry& e : suite_entries())
      if (e.name == name) out.push_back(e), found = true;
    if (!found) {
      std::string known;
      for (const SuiteEntry& e : suite_entries())
        if (known.find(e.name) == std::string::npos) known += (known.empty() ? "" : ", ") + e.name;
      throw CliError("unknown benchmark '" + name + "' (known: " + known + ")");
    }
  }
  return out;
}

}  // namespace arenalloc_cli
