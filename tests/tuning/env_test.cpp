// Options set through the environment, checked on a child process (tuning_child) started with
// exactly those variables: what the child observes (mallinfo2, the stats JSON, RSS, /proc maps)
// and, where strace can run, the system calls it makes.
#include <sys/mman.h>
#include <sys/prctl.h>

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "tuning_util.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

using namespace tuning;

namespace {

#define REQUIRE_STRACE()                   \
  do {                                     \
    std::string why = StraceUnavailable(); \
    if (!why.empty()) GTEST_SKIP() << why; \
  } while (0)

#define ASSERT_RAN(r) ASSERT_EQ((r).status, 0) << (r).Describe()

double MiB(uint64_t b) {
  return double(b) / double(kMiB);
}

Json ParseJson(const std::string& text) {
  Json j;
  JsonParser p(text);
  EXPECT_TRUE(p.Parse(&j)) << p.error();
  return j;
}

Env With(Env env, const std::string& k, const std::string& v) {
  env.emplace_back(k, v);
  return env;
}

// The child's "huge" blocks (10 and 16 MiB) get mappings of their own whatever the default.
const Env kMapFrom1MiB = {{"MALLOC_MMAP_THRESHOLD_", "1m"}};

// Lines of stderr that come from arenalloc.
std::vector<std::string> AllocatorLines(const std::string& err) {
  std::vector<std::string> out;
  for (const std::string& l : Lines(err))
    if (StartsWith(l, "arenalloc:")) out.push_back(l);
  return out;
}

// ---- mmap threshold ----

void ExpectOwnMapping(const Env& env) {
  Result r = RunChild({"huge", "200k"}, env);
  ASSERT_RAN(r);
  EXPECT_EQ(r.Num("hblks") - r.Num("before_hblks"), 1u) << r.Describe();
  EXPECT_GE(r.Num("hblkhd") - r.Num("before_hblkhd"), 200 * kKiB) << r.Describe();
  EXPECT_EQ(r.Num("after_hblks"), r.Num("before_hblks")) << "free did not drop the huge block";
  Result opt = RunChild({"options", "mmap_threshold"}, env);
  EXPECT_EQ(opt.Str("mmap_threshold"), "131072");
}

TEST(MmapThreshold, GlibcVariable) {
  ExpectOwnMapping({{"MALLOC_MMAP_THRESHOLD_", "131072"}});
}
TEST(MmapThreshold, ArenallocVariable) {
  ExpectOwnMapping({{"ARENALLOC_MMAP_THRESHOLD", "131072"}});
}
TEST(MmapThreshold, GlibcTunables) {
  ExpectOwnMapping({{"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072"}});
}
TEST(MmapThreshold, ArenallocOptionsWithSuffix) {
  ExpectOwnMapping({{"ARENALLOC_OPTIONS", "mmap_threshold=128k"}});
}

// glibc maps any block at or above the threshold; so does the option's description. Blocks up to
// 128 KiB (arenalloc's largest size class) are the case to check.
TEST(MmapThreshold, AppliesBelowTheLargestSizeClass) {
  Result r = RunChild({"huge", "100k"}, {{"MALLOC_MMAP_THRESHOLD_", "65536"}});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Num("hblks") - r.Num("before_hblks"), 1u)
      << "MALLOC_MMAP_THRESHOLD_=65536: a 100 KiB block should get a mapping of its own\n"
      << r.Describe();
}

TEST(MmapThreshold, DefaultKeepsTheBlockInASegment) {
  Result r = RunChild({"huge", "200k"});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Num("hblks"), r.Num("before_hblks")) << r.Describe();
  EXPECT_EQ(r.Num("hblkhd"), r.Num("before_hblkhd"));
  Result opt = RunChild({"options", "mmap_threshold"});
  EXPECT_GE(opt.Num("mmap_threshold"), 1 * kMiB) << "default";
}

// The length argument of munmap lines.
std::vector<uint64_t> MunmapLengths(const std::vector<std::string>& lines) {
  std::vector<uint64_t> out;
  for (const std::string& l : lines)
    if (StartsWith(l, "munmap(")) {
      size_t comma = l.find(',');
      if (comma != std::string::npos)
        out.push_back(std::strtoull(l.c_str() + comma + 1, nullptr, 10));
    }
  return out;
}

TEST(MmapThreshold, FreeUnmapsTheBlockUnderStrace) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced({"huge", "200k"}, {{"MALLOC_MMAP_THRESHOLD_", "131072"}});
  ASSERT_RAN(t.result);
  std::vector<uint64_t> lengths = MunmapLengths(t.Between("free-begin", "free-end"));
  ASSERT_EQ(lengths.size(), 1u) << "free() of the 200 KiB block should munmap once\n"
                                << t.Excerpt(200);
  EXPECT_GE(lengths[0], 200 * kKiB);
}

TEST(MmapThreshold, WithoutItFreeDoesNotUnmap) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced({"huge", "200k"});
  ASSERT_RAN(t.result);
  EXPECT_TRUE(MunmapLengths(t.Between("free-begin", "free-end")).empty()) << t.Excerpt(200);
  EXPECT_EQ(t.result.Num("hblks"), t.result.Num("before_hblks"));
}

// ---- arena_max ----

