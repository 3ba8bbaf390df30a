// Without malloc_trim: after everything is freed and a short delay, the
// allocator's slow paths (a small and a 1 MiB malloc/free) purge free pages,
// so RSS falls well below the peak.
// Own executable: RSS is measured for the whole process.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

TEST(PurgeRss, FreedMemoryIsPurgedAfterDelay) {
  Watchdog wd(60, "PurgeRss.FreedMemoryIsPurgedAfterDelay");
  constexpr size_t kTarget = size_t(256) << 20;
  FillAndFree f;
  ASSERT_TRUE(FillThenFreeMixed(2, kTarget, &f));
  const size_t count = f.blocks, total = f.total, start = f.start, peak = f.peak, freed = f.freed;
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
  std::printf(
      "purge: %zu blocks, %.1f MiB; RSS start %.1f, peak %.1f, right after free %.1f, "
      "after 0.5 s + small and 1 MiB malloc/free %.1f MiB\n",
      count, MiB(total), MiB(start), MiB(peak), MiB(freed), MiB(after));
  ASSERT_GE(peak, start + kTarget * 3 / 4) << "blocks were not resident?";
  size_t increase = peak - start;
  EXPECT_LT(after, start + increase / 4)
      << "RSS still " << MiB(after - start) << " MiB above the start (peak increase "
      << MiB(increase) << " MiB): freed memory not purged";
}

// The scenario: a peak of about 1 GiB of mixed sizes made by four threads, which then
// exit; two other threads free everything (every free remote, into abandoned pages). With no
// further call into the allocator and no malloc_trim, RSS must fall below 10% of the peak
// within one second (the background purger does it).
TEST(PurgeRss, MultiThreadedPeakIsReturnedWithinOneSecond) {
  Watchdog wd(60, "PurgeRss.MultiThreadedPeakIsReturnedWithinOneSecond");
  constexpr int kAllocators = 4;
  constexpr size_t kPerThread = size_t(256) << 20;
  constexpr size_t kMaxBlocks = size_t(1) << 20;
  PointerArray array(kAllocators * kMaxBlocks);
  void** ptrs = array.get();
  ASSERT_NE(ptrs, nullptr);
  size_t counts[kAllocators] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kAllocators; ++t)
    threads.emplace_back([&, t] {
      Rng r(uint64_t(t) + 11);
      counts[t] = FillMixed(r, kPerThread, ptrs + size_t(t) * kMaxBlocks, kMaxBlocks, 0x5C).blocks;
    });
  for (auto& t : threads) t.join();
  threads.clear();
  const size_t peak = RssBytes();
  for (int f = 0; f < 2; ++f)
    threads.emplace_back([&, f] {
      for (int t = f; t < kAllocators; t += 2)
        for (size_t i = 0; i < counts[t]; ++i) std::free(ptrs[size_t(t) * kMaxBlocks + i]);
    });
  for (auto& t : threads) t.join();
  const size_t freed = RssBytes();
  size_t after = freed;
  const double crossed = SecondsUntilRssBelow(peak / 10, std::chrono::seconds(1), &after);
  std::printf(
      "peak %.1f MiB, right after the frees %.1f MiB, below 10%% of the peak after %.2f s "
      "(%.1f MiB)\n",
      MiB(peak), MiB(freed), crossed, MiB(after));
  for (int t = 0; t < kAllocators; ++t) ASSERT_GT(counts[t], 0u);
  ASSERT_GE(peak, size_t(3) << 30 >> 2) << "the blocks were not resident?";
  EXPECT_GE(crossed, 0) << "RSS " << MiB(after) << " MiB one second after the frees (peak "
                        << MiB(peak) << " MiB)";
}

