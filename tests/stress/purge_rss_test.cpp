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
  constexpr size_t kMaxBlocks = size_t(2) << 20;
  auto** ptrs = static_cast<void**>(
      mmap(nullptr, kMaxBlocks * sizeof(void*), PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(ptrs, MAP_FAILED);
  std::memset(ptrs, 0, kMaxBlocks * sizeof(void*));
  for (int i = 0; i < 1000; ++i) std::free(std::malloc(size_t(i) * 64 + 1));  // init
  size_t start = RssBytes();

  Rng r(2);
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
  for (size_t i = 0; i < count; ++i) {
    size_t j = i + r.Below(count - i);
    std::swap(ptrs[i], ptrs[j]);
    std::free(ptrs[i]);
  }
  size_t freed = RssBytes();
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
  munmap(ptrs, kMaxBlocks * sizeof(void*));
}

}  // namespace
