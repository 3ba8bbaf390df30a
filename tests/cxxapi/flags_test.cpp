// The sized/flags calls of arenalloc.h: arenalloc_alloc (ARENALLOC_ZERO, ARENALLOC_ALIGN),
// arenalloc_good_size, arenalloc_resize, arenalloc_usable_size, and their error results.
#include <malloc.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cxxapi_util.h"

using namespace cxxapi;

namespace {

// Every alignment the API accepts: 1 .. 16 MiB.
std::vector<std::size_t> AllAlignments() {
  std::vector<std::size_t> v;
  for (std::size_t a = 1; a <= 16 * MiB; a *= 2) v.push_back(a);
  return v;
}

// What a request whose good size is `good` may get: exactly that, or (classes above 1 KiB) a free
// block of a class up to half as large again, which a full class borrows before new memory.
::testing::AssertionResult UsableFitsGoodSize(std::size_t usable, std::size_t good) {
  if (usable == good) return ::testing::AssertionSuccess();
  if (good > 1024 && good <= 128 * KiB && usable > good && usable <= good + good / 2)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "usable size " << usable << ", good size " << good;
}

TEST(Flags, MacroValues) {
  EXPECT_EQ(ARENALLOC_ALIGN(1), 0);
  EXPECT_EQ(ARENALLOC_ALIGN(16), 4);
  EXPECT_EQ(ARENALLOC_ALIGN(4096), 12);
  EXPECT_EQ(ARENALLOC_ALIGN(16 * MiB), 24);
  EXPECT_EQ(ARENALLOC_ALIGN(16 * MiB) & ARENALLOC_ZERO, 0) << "ZERO must not overlap alignments";
}

TEST(Flags, ZeroGivesZeroedMemoryEvenWhenReused) {
  for (std::size_t n : {std::size_t{1}, std::size_t{8}, std::size_t{100}, std::size_t{1000},
                        5 * KiB, 64 * KiB, 200 * KiB, 2 * MiB, 9 * MiB}) {
    // Dirty a block of the same size first, so the zeroed one likely reuses its memory.
    void* d = arenalloc_alloc(n, 0);
    ASSERT_NE(d, nullptr);
    std::memset(d, 0xFF, n);
    std::free(d);
    for (int flags : {ARENALLOC_ZERO, ARENALLOC_ZERO | ARENALLOC_ALIGN(64),
                      ARENALLOC_ZERO | ARENALLOC_ALIGN(4096)}) {
      void* p = arenalloc_alloc(n, flags);
      ASSERT_NE(p, nullptr) << n;
      EXPECT_EQ(FirstNonZero(p, n), n) << "size " << n << " flags " << flags;
      std::memset(p, 0xEE, n);
      arenalloc_free_sized(p, n, flags);
    }
  }
  // Many small zeroed blocks, after dirty ones of the same class were freed.
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) {
    v.push_back(arenalloc_alloc(48, 0));
    std::memset(v.back(), 0xAB, 48);
  }
  for (void* p : v) std::free(p);
  for (int i = 0; i < 2000; ++i) {
    void* p = arenalloc_alloc(48, ARENALLOC_ZERO);
    ASSERT_EQ(FirstNonZero(p, 48), 48u) << "block " << i;
    v[i] = p;
  }
  for (void* p : v) arenalloc_free_sized(p, 48, 0);
}

TEST(Flags, EveryAlignmentUpTo16MiB) {
  for (std::size_t a : AllAlignments()) {
    const std::size_t expect = a < 16 ? 16 : a;  // the default (and minimum) is 16
    std::vector<std::size_t> sizes = {0, 1, 24, 100, 5000, 200 * KiB};
    if (a >= 4096) sizes.push_back(a + 1);
    if (a <= 64 * KiB) sizes.push_back(3 * a);
    for (std::size_t n : sizes) {
      for (int zero : {0, ARENALLOC_ZERO}) {
        const int flags = ARENALLOC_ALIGN(a) | zero;
        errno = 0;
        void* p = arenalloc_alloc(n, flags);
        ASSERT_NE(p, nullptr) << "align " << a << " size " << n;
        EXPECT_TRUE(IsAligned(p, expect)) << p << " align " << a << " size " << n;
        EXPECT_GE(arenalloc_usable_size(p), n);
        EXPECT_EQ(arenalloc_usable_size(p), malloc_usable_size(p));
        if (zero) {
          EXPECT_EQ(FirstNonZero(p, n), n);
        }
        Fill(p, n, a + n);
        EXPECT_EQ(FirstMismatch(p, n, a + n), n);
        if (n % 2)
          std::free(p);
        else
          FreeSized(p, n, flags);
      }
    }
  }
}

