#include "os/os.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstring>

using namespace arenalloc;

TEST(Os, ReserveAlignedHonoursLargeAlignments) {
  for (size_t align : {size_t{4096}, size_t{1} << 21, size_t{1} << 25}) {
    void* p = os::reserve_aligned(3 << 20, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    std::memset(p, 1, 3 << 20);
    os::release(p, 3 << 20);
  }
}

TEST(Os, PurgeDropsResidentMemoryAndZeroes) {
  const size_t size = 64 << 20;
  auto* p = static_cast<uint8_t*>(os::reserve_aligned(size, 4096));
  ASSERT_NE(p, nullptr);
  size_t before = os::resident_bytes();
  std::memset(p, 0xab, size);
  size_t touched = os::resident_bytes();
  EXPECT_GE(touched, before + size / 2);
  ASSERT_TRUE(os::purge(p, size, false));
  EXPECT_LE(os::resident_bytes(), touched - size / 2);
  EXPECT_EQ(p[12345], 0);
  os::release(p, size);
}

TEST(Os, EnvironmentIsReadWithoutMalloc) {
  setenv("ARENALLOC_TEST_VARIABLE", "value=with=equals", 1);
  ASSERT_NE(os::getenv("ARENALLOC_TEST_VARIABLE"), nullptr);
  EXPECT_STREQ(os::getenv("ARENALLOC_TEST_VARIABLE"), "value=with=equals");
  EXPECT_EQ(os::getenv("ARENALLOC_TEST_VARIABL"), nullptr);
  EXPECT_EQ(os::getenv("ARENALLOC_TEST_VARIABLE_LONGER"), nullptr);
}

// now_ms reads CLOCK_MONOTONIC_COARSE from the vDSO directly (or by the system call): it must
// agree with libc's clock_gettime and move forward.
TEST(Os, NowMsIsTheMonotonicClock) {
  auto libc_ms = [] {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
  };
  uint64_t before = libc_ms();
  uint64_t ours = os::now_ms();
  uint64_t after = libc_ms();
  EXPECT_LE(before, ours);
  EXPECT_LE(ours, after);
  struct timespec pause {
    0, 30 * 1000 * 1000
  };
  nanosleep(&pause, nullptr);
  EXPECT_GE(os::now_ms(), ours + 20);
}

TEST(Os, MachineFacts) {
  EXPECT_GE(os::cpu_count(), 1u);
  EXPECT_EQ(os::page_size() & (os::page_size() - 1), 0u);
  uint64_t t = os::now_ms();
  EXPECT_GT(t, 0u);
  EXPECT_NE(os::random_seed(), os::random_seed());
  EXPECT_GT(os::thread_id(), 0u);
}
