// arenalloc: run a program with the arenalloc allocator preloaded, or compare
// allocators on a program or on the benchmark suite. See `arenalloc --help`.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "allocators.hpp"
#include "compare.hpp"
#include "options.hpp"
#include "process.hpp"
#include "util.hpp"

#ifndef ARENALLOC_VERSION
#define ARENALLOC_VERSION "unknown"
#endif

using namespace arenalloc_cli;

namespace {

int do_run(const RunOptions& o) {
  const std::string lib = arenalloc_library_or_throw(o.lib);
  std::vector<std::string> extra;
  if (o.stats) extra.push_back("ARENALLOC_STATS=1");
  if (find_in_path(o.argv[0]).empty()) {
    std::fprintf(stderr, "arenalloc: program '%s' not found or not executable\n",
                 o.argv[0].c_str());
    return 127;
  }
  std::fflush(nullptr);
  exec_program(o.argv, child_environment(lib, extra));
  const int e = errno;
  std::fprintf(stderr, "arenalloc: cannot execute '%s': %s\n", o.argv[0].c_str(), std::strerror(e));
  return e == ENOENT ? 127 : 126;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Command c = parse_command_line(argc, argv);
    switch (c.kind) {
      case Command::Help:
        std::fputs(usage_text(c.help_topic).c_str(), stdout);
        return 0;
      case Command::Version:
        std::printf("arenalloc %s\n", ARENALLOC_VERSION);
        return 0;
      case Command::Run:
        return do_run(c.run);
      case Command::Compare:
        install_interrupt_handlers();
        return run_compare(c.compare);
    }
  } catch (const CliError& e) {
    std::fprintf(stderr, "arenalloc: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arenalloc: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