TEST(Flags, HugeBlocksWithLargeAlignments) {
  HugeFrom1MiB huge;
  for (std::size_t a : {4 * MiB, 16 * MiB}) {
    for (std::size_t n : {9 * MiB, 20 * MiB}) {
      void* p = arenalloc_alloc(n, ARENALLOC_ALIGN(a) | ARENALLOC_ZERO);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(IsAligned(p, a)) << p << " align " << a;
      EXPECT_GE(arenalloc_usable_size(p), n);
      EXPECT_EQ(FirstNonZero(p, n), n);
      TouchPages(p, n);
      arenalloc_free_sized(p, n, ARENALLOC_ALIGN(a));
    }
  }
}

TEST(Flags, InvalidFlagsAreEinval) {
  const int bad[] = {
      0x80,
      0x100,
      1 << 20,
      INT_MIN,
      -1,                         // unknown bits
      ARENALLOC_ALIGN(32 * MiB),  // above 16 MiB
      ARENALLOC_ALIGN(std::size_t{1} << 30),
      0x3f,  // 2^63
      ARENALLOC_ALIGN(32 * MiB) | ARENALLOC_ZERO,
  };
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  for (int flags : bad) {
    for (std::size_t n : {std::size_t{0}, std::size_t{16}, 1 * MiB}) {
      errno = 0;
      EXPECT_EQ(arenalloc_alloc(n, flags), nullptr) << "flags " << flags;
      EXPECT_EQ(errno, EINVAL) << "flags " << flags;
      errno = 0;
      EXPECT_EQ(arenalloc_heap_alloc(heap, n, flags), nullptr) << "flags " << flags;
      EXPECT_EQ(errno, EINVAL) << "flags " << flags;
      EXPECT_EQ(arenalloc_good_size(n, flags), 0u) << "flags " << flags;
    }
  }
  arenalloc_heap_destroy(heap);
  // The largest valid alignment is accepted.
  void* p = arenalloc_alloc(16, ARENALLOC_ALIGN(16 * MiB));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(IsAligned(p, 16 * MiB));
  std::free(p);
}

TEST(Flags, ImpossibleSizesAreEnomem) {
  const std::size_t impossible[] = {SIZE_MAX,
                                    SIZE_MAX - 1,
                                    SIZE_MAX - 4096,
                                    SIZE_MAX / 2,
                                    std::size_t(PTRDIFF_MAX) + 1,
                                    (std::size_t{1} << 62) + 1,
                                    std::size_t{1} << 62,
                                    std::size_t{1} << 50};
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  for (std::size_t n : impossible) {
    for (int flags : {0, ARENALLOC_ZERO, ARENALLOC_ALIGN(64), ARENALLOC_ALIGN(4096),
                      ARENALLOC_ALIGN(16 * MiB) | ARENALLOC_ZERO}) {
      errno = 0;
      EXPECT_EQ(arenalloc_alloc(Opaque(n), flags), nullptr) << n << " flags " << flags;
      EXPECT_EQ(errno, ENOMEM) << n << " flags " << flags;
      errno = 0;
      EXPECT_EQ(arenalloc_heap_alloc(heap, Opaque(n), flags), nullptr) << n;
      EXPECT_EQ(errno, ENOMEM) << n;
      if (n >= SIZE_MAX / 2) {
        EXPECT_EQ(arenalloc_good_size(n, flags), 0u) << n;
      }
    }
  }
  errno = 0;
  EXPECT_EQ(arenalloc_heap_calloc(heap, Opaque(std::size_t{1} << 33), std::size_t{1} << 33),
            nullptr);
  EXPECT_EQ(errno, ENOMEM);
  // Both heaps still work.
  void* p = arenalloc_heap_malloc(heap, 100);
  void* q = arenalloc_alloc(100, ARENALLOC_ZERO);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  std::free(q);
  arenalloc_heap_destroy(heap);
}

