// Tuning at run time, in this process (linked to libarenalloc.so): mallopt, arenalloc_option_set
// and _get, arenalloc_stats_json, malloc_info's options. CTest runs every test in a process of its
// own; the fixture also restores the options a test changed, for runs of the whole binary.
#include <errno.h>
#include <malloc.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "arenalloc/arenalloc.h"
#include "tuning_util.h"

using namespace tuning;

namespace {

// The options these tests know; the library may have more (all are listed in the stats JSON).
const char* const kOptionNames[] = {"arena_max",      "arena_test", "mmap_threshold", "mmap_max",
                                    "trim_threshold", "top_pad",    "perturb",        "purge_delay",
                                    "purge_method",   "brk",        "huge_pages",     "on_error",
                                    "stats"};

std::string Get(const char* name) {
  char buf[64];
  if (arenalloc_option_get(name, buf, sizeof(buf)) != 0)
    return "<error " + std::to_string(errno) + ">";
  return buf;
}

template <class T>
[[gnu::noinline]] T Opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

Json StatsJson() {
  size_t need = arenalloc_stats_json(nullptr, 0);
  std::string buf(need + 4096, '\0');
  size_t n = arenalloc_stats_json(buf.data(), buf.size());
  buf.resize(n);
  Json j;
  JsonParser p(buf);
  EXPECT_TRUE(p.Parse(&j)) << p.error() << "\n" << buf;
  return j;
}

// Every option's name, from the "options" object of the stats JSON.
std::vector<std::string> AllOptionNames() {
  std::vector<std::string> names;
  Json j = StatsJson();
  if (const Json* o = j.Get("options"))
    for (const auto& m : o->members) names.push_back(m.first);
  return names;
}

class Tuning : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& n : AllOptionNames()) saved_.emplace_back(n, Get(n.c_str()));
  }
  void TearDown() override {
    mallopt(M_PERTURB, 0);
    for (const auto& [n, v] : saved_) {
      if (Get(n.c_str()) == v) continue;
      arenalloc_option_set(n.c_str(), v.c_str());
    }
  }
  std::vector<std::pair<std::string, std::string>> saved_;
};

// ---- mallopt ----

// Arena indices with segments, from the stats JSON.
std::set<uint64_t> ArenasInUse() {
  std::set<uint64_t> out;
  Json j = StatsJson();
  if (const Json* a = j.Get("arenas"))
    for (const Json& arena : a->items) out.insert(arena.U64("index"));
  return out;
}

TEST_F(Tuning, MalloptArenaMaxPutsNewThreadsInOneArena) {
  void* mine = malloc(256 * 1024);  // this thread's heap and arena exist before the change
  ASSERT_NE(mine, nullptr);
  std::set<uint64_t> before = ArenasInUse();
  ASSERT_EQ(mallopt(M_ARENA_MAX, 1), 1);
  EXPECT_EQ(Get("arena_max"), "1");
  EXPECT_EQ(mallopt(M_ARENA_MAX, 0), 1) << "glibc accepts and ignores values <= 0";
  EXPECT_EQ(Get("arena_max"), "1");
  pthread_barrier_t ready, done;
  pthread_barrier_init(&ready, nullptr, 9);
  pthread_barrier_init(&done, nullptr, 9);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      void* p = malloc(256 * 1024);
      void* q = malloc(64);
      pthread_barrier_wait(&ready);
      pthread_barrier_wait(&done);
      free(q);
      free(p);
    });
  pthread_barrier_wait(&ready);
  std::set<uint64_t> during = ArenasInUse();
  pthread_barrier_wait(&done);
  for (auto& t : threads) t.join();
  free(mine);
  std::set<uint64_t> added;
  for (uint64_t a : during)
    if (!before.count(a)) added.insert(a);
  EXPECT_TRUE(added.empty()) << "8 new threads with arena_max=1 used " << added.size()
                             << " more arenas (first new index " << *added.begin() << ")";
  EXPECT_TRUE(during.count(0)) << "new threads go to arena 0";
}

TEST_F(Tuning, MalloptArenaTest) {
  EXPECT_EQ(mallopt(M_ARENA_TEST, 4), 1);
  EXPECT_EQ(Get("arena_test"), "4");
}

TEST_F(Tuning, MalloptMmapThresholdTakesEffect) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 131072), 1);
  EXPECT_EQ(Get("mmap_threshold"), "131072");
  struct mallinfo2 before = mallinfo2();
  void* p = malloc(Opaque<size_t>(200 * 1024));
  ASSERT_NE(p, nullptr);
  struct mallinfo2 during = mallinfo2();
  free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks + 1);
  EXPECT_GE(during.hblkhd, before.hblkhd + 200 * kKiB);
  EXPECT_EQ(after.hblks, before.hblks);
  EXPECT_EQ(after.hblkhd, before.hblkhd);
}

