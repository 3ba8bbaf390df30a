// Failure paths: NULL + ENOMEM, never a crash, and the heap keeps working.
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

using namespace apitest;

namespace {

const size_t kImpossible[] = {
    SIZE_MAX,
    SIZE_MAX - 1,
    SIZE_MAX - 15,
    SIZE_MAX - 4096,
    SIZE_MAX - (size_t(2) << 20),
    SIZE_MAX / 2,
    size_t(PTRDIFF_MAX) + 1,
    size_t(PTRDIFF_MAX),
    size_t(PTRDIFF_MAX) - 4095,
};

void ExpectHeapStillWorks() {
  std::vector<void*> v;
  for (size_t n : {size_t(1), size_t(64), size_t(5000), size_t(1) << 20, size_t(20) << 20}) {
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr) << n;
    std::memset(p, 0x3C, n);
    v.push_back(p);
  }
  for (void* p : v) std::free(p);
}

TEST(Errors, MallocImpossibleSizes) {
  for (size_t n : kImpossible) {
    errno = 0;
    void* p = std::malloc(Opaque(n));
    EXPECT_EQ(p, nullptr) << "malloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM) << "malloc(" << n << ")";
  }
  ExpectHeapStillWorks();
}

TEST(Errors, CallocOverflowAndImpossible) {
  for (size_t n : kImpossible) {
    errno = 0;
    EXPECT_EQ(std::calloc(1, Opaque(n)), nullptr) << "calloc(1, " << n << ")";
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(std::calloc(Opaque(n), 1), nullptr) << "calloc(" << n << ", 1)";
    EXPECT_EQ(errno, ENOMEM);
  }
  errno = 0;
  EXPECT_EQ(std::calloc(Opaque(size_t(1) << 33), Opaque(size_t(1) << 33)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  ExpectHeapStillWorks();
}

TEST(Errors, ReallocImpossibleKeepsOriginal) {
  for (size_t n : {size_t(24), size_t(70000), size_t(18) << 20}) {
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    ASSERT_NE(p, nullptr);
    Fill(p, n, 3);
    for (size_t huge : kImpossible) {
      errno = 0;
      void* q = std::realloc(p, Opaque(huge));
      EXPECT_EQ(q, nullptr) << "realloc(" << n << "-byte block, " << huge << ")";
      EXPECT_EQ(errno, ENOMEM);
      if (q != nullptr) p = static_cast<unsigned char*>(q);
    }
    ASSERT_EQ(FirstMismatch(p, n, 3), n);
    std::free(p);
  }
  ExpectHeapStillWorks();
}

TEST(Errors, AlignedImpossibleSizes) {
  for (size_t al : {size_t(8), size_t(64), size_t(4096), size_t(1) << 20, size_t(2) << 20}) {
    for (size_t n : kImpossible) {
      errno = 0;
      EXPECT_EQ(memalign(al, Opaque(n)), nullptr) << "memalign(" << al << ", " << n << ")";
      EXPECT_EQ(errno, ENOMEM) << "memalign(" << al << ", " << n << ")";
      errno = 0;
      EXPECT_EQ(std::aligned_alloc(al, Opaque(n)), nullptr)
          << "aligned_alloc(" << al << ", " << n << ")";
      EXPECT_EQ(errno, ENOMEM) << "aligned_alloc(" << al << ", " << n << ")";
      void* p = nullptr;
      errno = EDOM;
      EXPECT_EQ(posix_memalign(&p, al, Opaque(n)), ENOMEM)
          << "posix_memalign(" << al << ", " << n << ")";
      EXPECT_EQ(errno, EDOM) << "posix_memalign(" << al << ", " << n << ") changed errno";
    }
  }
  // Nor when it succeeds, on the fast path (a small block) or not (a large one).
  for (size_t n : {size_t(48), size_t(256), size_t(1) << 20}) {
    void* p = nullptr;
    errno = EDOM;
    ASSERT_EQ(posix_memalign(&p, 64, Opaque(n)), 0);
    EXPECT_EQ(errno, EDOM) << "posix_memalign(64, " << n << ") changed errno";
    std::free(p);
  }
  ExpectHeapStillWorks();
}

// Alignments that are valid powers of two but can never be satisfied.
TEST(Errors, ImpossibleAlignments) {
  for (size_t al : {size_t(1) << 62, size_t(1) << 63}) {
    errno = 0;
    EXPECT_EQ(memalign(Opaque(al), 1), nullptr) << al;
    EXPECT_EQ(errno, ENOMEM) << "memalign(" << al << ", 1)";
    void* p = nullptr;
    int rc = posix_memalign(&p, Opaque(al), 1);
    EXPECT_TRUE(rc == ENOMEM || rc == EINVAL) << "posix_memalign(" << al << ", 1) = " << rc;
  }
  ExpectHeapStillWorks();
}

TEST(Errors, VallocPvallocImpossibleSizes) {
  for (size_t n : kImpossible) {
    errno = 0;
    EXPECT_EQ(valloc(Opaque(n)), nullptr) << "valloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    // pvalloc rounds up to a page: must not wrap around to a tiny block.
    EXPECT_EQ(pvalloc(Opaque(n)), nullptr) << "pvalloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM);
  }
  ExpectHeapStillWorks();
}

TEST(Errors, ReallocarrayOverflow) {
  void* p = std::malloc(64);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x42, 64);
  errno = 0;
  EXPECT_EQ(reallocarray(p, Opaque(SIZE_MAX / 8), 9), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(static_cast<unsigned char*>(p)[i], 0x42);
  std::free(p);
}

// Many failures in a row leave no trace (no leak of reserved space, no
// broken state).
TEST(Errors, RepeatedFailuresAreHarmless) {
  size_t before = RssBytes();
  for (int i = 0; i < 20000; ++i) {
    EXPECT_EQ(std::malloc(Opaque(SIZE_MAX - size_t(i))), nullptr);
    EXPECT_EQ(memalign(4096, Opaque(size_t(PTRDIFF_MAX) - size_t(i))), nullptr);
    void* p = std::malloc(size_t(i % 300) + 1);
    ASSERT_NE(p, nullptr);
    std::free(p);
  }
  EXPECT_LT(RssBytes(), before + (16 << 20));
  ExpectHeapStillWorks();
}

}  // namespace