TEST(Flags, ZeroSizeGivesUniquePointers) {
  void* a = arenalloc_alloc(0, 0);
  void* b = arenalloc_alloc(0, ARENALLOC_ZERO);
  void* c = arenalloc_alloc(0, ARENALLOC_ALIGN(4096));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  arenalloc_free_sized(a, 0, 0);
  arenalloc_free_sized(b, 0, 0);
  FreeSized(c, 0, ARENALLOC_ALIGN(4096));
}

TEST(GoodSize, IsTheUsableSizeOfTheAllocationOrALenderClass) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  const int all_flags[] = {0,
                           ARENALLOC_ALIGN(8),
                           ARENALLOC_ALIGN(32),
                           ARENALLOC_ALIGN(64),
                           ARENALLOC_ALIGN(256),
                           ARENALLOC_ALIGN(4096),
                           ARENALLOC_ALIGN(64 * KiB),
                           ARENALLOC_ALIGN(1 * MiB),
                           ARENALLOC_ALIGN(16 * MiB)};
  std::size_t checked = 0;
  for (int flags : all_flags) {
    for (std::size_t n : SizeSweep(20 * MiB)) {
      // Keep the run short: every size for the common flags, every 7th for the big alignments.
      if (flags >= ARENALLOC_ALIGN(64 * KiB) && n <= 1024 && n % 7 != 0) continue;
      const std::size_t good = arenalloc_good_size(n, flags);
      ASSERT_GE(good, n) << "size " << n << " flags " << flags;
      EXPECT_EQ(arenalloc_good_size(n, flags | ARENALLOC_ZERO), good);
      void* p = arenalloc_alloc(n, flags);
      ASSERT_NE(p, nullptr) << "size " << n << " flags " << flags;
      EXPECT_TRUE(UsableFitsGoodSize(arenalloc_usable_size(p), good))
          << "size " << n << " flags " << flags;
      FreeSized(p, n, flags);
      // The same from a private heap, and (default flags) from malloc.
      p = arenalloc_heap_alloc(heap, n, flags);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(UsableFitsGoodSize(arenalloc_usable_size(p), good))
          << "heap: size " << n << " flags " << flags;
      arenalloc_heap_free(heap, p);
      if (flags == 0) {
        p = std::malloc(n);
        EXPECT_TRUE(UsableFitsGoodSize(malloc_usable_size(p), good)) << "malloc(" << n << ")";
        std::free(p);
      }
      // Asking for the good size gets exactly it.
      p = arenalloc_alloc(good, flags);
      EXPECT_TRUE(UsableFitsGoodSize(arenalloc_usable_size(p), good))
          << "size " << good << " flags " << flags;
      arenalloc_free_sized(p, good, flags);
      ++checked;
    }
  }
  EXPECT_GT(checked, 5000u);
  arenalloc_heap_destroy(heap);
}

// The same with a low mmap threshold: blocks from 1 MiB up are mappings of their own.
TEST(GoodSize, EqualsTheUsableSizeOfHugeBlocks) {
  HugeFrom1MiB huge;
  for (int flags :
       {0, ARENALLOC_ALIGN(4096), ARENALLOC_ALIGN(1 * MiB), ARENALLOC_ALIGN(16 * MiB)}) {
    for (std::size_t n :
         {1 * MiB - 1, 1 * MiB, 1 * MiB + 1, 3 * MiB + 5, 9 * MiB, 20 * MiB + 4097}) {
      const std::size_t good = arenalloc_good_size(n, flags);
      void* p = arenalloc_alloc(n, flags);
      ASSERT_NE(p, nullptr);
      EXPECT_GE(good, n);
      EXPECT_EQ(arenalloc_usable_size(p), good) << "size " << n << " flags " << flags;
      arenalloc_free_sized(p, n, flags);
    }
  }
}

