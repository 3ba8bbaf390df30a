// Without malloc_trim: after everything is freed and a short delay, the
// allocator's slow paths (a small and a 1 MiB malloc/free) purge free pages,
// so RSS falls well below the peak.
// Own executable: RSS is measured for the whole process.
#include <malloc.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

TEST(PurgeRss, FreedMemoryIsPurgedAfterDelay) {
  Watchdog wd(60, "PurgeRss.FreedMemoryIsPurgedAfterDelay");
  constexpr size_t kTarget = size_t(256) << 20;
  FillAndFree f;
  ASSERT_TRUE(FillThenFreeMixed(2, kTarget, &f));
  const size_t count = f.blocks, total = f.total, start = f.start, peak = f.peak,
               freed = f.freed;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  void* small = std::malloc(32);
  ASSERT_NE(small, nullptr);
  std::memset(small, 1, 32);
  std::free(small);
  void* mib = std::malloc(1 << 20);
  ASSERT_NE(mib, nullptr);
  std::memset(mib, 1, 1 << 20);
  std::free(mib);
  size_t after = RssBytes();
  std::printf("purge: %zu blocks, %.1f MiB; RSS start %.1f, peak %.1f, right after free %.1f, "
              "after 0.5 s + small and 1 MiB malloc/free %.1f MiB\n",
              count, MiB(total), MiB(start), MiB(peak), MiB(freed), MiB(after));
  ASSERT_GE(peak, start + kTarget * 3 / 4) << "blocks were not resident?";
  size_t increase = peak - start;
  EXPECT_LT(after, start + increase / 4)
      << "RSS still " << MiB(after - start) << " MiB above the start (peak increase "
      << MiB(increase) << " MiB): freed memory not purged";
}

}  // namespace
