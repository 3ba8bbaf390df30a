// Single-threaded tests of the core's internal entry points (the operations behind malloc,
// calloc, realloc, memalign, malloc_usable_size, malloc_trim), built with the sanitizers so that
// the allocator's own out-of-bounds accesses and undefined behaviour are caught. Every block is
// written over its whole usable size (sparsely beyond 64 KiB): an overstated usable size then
// shows as a damaged neighbour.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "diag/options.h"
#include "sanitize_util.h"

namespace {

using arenalloc::alloc;
using arenalloc::alloc_aligned;
using arenalloc::alloc_zeroed;
using arenalloc::dealloc;
using arenalloc::reallocate;
using arenalloc::usable_size;

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// Writes `byte` over the usable size of p (all of it up to 256 KiB, else every 4 KiB and the
// edges) and returns the usable size.
size_t scribble(void* p, uint8_t byte) {
  size_t n = usable_size(p);
  auto* b = static_cast<uint8_t*>(p);
  if (n <= 256 * KiB) {
    std::memset(b, byte, n);
  } else {
    std::memset(b, byte, 4 * KiB);
    for (size_t i = 4 * KiB; i < n - 4 * KiB; i += 4 * KiB) b[i] = byte;
    std::memset(b + n - 4 * KiB, byte, 4 * KiB);
  }
  return n;
}

bool all_bytes(const void* p, size_t n, uint8_t byte) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != byte) return false;
  return true;
}

// Sizes 0..64 MiB: every size up to 4 KiB, then each power of two and a few neighbours.
std::vector<size_t> test_sizes() {
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 4 * KiB; ++n) sizes.push_back(n);
  for (size_t p = 8 * KiB; p <= 64 * MiB; p *= 2)
    for (size_t n : {p - 17, p - 1, p, p + 1, p + p / 3}) sizes.push_back(n);
  // The class and threshold boundaries.
  for (size_t n : {128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 8 * MiB - 1, 8 * MiB, 8 * MiB + 1,
                   16 * MiB - 1, 16 * MiB, 16 * MiB + 1, 32 * MiB - 8 * KiB, 32 * MiB})
    sizes.push_back(n);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [](size_t n) { return n > 64 * MiB; }),
              sizes.end());
  return sizes;
}

TEST(CoreApi, EverySizeUpTo64MiB) {
  for (size_t n : test_sizes()) {
    void* p = alloc(n);
    ASSERT_NE(p, nullptr) << n;
    // The smallest block is 16 bytes, and every block is 16-aligned.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << n;
    size_t us = scribble(p, 0x5A);
    EXPECT_GE(us, n);
    EXPECT_EQ(usable_size(p), us);
    dealloc(p);
  }
}

// Many live blocks of mixed sizes never overlap, and each keeps its contents until freed.
TEST(CoreApi, LiveBlocksDoNotOverlap) {
  san::Rng r(42);
  struct Live {
    uint8_t* p;
    size_t usable;
  };
  std::vector<Live> live;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 6000; ++i) {
      size_t n = r.OneIn(200) ? r.LogUniform(128 * KiB, 4 * MiB) : r.SmallSkewed();
      void* p = r.OneIn(4) ? alloc_aligned(n, size_t{16} << r.Below(10)) : alloc(n);
      ASSERT_NE(p, nullptr);
      live.push_back({static_cast<uint8_t*>(p), usable_size(p)});
      ASSERT_GE(live.back().usable, n);
    }
    std::vector<Live> sorted = live;
    std::sort(sorted.begin(), sorted.end(), [](const Live& a, const Live& b) { return a.p < b.p; });
    for (size_t i = 1; i < sorted.size(); ++i)
      ASSERT_LE(sorted[i - 1].p + sorted[i - 1].usable, sorted[i].p)
          << "blocks " << static_cast<void*>(sorted[i - 1].p) << " (" << sorted[i - 1].usable
          << " bytes) and " << static_cast<void*>(sorted[i].p) << " overlap";
    // Stamp all, check all, free a random half.
    for (auto& l : live)
      std::memset(l.p, static_cast<int>(reinterpret_cast<uintptr_t>(l.p) >> 4),
                  std::min<size_t>(l.usable, 4096));
    for (auto& l : live)
      ASSERT_TRUE(all_bytes(l.p, std::min<size_t>(l.usable, 4096),
                            static_cast<uint8_t>(reinterpret_cast<uintptr_t>(l.p) >> 4)))
          << static_cast<void*>(l.p);
    std::shuffle(live.begin(), live.end(), std::mt19937(round));
    for (size_t i = live.size() / 2; i < live.size(); ++i) dealloc(live[i].p);
    live.resize(live.size() / 2);
  }
  for (auto& l : live) dealloc(l.p);
}