TEST_F(Tuning, MalloptMmapThresholdAbove32MiBIsRefused) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
  EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, (32 << 20) + 1), 0);
  EXPECT_EQ(Get("mmap_threshold"), "1048576") << "the old value stays";
  EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, 64 << 20), 0);
  EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, -1), 0);
  EXPECT_EQ(Get("mmap_threshold"), "1048576");
  EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, 32 << 20), 1) << "glibc's maximum, 32 MiB, is accepted";
  EXPECT_EQ(Get("mmap_threshold"), "33554432");
}

TEST_F(Tuning, MalloptTrimThresholdAndTopPad) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "100000"), 0);
  EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
  EXPECT_EQ(Get("trim_threshold"), "1048576");
  EXPECT_EQ(mallopt(M_TOP_PAD, 16 << 20), 1);
  EXPECT_EQ(Get("top_pad"), "16777216");
  malloc_trim(0);
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) {
    void* p = malloc(Opaque<size_t>(1 << 20));
    ASSERT_NE(p, nullptr);
    memset(p, 1, 1 << 20);
    blocks.push_back(p);
  }
  for (void* p : blocks) free(p);
  uint64_t dirty = StatsJson().U64("bytes_dirty");
  EXPECT_GE(dirty, 15 * kMiB) << "top_pad keeps 16 MiB resident";
  EXPECT_LE(dirty, 17 * kMiB) << "trim_threshold 1 MiB returns the rest at once";
  // -1: never trim early (glibc: M_TRIM_THRESHOLD -1 disables trimming).
  EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, -1), 1);
  EXPECT_EQ(Get("trim_threshold"), std::to_string(uint64_t{1} << 62));
  EXPECT_EQ(mallopt(M_TOP_PAD, 0), 1);
  EXPECT_EQ(Get("top_pad"), "0");
}

// A large block that no dirty run can hold, in an arena holding as much dirty memory, faults in
// fresh memory: the arena purges a quarter of the block's size of its fragmented dirty memory,
// so RSS follows the live heap rather than the sum of recent sizes.
TEST_F(Tuning, LargeBlockThatFitsNoDirtyRunPurgesAQuarterOfItsSize) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "100000"), 0);  // no purge by the delay
  malloc_trim(0);
  void* a[2];
  void* fence[2];  // after each a: its run cannot grow once freed
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(a[i] = malloc(Opaque<size_t>(4 * kMiB)), nullptr);
    ASSERT_NE(fence[i] = malloc(Opaque<size_t>(kMiB)), nullptr);
  }
  free(a[0]);
  free(a[1]);
  uint64_t before = StatsJson().U64("bytes_dirty");
  ASSERT_GE(before, 7 * kMiB);
  void* c = malloc(Opaque<size_t>(6 * kMiB));  // fits in neither hole
  ASSERT_NE(c, nullptr);
  uint64_t after = StatsJson().U64("bytes_dirty");
  EXPECT_LE(after + 5 * kMiB / 4, before) << "about 1.5 MiB of the dirty memory purged";
  EXPECT_GE(after + 9 * kMiB / 4, before) << "and not much more";
  free(c);
  free(fence[0]);
  free(fence[1]);
}

// At the default trim threshold, a purge forced by the limit is not repeated within a purge delay:
// a program swinging between a peak and a trough would purge and fault back in at every swing.
// A threshold that was set is applied at every free (MalloptTrimThresholdAndTopPad).
TEST_F(Tuning, ForcedPurgeAtTheDefaultThresholdBacksOff) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "100000"), 0);  // no purge by the delay
  ASSERT_EQ(Get("trim_threshold"), std::to_string(256 * kMiB));
  malloc_trim(0);
  constexpr int kBlocks = 288;  // 288 MiB, above the 256 MiB threshold; never touched
  std::vector<void*> blocks(kBlocks);
  auto swing = [&] {  // bytes purged meanwhile
    uint64_t before = StatsJson().U64("bytes_purged");
    for (void*& p : blocks) EXPECT_NE(p = malloc(Opaque<size_t>(kMiB)), nullptr);
    for (void* p : blocks) free(p);
    return StatsJson().U64("bytes_purged") - before;
  };
  uint64_t first = swing();
  EXPECT_GE(first, kMiB / 2) << "the first time the limit is passed, it purges down to it";
  EXPECT_LE(first, 40 * kMiB) << "and not below it";
  EXPECT_LE(StatsJson().U64("bytes_dirty"), 300 * kMiB);
  EXPECT_EQ(swing(), 0u) << "the second time, within a purge delay, it waits";
  EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, 255 << 20), 1);
  EXPECT_GE(swing(), 30 * kMiB) << "a threshold that was set never waits";
  EXPECT_LE(StatsJson().U64("bytes_dirty"), 256 * kMiB);
}

