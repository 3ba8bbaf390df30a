// malloc_trim(0) gives memory back: after ~256 MiB of mixed small/medium
// blocks are touched and freed, trimming brings RSS back near the start.
// Own executable: RSS is measured for the whole process.
#include <malloc.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

TEST(TrimRss, MallocTrimReturnsMemory) {
  Watchdog wd(60, "TrimRss.MallocTrimReturnsMemory");
  constexpr size_t kTarget = size_t(256) << 20;
  FillAndFree f;
  ASSERT_TRUE(FillThenFreeMixed(1, kTarget, &f));
  const size_t count = f.blocks, total = f.total, start = f.start, peak = f.peak, freed = f.freed;
  int trimmed = malloc_trim(0);
  size_t after = RssBytes();
  std::printf(
      "trim: %zu blocks, %.1f MiB; RSS start %.1f, peak %.1f, after free %.1f, "
      "after malloc_trim %.1f MiB; malloc_trim returned %d\n",
      count, MiB(total), MiB(start), MiB(peak), MiB(freed), MiB(after), trimmed);
  EXPECT_GE(peak, start + kTarget * 3 / 4) << "blocks were not resident?";
  EXPECT_LT(after, start + (16 << 20))
      << "RSS after malloc_trim(0) is " << MiB(after - start) << " MiB above the start";
  // Memory was released by the trim unless free had already released it all.
  if (freed > start + (16 << 20)) {
    EXPECT_EQ(trimmed, 1) << "malloc_trim released memory but returned 0";
  }
  EXPECT_TRUE(trimmed == 0 || trimmed == 1);
  // The heap is usable afterwards.
  for (int i = 0; i < 1000; ++i) {
    void* p = std::malloc(size_t(i) * 100 + 1);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, size_t(i) * 100 + 1);
    std::free(p);
  }
}

}  // namespace
