// memalign, posix_memalign, aligned_alloc, valloc, pvalloc.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

using namespace apitest;

namespace {

constexpr size_t kMaxAlign = size_t(2) << 20;

std::vector<size_t> SizesFor(size_t align) {
  std::vector<size_t> v = {1,
                           7,
                           8,
                           16,
                           24,
                           100,
                           4095,
                           4096,
                           4097,
                           65544,
                           align - 1 ? align - 1 : 1,
                           align,
                           align + 1,
                           3 * align + 5,
                           (size_t(1) << 20) + 3,
                           (size_t(5) << 20) + 1};
  return v;
}

struct Live {
  unsigned char* p;
  size_t n;
  uint64_t seed;
};

// Allocates every size with the given alignment (all live at once), checks
// alignment and usable size, writes the whole block, verifies the contents
// and that no two blocks overlap, and frees.
void CheckAlignedFamily(const char* name, size_t align,
                        const std::function<void*(size_t align, size_t n)>& alloc,
                        const std::function<void(void*, size_t align, size_t n)>& release) {
  std::vector<Live> live;
  uint64_t seed = 1;
  for (size_t n : SizesFor(align)) {
    for (int rep = 0; rep < 2; ++rep) {
      auto* p = static_cast<unsigned char*>(alloc(align, n));
      ASSERT_NE(p, nullptr) << name << "(" << align << ", " << n << ")";
      EXPECT_TRUE(IsAligned(p, align))
          << name << "(" << align << ", " << n << ") = " << static_cast<void*>(p);
      EXPECT_TRUE(IsAligned(p, 8)) << name << "(" << align << ", " << n << ")";
      EXPECT_GE(malloc_usable_size(p), n) << name << "(" << align << ", " << n << ")";
      Fill(p, n, ++seed);
      live.push_back({p, n, seed});
    }
  }
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  for (auto& b : live) {
    ASSERT_EQ(FirstMismatch(b.p, b.n, b.seed), b.n)
        << name << "(" << align << ", " << b.n << ") contents corrupted";
    ranges.emplace_back(reinterpret_cast<uintptr_t>(b.p), reinterpret_cast<uintptr_t>(b.p) + b.n);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].second, ranges[i].first) << name << " align " << align << ": overlap";
  for (auto& b : live) release(b.p, align, b.n);
}

TEST(Aligned, MemalignAllAlignments) {
  for (size_t al = 1; al <= kMaxAlign; al <<= 1)
    CheckAlignedFamily(
        "memalign", al, [](size_t a, size_t n) { return memalign(a, n); },
        [](void* p, size_t, size_t) { std::free(p); });
}

TEST(Aligned, PosixMemalignAllAlignments) {
  for (size_t al = sizeof(void*); al <= kMaxAlign; al <<= 1)
    CheckAlignedFamily(
        "posix_memalign", al,
        [](size_t a, size_t n) -> void* {
          void* p = reinterpret_cast<void*>(uintptr_t(0xdead));
          int rc = posix_memalign(&p, a, n);
          EXPECT_EQ(rc, 0) << "posix_memalign(" << a << ", " << n << ")";
          return rc == 0 ? p : nullptr;
        },
        [](void* p, size_t, size_t) { std::free(p); });
}

TEST(Aligned, AlignedAllocAllAlignments) {
  for (size_t al = 1; al <= kMaxAlign; al <<= 1)
    CheckAlignedFamily(
        "aligned_alloc", al, [](size_t a, size_t n) { return std::aligned_alloc(a, n); },
        [](void* p, size_t, size_t) { std::free(p); });
}

TEST(Aligned, AlignedAllocWithFreeAlignedSized) {
  for (size_t al = 1; al <= kMaxAlign; al <<= 1)
    CheckAlignedFamily(
        "aligned_alloc", al, [](size_t a, size_t n) { return std::aligned_alloc(a, n); },
        [](void* p, size_t a, size_t n) { free_aligned_sized(p, a, n); });
}