TEST_F(Tuning, MalloptMmapMaxZeroKeepsBigBlocksInSegments) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 8 << 20), 1);
  ASSERT_EQ(mallopt(M_MMAP_MAX, 0), 1);
  EXPECT_EQ(Get("mmap_max"), "0");
  struct mallinfo2 before = mallinfo2();
  void* p = malloc(Opaque<size_t>(9 << 20));  // above the 8 MiB threshold
  ASSERT_NE(p, nullptr);
  memset(p, 2, 9 << 20);
  struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks) << "no mapping of its own";
  EXPECT_GE(during.uordblks, before.uordblks + (9 << 20)) << "counted in a segment instead";
  EXPECT_GE(malloc_usable_size(p), size_t(9) << 20);
  free(p);
  EXPECT_EQ(mallopt(M_MMAP_MAX, 65536), 1);
  void* q = malloc(Opaque<size_t>(9 << 20));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(mallinfo2().hblks, before.hblks + 1) << "mapped alone again";
  free(q);
}

TEST_F(Tuning, MalloptPerturbFillsBlocks) {
  ASSERT_EQ(mallopt(M_PERTURB, 165), 1);
  EXPECT_EQ(Get("perturb"), "165");
  // Read through a laundered pointer: the contents of a new block are what is being tested.
  auto* p = Opaque(static_cast<unsigned char*>(malloc(Opaque<size_t>(64))));
  ASSERT_NE(p, nullptr);
  size_t complement = 0;
  for (int i = 0; i < 64; ++i) complement += p[i] == 0x5A;
  EXPECT_EQ(complement, 64u) << "new blocks hold ~165 = 0x5A";
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  free(p);
  const volatile unsigned char* freed = reinterpret_cast<const volatile unsigned char*>(addr);
  size_t filled = 0;
  for (int i = 16; i < 64; ++i) filled += freed[i] == 165;
  EXPECT_EQ(filled, 48u) << "freed blocks hold 165 past the 16 bytes of links";
  EXPECT_EQ(mallopt(M_PERTURB, 0), 1);
  EXPECT_EQ(Get("perturb"), "0");
}

// A checked heap (here through M_PERTURB) does not hand a freed block out again while the page
// has other free blocks: the longer it waits, the more writes after free the check at reuse
// catches. (By default the block freed last comes back first:
// Malloc.TheBlockFreedLastIsReusedFirst.)
TEST_F(Tuning, CheckedHeapsDelayTheReuseOfFreedBlocks) {
  ASSERT_EQ(mallopt(M_PERTURB, 165), 1);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(malloc(Opaque<size_t>(48)));
  void* freed = blocks[1];
  free(freed);
  for (int i = 0; i < 4; ++i) {
    void* p = malloc(Opaque<size_t>(48));
    EXPECT_NE(p, freed) << "reused at once, after " << i << " other blocks";
    blocks.push_back(p);
  }
  blocks.erase(blocks.begin() + 1);
  for (void* p : blocks) free(p);
  EXPECT_EQ(mallopt(M_PERTURB, 0), 1);
}

TEST_F(Tuning, MalloptUnknownParameterAndMxfast) {
  EXPECT_EQ(mallopt(12345, 1), 0);
  EXPECT_EQ(mallopt(-100, 1), 0);
  EXPECT_EQ(mallopt(M_MXFAST, 0), 1);
  EXPECT_EQ(mallopt(M_MXFAST, 64), 1);
  EXPECT_EQ(mallopt(M_MXFAST, 160), 1) << "glibc's maximum on 64-bit (80 * sizeof(size_t) / 4)";
  EXPECT_EQ(mallopt(M_MXFAST, 161), 0);
  EXPECT_EQ(mallopt(M_MXFAST, -1), 0);
  EXPECT_EQ(mallopt(M_CHECK_ACTION, 3), 1);
}

// ---- arenalloc_option_set / _get ----

