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
  constexpr size_t kMaxBlocks = size_t(2) << 20;
  // Pointer array outside the heap, touched before the baseline.
  auto** ptrs = static_cast<void**>(
      mmap(nullptr, kMaxBlocks * sizeof(void*), PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(ptrs, MAP_FAILED);
  std::memset(ptrs, 0, kMaxBlocks * sizeof(void*));
  for (int i = 0; i < 1000; ++i) std::free(std::malloc(size_t(i) * 64 + 1));  // init
  size_t start = RssBytes();

  Rng r(1);
  size_t total = 0, count = 0, small_bytes = 0;
  while (total < kTarget && count < kMaxBlocks) {
    // A third of the bytes in small blocks (16..512), the rest medium
    // (1 KiB..256 KiB) with a few up to 1 MiB.
    size_t n = (small_bytes * 3 < total) ? RandomSize(r, 16, 512)
               : r.OneIn(50)             ? RandomSize(r, 256 << 10, 1 << 20)
                                         : RandomSize(r, 1024, 256 << 10);
    if (n <= 512) small_bytes += n;
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x6B, n);
    ptrs[count++] = p;
    total += n;
  }
  size_t peak = RssBytes();
  // Free in a scrambled order.
  for (size_t i = 0; i < count; ++i) {
    size_t j = i + r.Below(count - i);
    std::swap(ptrs[i], ptrs[j]);
    std::free(ptrs[i]);
  }
  size_t freed = RssBytes();
  int trimmed = malloc_trim(0);
  size_t after = RssBytes();
  std::printf("trim: %zu blocks, %.1f MiB; RSS start %.1f, peak %.1f, after free %.1f, "
              "after malloc_trim %.1f MiB; malloc_trim returned %d\n",
              count, MiB(total), MiB(start), MiB(peak), MiB(freed), MiB(after), trimmed);
  EXPECT_GE(peak, start + kTarget * 3 / 4) << "blocks were not resident?";
  EXPECT_LT(after, start + (16 << 20)) << "RSS after malloc_trim(0) is " << MiB(after - start)
                                       << " MiB above the start";
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
  munmap(ptrs, kMaxBlocks * sizeof(void*));
}

}  // namespace
