// malloc_usable_size.
#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

using namespace apitest;

namespace {

TEST(UsableSize, NullIsZero) {
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

// For every size of the sweep 0..64 MiB the usable size is at least the
// request, stable, and the whole usable size can be written.
TEST(UsableSize, AtLeastRequestUpTo64MiB) {
  for (size_t n : SizeSweep(64 << 20)) {
    auto* p = static_cast<unsigned char*>(std::malloc(Opaque(n)));
    ASSERT_NE(p, nullptr) << n;
    size_t us = malloc_usable_size(p);
    ASSERT_GE(us, n) << "malloc_usable_size(malloc(" << n << "))";
    EXPECT_EQ(malloc_usable_size(p), us) << "unstable for " << n;
    // Sanity: not absurdly larger than requested (at most 2x + 4 KiB).
    EXPECT_LE(us, 2 * n + 4096) << "usable size " << us << " for " << n;
    std::memset(p, 0xE7, us);
    std::free(p);
  }
}

// Writing the whole usable size of a block does not damage its neighbours.
TEST(UsableSize, WritingUsableTailDoesNotTouchNeighbours) {
  for (size_t n : {size_t(1), size_t(13), size_t(24), size_t(100), size_t(1000), size_t(5000),
                   size_t(40000), size_t(300000)}) {
    std::vector<unsigned char*> blocks;
    for (int i = 0; i < 64; ++i) {
      auto* p = static_cast<unsigned char*>(std::malloc(n));
      ASSERT_NE(p, nullptr);
      blocks.push_back(p);
    }
    for (size_t i = 0; i < blocks.size(); ++i)
      std::memset(blocks[i], int(i + 1), malloc_usable_size(blocks[i]));
    for (size_t i = 0; i < blocks.size(); ++i) {
      size_t us = malloc_usable_size(blocks[i]);
      for (size_t k = 0; k < us; ++k)
        ASSERT_EQ(blocks[i][k], static_cast<unsigned char>(i + 1))
            << "size " << n << " block " << i << " byte " << k << " overwritten by a neighbour";
    }
    for (auto* p : blocks) std::free(p);
  }
}

TEST(UsableSize, OtherAllocationFunctions) {
  for (size_t n : {size_t(1), size_t(100), size_t(4097), size_t(1) << 20, size_t(20) << 20}) {
    void* c = std::calloc(1, n);
    ASSERT_NE(c, nullptr);
    EXPECT_GE(malloc_usable_size(c), n);
    c = std::realloc(c, 2 * n);
    ASSERT_NE(c, nullptr);
    EXPECT_GE(malloc_usable_size(c), 2 * n);
    std::free(c);
    for (size_t al : {size_t(32), size_t(4096), size_t(1) << 20}) {
      void* m = memalign(al, n);
      ASSERT_NE(m, nullptr);
      EXPECT_GE(malloc_usable_size(m), n) << "memalign(" << al << ", " << n << ")";
      std::free(m);
    }
    void* o = ::operator new(n);
    EXPECT_GE(malloc_usable_size(o), n);
    ::operator delete(o);
    o = ::operator new (n, std::align_val_t{256});
    EXPECT_GE(malloc_usable_size(o), n);
    ::operator delete (o, std::align_val_t{256});
  }
}

}  // namespace