TEST_F(Tuning, OptionSetThenGetRoundTrips) {
  const std::pair<const char*, const char*> kCases[][2] = {
      {{"arena_max", "3"}, {"arena_max", "3"}},
      {{"arena_test", "2"}, {"arena_test", "2"}},
      {{"mmap_threshold", "1m"}, {"mmap_threshold", "1048576"}},
      {{"mmap_max", "10"}, {"mmap_max", "10"}},
      {{"trim_threshold", "2M"}, {"trim_threshold", "2097152"}},
      {{"top_pad", "4k"}, {"top_pad", "4096"}},
      {{"perturb", "7"}, {"perturb", "7"}},
      {{"purge_delay", "250"}, {"purge_delay", "250"}},
      {{"purge_method", "free"}, {"purge_method", "free"}},
      {{"brk", "on"}, {"brk", "1"}},
      {{"huge_pages", "never"}, {"huge_pages", "never"}},
      {{"on_error", "warn"}, {"on_error", "warn"}},
      {{"stats", "yes"}, {"stats", "1"}},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(arenalloc_option_set(c[0].first, c[0].second), 0) << c[0].first << "=" << c[0].second;
    EXPECT_EQ(Get(c[1].first), c[1].second) << c[0].first;
  }
  arenalloc_option_set("stats", "0");
  arenalloc_option_set("perturb", "0");
  arenalloc_option_set("brk", "0");
}

// What arenalloc_option_get returns, arenalloc_option_set accepts (so a program can save and
// restore a setting).
TEST_F(Tuning, OptionGetValueIsAcceptedBySet) {
  for (const std::string& n : AllOptionNames()) {
    std::string v = Get(n.c_str());
    EXPECT_EQ(arenalloc_option_set(n.c_str(), v.c_str()), 0)
        << n << "=" << v << " (as returned by get)";
  }
}

