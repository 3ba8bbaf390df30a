// Start-up footprint: `startup_rss` prints VmRSS at main and after 64 idle threads; it runs five
// times plain and five times with LD_PRELOAD=libarenalloc.so, and the medians are compared. RSS
// of file-backed pages moves with the kernel's fault-around and the page cache (glibc's own runs
// spread over 100 KiB), so the bounds catch a regression (touching a table that should stay
// untouched, initialising eagerly) rather than restate the documented figure
// (docs/PERFORMANCE.md: about 150 KiB at main).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Sample {
  long at_main = -1, with_threads = -1;
};

Sample Run(bool preload) {
  std::string cmd = std::string(preload ? "env LD_PRELOAD=" ARENALLOC_SO " " : "") + PROGRAM;
  Sample s;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return s;
  if (std::fscanf(f, "rss_kib=%ld threads_rss_kib=%ld", &s.at_main, &s.with_threads) != 2)
    s = Sample{};
  int status = pclose(f);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) s = Sample{};
  return s;
}

Sample Median(bool preload) {
  std::vector<long> a, b;
  for (int i = 0; i < 5; ++i) {
    Sample s = Run(preload);
    if (s.at_main < 0) return Sample{};
    a.push_back(s.at_main);
    b.push_back(s.with_threads);
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return {a[2], b[2]};
}

}  // namespace

TEST(Footprint, StartUpAndIdleThreads) {
  Sample glibc = Median(false), ours = Median(true);
  ASSERT_GT(glibc.at_main, 0);
  ASSERT_GT(ours.at_main, 0);
  long at_main = ours.at_main - glibc.at_main;
  long per_thread =
      ((ours.with_threads - ours.at_main) - (glibc.with_threads - glibc.at_main)) / 64;
  std::printf(
      "arenalloc over glibc: %ld KiB at main; %ld KiB per idle thread (incl. initialisation)\n",
      at_main, per_thread);
  EXPECT_LT(at_main, 300) << "start-up footprint over glibc (KiB)";
  // Threads that never allocate have no heap; the initialisation the first pthread_create
  // triggers (its own calloc) is spread over the 64 threads here.
  EXPECT_LT(per_thread, 16) << "footprint of an idle thread over glibc (KiB)";
}