// The same, but the threads that allocated stay alive and idle (waiting to be told to exit),
// and the threads that free have never allocated. The allocating threads never process those
// frees: the memory comes back because the freeing threads take the idle threads' full pages
// over, and the purger abandons the rest to the arenas (core/free.cpp). 0.6-0.65 s here; the
// bound leaves room for a loaded machine.
TEST(PurgeRss, PeakFreedByOthersWhileItsThreadsIdleIsReturned) {
  Watchdog wd(60, "PurgeRss.PeakFreedByOthersWhileItsThreadsIdleIsReturned");
  constexpr int kAllocators = 2;
  constexpr size_t kPerThread = size_t(256) << 20;
  constexpr size_t kMaxBlocks = size_t(1) << 20;
  PointerArray array(kAllocators * kMaxBlocks);
  void** ptrs = array.get();
  ASSERT_NE(ptrs, nullptr);
  size_t counts[kAllocators] = {};
  std::atomic<int> filled{0};
  std::atomic<bool> exit_now{false};
  std::vector<std::thread> allocators;
  for (int t = 0; t < kAllocators; ++t)
    allocators.emplace_back([&, t] {
      Rng r(uint64_t(t) + 21);
      counts[t] = FillMixed(r, kPerThread, ptrs + size_t(t) * kMaxBlocks, kMaxBlocks, 0x5D).blocks;
      filled.fetch_add(1);
      while (!exit_now.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
  while (filled.load() < kAllocators) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const size_t peak = RssBytes();
  std::vector<std::thread> freers;
  for (int f = 0; f < 2; ++f)
    freers.emplace_back([&, f] {
      // Nothing here allocates: the pointers live in an mmap'd array.
      for (int t = 0; t < kAllocators; ++t)
        for (size_t i = f; i < counts[t]; i += 2) std::free(ptrs[size_t(t) * kMaxBlocks + i]);
    });
  for (auto& t : freers) t.join();
  const size_t freed = RssBytes();
  size_t after = freed;
  const double crossed = SecondsUntilRssBelow(peak / 10, std::chrono::seconds(2), &after);
  exit_now.store(true);
  for (auto& t : allocators) t.join();
  std::printf(
      "idle allocators: peak %.1f MiB, right after the frees %.1f MiB, below 10%% of the peak "
      "after %.2f s (%.1f MiB)\n",
      MiB(peak), MiB(freed), crossed, MiB(after));
  for (int t = 0; t < kAllocators; ++t) ASSERT_GT(counts[t], 0u);
  ASSERT_GE(peak, size_t(3) << 30 >> 3) << "the blocks were not resident?";
  EXPECT_GE(crossed, 0) << "RSS " << MiB(after) << " MiB two seconds after the frees (peak "
                        << MiB(peak) << " MiB), the allocating threads alive and idle";
}

// A thread builds its data and hands it to another, which frees all of it at once, while the
// builder waits or has exited (a loader and a clean-up thread, the main thread and a worker).
// The frees are over within milliseconds of the builder's last allocation, before it counts as
// idle: nothing looked at its pages again, and every block stayed resident in them (RSS at the
// peak two seconds later, however long the process went on). Now the first remote frees start
// the purger, which gives the pages back: 0.5-0.6 s here.
void BuildThenFreeElsewhere(bool builder_exits, size_t bytes = size_t(64) << 20,
                            size_t size = 256) {
  const size_t blocks = bytes / size;
  PointerArray array(blocks);
  void** ptrs = array.get();
  ASSERT_NE(ptrs, nullptr);
  std::memset(ptrs, 0, blocks * sizeof(void*));  // resident before the baseline
  std::free(std::malloc(size));                  // this thread's heap, before the baseline
  const size_t start = RssBytes();
  bool built = true;
  auto build = [&] {
    for (size_t i = 0; i < blocks && built; ++i) {
      ptrs[i] = std::malloc(size);
      if (ptrs[i] == nullptr)
        built = false;
      else
        std::memset(ptrs[i], 0x3C, size);
    }
  };
  if (builder_exits)
    std::thread(build).join();
  else
    build();
  ASSERT_TRUE(built) << "malloc returned NULL";
  const size_t peak = RssBytes();
  // Nothing in the freeing thread allocates: it has no heap, and takes no page over.
  std::thread([&] {
    for (size_t i = 0; i < blocks; ++i) std::free(ptrs[i]);
  }).join();
  const size_t freed = RssBytes();
  size_t after = freed;
  const size_t limit = start + (peak - start) / 10;
  const double crossed = SecondsUntilRssBelow(limit, std::chrono::seconds(2), &after);
  std::printf(
      "%zu-byte blocks built (the builder %s) and freed at once: RSS start %.1f MiB, peak %.1f, "
      "right after the frees %.1f, below start + 10%% of the increase after %.2f s (%.1f MiB)\n",
      size, builder_exits ? "exited" : "waits", MiB(start), MiB(peak), MiB(freed), crossed,
      MiB(after));
  ASSERT_GE(peak, start + bytes * 3 / 4) << "the blocks were not resident?";
  EXPECT_GE(crossed, 0) << "RSS " << MiB(after) << " MiB two seconds after the frees (start "
                        << MiB(start) << ", peak " << MiB(peak) << " MiB)";
}

TEST(PurgeRss, BlocksFreedByAnotherThreadWhileTheBuilderWaitsAreReturned) {
  Watchdog wd(60, "PurgeRss.BlocksFreedByAnotherThreadWhileTheBuilderWaitsAreReturned");
  BuildThenFreeElsewhere(false);
}

TEST(PurgeRss, BlocksFreedByAnotherThreadAfterTheBuilderExitedAreReturned) {
  Watchdog wd(60, "PurgeRss.BlocksFreedByAnotherThreadAfterTheBuilderExitedAreReturned");
  BuildThenFreeElsewhere(true);
}

// Large blocks freed by another thread go back to the arena as free slices, which the purger
// gives back after the delay. It used to start only once 16 MiB waited: 12 blocks of 1 MiB stayed
// resident as long as the process did nothing more (glibc unmaps such blocks at free). A process
// that has made threads starts it at 1 MiB now.
TEST(PurgeRss, LargeBlocksFreedByAnotherThreadAreReturned) {
  Watchdog wd(60, "PurgeRss.LargeBlocksFreedByAnotherThreadAreReturned");
  BuildThenFreeElsewhere(false, size_t(12) << 20, size_t(1) << 20);
}

// The process's thread count (/proc/self/status), read with plain system calls.
int ThreadCount() {
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* at = std::strstr(buf, "\nThreads:");
  return at == nullptr ? -1 : std::atoi(at + std::strlen("\nThreads:"));
}

// Frees `count` blocks of 1 MiB, each written first: large blocks, whose slices go back to the
// arena dirty.
void FreeLargeBlocks(int count) {
  std::vector<void*> blocks;
  for (int i = 0; i < count; ++i) {
    void* p = std::malloc(size_t(1) << 20);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x2A, size_t(1) << 20);
    blocks.push_back(p);
  }
  for (void* p : blocks) std::free(p);
}

// A single-threaded program gets no purger for a few MiB freed (shells and scripts count their
// threads); one that has made a thread gets it from 1 MiB on.
TEST(PurgeRss, ThePurgerStartsSoonerOnceTheProcessHasMadeAThread) {
  Watchdog wd(60, "PurgeRss.ThePurgerStartsSoonerOnceTheProcessHasMadeAThread");
  ASSERT_EQ(ThreadCount(), 1) << "the test must start single-threaded";
  FreeLargeBlocks(4);
  FreeLargeBlocks(4);  // 4 MiB waits to be purged, below the single-threaded 16 MiB
  EXPECT_EQ(ThreadCount(), 1) << "a single-threaded process got the purger for 4 MiB";
  std::thread([] {}).join();
  FreeLargeBlocks(2);
  EXPECT_EQ(ThreadCount(), 2) << "no purger for freed memory in a process that made a thread";
}

}  // namespace