size_t ArenasUsedBy8Threads(const Env& env, Result* out) {
  *out = RunChild({"arenas", "8"}, env);
  EXPECT_EQ(out->status, 0) << out->Describe();
  Json j = ParseJson(out->Str("json"));
  const Json* arenas = j.Get("arenas");
  EXPECT_NE(arenas, nullptr);
  return arenas == nullptr ? 0 : arenas->items.size();
}

TEST(ArenaMax, GlibcVariableKeepsEveryThreadInOneArena) {
  Result r;
  EXPECT_EQ(ArenasUsedBy8Threads({{"MALLOC_ARENA_MAX", "1"}}, &r), 1u) << r.Str("json");
  EXPECT_EQ(r.Str("arena_max"), "1");
}

TEST(ArenaMax, ArenallocVariableKeepsEveryThreadInOneArena) {
  Result r;
  EXPECT_EQ(ArenasUsedBy8Threads({{"ARENALLOC_ARENA_MAX", "1"}}, &r), 1u) << r.Str("json");
  EXPECT_EQ(r.Str("arena_max"), "1");
}

TEST(ArenaMax, TwoArenas) {
  Result r;
  EXPECT_EQ(ArenasUsedBy8Threads({{"MALLOC_ARENA_MAX", "2"}}, &r), 2u) << r.Str("json");
}

TEST(ArenaMax, DefaultSpreadsThreadsOverSeveralArenas) {
  Result r;
  size_t used = ArenasUsedBy8Threads({}, &r);
  Json j = ParseJson(r.Str("json"));
  uint64_t configured = j.U64("arena_count");
  EXPECT_GE(configured, 8u) << "default is 8 x CPUs";
  EXPECT_GE(used, std::min<uint64_t>(8, configured)) << r.Str("json");
  EXPECT_EQ(r.Str("arena_max"), "0") << "0 = automatic";
}

// ---- trim threshold, top pad, purge delay: 64 blocks of 1 MiB (large spans) freed ----

struct FreeRun {
  Result r;
  uint64_t base, peak, freed, later, dirty, dirty_later;
};

FreeRun FreeLarge(const Env& env, size_t count = 64, size_t keep = 0, int sleep_ms = 0) {
  FreeRun f;
  f.r = RunChild(
      {"free-large", std::to_string(count), "1m", std::to_string(keep), std::to_string(sleep_ms)},
      env);
  EXPECT_EQ(f.r.status, 0) << f.r.Describe();
  f.base = f.r.Num("rss_base");
  f.peak = f.r.Num("rss_peak");
  f.freed = f.r.Num("rss_freed");
  f.later = f.r.Num("rss_later");
  f.dirty = ParseJson(f.r.Str("json_freed")).U64("bytes_dirty");
  if (sleep_ms > 0) f.dirty_later = ParseJson(f.r.Str("json_later")).U64("bytes_dirty");
  EXPECT_GE(f.peak, f.base + count * kMiB * 7 / 8) << "blocks not resident?\n" << f.r.Describe();
  return f;
}

std::string Show(const FreeRun& f) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "RSS MiB: base %.1f, peak %.1f, right after the frees %.1f, later %.1f; dirty "
                "%.1f MiB",
                MiB(f.base), MiB(f.peak), MiB(f.freed), MiB(f.later), MiB(f.dirty));
  return buf;
}

const Env kLongDelay = {{"ARENALLOC_PURGE_DELAY", "100000"}};

