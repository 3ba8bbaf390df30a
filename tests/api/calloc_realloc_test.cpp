// calloc, realloc, reallocarray.
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

extern "C" int arenalloc_option_set(const char* name, const char* value);

using namespace apitest;

namespace {

TEST(Calloc, ReturnsZeroedMemory) {
  for (size_t n : SizeSweep(64 << 20)) {
    auto* p = static_cast<unsigned char*>(std::calloc(1, Opaque(n)));
    ASSERT_NE(p, nullptr) << n;
    ASSERT_EQ(FirstNonZero(p, n), n) << "calloc(1, " << n << ") not zeroed";
    std::free(p);
  }
  void* p = std::calloc(Opaque<size_t>(0), 5);
  ASSERT_NE(p, nullptr);
  std::free(p);
  p = std::calloc(5, Opaque<size_t>(0));
  ASSERT_NE(p, nullptr);
  std::free(p);
}

// Freed blocks are dirtied with 0xAA; calloc must still return zeroes when it
// reuses them.
TEST(Calloc, ZeroesRecycledDirtyMemory) {
  std::vector<size_t> sizes;
  for (size_t n = 8; n <= (size_t(4) << 20); n = n * 3 / 2 + 8) sizes.push_back(n);
  sizes.push_back(size_t(20) << 20);
  for (size_t n : sizes) {
    int count = n <= 4096 ? 200 : n <= (1 << 20) ? 20 : 3;
    for (int round = 0; round < 5; ++round) {
      std::vector<void*> blocks;
      for (int i = 0; i < count; ++i) {
        void* p = std::malloc(n);
        ASSERT_NE(p, nullptr);
        std::memset(p, 0xAA, malloc_usable_size(p));
        blocks.push_back(p);
      }
      for (void* p : blocks) std::free(p);
      for (int i = 0; i < count; ++i) {
        // Vary the nmemb/size split.
        size_t nmemb = (i % 2) ? n : 1, sz = (i % 2) ? 1 : n;
        auto* c = static_cast<unsigned char*>(std::calloc(nmemb, sz));
        ASSERT_NE(c, nullptr);
        size_t bad = FirstNonZero(c, n);
        ASSERT_EQ(bad, n) << "calloc(" << nmemb << ", " << sz << ") byte " << bad << " = 0x"
                          << std::hex << int(c[bad]) << " (recycled dirty memory)";
        blocks[i] = c;
      }
      for (void* p : blocks) std::memset(p, 0xAA, n), std::free(p);
    }
  }
}

TEST(Calloc, OverflowFailsWithEnomem) {
  struct Case {
    size_t nmemb, size;
  } cases[] = {
      {SIZE_MAX, 2},
      {2, SIZE_MAX},
      {SIZE_MAX / 2 + 1, 2},
      {size_t(1) << 32, size_t(1) << 32},
      {(size_t(1) << 32) + 1, size_t(1) << 32},
      {SIZE_MAX / 16 + 1, 16},
      {1, SIZE_MAX},
      {1, size_t(PTRDIFF_MAX) + 1},
      {size_t(PTRDIFF_MAX), 2},
  };
  for (auto c : cases) {
    errno = 0;
    void* p = std::calloc(Opaque(c.nmemb), Opaque(c.size));
    EXPECT_EQ(p, nullptr) << "calloc(" << c.nmemb << ", " << c.size << ")";
    EXPECT_EQ(errno, ENOMEM) << "calloc(" << c.nmemb << ", " << c.size << ")";
    std::free(p);
  }
}

TEST(Realloc, NullPointerActsAsMalloc) {
  auto* p = static_cast<unsigned char*>(std::realloc(nullptr, Opaque<size_t>(1000)));
  ASSERT_NE(p, nullptr);
  EXPECT_GE(malloc_usable_size(p), 1000u);
  std::memset(p, 1, 1000);
  std::free(p);
  p = static_cast<unsigned char*>(std::realloc(nullptr, Opaque<size_t>(0)));
  EXPECT_NE(p, nullptr);  // glibc: realloc(NULL, 0) == malloc(0)
  std::free(p);
}

// glibc frees the block and returns NULL for realloc(p, 0) with p != NULL.
TEST(Realloc, ZeroSizeFreesAndReturnsNull) {
  size_t before = RssBytes();
  for (int i = 0; i < 600; ++i) {
    void* p = std::malloc(1 << 20);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 1 << 20);
    void* q = std::realloc(p, Opaque<size_t>(0));
    ASSERT_EQ(q, nullptr);
  }
  // 600 MiB would be resident if realloc(p, 0) did not free p.
  EXPECT_LT(RssBytes(), before + (64 << 20));
}