// A span that cannot be placed at the requested alignment inside a segment (here: more than
// 16 MiB at 16 MiB alignment) falls back to a mapping of its own (large_alloc -> huge_alloc,
// usable size rounded to 4 KiB pages); good_size models the fallback (at b73f994 it answered with
// the span's size, rounded to 64 KiB slices: 16842752 for 16 MiB + 1, which got 16781312).
TEST(GoodSize, AlignedSpanThatFallsBackToAMapping) {
  for (std::size_t n : {16 * MiB + 1, 18 * MiB + 7, 30 * MiB}) {
    const int flags = ARENALLOC_ALIGN(16 * MiB);
    void* p = arenalloc_alloc(n, flags);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(arenalloc_usable_size(p), arenalloc_good_size(n, flags)) << n;
    std::free(p);
  }
}

TEST(UsableSize, NullIsZero) {
  EXPECT_EQ(arenalloc_usable_size(nullptr), 0u);
}

// ---- arenalloc_resize: in place only ----

TEST(Resize, SmallBlocksKeepTheirSize) {
  for (std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{100}, std::size_t{1000},
                        std::size_t{5000}, 60 * KiB, 128 * KiB}) {
    void* p = arenalloc_alloc(n, 0);
    ASSERT_NE(p, nullptr);
    const std::size_t usable = arenalloc_usable_size(p);
    Fill(p, n, n);
    EXPECT_EQ(arenalloc_resize(p, usable, 0), usable) << n;      // fits: success
    EXPECT_EQ(arenalloc_resize(p, 1, 0), usable) << n;           // no shrinking
    EXPECT_EQ(arenalloc_resize(p, usable + 1, 0), usable) << n;  // no growing
    EXPECT_EQ(arenalloc_resize(p, 4 * usable, 0), usable) << n;
    EXPECT_EQ(arenalloc_usable_size(p), usable);
    EXPECT_EQ(FirstMismatch(p, n, n), n);
    arenalloc_free_sized(p, n, 0);
  }
}

// Runs fn(p, n) on a large block at the start of a fresh private heap, so what follows it is free.
TEST(Resize, LargeBlockShrinksAndGrowsInPlace) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  const std::size_t n = 1 * MiB;
  auto* p = static_cast<unsigned char*>(arenalloc_heap_malloc(heap, n));
  ASSERT_NE(p, nullptr);
  Fill(p, n, 1);
  ASSERT_EQ(arenalloc_usable_size(p), n);

  // Shrinking gives the tail back: the usable size drops to the good size of the request.
  std::size_t got = arenalloc_resize(p, 300 * KiB, 0);
  EXPECT_EQ(got, arenalloc_good_size(300 * KiB, 0));
  EXPECT_LT(got, n);
  EXPECT_EQ(arenalloc_usable_size(p), got);
  EXPECT_EQ(FirstMismatch(p, 300 * KiB, 1), 300 * KiB);

  // The tail is free again: the block grows back into it, then further into free space.
  got = arenalloc_resize(p, n, 0);
  EXPECT_GE(got, n);
  EXPECT_EQ(arenalloc_usable_size(p), got);
  got = arenalloc_resize(p, 4 * MiB, 0);
  EXPECT_GE(got, 4 * MiB);
  TouchPages(p + 300 * KiB, 4 * MiB - 300 * KiB);
  EXPECT_EQ(FirstMismatch(p, 300 * KiB, 1), 300 * KiB);

  // Beyond what a large block can be (a segment, 32 MiB): unchanged, still valid.
  EXPECT_EQ(arenalloc_resize(p, 64 * MiB, 0), got);
  EXPECT_EQ(arenalloc_usable_size(p), got);
  arenalloc_heap_free(heap, p);
  arenalloc_heap_destroy(heap);
}