TEST(TrimThreshold, SmallThresholdReturnsFreedMemoryAtOnce) {
  FreeRun f = FreeLarge(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1m"));
  EXPECT_LT(f.freed, f.base + 8 * kMiB) << Show(f);
  EXPECT_LE(f.dirty, 6 * kMiB) << Show(f);
}

TEST(TrimThreshold, ArenallocVariable) {
  FreeRun f = FreeLarge(With(kLongDelay, "ARENALLOC_TRIM_THRESHOLD", "1m"));
  EXPECT_LT(f.freed, f.base + 8 * kMiB) << Show(f);
}

TEST(TrimThreshold, LargeThresholdKeepsFreedMemoryResident) {
  FreeRun f = FreeLarge(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1g"));
  EXPECT_GE(f.freed, f.peak - 8 * kMiB) << Show(f);
  EXPECT_GE(f.dirty, 60 * kMiB) << Show(f);
}

// The limit is max(trim_threshold, in use / 4): with 256 MiB in use, 32 MiB freed stays.
TEST(TrimThreshold, AQuarterOfTheMemoryInUseIsKeptEvenWithASmallThreshold) {
  FreeRun f = FreeLarge(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1m"), 32, 256);
  EXPECT_GE(f.freed, f.peak - 8 * kMiB) << Show(f);
  EXPECT_GE(f.dirty, 30 * kMiB) << Show(f);
}

// The threshold bounds the process's freed memory, not each arena's: 8 threads (8 arenas) each
// free 24 MiB of 1 MiB blocks; with trim_threshold 16 MiB, at most about 16 MiB stays dirty.
TEST(TrimThreshold, BoundsTheWholeProcessNotEachArena) {
  Result r = RunChild({"threads-free", "8", "24", "1m"},
                      With(kLongDelay, "ARENALLOC_TRIM_THRESHOLD", "16m"));
  ASSERT_RAN(r);
  Json j = ParseJson(r.Str("json"));
  std::string per_arena;
  if (const Json* a = j.Get("arenas"))
    for (const Json& arena : a->items)
      per_arena.append(" ")
          .append(std::to_string(arena.U64("index")))
          .append(":")
          .append(std::to_string(arena.U64("bytes_dirty") >> 20))
          .append("MiB");
  EXPECT_LE(j.U64("bytes_dirty"), 17 * kMiB) << "dirty per arena:" << per_arena;
  EXPECT_LT(r.Num("rss_end"), r.Num("rss_base") + 24 * kMiB) << r.Describe();
}

TEST(TopPad, KeepsThePadResidentWhenPurging) {
  Env env = With(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1m"), "MALLOC_TOP_PAD_", "16m");
  FreeRun f = FreeLarge(env);
  EXPECT_GE(f.dirty, 15 * kMiB) << Show(f);
  EXPECT_LE(f.dirty, 17 * kMiB) << Show(f);
  EXPECT_GE(f.freed, f.base + 12 * kMiB) << Show(f);
  EXPECT_LT(f.freed, f.base + 24 * kMiB) << Show(f);
}

// malloc_trim(pad) leaves `pad` bytes (glibc: "If this argument is 0, only the minimum amount of
// memory is maintained"), whatever M_TOP_PAD says.
TEST(TopPad, MallocTrimZeroReturnsThePadToo) {
  Env env = With(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1m"), "MALLOC_TOP_PAD_", "16m");
  Result r = RunChild({"free-large", "64", "1m", "0", "0", "trim"}, env);
  ASSERT_RAN(r);
  EXPECT_GE(ParseJson(r.Str("json_freed")).U64("bytes_dirty"), 15 * kMiB)
      << "the pad before the trim";
  EXPECT_EQ(ParseJson(r.Str("json_trimmed")).U64("bytes_dirty"), 0u)
      << "malloc_trim(0) kept top_pad resident";
  EXPECT_LT(r.Num("rss_trimmed"), r.Num("rss_base") + 4 * kMiB) << r.Describe();
}

TEST(TopPad, WithoutItNothingStaysDirty) {
  FreeRun f = FreeLarge(With(kLongDelay, "MALLOC_TRIM_THRESHOLD_", "1m"));
  EXPECT_LT(f.dirty, 8 * kMiB) << "without top_pad, far less than 16 MiB stays\n" << Show(f);
}

const Env kHugeTrim = {{"ARENALLOC_TRIM_THRESHOLD", "1g"}};

TEST(PurgeDelay, ZeroReturnsFreedMemoryAtOnce) {
  FreeRun f = FreeLarge(With(kHugeTrim, "ARENALLOC_PURGE_DELAY", "0"));
  EXPECT_LT(f.freed, f.base + 8 * kMiB) << Show(f);
}

TEST(PurgeDelay, LongDelayKeepsFreedMemoryResident) {
  FreeRun f = FreeLarge(With(kHugeTrim, "ARENALLOC_PURGE_DELAY", "100000"), 64, 0, 300);
  EXPECT_GE(f.freed, f.peak - 8 * kMiB) << Show(f);
  EXPECT_GE(f.later, f.peak - 8 * kMiB) << Show(f);
}

TEST(PurgeDelay, MemoryIsReturnedOnceTheDelayHasPassed) {
  FreeRun f = FreeLarge(With(kHugeTrim, "ARENALLOC_PURGE_DELAY", "400"), 64, 0, 800);
  EXPECT_GE(f.freed, f.peak - 8 * kMiB) << "returned before the delay\n" << Show(f);
  EXPECT_LT(f.later, f.base + 8 * kMiB) << "not returned 800 ms later\n" << Show(f);
  EXPECT_LE(f.dirty_later, 2 * kMiB) << Show(f);
}

// ---- purge method ----

TEST(PurgeMethod, FreeUsesMadvFree) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced(
      {"free-large", "64", "1m", "0", "0"},
      With(With(kLongDelay, "ARENALLOC_TRIM_THRESHOLD", "1m"), "ARENALLOC_PURGE_METHOD", "free"));
  ASSERT_RAN(t.result);
  auto lines = t.Between("free-begin", "free-end");
  EXPECT_GE(Traced::CountWith(lines, "MADV_FREE"), 1u) << t.Excerpt(300);
}

TEST(PurgeMethod, DefaultUsesMadvDontneed) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced({"free-large", "64", "1m", "0", "0"},
                            With(kLongDelay, "ARENALLOC_TRIM_THRESHOLD", "1m"));
  ASSERT_RAN(t.result);
  auto lines = t.Between("free-begin", "free-end");
  EXPECT_GE(Traced::CountWith(lines, "MADV_DONTNEED"), 1u) << t.Excerpt(300);
  EXPECT_EQ(Traced::CountWith(t.trace, "MADV_FREE"), 0u) << t.Excerpt(300);
  Result opt = RunChild({"options", "purge_method"});
  EXPECT_EQ(opt.Str("purge_method"), "dontneed");
}

// ---- brk ----

// How far the program break grew: the highest brk() result minus the first brk(NULL) result.
uint64_t BrkGrowth(const Traced& t) {
  uint64_t start = 0, top = 0;
  for (const std::string& l : t.trace) {
    if (!StartsWith(l, "brk(")) continue;
    size_t eq = l.rfind("= ");
    if (eq == std::string::npos) continue;
    uint64_t v = std::strtoull(l.c_str() + eq + 2, nullptr, 16);
    if (StartsWith(l, "brk(NULL)") && start == 0) start = v;
    top = std::max(top, v);
  }
  return start == 0 ? 0 : top - start;
}

TEST(Brk, FirstArenaTakesItsSegmentFromBrk) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced({"brk"}, {{"ARENALLOC_BRK", "1"}});
  ASSERT_RAN(t.result);
  EXPECT_EQ(t.result.Str("brk"), "1");
  EXPECT_GE(BrkGrowth(t), 32 * kMiB) << t.Excerpt(200);
  EXPECT_GE(t.result.Num("heap_bytes"), 32 * kMiB) << t.result.Describe();
  EXPECT_EQ(t.result.Num("in_heap"), 1u) << "the block is not in [heap]";
  Json j = ParseJson(t.result.Str("json"));
  const Json* sc = j.Get("syscalls");
  ASSERT_NE(sc, nullptr);
  EXPECT_GE(sc->U64("brk"), 1u) << "stats do not count the brk calls";
}

TEST(Brk, OffByDefault) {
  REQUIRE_STRACE();
  Traced t = RunChildTraced({"brk"});
  ASSERT_RAN(t.result);
  EXPECT_EQ(BrkGrowth(t), 0u) << t.Excerpt(200);
  EXPECT_EQ(t.result.Num("in_heap"), 0u);
  EXPECT_LT(t.result.Num("heap_bytes"), 32 * kMiB);
}

// ---- transparent huge pages ----

std::string ThpPolicy() {
  std::string s = ReadFile("/sys/kernel/mm/transparent_hugepage/enabled");
  size_t a = s.find('['), b = s.find(']');
  return a == std::string::npos || b == std::string::npos ? "" : s.substr(a + 1, b - a - 1);
}

// Whether the child's smaps_of(mapping) printed VmFlags with `flag` (hg: MADV_HUGEPAGE, nh:
// MADV_NOHUGEPAGE).
bool HasVmFlag(const Result& r, const std::string& mapping, const char* flag) {
  return r.Str(mapping + "_flags").find(std::string(" ") + flag + " ") != std::string::npos;
}

#define REQUIRE_THP()                                                                 \
  do {                                                                                \
    if (ThpPolicy().empty())                                                          \
      GTEST_SKIP() << "/sys/kernel/mm/transparent_hugepage/enabled is not available"; \
  } while (0)

TEST(HugePages, AlwaysAdvisesHugePages) {
  REQUIRE_THP();
  Result r = RunChild({"smaps"}, With(kMapFrom1MiB, "ARENALLOC_HUGE_PAGES", "always"));
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("huge_pages"), "always");
  EXPECT_TRUE(HasVmFlag(r, "segment", "hg")) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "huge", "hg")) << r.Describe();
  if (ThpPolicy() != "never") {
    EXPECT_EQ(r.Str("segment_thp"), "1") << r.Describe();
    EXPECT_EQ(r.Str("huge_thp"), "1") << r.Describe();
  }
}