std::vector<size_t> GeometricSizes(size_t limit) {
  std::vector<size_t> v;
  for (size_t n = 1; n <= 600; ++n) v.push_back(n);
  for (size_t n = 600; n <= limit; n = n + n / 16 + 1) v.push_back(n);
  for (size_t p = 1024; p <= limit; p *= 2) v.push_back(p - 1), v.push_back(p), v.push_back(p + 1);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// realloc *p, which holds `cur` bytes of the pattern `seed`, to n bytes: the bytes kept must
// read back, the pattern is extended over the new part, and *moved tells whether the block moved.
void ReallocStep(unsigned char** p, size_t cur, size_t n, uint64_t seed, bool* moved) {
  auto* q = static_cast<unsigned char*>(std::realloc(*p, Opaque(n)));
  ASSERT_NE(q, nullptr) << "realloc " << cur << " -> " << n;
  *moved = q != *p;
  *p = q;
  size_t kept = std::min(cur, n);
  size_t bad = FirstMismatch(q, kept, seed);
  ASSERT_EQ(bad, kept) << "realloc " << cur << " -> " << n << " lost byte " << bad;
  ASSERT_GE(malloc_usable_size(q), n);
  for (size_t i = kept; i < n; ++i) q[i] = PatternByte(seed, i);
}

void ReallocChain(const std::vector<size_t>& sizes, bool block_neighbours) {
  const uint64_t seed = 99;
  unsigned char* p = nullptr;
  size_t cur = 0;
  std::vector<void*> neighbours;
  for (size_t n : sizes) {
    bool moved;
    ASSERT_NO_FATAL_FAILURE(ReallocStep(&p, cur, n, seed, &moved));
    cur = n;
    if (block_neighbours) {
      // Allocate right after, so growing in place is (often) impossible.
      void* nb = std::malloc(n < 4096 ? n : 64);
      ASSERT_NE(nb, nullptr);
      neighbours.push_back(nb);
    }
  }
  EXPECT_EQ(FirstMismatch(p, cur, seed), cur);
  std::free(p);
  for (void* nb : neighbours) std::free(nb);
}

TEST(Realloc, KeepsContentsGrowing) {
  ReallocChain(GeometricSizes(4 << 20), false);
}

TEST(Realloc, KeepsContentsShrinking) {
  auto sizes = GeometricSizes(4 << 20);
  std::reverse(sizes.begin(), sizes.end());
  ReallocChain(sizes, false);
}

TEST(Realloc, KeepsContentsWithNeighbours) {
  auto sizes = GeometricSizes(4 << 20);
  ReallocChain(sizes, true);
  std::reverse(sizes.begin(), sizes.end());
  ReallocChain(sizes, true);
}

// Jumps across several size classes at once, in both directions.
TEST(Realloc, KeepsContentsAcrossBigJumps) {
  const size_t sizes[] = {1,
                          100000,
                          3,
                          (size_t(24) << 20) + 5,
                          17,
                          4097,
                          (size_t(40) << 20),
                          65536,
                          (size_t(20) << 20),
                          1 << 20,
                          24,
                          (size_t(33) << 20),
                          2};
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<size_t> v(std::begin(sizes), std::end(sizes));
    ReallocChain(v, rep == 1);
  }
}