TEST_F(Tuning, OptionUnknownNameIsEinval) {
  errno = 0;
  EXPECT_EQ(arenalloc_option_set("no_such_option", "1"), -1);
  EXPECT_EQ(errno, EINVAL);
  char buf[32];
  errno = 0;
  EXPECT_EQ(arenalloc_option_get("no_such_option", buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(arenalloc_option_set(nullptr, "1"), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(arenalloc_option_get(nullptr, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(arenalloc_option_set("PURGE_DELAY", "1"), -1) << "names are lower case";
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(Tuning, OptionBadValueIsEinvalAndKeepsTheOldValue) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "77"), 0);
  const char* const kBad[][2] = {
      {"purge_delay", "x"},          {"purge_delay", "-5"}, {"purge_delay", "3600001"},
      {"purge_delay", ""},           {"purge_delay", "5q"}, {"purge_delay", "99999999999999999999"},
      {"purge_method", "sometimes"}, {"perturb", "256"},    {"arena_max", "129"}};
  for (const auto& b : kBad) {
    std::string old = Get(b[0]);
    testing::internal::CaptureStderr();
    errno = 0;
    int rc = arenalloc_option_set(b[0], b[1]);
    int err = errno;
    std::string warning = testing::internal::GetCapturedStderr();
    EXPECT_EQ(rc, -1) << b[0] << "=" << b[1];
    EXPECT_EQ(err, EINVAL) << b[0] << "=" << b[1];
    EXPECT_EQ(Get(b[0]), old) << b[0] << "=" << b[1];
    EXPECT_EQ(std::count(warning.begin(), warning.end(), '\n'), 1) << warning;
    EXPECT_NE(warning.find(b[0]), std::string::npos) << warning;
  }
  EXPECT_EQ(Get("purge_delay"), "77");
}

TEST_F(Tuning, OptionGetWithATooSmallBufferIsErange) {
  ASSERT_EQ(arenalloc_option_set("purge_delay", "250"), 0);
  char buf[8];
  memset(buf, 'X', sizeof(buf));
  errno = 0;
  EXPECT_EQ(arenalloc_option_get("purge_delay", buf, 1), -1);
  EXPECT_EQ(errno, ERANGE);
  errno = 0;
  EXPECT_EQ(arenalloc_option_get("purge_delay", buf, 3), -1) << "\"250\" needs 4 bytes";
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(arenalloc_option_get("purge_delay", buf, 4), 0);
  EXPECT_STREQ(buf, "250");
}

// ---- arenalloc_stats_json ----

TEST_F(Tuning, StatsJsonIsValidWithTheDocumentedKeys) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
  void* huge = malloc(Opaque<size_t>(10 << 20));
  void* small = malloc(Opaque<size_t>(100));
  ASSERT_NE(huge, nullptr);
  ASSERT_NE(small, nullptr);
  Json j = StatsJson();
  free(small);
  free(huge);
  ASSERT_EQ(j.type, Json::kObject);
  for (const char* k : {"bytes_in_use", "bytes_committed", "bytes_dirty", "bytes_reserved",
                        "bytes_purged", "rss", "peak_rss", "segments_mapped", "arena_count"}) {
    const Json* v = j.Get(k);
    ASSERT_NE(v, nullptr) << k;
    EXPECT_EQ(v->type, Json::kNumber) << k;
  }
  EXPECT_GE(j.U64("peak_rss"), j.U64("rss") - 64 * kKiB);
  EXPECT_GE(j.U64("bytes_in_use"), (10u << 20) + 100);
  const Json* sc = j.Get("syscalls");
  ASSERT_NE(sc, nullptr);
  for (const char* k : {"mmap", "munmap", "madvise", "brk"}) EXPECT_NE(sc->Get(k), nullptr) << k;
  EXPECT_GE(sc->U64("mmap"), 2u) << "a segment and a huge block at least";
  const Json* huge_stats = j.Get("huge");
  ASSERT_NE(huge_stats, nullptr);
  EXPECT_GE(huge_stats->U64("count"), 1u);
  const Json* arenas = j.Get("arenas");
  ASSERT_NE(arenas, nullptr);
  ASSERT_EQ(arenas->type, Json::kArray);
  ASSERT_GE(arenas->items.size(), 1u);
  for (const Json& a : arenas->items)
    for (const char* k : {"index", "segments", "bytes_in_use", "bytes_committed", "bytes_dirty"})
      EXPECT_NE(a.Get(k), nullptr) << k;
  const Json* classes = j.Get("size_classes");
  ASSERT_NE(classes, nullptr);
  ASSERT_EQ(classes->type, Json::kArray);
  ASSERT_GE(classes->items.size(), 1u);
  for (const Json& c : classes->items)
    for (const char* k : {"size", "pages", "blocks_in_use", "blocks_free"})
      EXPECT_NE(c.Get(k), nullptr) << k;
  const Json* opts = j.Get("options");
  ASSERT_NE(opts, nullptr);
  ASSERT_EQ(opts->type, Json::kObject);
  for (const char* n : kOptionNames) EXPECT_NE(opts->Get(n), nullptr) << n;
  for (const auto& [n, v] : opts->members) {
    EXPECT_EQ(v.type, Json::kString) << n;
    EXPECT_EQ(v.text, Get(n.c_str())) << n;
  }
}

TEST_F(Tuning, StatsJsonTruncatesAndReportsTheFullLength) {
  std::string full(64 * 1024, '\0');
  size_t n = arenalloc_stats_json(full.data(), full.size());
  ASSERT_LT(n, full.size());
  EXPECT_EQ(std::strlen(full.c_str()), n);
  char small[16];
  memset(small, 'X', sizeof(small));
  size_t m = arenalloc_stats_json(small, sizeof(small));
  // The numbers (rss...) may change by a digit between calls.
  EXPECT_NEAR(double(m), double(n), 8.0) << "returns the length the whole document needs";
  EXPECT_EQ(small[15], '\0') << "NUL-terminated";
  EXPECT_EQ(std::strlen(small), 15u);
  EXPECT_EQ(std::string(small), full.substr(0, 15));
  char one = 'X';
  EXPECT_NEAR(double(arenalloc_stats_json(&one, 1)), double(n), 8.0);
  EXPECT_EQ(one, '\0');
  char none = 'X';
  EXPECT_NEAR(double(arenalloc_stats_json(&none, 0)), double(n), 8.0);
  EXPECT_EQ(none, 'X') << "len 0: nothing written";
}

TEST_F(Tuning, StatsJsonParsesWithPython) {
  TempDir dir;
  std::string path = dir.File("stats.json");
  std::string buf(64 * 1024, '\0');
  buf.resize(arenalloc_stats_json(buf.data(), buf.size()));
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(buf.c_str(), f);
  fclose(f);
  Result r = RunProgram(
      {"/usr/bin/env", "python3", "-c",
       "import json,sys; d=json.load(open(sys.argv[1])); print('keys=%d' % len(d))", path},
      {});
  if (r.status == 127) GTEST_SKIP() << "python3 not found";
  ASSERT_EQ(r.status, 0) << r.Describe() << "\n" << buf;
  EXPECT_GE(r.Num("keys"), 12u);
}

TEST_F(Tuning, MallocInfoNonZeroOptionsIsEinval) {
  FILE* f = fopen("/dev/null", "w");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(malloc_info(1, f), EINVAL);
  EXPECT_EQ(malloc_info(0, f), 0);
  fclose(f);
}

}  // namespace