TEST(HugePages, NeverRefusesHugePages) {
  REQUIRE_THP();
  Result r = RunChild({"smaps"}, With(kMapFrom1MiB, "ARENALLOC_HUGE_PAGES", "never"));
  ASSERT_RAN(r);
  EXPECT_TRUE(HasVmFlag(r, "segment", "nh")) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "huge", "nh")) << r.Describe();
  EXPECT_EQ(r.Str("segment_thp"), "0");
  EXPECT_EQ(r.Str("huge_thp"), "0");
}

// Under `policy`, a small heap's segment and a small huge block get no advice either way.
void ExpectSmallHeapLeftToTheKernel(const std::string& policy) {
  Result r = RunChild({"smaps"}, With(kMapFrom1MiB, "ARENALLOC_HUGE_PAGES", policy));
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("huge_pages"), policy);
  EXPECT_FALSE(HasVmFlag(r, "segment", "hg")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "segment", "nh")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "huge", "hg")) << r.Describe();
}

TEST(HugePages, DefaultLeavesASmallHeapToTheKernelPolicy) {
  REQUIRE_THP();
  ExpectSmallHeapLeftToTheKernel("default");
}

// The default advises nothing, however large the heap or the block: huge pages made RSS larger
// everywhere, and time longer on the current host (docs/PERFORMANCE.md, "Huge pages left to the
// kernel").
TEST(HugePages, DefaultLeavesALargeHeapAndHugeBlocksToTheKernelPolicy) {
  REQUIRE_THP();
  Result heap = RunChild({"thp-heap"});
  ASSERT_RAN(heap);
  ASSERT_EQ(heap.Num("same_segment"), 1) << heap.Describe();
  EXPECT_FALSE(HasVmFlag(heap, "large", "hg")) << heap.Describe();
  EXPECT_FALSE(HasVmFlag(heap, "large", "nh")) << heap.Describe();
  Result block = RunChild({"thp-block"}, kMapFrom1MiB);
  ASSERT_RAN(block);
  EXPECT_FALSE(HasVmFlag(block, "malloc", "hg")) << block.Describe();
  EXPECT_FALSE(HasVmFlag(block, "malloc", "nh")) << block.Describe();
  EXPECT_FALSE(HasVmFlag(block, "grown", "hg")) << block.Describe();
}

const Env kLargePolicy = {{"ARENALLOC_HUGE_PAGES", "large"}};

TEST(HugePages, LargeLeavesASmallHeapToTheKernelPolicy) {
  REQUIRE_THP();
  ExpectSmallHeapLeftToTheKernel("large");
}