// A block grown a little at a time (a string appended to) moves when it outgrows its class, but
// with room for the next 25%, not to the next class (8 per doubling): from 200 to 1000 bytes by
// 8 at a time, about 6 moves rather than about 19.
TEST(Realloc, GrowingByLittleStepsMovesOncePerQuarter) {
  const uint64_t seed = 77;
  size_t n = 200;
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  Fill(p, n, seed);
  int moves = 0;
  for (; n + 8 <= 1000; n += 8) {
    bool moved;
    ASSERT_NO_FATAL_FAILURE(ReallocStep(&p, n, n + 8, seed, &moved));
    moves += moved;
  }
  EXPECT_LE(moves, 8) << "moved at nearly every size class";
  EXPECT_GE(moves, 4) << "grew far beyond what was asked";
  std::free(p);
}

// The room left for growth stops at the power of two at or above the request: a buffer capped
// at 8 KiB (redis's listpacks) and grown a byte past its usable size at a time ends in an 8 KiB
// block, not a 9 KiB one, after a few moves.
TEST(Realloc, LittleStepsStopAtThePowerOfTwo) {
  const uint64_t seed = 78;
  size_t n = 4096;
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  Fill(p, n, seed);
  int moves = 0;
  while (n < 8192) {
    size_t next = std::min<size_t>(malloc_usable_size(p) + 1, 8192);
    bool moved;
    ASSERT_NO_FATAL_FAILURE(ReallocStep(&p, n, next, seed, &moved));
    moves += moved;
    n = next;
  }
  EXPECT_EQ(malloc_usable_size(p), 8192u);
  EXPECT_LE(moves, 4);
  std::free(p);
}

// The tests of large blocks that grow below depend on what the process has freed before (a
// program that cycles large blocks keeps their memory): each needs a process of its own, as
// ctest gives every test.

// Pages of [p, p + n) that are resident (mincore; p page-aligned, n up to 16 MiB). The vector is
// static: allocating it could take a page from the very memory being looked at.
size_t ResidentPages(const void* p, size_t n) {
  static unsigned char vec[4096];
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if ((n + page - 1) / page > sizeof vec) return SIZE_MAX;
  if (mincore(const_cast<void*>(p), n, vec) != 0) return SIZE_MAX;
  size_t resident = 0;
  for (size_t i = 0; i < (n + page - 1) / page; ++i) resident += vec[i] & 1;
  return resident;
}

// Moves a filled large block of `n` bytes by realloc to twice its size, with a large block placed
// right after it first so that it cannot grow in place. *old_resident: the pages of the old
// block still resident just after the move. Everything is freed after.
void MoveLargeBlock(size_t n, uint64_t seed, size_t* old_resident) {
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  void* neighbour = nullptr;
  std::vector<void*> others;  // the blocks that filled holes before the one after p
  for (int i = 0; i < 256 && neighbour == nullptr; ++i) {
    void* q = std::malloc(Opaque(size_t(256) << 10));
    if (q == p + malloc_usable_size(p))
      neighbour = q;
    else
      others.push_back(q);
  }
  if (neighbour == nullptr) {
    std::free(p);
    for (void* o : others) std::free(o);
    FAIL() << "no large block landed right after the first";
  }
  Fill(p, n, seed);
  ASSERT_EQ(ResidentPages(p, n), n / sysconf(_SC_PAGESIZE));
  const uintptr_t old = Opaque(reinterpret_cast<uintptr_t>(p));  // p is dead after the realloc
  auto* q = static_cast<unsigned char*>(std::realloc(p, Opaque(2 * n)));
  ASSERT_NE(q, nullptr);
  ASSERT_NE(reinterpret_cast<uintptr_t>(q), old) << "grew in place over its neighbour";
  EXPECT_EQ(FirstMismatch(q, n, seed), n);
  *old_resident = ResidentPages(reinterpret_cast<void*>(old), n);
  std::free(q);
  std::free(neighbour);
  for (void* o : others) std::free(o);
}

// A large block that realloc has to move leaves no resident copy behind: the old block's pages
// go back at once rather than after the purge delay. (sqlite's hash tables, grown by realloc
// through 256 KiB..16 MiB, kept their old copies resident: peak RSS 160 MiB, 143 after.)
TEST(Realloc, LargeBlockThatMovesLeavesNoResidentCopy) {
  size_t resident = SIZE_MAX;
  ASSERT_NO_FATAL_FAILURE(MoveLargeBlock(size_t(4) << 20, 21, &resident));
  EXPECT_EQ(resident, 0u);
}

