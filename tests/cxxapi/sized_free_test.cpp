// Sized free: free_sized, free_aligned_sized and arenalloc_free_sized are checked. The right size
// (the one the block was allocated or last reallocated/resized with) never reports; a wrong one
// is reported as "size mismatch in sized free" (on_error: abort, warn or ignore).
#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cxxapi_util.h"

using namespace cxxapi;

namespace {

// Counts the reports in captured stderr.
std::size_t CountReports(const std::string& err, const char* what = "size mismatch in sized free") {
  std::size_t n = 0;
  for (std::size_t pos = err.find(what); pos != std::string::npos; pos = err.find(what, pos + 1))
    ++n;
  return n;
}

TEST(SizedFree, RightSizesNeverReport) {
  OnErrorScope warn("warn");  // a report would be printed, not abort: count them
  StderrCapture err;
  for (std::size_t n : SizeSweep(20 * MiB)) {
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    free_sized(p, n);
    p = arenalloc_alloc(n, ARENALLOC_ZERO);
    arenalloc_free_sized(p, n, ARENALLOC_ZERO);
    p = std::calloc(1, n);
    free_sized(p, n);
    for (std::size_t a : {std::size_t{32}, std::size_t{64}, std::size_t{4096}, 64 * KiB, 2 * MiB}) {
      if (n > 1 * MiB && a < 2 * MiB) continue;  // keep the run short
      p = arenalloc_alloc(n, ARENALLOC_ALIGN(a));
      FreeSized(p, n, ARENALLOC_ALIGN(a));
      if (n % a == 0 && n > 0) {
        p = std::aligned_alloc(a, n);
        free_aligned_sized(p, a, n);
      }
      {
        p = std::aligned_alloc(a, (n + a - 1) / a * a);
        free_aligned_sized(p, a, (n + a - 1) / a * a);
      }
    }
  }
  EXPECT_EQ(CountReports(err.Take()), 0u);
}

// BUG (arenalloc 0.1.0): a 0-byte block with an alignment above 64 KiB is a one-slice (64 KiB)
// large block, and dealloc_sized_slow accepts a large block only if size + 64 KiB > block size,
// which is false for size 0: the right size is reported as a mismatch (and, under on_error=warn,
// the block leaks). Enable this test once fixed (and drop the exception in FreeSized).
TEST(SizedFree, ZeroBytesLargeAlignment) {
  OnErrorScope warn("warn");
  StderrCapture err;
  for (std::size_t a : {128 * KiB, 1 * MiB, 16 * MiB}) {
    void* p = arenalloc_alloc(0, ARENALLOC_ALIGN(a));
    arenalloc_free_sized(p, 0, ARENALLOC_ALIGN(a));
    p = std::aligned_alloc(a, 0);
    free_aligned_sized(p, a, 0);
  }
  EXPECT_EQ(CountReports(err.Take()), 0u);
}

TEST(SizedFree, NullIsIgnored) {
  free_sized(nullptr, 100);
  free_aligned_sized(nullptr, 64, 100);
  arenalloc_free_sized(nullptr, 100, ARENALLOC_ALIGN(64));
}

TEST(SizedFree, AfterReallocInPlaceUsesTheNewSize) {
  OnErrorScope warn("warn");
  StderrCapture err;
  std::size_t in_place = 0;
  struct Case {
    std::size_t from, to;
  };
  const Case cases[] = {
      {1000, 600},             // small, shrunk in place (the class of 1000 is 1024)
      {100, 60},               // small
      {1 * MiB, 600 * KiB},    // large, shrunk in place
      {200 * KiB, 250 * KiB},  // large, within its slices
      {300 * KiB, 1 * MiB},    // large, grows in place if the space after it is free
      {10 * MiB, 9 * MiB},     // huge, shrunk within its mapping
  };
  for (const Case& c : cases) {
    auto* p = static_cast<unsigned char*>(std::malloc(c.from));
    ASSERT_NE(p, nullptr);
    Fill(p, c.from, c.from);
    auto* q = static_cast<unsigned char*>(std::realloc(p, c.to));
    ASSERT_NE(q, nullptr);
    const std::size_t kept = c.from < c.to ? c.from : c.to;
    EXPECT_EQ(FirstMismatch(q, kept, c.from), kept);
    if (q == p) ++in_place;
    free_sized(q, c.to);
  }
  EXPECT_EQ(CountReports(err.Take()), 0u);
  EXPECT_GE(in_place, 4u) << "most of these reallocs are expected in place";
}

TEST(SizedFree, AfterResizeUsesTheNewSize) {
  OnErrorScope warn("warn");
  StderrCapture err;
  void* p = std::malloc(1 * MiB);
  ASSERT_EQ(arenalloc_resize(p, 200 * KiB, 0), arenalloc_good_size(200 * KiB, 0));
  free_sized(p, 200 * KiB);
  p = std::malloc(12 * MiB);
  ASSERT_GE(arenalloc_resize(p, 9 * MiB, 0), 9 * MiB);
  arenalloc_free_sized(p, 9 * MiB, 0);
  EXPECT_EQ(CountReports(err.Take()), 0u);
}

TEST(SizedFree, PrivateHeapBlocks) {
  OnErrorScope warn("warn");
  StderrCapture err;
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ASSERT_NE(heap, nullptr);
  for (std::size_t n : {std::size_t{24}, std::size_t{700}, 100 * KiB, 300 * KiB, 9 * MiB}) {
    void* p = arenalloc_heap_malloc(heap, n);
    free_sized(p, n);
    p = arenalloc_heap_alloc(heap, n, ARENALLOC_ALIGN(4096));
    arenalloc_free_sized(p, n, ARENALLOC_ALIGN(4096));
  }
  arenalloc_heap_destroy(heap);
  EXPECT_EQ(CountReports(err.Take()), 0u);
}

// Sizes that do not match the block: {allocated, freed as}.
struct Mismatch {
  std::size_t alloc, freed;
};
const Mismatch kMismatches[] = {
    {100, 5000},           // small block freed as bigger than it is
    {1000, 10},            // small block freed as much smaller (another class)
    {1 * MiB, 1000},       // large block freed as small
    {200 * KiB, 1 * MiB},  // large block freed as bigger
    {10 * MiB, 100},       // huge block freed as small
};

TEST(SizedFreeDeathTest, MismatchAborts) {
  UseThreadsafeDeathTests();
  for (const Mismatch& m : kMismatches) {
    EXPECT_DEATH(
        {
          void* p = std::malloc(m.alloc);
          free_sized(p, m.freed);
        },
        "arenalloc: size mismatch in sized free")
        << m.alloc << " freed as " << m.freed;
  }
  EXPECT_DEATH(
      {
        void* p = arenalloc_alloc(300, 0);
        arenalloc_free_sized(p, 3000, 0);
      },
      "size mismatch in sized free");
  EXPECT_DEATH(  // an aligned block freed with the default alignment
      {
        void* p = std::aligned_alloc(4096, 4096);
        free_aligned_sized(p, 16, 100);
      },
      "size mismatch in sized free");
  EXPECT_DEATH(
      {
        void* p = arenalloc_alloc(40, ARENALLOC_ALIGN(4096));
        arenalloc_free_sized(p, 40, 0);
      },
      "size mismatch in sized free");
  EXPECT_DEATH(  // through the C++ sized operator delete
      {
        void* p = ::operator new(64);
        ::operator delete (p, std::size_t{4096});
      },
      "size mismatch in sized free");
}

TEST(SizedFree, MismatchUnderWarnIsReportedAndSurvived) {
  OnErrorScope warn("warn");
  StderrCapture err;
  for (const Mismatch& m : kMismatches) {
    void* p = std::malloc(m.alloc);
    std::memset(p, 1, m.alloc);
    free_sized(p, m.freed);  // reported; the block is kept (leaked), not freed with a wrong size
  }
  const std::string text = err.Take();
  EXPECT_EQ(CountReports(text), std::size(kMismatches)) << text;
  EXPECT_NE(text.find("freed as 5000 bytes"), std::string::npos) << text;
  // The allocator keeps working.
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(std::malloc(100));
  for (void* p : v) free_sized(p, 100);
}

TEST(SizedFree, MismatchUnderIgnoreIsSilent) {
  OnErrorScope ignore("ignore");
  StderrCapture err;
  void* p = std::malloc(100);
  free_sized(p, 5000);
  EXPECT_EQ(err.Take(), "");
}

}  // namespace
