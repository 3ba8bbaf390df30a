// A small program for the arenalloc command's tests. The first argument picks the
// behaviour; the "-preloaded" modes misbehave only when LD_PRELOAD is set (i.e. under a
// preloaded allocator) and succeed under glibc.
//   ok                     allocate, verify, print "test_prog: ... verified", exit 0
//   crash-preloaded        SIGSEGV under a preloaded allocator
//   hang-preloaded FILE    under a preloaded allocator: fork a child, write both pids
//                          to FILE and sleep forever (both must be killed by --timeout)
//   exit3                  exit status 3
//   unverified             exit 0 without the marker
//   print-env              print LD_PRELOAD and ARENALLOC_STATS
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static bool preloaded() {
  const char* p = std::getenv("LD_PRELOAD");
  return p && *p;
}

static int ok() {
  std::vector<std::string> v;
  for (int i = 0; i < 10000; ++i)
    v.push_back(std::string(static_cast<std::size_t>(i % 200 + 1), 'x'));
  std::size_t total = 0;
  for (const auto& s : v) total += s.size();
  if (total != 1005000) {
    std::fprintf(stderr, "test_prog: wrong total %zu\n", total);
    return 1;
  }
  std::printf("test_prog: total=%zu verified\n", total);
  return 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "ok";
  if (mode == "ok") return ok();
  if (mode == "crash-preloaded") {
    if (preloaded()) {
      signal(SIGSEGV, SIG_DFL);
      raise(SIGSEGV);
    }
    return ok();
  }
  if (mode == "hang-preloaded") {
    if (!preloaded()) return ok();
    if (argc < 3) return 2;
    const pid_t child = fork();
    if (child == 0) {
      for (;;) pause();
    }
    FILE* f = std::fopen(argv[2], "w");
    if (!f) return 2;
    std::fprintf(f, "%d %d\n", static_cast<int>(getpid()), static_cast<int>(child));
    std::fclose(f);
    for (;;) pause();
  }
  if (mode == "exit3") return 3;
  if (mode == "unverified") return 0;
  if (mode == "print-env") {
    const char* p = std::getenv("LD_PRELOAD");
    const char* s = std::getenv("ARENALLOC_STATS");
    std::printf("LD_PRELOAD=%s\nARENALLOC_STATS=%s\n", p ? p : "", s ? s : "");
    return 0;
  }
  std::fprintf(stderr, "test_prog: unknown mode %s\n", mode.c_str());
  return 2;
}