// A program that moves blocks of a size often (here twice within the purge delay, made a minute
// long so that a slow machine cannot stretch the test past it) keeps the old copies for reuse:
// a purge at every move would cost it a system call and a refault each time.
TEST(Realloc, MovedBlockIsKeptWhenSuchMovesAreFrequent) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "60000"), 0);
  const size_t n = size_t(4) << 20;
  for (int round = 0; round < 2; ++round) {
    size_t resident = SIZE_MAX;
    ASSERT_NO_FATAL_FAILURE(MoveLargeBlock(n, 22, &resident));
    EXPECT_EQ(resident, round == 0 ? 0 : n / sysconf(_SC_PAGESIZE)) << "round " << round;
  }
}

// The same for a buffer grown by hand, as std::vector does: a larger block, a copy, then the old
// block freed. Its pages go back at once.
TEST(Realloc, OldBufferOfAGrowingOneLeavesNoResidentCopy) {
  const size_t n = size_t(4) << 20;
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  Fill(p, n, 24);
  auto* q = static_cast<unsigned char*>(std::malloc(Opaque(2 * n)));
  ASSERT_NE(q, nullptr);
  std::memcpy(q, p, n);
  const uintptr_t old = Opaque(reinterpret_cast<uintptr_t>(p));
  std::free(p);
  EXPECT_EQ(ResidentPages(reinterpret_cast<void*>(old), n), 0u);
  // A block freed with no larger one allocated just before is kept for reuse as usual.
  auto* r = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(r, nullptr);
  Fill(r, n, 25);
  const uintptr_t kept = Opaque(reinterpret_cast<uintptr_t>(r));
  std::free(r);
  EXPECT_EQ(ResidentPages(reinterpret_cast<void*>(kept), n), n / sysconf(_SC_PAGESIZE));
  EXPECT_EQ(FirstMismatch(q, n, 24), n);
  std::free(q);
}

// A large block that realloc grows past 1 MiB moves into a mapping of its own (mallinfo2's
// hblks counts it), copied once while it is small; it then grows within that mapping and beyond
// it by moving pages, its contents kept. A program that cycles such buffers keeps them in spans:
// grown again right after the first was freed, the next one stays there.
TEST(Realloc, GrowingLargeBlockMovesToAMappingOfItsOwnOnce) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "60000"), 0);  // "right after", on any machine
  for (int round = 0; round < 2; ++round) {
    const size_t before = mallinfo2().hblks;
    size_t n = size_t(512) << 10;
    auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
    ASSERT_NE(p, nullptr);
    Fill(p, n, 26);
    for (size_t next : {size_t(2) << 20, size_t(20) << 20, size_t(48) << 20}) {
      auto* q = static_cast<unsigned char*>(std::realloc(p, Opaque(next)));
      ASSERT_NE(q, nullptr) << next;
      ASSERT_EQ(FirstMismatch(q, n, 26), n) << next;
      Fill(q, next, 26);
      if (next == (size_t(2) << 20)) {
        EXPECT_EQ(mallinfo2().hblks, before + (round == 0 ? 1 : 0)) << "round " << round;
      }
      p = q;
      n = next;
    }
    std::free(p);
  }
}

// A large block shrunk below half its size stays where it is and gives its tail back; nothing
// is copied.
TEST(Realloc, LargeBlockShrinksInPlace) {
  const size_t n = size_t(4) << 20;
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  Fill(p, n, 23);
  for (size_t next : {size_t(1) << 20, size_t(300) << 10}) {
    auto* q = static_cast<unsigned char*>(std::realloc(p, Opaque(next)));
    ASSERT_EQ(q, p) << next;
    p = q;
    EXPECT_GE(malloc_usable_size(q), next);
    EXPECT_LT(malloc_usable_size(q), next + (size_t(64) << 10)) << "the tail was not given back";
    EXPECT_EQ(FirstMismatch(q, next, 23), next);
  }
  // The tail is free memory: a block of its size fits there.
  void* tail = std::malloc(Opaque(size_t(2) << 20));
  EXPECT_GT(static_cast<unsigned char*>(tail), p);
  EXPECT_LT(static_cast<unsigned char*>(tail), p + n);
  std::free(tail);
  std::free(p);
}