TEST(Resize, GrowsIntoAFreedNeighbourOnly) {
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  const std::size_t n = 256 * KiB;
  auto* a = static_cast<unsigned char*>(arenalloc_heap_malloc(heap, n));
  auto* b = static_cast<unsigned char*>(arenalloc_heap_malloc(heap, n));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  if (b != a + arenalloc_usable_size(a))
    GTEST_SKIP() << "blocks not adjacent: " << (void*)a << " " << (void*)b;
  Fill(a, n, 7);
  // b is in the way: a cannot grow, and reports its unchanged size.
  EXPECT_EQ(arenalloc_resize(a, 2 * n, 0), n);
  EXPECT_EQ(arenalloc_usable_size(b), n);
  // Once b is freed, a grows over it without moving.
  arenalloc_heap_free(heap, b);
  EXPECT_GE(arenalloc_resize(a, 2 * n, 0), 2 * n);
  EXPECT_EQ(FirstMismatch(a, n, 7), n);
  std::memset(a + n, 0x11, n);
  std::free(a);
  arenalloc_heap_destroy(heap);
}

TEST(Resize, ThreadHeapLargeBlock) {
  const std::size_t n = 2 * MiB;
  auto* p = static_cast<unsigned char*>(std::malloc(n));
  ASSERT_NE(p, nullptr);
  Fill(p, n, 3);
  const std::size_t shrunk = arenalloc_resize(p, 200 * KiB, 0);
  EXPECT_EQ(shrunk, arenalloc_good_size(200 * KiB, 0));
  EXPECT_EQ(malloc_usable_size(p), shrunk);
  // Growing back: either in place (>= the request) or not at all (unchanged), never moved.
  const std::size_t grown = arenalloc_resize(p, n, 0);
  EXPECT_TRUE(grown >= n || grown == shrunk) << grown;
  EXPECT_EQ(FirstMismatch(p, 200 * KiB, 3), 200 * KiB);
  free_sized(p, grown >= n ? n : 200 * KiB);
}

TEST(Resize, HugeBlockWithinItsMapping) {
  HugeFrom1MiB huge;
  const std::size_t n = 12 * MiB;  // a mapping of its own
  auto* p = static_cast<unsigned char*>(arenalloc_alloc(n, 0));
  ASSERT_NE(p, nullptr);
  Fill(p, 64 * KiB, 5);
  TouchPages(p + 64 * KiB, n - 64 * KiB);
  const std::size_t usable = arenalloc_usable_size(p);
  ASSERT_GE(usable, n);
  // Shrink: the tail is given back; grow again within the original mapping.
  std::size_t got = arenalloc_resize(p, 9 * MiB, 0);
  EXPECT_GE(got, 9 * MiB);
  EXPECT_LT(got, usable);
  got = arenalloc_resize(p, n, 0);
  EXPECT_GE(got, n);
  TouchPages(p + 9 * MiB, n - 9 * MiB);
  // Beyond the mapping: unchanged.
  const std::size_t before = arenalloc_usable_size(p);
  EXPECT_EQ(arenalloc_resize(p, 64 * MiB, 0), before);
  EXPECT_EQ(arenalloc_resize(p, SIZE_MAX, 0), before);
  EXPECT_EQ(FirstMismatch(p, 64 * KiB, 5), 64 * KiB);
  arenalloc_free_sized(p, n, 0);
}

TEST(Resize, InvalidPointerIsReported) {
  UseThreadsafeDeathTests();
  static long not_ours[16];
  EXPECT_DEATH(arenalloc_resize(not_ours, 10, 0), "arenalloc: invalid free of .*resize");
  {
    OnErrorScope warn("warn");
    StderrCapture err;
    EXPECT_EQ(arenalloc_resize(not_ours, 10, 0), 0u);
    EXPECT_NE(err.Take().find("arenalloc: invalid free"), std::string::npos);
  }
  {
    OnErrorScope ignore("ignore");
    StderrCapture err;
    EXPECT_EQ(arenalloc_resize(not_ours, 10, 0), 0u);
    EXPECT_EQ(err.Take(), "");
  }
}

}  // namespace