TEST(CoreApi, AlignedBlocks) {
  const size_t sizes[] = {0, 1, 8, 15, 16, 17, 100, 4096, 65536, 128 * KiB, 200 * KiB, 9 * MiB};
  for (size_t align = 1; align <= 16 * MiB; align *= 2) {
    for (size_t n : sizes) {
      void* p = alloc_aligned(n, align);
      ASSERT_NE(p, nullptr) << "size " << n << " align " << align;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % std::max<size_t>(align, 8), 0u)
          << "size " << n << " align " << align;
      EXPECT_GE(scribble(p, 0xA5), n);
      // A second one while the first is alive: no overlap.
      void* q = alloc_aligned(n, align);
      ASSERT_NE(q, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % std::max<size_t>(align, 8), 0u);
      scribble(q, 0x3C);
      EXPECT_TRUE(all_bytes(p, std::min<size_t>(n, 4096), 0xA5))
          << "size " << n << " align " << align;
      dealloc(q);
      dealloc(p);
    }
  }
  // Beyond the largest alignment, or an impossible size: ENOMEM, not a crash.
  errno = 0;
  EXPECT_EQ(alloc_aligned(16, 64 * MiB), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_aligned(SIZE_MAX - 4096, 64), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(CoreApi, ZeroedEvenWhenReused) {
  // Dirty memory of every kind first (small, large from dirty slices, huge), then zeroed blocks.
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<void*> dirty;
    for (size_t n : {16ul, 100ul, 1000ul, 70000ul, 130000ul, 300000ul, 3000000ul, 9000000ul}) {
      for (int k = 0; k < 3; ++k) {
        void* p = alloc(n);
        ASSERT_NE(p, nullptr);
        std::memset(p, 0xEE, n);
        dirty.push_back(p);
      }
    }
    for (void* p : dirty) dealloc(p);
    for (size_t n : {16ul, 100ul, 1000ul, 70000ul, 130000ul, 300000ul, 3000000ul, 9000000ul}) {
      for (size_t count : {size_t{1}, size_t{3}, size_t{16}}) {
        void* p = alloc_zeroed(count, n / count);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(all_bytes(p, count * (n / count), 0)) << count << " x " << n / count;
        std::memset(p, 0xEE, count * (n / count));
        dealloc(p);
      }
    }
  }
  void* p = alloc_zeroed(0, 0);
  EXPECT_NE(p, nullptr);
  dealloc(p);
  errno = 0;
  EXPECT_EQ(alloc_zeroed(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_zeroed(size_t{1} << 33, size_t{1} << 32), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

// A chain of resizes through every kind (small, large, huge and back) keeps the contents.
TEST(CoreApi, ReallocateKeepsContents) {
  const size_t chain[] = {1,         16,        17,        200,      1000,     8 * KiB, 64 * KiB,
                          128 * KiB, 129 * KiB, 300 * KiB, 1 * MiB,  2 * MiB,  7 * MiB, 9 * MiB,
                          12 * MiB,  30 * MiB,  64 * MiB,  20 * MiB, 10 * MiB, 8 * MiB, 3 * MiB,
                          500 * KiB, 130 * KiB, 100 * KiB, 5000,     64,       16,      1};
  san::Rng r(7);
  for (int variant = 0; variant < 3; ++variant) {
    void* p = reallocate(nullptr, chain[0]);
    ASSERT_NE(p, nullptr);
    size_t have = chain[0];
    uint64_t seed = r.Next();
    auto fill = [&](void* q, size_t n) {
      auto* b = static_cast<uint8_t*>(q);
      for (size_t i = 0; i < n; i += (i < 256 * KiB ? 1 : 4093))
        b[i] = static_cast<uint8_t>(seed + i * 7);
    };
    auto check = [&](const void* q, size_t n) {
      const auto* b = static_cast<const uint8_t*>(q);
      for (size_t i = 0; i < n; i += (i < 256 * KiB ? 1 : 4093))
        if (b[i] != static_cast<uint8_t>(seed + i * 7)) return i;
      return SIZE_MAX;
    };
    fill(p, have);
    // Something after the block in variants 1 and 2, so that in-place growth is not always free.
    std::vector<void*> blockers;
    for (size_t n : chain) {
      if (variant > 0) blockers.push_back(alloc(variant == 1 ? n : 200 * KiB));
      void* q = reallocate(p, n);
      ASSERT_NE(q, nullptr) << have << " -> " << n;
      EXPECT_GE(usable_size(q), n);
      size_t kept = std::min(have, n);
      EXPECT_EQ(check(q, kept), SIZE_MAX) << have << " -> " << n << " lost data";
      p = q;
      have = n;
      seed = r.Next();
      fill(p, have);
    }
    for (void* b : blockers) dealloc(b);
    EXPECT_EQ(reallocate(p, 0), nullptr);  // frees, as glibc
  }
  errno = 0;
  void* p = alloc(100);
  EXPECT_EQ(reallocate(p, SIZE_MAX - 100), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  std::memset(p, 1, 100);  // still valid
  dealloc(p);
}

TEST(CoreApi, LimitsAndNull) {
  EXPECT_EQ(usable_size(nullptr), 0u);
  dealloc(nullptr);
  errno = 0;
  EXPECT_EQ(alloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc((size_t{1} << 62) + 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = alloc(0);  // a unique pointer (usable size 0 in debug mode, which is exact)
  ASSERT_NE(p, nullptr);
  void* q = alloc(0);
  EXPECT_NE(p, q);
  dealloc(q);
  dealloc(p);
}

TEST(CoreApi, TrimAfterBigFrees) {
  std::vector<void*> v;
  for (int i = 0; i < 16; ++i) v.push_back(alloc(1 * MiB));
  for (int i = 0; i < 4000; ++i) v.push_back(alloc(256));
  for (void* p : v) scribble(p, 1);
  for (void* p : v) dealloc(p);
  arenalloc::trim(0);
  arenalloc::trim(0);
  // Everything still works after trimming.
  void* p = alloc(1 * MiB);
  ASSERT_NE(p, nullptr);
  scribble(p, 2);
  dealloc(p);
}

// Sets run-time options for one test and restores them after.
class ScopedOptions {
 public:
  ScopedOptions(std::initializer_list<std::pair<arenalloc::options::Id, uint64_t>> values) {
    for (auto [id, v] : values) {
      saved_.emplace_back(id, arenalloc::options::get(id));
      EXPECT_TRUE(arenalloc::options::set(id, v));
    }
  }
  ~ScopedOptions() {
    for (auto [id, v] : saved_) arenalloc::options::set(id, v);
  }

 private:
  std::vector<std::pair<arenalloc::options::Id, uint64_t>> saved_;
};

// Memory purged with MADV_FREE keeps its contents until the kernel reclaims it, so a block
// carved from such slices is not known to be zero.
TEST(CoreApiOptions, ZeroedAfterLazyPurge) {
  using arenalloc::options::Id;
  ScopedOptions opts(
      {{Id::kPurgeMethod, uint64_t(arenalloc::PurgeMethod::kFree)}, {Id::kPurgeDelay, 0}});
  for (size_t n : {200 * KiB, 1 * MiB, 3 * MiB}) {
    void* p = alloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0xEE, n);
    dealloc(p);
    arenalloc::trim(0);  // purges now, lazily
    void* q = alloc_zeroed(1, n);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(all_bytes(q, n, 0)) << n << " bytes at " << q << " (the freed block was " << p
                                    << "), first byte " << int(*static_cast<uint8_t*>(q));
    dealloc(q);
  }
}

// Blocks mapped alone (mmap_threshold 0) of every size and alignment, including size 0 with a
// large alignment, are valid blocks with a usable size.
TEST(CoreApiOptions, EverythingMappedAlone) {
  using arenalloc::options::Id;
  ScopedOptions opts(
      {{Id::kMmapThreshold, 0}, {Id::kOnError, uint64_t(arenalloc::OnError::kWarn)}});
  for (size_t align : {size_t{1}, size_t{16}, 128 * KiB, 1 * MiB}) {
    for (size_t n : {size_t{0}, size_t{1}, 200 * KiB, 1 * MiB + 1}) {
      testing::internal::CaptureStderr();  // where an invalid-pointer report would go
      void* p = align <= 16 && n <= 128 * KiB ? alloc(n) : alloc_aligned(n, align);
      ASSERT_NE(p, nullptr) << n << " " << align;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % std::max<size_t>(align, 16), 0u);
      EXPECT_GE(usable_size(p), n) << "size " << n << " align " << align << " at " << p;
      void* q = reallocate(p, n + 100);
      EXPECT_NE(q, nullptr) << "size " << n << " align " << align;
      dealloc(q);
      std::string err = testing::internal::GetCapturedStderr();
      EXPECT_EQ(err, "") << "size " << n << " align " << align;
    }
  }
}

// The sized free (free_sized, free_aligned_sized, sized delete) accepts the size and alignment
// of the request, for every kind of block and after a reallocation. A mismatch would be reported
// on stderr (on_error=warn here, so that one does not end the test).
TEST(CoreApiOptions, SizedFreeWithTheRequest) {
  using arenalloc::options::Id;
  ScopedOptions opts({{Id::kOnError, uint64_t(arenalloc::OnError::kWarn)}});
  for (size_t align : {size_t{0}, size_t{16}, size_t{4096}, 64 * KiB, 128 * KiB, 1 * MiB}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, 70 * KiB, 200 * KiB, 9 * MiB}) {
      testing::internal::CaptureStderr();
      void* p = align == 0 ? alloc(n) : alloc_aligned(n, align);
      ASSERT_NE(p, nullptr);
      arenalloc::dealloc_sized(p, n, align);
      void* q = reallocate(alloc(n), n + 1000);
      arenalloc::dealloc_sized(q, n + 1000, 0);
      std::string err = testing::internal::GetCapturedStderr();
      EXPECT_EQ(err, "") << "size " << n << " align " << align;
    }
  }
}

TEST(CoreApi, ResizeInPlace) {
  san::Rng r(3);
  for (size_t n : {200 * KiB, 1 * MiB, 9 * MiB}) {
    void* p = alloc(n);
    ASSERT_NE(p, nullptr);
    auto* b = static_cast<uint8_t*>(p);
    for (size_t i = 0; i < n; i += 4096) b[i] = static_cast<uint8_t>(i >> 12);
    size_t have = n;
    for (size_t m : {n * 2, n / 3, n + 70000, size_t{1000}, n}) {
      size_t got = arenalloc::resize_in_place(p, m);
      EXPECT_EQ(got, usable_size(p));
      size_t now = got >= m ? m : have;
      EXPECT_GE(got, now);
      for (size_t i = 0; i < std::min(have, now); i += 4096)
        ASSERT_EQ(b[i], static_cast<uint8_t>(i >> 12)) << n << " -> " << m << " at " << i;
      for (size_t i = 0; i < now; i += 4096) b[i] = static_cast<uint8_t>(i >> 12);
      have = now;
    }
    dealloc(p);
  }
}

}  // namespace