// Under huge_pages=large a heap gets huge pages once it is large (32 MiB per arena), in the
// segments slices are taken from from then on; a purge withdraws them, so khugepaged cannot fill
// in the memory given back.
TEST(HugePages, LargeAdvisesALargeHeapAndWithdrawsWhereAPurgeLeavesHoles) {
  REQUIRE_THP();
  Result r = RunChild({"thp-heap"}, kLargePolicy);
  ASSERT_RAN(r);
  EXPECT_FALSE(HasVmFlag(r, "small", "hg")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "small", "nh")) << r.Describe();
  ASSERT_EQ(r.Num("same_segment"), 1) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "large", "hg")) << r.Describe();
  EXPECT_EQ(r.Num("trimmed"), 1) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "purged", "hg")) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "purged", "nh")) << r.Describe();
}

// thp-heap THREADS MIB KIB under huge_pages=large: whether the segment its last blocks came from
// ended up advised.
void ExpectLargeHeapAdvised(const std::string& threads, const std::string& mib,
                            const std::string& held_kib, bool advised) {
  Result r = RunChild({"thp-heap", threads, mib, held_kib}, kLargePolicy);
  ASSERT_RAN(r);
  ASSERT_EQ(r.Num("same_segment"), 1) << r.Describe();
  EXPECT_EQ(HasVmFlag(r, "large", "hg"), advised) << r.Describe();
}

// One arena: 40 MiB is large, 24 MiB is not.
TEST(HugePages, LargeWantsAHeapOf32MiBForOneArena) {
  REQUIRE_THP();
  ExpectLargeHeapAdvised("0", "40", "0", true);
  ExpectLargeHeapAdvised("0", "24", "0", false);
}

// Each arena's segments end in a 2 MiB range used in part: with 8 more arenas holding 3 MiB each,
// 80 MiB is not large enough (32 MiB per arena).
TEST(HugePages, LargeWantsAHeapLargeForItsArenas) {
  REQUIRE_THP();
  ExpectLargeHeapAdvised("8", "80", "3072", false);
}

// Arenas that hold less than 2 MiB (threads that started and allocated little) do not count.
TEST(HugePages, LargeCountsOnlyArenasThatHoldMemory) {
  REQUIRE_THP();
  ExpectLargeHeapAdvised("8", "80", "256", true);
}

// A huge block of 32 MiB or more is a large heap by itself, unless calloc made it (a zeroed table
// is often touched sparsely, also once realloc has grown it); a smaller one gets huge pages once
// realloc grows it that far.
TEST(HugePages, LargeAdvisesHugeBlocksOf32MiBButNotCalloc) {
  REQUIRE_THP();
  Result r = RunChild({"thp-block"}, With(kMapFrom1MiB, "ARENALLOC_HUGE_PAGES", "large"));
  ASSERT_RAN(r);
  EXPECT_TRUE(HasVmFlag(r, "malloc", "hg")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "calloc", "hg")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "small", "hg")) << r.Describe();
  EXPECT_EQ(r.Num("kept"), 1) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "grown", "hg")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "grown_calloc", "hg")) << r.Describe();
}

TEST(HugePages, NeverKeepsAHugeBlockOffHugePages) {
  REQUIRE_THP();
  Result r = RunChild({"thp-block"}, With(kMapFrom1MiB, "ARENALLOC_HUGE_PAGES", "never"));
  ASSERT_RAN(r);
  EXPECT_FALSE(HasVmFlag(r, "malloc", "hg")) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "malloc", "nh")) << r.Describe();
  EXPECT_FALSE(HasVmFlag(r, "grown", "hg")) << r.Describe();
}

TEST(HugePages, NeverKeepsALargeHeapOffHugePages) {
  REQUIRE_THP();
  Result r = RunChild({"thp-heap"}, {{"ARENALLOC_HUGE_PAGES", "never"}});
  ASSERT_RAN(r);
  EXPECT_FALSE(HasVmFlag(r, "large", "hg")) << r.Describe();
  EXPECT_TRUE(HasVmFlag(r, "large", "nh")) << r.Describe();
}

TEST(HugePages, GlibcTunablesHugetlb) {
  REQUIRE_THP();
  Result r = RunChild({"smaps"}, With(kMapFrom1MiB, "GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"));
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("huge_pages"), "always");
  EXPECT_TRUE(HasVmFlag(r, "segment", "hg")) << r.Describe();
}

// ---- mapping names ----

// Empty if this kernel can name anonymous mappings, else why not.
std::string NamingUnsupported() {
  void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return "mmap failed";
  int rc = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(p), 1 << 16,
                 reinterpret_cast<unsigned long>("tuning-probe"));
  int err = errno;
  munmap(p, 1 << 16);
  if (rc == 0) return "";
  return std::string("prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME) fails with ") + std::strerror(err) +
         ": this kernel cannot name anonymous mappings (no CONFIG_ANON_VMA_NAME)";
}

TEST(MappingNames, SegmentsAndHugeBlocksAreNamed) {
  std::string why = NamingUnsupported();
  if (!why.empty()) GTEST_SKIP() << why;
  Result r = RunChild({"names"}, kMapFrom1MiB);
  ASSERT_RAN(r);
  EXPECT_NE(r.Str("segment_line").find("[anon:arenalloc-segment]"), std::string::npos)
      << r.Describe();
  EXPECT_NE(r.Str("huge_line").find("[anon:arenalloc-huge]"), std::string::npos) << r.Describe();
}