// Huge blocks grow by moving their pages (mremap) once they outgrow their mapping: the first
// and last pages written before each step read back after it.
TEST(Realloc, HugeBlockGrowsAndShrinksKeepingContents) {
  size_t n = size_t(40) << 20;
  auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
  ASSERT_NE(p, nullptr);
  Fill(p, 4096, 7);
  Fill(p + n - 4096, 4096, 8);
  for (size_t next : {size_t(100) << 20, size_t(200) << 20, size_t(50) << 20, size_t(90) << 20}) {
    auto* q = static_cast<unsigned char*>(std::realloc(p, Opaque(next)));
    ASSERT_NE(q, nullptr);
    ASSERT_GE(malloc_usable_size(q), next);
    EXPECT_EQ(FirstMismatch(q, 4096, 7), 4096u) << next;
    if (next >= n) {
      EXPECT_EQ(FirstMismatch(q + n - 4096, 4096, 8), 4096u) << next;
    }
    p = q;
    n = next;
    Fill(p + n - 4096, 4096, 8);
  }
  std::free(p);
}

TEST(Realloc, HugeRequestFailsAndKeepsOriginal) {
  for (size_t n : {size_t(100), size_t(100000), size_t(20) << 20}) {
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    ASSERT_NE(p, nullptr);
    Fill(p, n, 5);
    for (size_t huge : {SIZE_MAX, SIZE_MAX - 4096, size_t(PTRDIFF_MAX) + 1, size_t(PTRDIFF_MAX)}) {
      errno = 0;
      void* q = std::realloc(p, Opaque(huge));
      EXPECT_EQ(q, nullptr) << "realloc(" << n << " bytes, " << huge << ")";
      EXPECT_EQ(errno, ENOMEM);
      if (q != nullptr) p = static_cast<unsigned char*>(q);  // would be a bug
    }
    ASSERT_EQ(FirstMismatch(p, n, 5), n) << "original block damaged by a failed realloc";
    // And it is still a valid block.
    p = static_cast<unsigned char*>(std::realloc(p, n * 2));
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(FirstMismatch(p, n, 5), n);
    std::free(p);
  }
}

TEST(ReallocArray, BehavesLikeRealloc) {
  auto* p = static_cast<unsigned char*>(reallocarray(nullptr, 10, 10));
  ASSERT_NE(p, nullptr);
  Fill(p, 100, 8);
  p = static_cast<unsigned char*>(reallocarray(p, 1000, 50));
  ASSERT_NE(p, nullptr);
  EXPECT_GE(malloc_usable_size(p), 50000u);
  EXPECT_EQ(FirstMismatch(p, 100, 8), 100u);
  p = static_cast<unsigned char*>(reallocarray(p, 5, 10));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(FirstMismatch(p, 50, 8), 50u);
  std::free(p);
}

TEST(ReallocArray, OverflowFailsAndKeepsOriginal) {
  auto* p = static_cast<unsigned char*>(std::malloc(300));
  ASSERT_NE(p, nullptr);
  Fill(p, 300, 77);
  struct Case {
    size_t nmemb, size;
  } cases[] = {{SIZE_MAX, 2},
               {size_t(1) << 32, size_t(1) << 32},
               {SIZE_MAX / 2 + 1, 2},
               {3, SIZE_MAX / 3 + 1},
               {1, SIZE_MAX}};
  for (auto c : cases) {
    errno = 0;
    void* q = reallocarray(p, Opaque(c.nmemb), Opaque(c.size));
    EXPECT_EQ(q, nullptr) << "reallocarray(p, " << c.nmemb << ", " << c.size << ")";
    EXPECT_EQ(errno, ENOMEM);
    if (q != nullptr) p = static_cast<unsigned char*>(q);
  }
  ASSERT_EQ(FirstMismatch(p, 300, 77), 300u) << "original block damaged";
  std::free(p);
  errno = 0;
  EXPECT_EQ(reallocarray(nullptr, Opaque(SIZE_MAX), 2), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

}  // namespace
