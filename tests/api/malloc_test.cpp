// malloc / free / free_sized / __libc_* / malloc_trim.
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

using namespace apitest;

namespace {

TEST(Malloc, ZeroSizeReturnsUniqueFreeablePointers) {
  void* a = std::malloc(Opaque<size_t>(0));
  void* b = std::malloc(Opaque<size_t>(0));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsAligned(a, 8));
  std::free(a);
  std::free(b);
}

TEST(Malloc, AlignmentGuarantees) {
  // Keep every block live so that each request gets a distinct slot.
  std::vector<void*> live;
  for (size_t n : SizeSweep(1 << 20)) {
    for (int rep = 0; rep < 3; ++rep) {
      void* p = std::malloc(Opaque(n));
      ASSERT_NE(p, nullptr) << "size " << n;
      EXPECT_TRUE(IsAligned(p, 8)) << "malloc(" << n << ") = " << p << " is not 8-aligned";
      if (n >= 16 && n % 16 == 0) {
        EXPECT_TRUE(IsAligned(p, 16)) << "malloc(" << n << ") = " << p << " is not 16-aligned";
      }
      live.push_back(p);
    }
  }
  for (void* p : live) std::free(p);
}

// Blocks that are live at the same time never overlap (including their
// usable tails) and keep their contents while other blocks come and go.
TEST(Malloc, LiveBlocksAreDisjointAndKeepContents) {
  std::mt19937_64 rng(12345);
  struct Block {
    unsigned char* p;
    size_t n;
    uint64_t seed;
  };
  std::vector<Block> live;
  for (int i = 0; i < 20000; ++i) {
    size_t n;
    uint64_t pick = rng() % 64;
    if (pick == 0)
      n = 1 + rng() % (2 << 20);
    else if (pick < 8)
      n = 1 + rng() % (256 << 10);
    else if (pick < 16)
      n = rng() % 16;
    else
      n = 1 + rng() % 1024;
    if (i % 3 == 2 && !live.empty()) {
      size_t k = rng() % live.size();
      ASSERT_EQ(FirstMismatch(live[k].p, live[k].n, live[k].seed), live[k].n)
          << "block of " << live[k].n << " bytes corrupted";
      std::free(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    ASSERT_NE(p, nullptr);
    Fill(p, n, uint64_t(i));
    live.push_back({p, n, uint64_t(i)});
    if (live.size() > 3000) {
      // Trim the working set to bound memory use (large blocks).
      for (size_t k = 0; k < 1000; ++k) {
        ASSERT_EQ(FirstMismatch(live.back().p, live.back().n, live.back().seed), live.back().n);
        std::free(live.back().p);
        live.pop_back();
      }
    }
  }
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  for (auto& b : live) {
    ASSERT_EQ(FirstMismatch(b.p, b.n, b.seed), b.n) << "block of " << b.n << " bytes corrupted";
    size_t us = malloc_usable_size(b.p);
    ASSERT_GE(us, b.n);
    ranges.emplace_back(reinterpret_cast<uintptr_t>(b.p), reinterpret_cast<uintptr_t>(b.p) + us);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].second, ranges[i].first)
        << "blocks [" << std::hex << ranges[i - 1].first << "," << ranges[i - 1].second << ") and ["
        << ranges[i].first << "," << ranges[i].second << ") overlap";
  for (auto& b : live) std::free(b.p);
}

TEST(Malloc, FreeNullIsNoopAndKeepsErrno) {
  errno = 4242;
  std::free(nullptr);
  EXPECT_EQ(errno, 4242);
  free_sized(nullptr, 0);
  EXPECT_EQ(errno, 4242);
  free_aligned_sized(nullptr, 64, 0);
  EXPECT_EQ(errno, 4242);
}

TEST(Malloc, FreePreservesErrno) {
  for (size_t n :
       {size_t(1), size_t(100), size_t(5000), size_t(300000), size_t(3) << 20, size_t(40) << 20}) {
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, n);
    errno = 777;
    std::free(p);
    EXPECT_EQ(errno, 777) << "free of a " << n << "-byte block changed errno";
    p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    errno = 778;
    free_sized(p, n);
    EXPECT_EQ(errno, 778) << "free_sized of a " << n << "-byte block changed errno";
  }
}

// Huge blocks (above the mmap threshold) are usable and their memory goes
// back to the system at free.
TEST(Malloc, HugeBlocksAreUsableAndReleasedAtFree) {
  // Blocks from 32 MiB (the default mmap threshold) get a mapping of their own, unmapped at
  // free; smaller large blocks come from segments and may be reused before they are purged.
  for (size_t mib : {16, 17, 33, 64, 100}) {
    size_t n = (mib << 20) + 123;
    size_t before = RssBytes();
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(IsAligned(p, 16));
    EXPECT_GE(malloc_usable_size(p), n);
    std::memset(p, 0x5A, n);
    p[0] = 1;
    p[n - 1] = 2;
    size_t during = RssBytes();
    EXPECT_GE(during, n) << "touched block is not resident?";
    EXPECT_EQ(p[0], 1);
    EXPECT_EQ(p[n - 1], 2);
    EXPECT_EQ(p[n / 2], 0x5A);
    std::free(p);
    size_t after = RssBytes();
    if (mib >= 32) {
      EXPECT_LT(after, before + (4 << 20))
          << "RSS before " << before << ", with block " << during << ", after free " << after
          << " (block of " << mib << " MiB not released)";
    }
  }
}