// ---- perturb ----

void ExpectPerturbed(const Result& r) {
  EXPECT_EQ(r.Str("perturb"), "165") << r.Describe();
  EXPECT_EQ(r.Str("new_small"), "64/64") << "new blocks are filled with ~165";
  EXPECT_EQ(r.Str("freed_small"), "48/48") << "freed blocks are filled with 165 past 16 bytes";
  EXPECT_EQ(r.Str("reused_small"), "64/64");
  EXPECT_EQ(r.Str("new_large"), "307200/307200");
  EXPECT_EQ(r.Str("calloc_zero"), "64/64") << "calloc must still return zeros";
}

TEST(Perturb, GlibcVariable) {
  Result r = RunChild({"perturb", "env"}, {{"MALLOC_PERTURB_", "165"}});
  ASSERT_RAN(r);
  ExpectPerturbed(r);
}

TEST(Perturb, MalloptAtRunTime) {
  Result r = RunChild({"perturb", "mallopt"});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("mallopt"), "1");
  ExpectPerturbed(r);
}

TEST(Perturb, OffByDefault) {
  Result r = RunChild({"perturb", "env"});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("perturb"), "0");
  EXPECT_NE(r.Str("new_small"), "64/64");
  EXPECT_NE(r.Str("freed_small"), "48/48");
}

// ---- malformed values and precedence ----

// An option's default: its value in a child run without any tuning variable.
std::string DefaultOf(const std::string& option) {
  return RunChild({"options", option}).Str(option);
}

struct WarnCase {
  const char* var;
  const char* value;
  std::vector<std::string> must_name;  // every one in the warning line
  const char* option;                  // keeps its default
};

void ExpectOneWarning(const WarnCase& c) {
  Result r = RunChild({"options", c.option}, {{c.var, c.value}});
  ASSERT_RAN(r);
  std::vector<std::string> warnings = AllocatorLines(r.err);
  ASSERT_EQ(warnings.size(), 1u) << c.var << "=" << c.value << "\n" << r.Describe();
  for (const std::string& s : c.must_name)
    EXPECT_NE(warnings[0].find(s), std::string::npos) << "\"" << s << "\" not in: " << warnings[0];
  EXPECT_EQ(r.Str(c.option), DefaultOf(c.option)) << "the default must be kept";
}

TEST(Malformed, ArenaMaxNotANumber) {
  ExpectOneWarning({"MALLOC_ARENA_MAX", "abc", {"MALLOC_ARENA_MAX", "abc", "0..128"}, "arena_max"});
}
TEST(Malformed, PurgeDelayNegative) {
  ExpectOneWarning({"ARENALLOC_PURGE_DELAY",
                    "-5",
                    {"ARENALLOC_PURGE_DELAY", "-5", "0..3600000"},
                    "purge_delay"});
}
TEST(Malformed, MmapThresholdOutOfRange) {
  ExpectOneWarning({"MALLOC_MMAP_THRESHOLD_",
                    "64m",
                    {"MALLOC_MMAP_THRESHOLD_", "0..33554432"},
                    "mmap_threshold"});
}
TEST(Malformed, PurgeMethodUnknownName) {
  ExpectOneWarning({"ARENALLOC_PURGE_METHOD",
                    "lazy",
                    {"ARENALLOC_PURGE_METHOD", "dontneed or free"},
                    "purge_method"});
}
TEST(Malformed, GlibcTunablesValue) {
  ExpectOneWarning({"GLIBC_TUNABLES",
                    "glibc.malloc.arena_max=lots",
                    {"glibc.malloc.arena_max", "0..128"},
                    "arena_max"});
}
TEST(Malformed, OptionsListBadValue) {
  ExpectOneWarning(
      {"ARENALLOC_OPTIONS", "purge_delay=x", {"purge_delay", "0..3600000"}, "purge_delay"});
}
TEST(Malformed, OptionsListUnknownName) {
  ExpectOneWarning({"ARENALLOC_OPTIONS", "unknown=1", {"unknown"}, "purge_delay"});
}
TEST(Malformed, OptionsListItemWithoutValue) {
  ExpectOneWarning({"ARENALLOC_OPTIONS", "novalue", {"novalue", "name=value"}, "purge_delay"});
}

TEST(Malformed, OptionsListOneWarningPerBadItem) {
  Result r = RunChild({"options", "purge_delay", "arena_max"},
                      {{"ARENALLOC_OPTIONS", "purge_delay=x,unknown=1,novalue,arena_max=3"}});
  ASSERT_RAN(r);
  std::vector<std::string> w = AllocatorLines(r.err);
  ASSERT_EQ(w.size(), 3u) << r.Describe();
  EXPECT_NE(w[0].find("purge_delay"), std::string::npos) << w[0];
  EXPECT_NE(w[1].find("unknown"), std::string::npos) << w[1];
  EXPECT_NE(w[2].find("novalue"), std::string::npos) << w[2];
  EXPECT_EQ(r.Str("purge_delay"), DefaultOf("purge_delay"));
  EXPECT_EQ(r.Str("arena_max"), "3") << "the good item after the bad ones still applies";
}