TEST(Aligned, ManySmallAlignedBlocks) {
  for (size_t al : {16, 32, 64, 128, 256, 4096}) {
    std::vector<Live> live;
    for (int i = 0; i < 3000; ++i) {
      size_t n = 1 + (i * 37) % 200;
      auto* p = static_cast<unsigned char*>(memalign(al, n));
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(IsAligned(p, al)) << al << " " << n;
      Fill(p, n, i);
      live.push_back({p, n, uint64_t(i)});
    }
    std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
    for (auto& b : live) {
      ASSERT_EQ(FirstMismatch(b.p, b.n, b.seed), b.n);
      ranges.emplace_back(reinterpret_cast<uintptr_t>(b.p),
                          reinterpret_cast<uintptr_t>(b.p) + malloc_usable_size(b.p));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
      ASSERT_LE(ranges[i - 1].second, ranges[i].first) << "align " << al << ": overlap";
    for (auto& b : live) std::free(b.p);
  }
}

TEST(Aligned, PosixMemalignRejectsBadAlignment) {
  const size_t bad[] = {0,        1,           2,  4,  3,        5,        12,
                        24,       40,          48, 96, 3 * 4096, 4096 + 8, (size_t(1) << 20) + 8,
                        SIZE_MAX, SIZE_MAX - 7};
  for (size_t al : bad) {
    void* p = nullptr;
    int rc = posix_memalign(&p, Opaque(al), 64);
    EXPECT_EQ(rc, EINVAL) << "posix_memalign alignment " << al;
    if (rc == 0) std::free(p);
  }
}

TEST(Aligned, PosixMemalignZeroSize) {
  void* p = nullptr;
  ASSERT_EQ(posix_memalign(&p, 64, Opaque<size_t>(0)), 0);
  std::free(p);  // NULL or a unique pointer: both are freeable.
}

TEST(Aligned, VallocIsPageAligned) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<Live> live;
  for (size_t n : {size_t(1), size_t(100), page - 1, page, page + 1, 10 * page + 3, size_t(3) << 20,
                   (size_t(17) << 20) + 1}) {
    auto* p = static_cast<unsigned char*>(valloc(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(IsAligned(p, page)) << "valloc(" << n << ") = " << static_cast<void*>(p);
    EXPECT_GE(malloc_usable_size(p), n);
    Fill(p, n, n);
    live.push_back({p, n, n});
  }
  for (auto& b : live) {
    EXPECT_EQ(FirstMismatch(b.p, b.n, b.seed), b.n);
    std::free(b.p);
  }
}

TEST(Aligned, PvallocRoundsUpToPage) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<Live> live;
  for (size_t n : {size_t(1), size_t(100), page - 1, page, page + 1, 10 * page + 3, size_t(3) << 20,
                   (size_t(17) << 20) + 1}) {
    auto* p = static_cast<unsigned char*>(pvalloc(n));
    ASSERT_NE(p, nullptr) << n;
    size_t rounded = (n + page - 1) / page * page;
    EXPECT_TRUE(IsAligned(p, page)) << "pvalloc(" << n << ") = " << static_cast<void*>(p);
    EXPECT_GE(malloc_usable_size(p), rounded) << "pvalloc(" << n << ")";
    // The whole rounded size is usable.
    Fill(p, rounded, n);
    live.push_back({p, rounded, n});
  }
  for (auto& b : live) {
    EXPECT_EQ(FirstMismatch(b.p, b.n, b.seed), b.n);
    std::free(b.p);
  }
  void* z = pvalloc(Opaque<size_t>(0));
  ASSERT_NE(z, nullptr);
  EXPECT_TRUE(IsAligned(z, page));
  std::free(z);
}

TEST(Aligned, ReallocOfAlignedBlockKeepsContents) {
  for (size_t al : {size_t(64), size_t(4096), size_t(1) << 16, size_t(2) << 20}) {
    for (size_t n : {size_t(10), size_t(5000), size_t(3) << 20}) {
      auto* p = static_cast<unsigned char*>(memalign(al, n));
      ASSERT_NE(p, nullptr);
      Fill(p, n, al + n);
      auto* q = static_cast<unsigned char*>(std::realloc(p, n * 3));
      ASSERT_NE(q, nullptr);
      ASSERT_EQ(FirstMismatch(q, n, al + n), n) << "align " << al << " size " << n;
      q = static_cast<unsigned char*>(std::realloc(q, n / 2 + 1));
      ASSERT_NE(q, nullptr);
      ASSERT_EQ(FirstMismatch(q, n / 2 + 1, al + n), n / 2 + 1);
      std::free(q);
    }
  }
}

}  // namespace