TEST(Malloc, FreeSizedAcceptsTheRequestedSize) {
  std::vector<std::pair<void*, size_t>> live;
  for (size_t n : SizeSweep(8 << 20)) {
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x11, n);
    live.emplace_back(p, n);
  }
  // calloc'd and realloc'd blocks: the size is nmemb*size resp. the new size.
  void* c = std::calloc(7, 13);
  ASSERT_NE(c, nullptr);
  live.emplace_back(c, 91);
  void* r = std::malloc(10);
  ASSERT_NE(r, nullptr);
  r = std::realloc(r, 5000);
  ASSERT_NE(r, nullptr);
  live.emplace_back(r, 5000);
  for (auto& [p, n] : live) free_sized(p, n);
}

// Memory given back with free / free_sized is really reused: a loop that
// would leak 2 GiB if nothing were freed keeps RSS bounded.
template <class Alloc, class Release>
void ExpectNoGrowth(const char* what, size_t n, int iterations, Alloc alloc, Release release) {
  size_t before = RssBytes();
  for (int i = 0; i < iterations; ++i) {
    auto* p = static_cast<unsigned char*>(alloc(n));
    ASSERT_NE(p, nullptr);
    for (size_t off = 0; off < n; off += 4096) p[off] = static_cast<unsigned char>(i);
    p[n - 1] = 1;
    Escape(p);
    release(p, n);
  }
  size_t after = RssBytes();
  EXPECT_LT(after, before + (64 << 20)) << what << ": RSS grew from " << before << " to " << after;
}

TEST(Malloc, FreedMemoryIsReused) {
  for (size_t n : {size_t(48), size_t(3000), size_t(256) << 10, size_t(1) << 20}) {
    int iters = int(std::min<size_t>(200000, (size_t(2) << 30) / n));
    ExpectNoGrowth(
        "malloc/free", n, iters, [](size_t s) { return std::malloc(s); },
        [](void* p, size_t) { std::free(p); });
    ExpectNoGrowth(
        "malloc/free_sized", n, iters, [](size_t s) { return std::malloc(s); },
        [](void* p, size_t s) { free_sized(p, s); });
    ExpectNoGrowth(
        "aligned_alloc/free_aligned_sized", n, iters,
        [](size_t s) { return std::aligned_alloc(256, s); },
        [](void* p, size_t s) { free_aligned_sized(p, 256, s); });
  }
}

// The block a thread freed last is the next one it gets of that size (still in cache), even
// while its page has others free.
TEST(Malloc, TheBlockFreedLastIsReusedFirst) {
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(std::malloc(Opaque<size_t>(48)));
  std::free(blocks[2]);
  std::free(blocks[5]);
  void* first = std::malloc(Opaque<size_t>(48));
  void* second = std::malloc(Opaque<size_t>(48));
  EXPECT_EQ(first, blocks[5]);
  EXPECT_EQ(second, blocks[2]);
  blocks[2] = first;
  blocks[5] = second;
  for (void* p : blocks) std::free(p);
}

TEST(Malloc, LibcEntryPointsInteroperate) {
  // __libc_malloc -> free
  auto* a = static_cast<unsigned char*>(__libc_malloc(100));
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(IsAligned(a, 8));
  Fill(a, 100, 1);
  EXPECT_GE(malloc_usable_size(a), 100u);
  // __libc_realloc keeps contents.
  a = static_cast<unsigned char*>(__libc_realloc(a, 100000));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(FirstMismatch(a, 100, 1), 100u);
  std::free(a);
  // malloc -> __libc_free
  void* b = std::malloc(5000);
  ASSERT_NE(b, nullptr);
  std::memset(b, 0xCC, 5000);
  __libc_free(b);
  // __libc_calloc zeroes (also recycled dirty memory).
  for (int i = 0; i < 100; ++i) {
    void* d = std::malloc(4000);
    ASSERT_NE(d, nullptr);
    std::memset(d, 0xAA, 4000);
    std::free(d);
    void* c = __libc_calloc(40, 100);
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(FirstNonZero(c, 4000), 4000u);
    __libc_free(c);
  }
  // __libc_memalign
  for (size_t al = 1; al <= (size_t(1) << 20); al <<= 1) {
    void* m = __libc_memalign(al, 333);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(IsAligned(m, al)) << al;
    std::memset(m, 0x77, 333);
    std::free(m);
  }
  // __libc_calloc overflow
  errno = 0;
  EXPECT_EQ(__libc_calloc(Opaque(SIZE_MAX / 2), 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  __libc_free(nullptr);
}

TEST(Malloc, MallocTrimReturnsZeroOrOne) {
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) {
    v.push_back(std::malloc(1000 + i % 7000));
    ASSERT_NE(v.back(), nullptr);
    std::memset(v.back(), 3, 1000);
  }
  for (void* p : v) std::free(p);
  int r = malloc_trim(0);
  EXPECT_TRUE(r == 0 || r == 1) << r;
  r = malloc_trim(Opaque<size_t>(1 << 20));
  EXPECT_TRUE(r == 0 || r == 1) << r;
  // The heap still works after trimming.
  void* p = std::malloc(12345);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0, 12345);
  std::free(p);
}

}  // namespace