TEST(Malformed, GoodValuesPrintNothing) {
  Result r = RunChild({"options", "arena_max", "trim_threshold", "purge_delay"},
                      {{"MALLOC_ARENA_MAX", "2"},
                       {"MALLOC_TRIM_THRESHOLD_", "1g"},
                       {"ARENALLOC_OPTIONS", "purge_delay=50,stats=no"}});
  ASSERT_RAN(r);
  EXPECT_TRUE(AllocatorLines(r.err).empty()) << r.err;
  EXPECT_EQ(r.Str("trim_threshold"), "1073741824");
  EXPECT_EQ(r.Str("purge_delay"), "50");
}

// Later sources win: glibc variable < GLIBC_TUNABLES < ARENALLOC_<NAME> < ARENALLOC_OPTIONS.
TEST(Precedence, LaterSourcesWin) {
  Env env = {{"MALLOC_ARENA_MAX", "2"}};
  EXPECT_EQ(RunChild({"options", "arena_max"}, env).Str("arena_max"), "2");
  env.emplace_back("GLIBC_TUNABLES", "glibc.malloc.arena_max=5");
  EXPECT_EQ(RunChild({"options", "arena_max"}, env).Str("arena_max"), "5");
  env.emplace_back("ARENALLOC_ARENA_MAX", "3");
  EXPECT_EQ(RunChild({"options", "arena_max"}, env).Str("arena_max"), "3");
  env.emplace_back("ARENALLOC_OPTIONS", "arena_max=4");
  EXPECT_EQ(RunChild({"options", "arena_max"}, env).Str("arena_max"), "4");
}

// ---- introspection against what the process holds ----

TEST(Introspection, MallinfoAndStatsMatchTheProcess) {
  Result r = RunChild({"introspect", "64"}, kMapFrom1MiB);
  ASSERT_RAN(r);
  const uint64_t requested = r.Num("requested");
  EXPECT_EQ(r.Num("usable_sum"), requested) << "the sizes used are size classes";
  // Small blocks in use: mallinfo2 uordblks.
  uint64_t in_use = r.Num("uordblks") - r.Num("start_uordblks");
  EXPECT_GE(in_use, requested) << r.Describe();
  EXPECT_LE(in_use, requested + requested / 33) << "more than 3% above what is allocated";
  EXPECT_GE(r.Num("arena"), r.Num("uordblks")) << "committed must cover what is in use";
  // Huge blocks: 3 x 10 MiB.
  EXPECT_EQ(r.Num("hblks") - r.Num("start_hblks"), 3u);
  uint64_t huge = r.Num("hblkhd") - r.Num("start_hblkhd");
  EXPECT_GE(huge, 30 * kMiB);
  EXPECT_LE(huge, 30 * kMiB + 3 * 16 * kKiB);
  // The stats JSON agrees with mallinfo2 and with the kernel.
  Json j = ParseJson(r.Str("json"));
  EXPECT_NEAR(double(j.U64("bytes_in_use")), double(r.Num("uordblks") + r.Num("hblkhd")),
              double(kMiB) / 4)
      << "JSON bytes_in_use = small + large + huge";
  // rss and peak_rss against VmRSS and VmHWM read just before and just after the JSON.
  uint64_t vmrss = r.Num("vmrss_before");
  EXPECT_NEAR(double(j.U64("rss")), double(vmrss), double(vmrss) / 10) << "rss vs VmRSS";
  EXPECT_LE(r.Num("vmrss_after") - r.Num("vmrss_before"), 4 * 4096u) << "the JSON call moved RSS";
  EXPECT_GE(j.U64("peak_rss") + 4096, r.Num("vmhwm_before")) << "peak_rss vs VmHWM";
  EXPECT_LE(j.U64("peak_rss"), r.Num("vmhwm_after") + 4096) << "peak_rss vs VmHWM";
  EXPECT_GE(vmrss, requested + 30 * kMiB) << "the blocks are resident";
  // After freeing everything and malloc_trim(0).
  EXPECT_EQ(r.Str("trim"), "1");
  EXPECT_LT(r.Num("end_uordblks"), kMiB) << r.Describe();
  EXPECT_EQ(r.Num("end_hblks"), r.Num("start_hblks"));
  Json end = ParseJson(r.Str("json_end"));
  EXPECT_EQ(end.U64("bytes_dirty"), 0u) << r.Str("json_end");
  EXPECT_EQ(r.Num("end_keepcost"), 0u) << "keepcost reports the dirty bytes";
}

// ---- malloc_stats, malloc_info, ARENALLOC_STATS ----

// The number after "label =" on stderr (last occurrence).
uint64_t StatsRow(const std::string& err, const std::string& label) {
  uint64_t v = 0;
  for (const std::string& l : Lines(err))
    if (StartsWith(l, label)) v = std::strtoull(l.c_str() + label.size(), nullptr, 10);
  return v;
}

TEST(MallocStats, PrintsGlibcLayoutOnStderr) {
  Result r = RunChild({"malloc-stats"}, kMapFrom1MiB);
  ASSERT_RAN(r);
  for (const char* s : {"Arena 0:", "system bytes     =", "in use bytes     =",
                        "Total (incl. mmap):", "max mmap regions =", "max mmap bytes   ="})
    EXPECT_NE(r.err.find(s), std::string::npos) << "missing \"" << s << "\"\n" << r.err;
  EXPECT_TRUE(r.out.find("Arena") == std::string::npos) << "malloc_stats writes to stderr only";
  EXPECT_GE(StatsRow(r.err, "max mmap regions ="), 1u) << r.err;
  EXPECT_GE(StatsRow(r.err, "max mmap bytes   ="), 10 * kMiB) << r.err;
  // The totals (last rows of those labels) include the 10 MiB huge block.
  EXPECT_GE(StatsRow(r.err, "in use bytes     ="), r.Num("uordblks") + r.Num("hblkhd")) << r.err;
  EXPECT_GE(StatsRow(r.err, "system bytes     ="), StatsRow(r.err, "in use bytes     =")) << r.err;
}

// Checks that tags nest properly (<a>..</a>, <b/>); returns an error or "".
std::string XmlWellFormed(const std::string& xml) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string::npos) {
    size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?') continue;
    bool closing = tag[0] == '/', self = tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /"));
    // Attribute values must be quoted: count quotes.
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "odd quotes in <" + tag + ">";
    if (closing) {
      if (stack.empty() || stack.back() != name) return "unbalanced </" + name + ">";
      stack.pop_back();
    } else if (!self) {
      stack.push_back(name);
    }
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

TEST(MallocInfo, WritesWellFormedXmlMatchingMallinfo) {
  TempDir dir;
  std::string path = dir.File("info.xml");
  Result r = RunChild({"malloc-info", path}, kMapFrom1MiB);
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("info0"), "0");
  EXPECT_EQ(r.Str("info1"), std::to_string(EINVAL)) << "malloc_info(1, fp) returns EINVAL";
  std::string xml = ReadFile(path);
  EXPECT_TRUE(StartsWith(xml, "<malloc version=\"1\">")) << xml.substr(0, 200);
  std::string trimmed = xml.substr(0, xml.find_last_not_of("\n") + 1);
  EXPECT_TRUE(trimmed.size() >= 9 && trimmed.compare(trimmed.size() - 9, 9, "</malloc>") == 0)
      << xml.substr(xml.size() > 200 ? xml.size() - 200 : 0);
  EXPECT_EQ(XmlWellFormed(xml), "") << xml;
  EXPECT_NE(xml.find("<heap nr=\""), std::string::npos) << xml;
  std::string mmap_total = "<total type=\"mmap\" count=\"" + std::to_string(r.Num("hblks")) +
                           "\" size=\"" + std::to_string(r.Num("hblkhd")) + "\"/>";
  EXPECT_EQ(r.Num("hblks"), 1u);
  EXPECT_NE(xml.find(mmap_total), std::string::npos) << "expected " << mmap_total << " in\n" << xml;
}

TEST(StatsAtExit, PrintedWhenAsked) {
  Result r = RunChild({"exit"}, {{"ARENALLOC_STATS", "1"}});
  ASSERT_RAN(r);
  EXPECT_NE(r.err.find("arenalloc statistics:"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("system calls:"), std::string::npos) << r.Describe();
}

TEST(StatsAtExit, EnabledAtRunTime) {
  Result r = RunChild({"exit", "stats", "1"});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("set"), "0");
  EXPECT_NE(r.err.find("arenalloc statistics:"), std::string::npos)
      << "arenalloc_option_set(\"stats\", \"1\") succeeded but nothing is printed at exit\n"
      << r.Describe();
}

TEST(StatsAtExit, DisabledAtRunTime) {
  Result r = RunChild({"exit", "stats", "0"}, {{"ARENALLOC_STATS", "1"}});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("set"), "0");
  EXPECT_EQ(r.err.find("arenalloc statistics:"), std::string::npos)
      << "arenalloc_option_set(\"stats\", \"0\") succeeded but statistics are still printed\n"
      << r.Describe();
}

TEST(StatsAtExit, SilentByDefault) {
  Result r = RunChild({"exit"});
  ASSERT_RAN(r);
  EXPECT_EQ(r.err, "");
}

// ---- on_error ----

TEST(OnError, AbortByDefault) {
  Result r = RunChild({"double-free"});
  EXPECT_EQ(r.status, 128 + SIGABRT) << r.Describe();
  EXPECT_NE(r.err.find("arenalloc: double free"), std::string::npos) << r.Describe();
}

TEST(OnError, WarnReportsAndContinues) {
  Result r = RunChild({"double-free"}, {{"ARENALLOC_ON_ERROR", "warn"}});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("survived"), "1");
  EXPECT_EQ(AllocatorLines(r.err).size(), 1u) << r.Describe();
}

TEST(OnError, IgnoreIsSilent) {
  Result r = RunChild({"double-free"}, {{"ARENALLOC_OPTIONS", "on_error=ignore"}});
  ASSERT_RAN(r);
  EXPECT_EQ(r.Str("survived"), "1");
  EXPECT_EQ(r.err, "");
}

// ---- the documentation's workloads still run ----

TEST(Workload, RunsUnderArenalloc) {
  Env preload = {{"LD_PRELOAD", ARENALLOC_SO}};
  Result t = RunProgram({TUNING_WORKLOAD, "threads", "4", "20000"}, preload);
  ASSERT_RAN(t);
  EXPECT_TRUE(t.Has("seconds")) << t.Describe();
  Result b = RunProgram({TUNING_WORKLOAD, "buffers", "200"}, preload);
  ASSERT_RAN(b);
  EXPECT_TRUE(b.Has("seconds")) << b.Describe();
  Result r = RunProgram({TUNING_WORKLOAD, "release", "64"}, preload);
  ASSERT_RAN(r);
  EXPECT_TRUE(r.Has("rss_after_free")) << r.Describe();
}

}  // namespace
