// Every error arenalloc detects, in every mode: the tests spawn buggy child programs
// (diag_child.c, diag_cxx_child.cpp, diag_vg_child.cpp) with a controlled environment and check
// how they end and exactly what they wrote on stderr. The children print the pointer and the
// thread id a report must name (`ptr=`, `tid=`) before their bug, so the expected line is
// compared whole: one line, that pointer, that thread, nothing else on stderr.
//
// This process is not linked to arenalloc.
#include <signal.h>

#include <cstdint>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diag_util.h"

using namespace diagtest;

namespace {

// ---- the children ----

enum class How { kLinked, kPreload };  // linked to libarenalloc.so, or LD_PRELOAD of it

const char* HowName(How how) {
  return how == How::kLinked ? "linked" : "preload";
}
void PrintTo(How how, std::ostream* os) {
  *os << HowName(how);
}

Result RunChild(How how, const std::string& scenario, Env env = {}) {
  std::string program = how == How::kLinked ? DIAG_CHILD_LINKED : DIAG_CHILD_PLAIN;
  if (how == How::kPreload) env.emplace_back("LD_PRELOAD", ARENALLOC_SO);
  return Run({program, scenario}, env);
}

Result RunCxxChild(const std::string& scenario, Env env = {}) {
  return Run({DIAG_CXX_CHILD, scenario}, env);
}

const Env kDefault = {};
const Env kWarn = {{"ARENALLOC_ON_ERROR", "warn"}};
const Env kIgnore = {{"ARENALLOC_ON_ERROR", "ignore"}};
const Env kDebug = {{"ARENALLOC_DEBUG", "1"}};
const Env kDebugWarn = {{"ARENALLOC_DEBUG", "1"}, {"ARENALLOC_ON_ERROR", "warn"}};
const Env kSecure = {{"ARENALLOC_SECURE", "1"}};

// ---- the report lines, as src/diag/report.cpp writes them ----

std::string DoubleFree(const std::string& ptr, size_t block, const std::string& tid) {
  return "arenalloc: double free of " + ptr + " (" + std::to_string(block) +
         "-byte block) in thread " + tid + "\n";
}
std::string InvalidFree(const std::string& ptr, const std::string& why, const std::string& tid) {
  return "arenalloc: invalid free of " + ptr + " (" + why + ") in thread " + tid + "\n";
}
std::string SizeMismatch(const std::string& ptr, size_t freed, size_t holds,
                         const std::string& tid) {
  return "arenalloc: size mismatch in sized free of " + ptr + " (freed as " +
         std::to_string(freed) + " bytes, the block holds " + std::to_string(holds) +
         ") in thread " + tid + "\n";
}
std::string InvalidHeap(const std::string& ptr, const std::string& tid) {
  return "arenalloc: invalid heap handle " + ptr +
         " (not created by arenalloc_heap_create, or already destroyed) in thread " + tid + "\n";
}
std::string Overflow(const std::string& ptr, size_t size, size_t at, const std::string& tid) {
  return "arenalloc: heap overflow: " + ptr + " (" + std::to_string(size) +
         "-byte block) was written past its end, at byte " + std::to_string(at) + ", in thread " +
         tid + "\n";
}

const char kNotOurs[] = "not allocated by arenalloc";
const char kNotStart[] = "not the start of a block";
const char kNotAllocated[] = "not allocated, or already freed";
const char kRealloc[] = "realloc of a pointer not allocated, or already freed";
const char kUsable[] = "malloc_usable_size of a pointer not allocated, or already freed";
const char kResize[] = "resize of a pointer not allocated, or already freed";

// Whole-string match of stderr against a regular expression (ECMAScript).
::testing::AssertionResult StderrMatches(const Result& r, const std::string& pattern) {
  if (std::regex_match(r.err, std::regex(pattern))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "stderr does not match /" << pattern << "/\n"
                                       << r.Describe();
}

// ---- always-on checks: every detection x {linked, preload} x {abort, warn, ignore} ----

struct Case {
  using Line = std::function<std::string(const Result&)>;
  using After = std::vector<std::pair<std::string, std::string>>;
  Case(const char* s, Line l, int n = 1, After a = {})
      : scenario(s), line(std::move(l)), lines_when_warned(n), after(std::move(a)) {}
  const char* scenario;
  Line line;              // the expected report
  int lines_when_warned;  // the scenario makes this many bad calls
  After after;            // results of the bad calls (when the program goes on)
};

std::string Ptr(const Result& r) {
  return r.Str("ptr");
}
std::string Tid(const Result& r) {
  return r.Str("tid");
}

const std::vector<Case>& AlwaysOnCases() {
  static const std::vector<Case> cases = {
      {"double_free", [](const Result& r) { return DoubleFree(Ptr(r), 48, Tid(r)); }},
      // The second free comes from another thread (the report names that thread).
      {"double_free_remote", [](const Result& r) { return DoubleFree(Ptr(r), 48, Tid(r)); }},
      // Another thread freed it (correctly); then the owner frees it again.
      {"double_free_owner_after_remote",
       [](const Result& r) { return DoubleFree(Ptr(r), 48, r.Str("main_tid")); }},
      {"double_free_remote_twice", [](const Result& r) { return DoubleFree(Ptr(r), 48, Tid(r)); }},
      // Its page went back to the arena before the second free.
      {"double_free_page_returned",
       [](const Result& r) { return InvalidFree(Ptr(r), kNotAllocated, Tid(r)); }},
      {"double_free_large",
       [](const Result& r) { return InvalidFree(Ptr(r), kNotAllocated, Tid(r)); }},
      {"double_free_huge", [](const Result& r) { return InvalidFree(Ptr(r), kNotOurs, Tid(r)); }},
      {"free_stack", [](const Result& r) { return InvalidFree(Ptr(r), kNotOurs, Tid(r)); }},
      {"free_global", [](const Result& r) { return InvalidFree(Ptr(r), kNotOurs, Tid(r)); }},
      {"free_mmap", [](const Result& r) { return InvalidFree(Ptr(r), kNotOurs, Tid(r)); }},
      {"free_interior", [](const Result& r) { return InvalidFree(Ptr(r), kNotStart, Tid(r)); }},
      {"free_misaligned", [](const Result& r) { return InvalidFree(Ptr(r), kNotStart, Tid(r)); }},
      {"free_large_interior",
       [](const Result& r) { return InvalidFree(Ptr(r), kNotStart, Tid(r)); }},
      {"free_huge_interior",
       [](const Result& r) { return InvalidFree(Ptr(r), kNotStart, Tid(r)); }},
      {"free_wild_in_segment",
       [](const Result& r) { return InvalidFree(Ptr(r), kNotAllocated, Tid(r)); }},
      {"free_high_alias", [](const Result& r) { return InvalidFree(Ptr(r), kNotStart, Tid(r)); }},
      {"realloc_stack",
       [](const Result& r) { return InvalidFree(Ptr(r), kRealloc, Tid(r)); },
       1,
       {{"result", "0x0"}}},
      {"realloc_interior",
       [](const Result& r) { return InvalidFree(Ptr(r), kRealloc, Tid(r)); },
       1,
       {{"result", "0x0"}}},
      {"realloc_freed",
       [](const Result& r) { return InvalidFree(Ptr(r), kRealloc, Tid(r)); },
       1,
       {{"result", "0x0"}}},
      {"usable_stack",
       [](const Result& r) { return InvalidFree(Ptr(r), kUsable, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"usable_interior",
       [](const Result& r) { return InvalidFree(Ptr(r), kUsable, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"usable_freed",
       [](const Result& r) { return InvalidFree(Ptr(r), kUsable, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"usable_freed_small",
       [](const Result& r) { return InvalidFree(Ptr(r), kUsable, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"realloc_freed_small",
       [](const Result& r) { return InvalidFree(Ptr(r), kRealloc, Tid(r)); },
       1,
       {{"result", "0x0"}}},
      {"resize_stack",
       [](const Result& r) { return InvalidFree(Ptr(r), kResize, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"ext_usable_stack",
       [](const Result& r) { return InvalidFree(Ptr(r), kUsable, Tid(r)); },
       1,
       {{"result", "0"}}},
      {"sized_wrong_big", [](const Result& r) { return SizeMismatch(Ptr(r), 200, 48, Tid(r)); }},
      {"sized_wrong_small", [](const Result& r) { return SizeMismatch(Ptr(r), 8, 112, Tid(r)); }},
      {"sized_wrong_large",
       [](const Result& r) { return SizeMismatch(Ptr(r), 100000, 327680, Tid(r)); }},
      // free_aligned_sized with the wrong alignment (16 instead of 4096).
      {"aligned_sized_wrong",
       [](const Result& r) { return SizeMismatch(Ptr(r), 100, 4096, Tid(r)); }},
      {"bad_heap",
       [](const Result& r) { return InvalidHeap(Ptr(r), Tid(r)); },
       1,
       {{"result", "0x0"}, {"errno_einval", "1"}}},
      {"destroyed_heap",
       [](const Result& r) { return InvalidHeap(Ptr(r), Tid(r)); },
       1,
       {{"result", "0x0"}, {"errno_einval", "1"}}},
      // arenalloc_heap_malloc, _free, _reset and _destroy with a bad handle.
      {"bad_heap_all_calls", [](const Result& r) { return InvalidHeap(Ptr(r), Tid(r)); }, 4},
  };
  return cases;
}

enum class OnError { kAbort, kWarn, kIgnore };
const char* OnErrorName(OnError e) {
  return e == OnError::kAbort ? "abort" : e == OnError::kWarn ? "warn" : "ignore";
}
void PrintTo(OnError e, std::ostream* os) {
  *os << OnErrorName(e);
}

using Param = std::tuple<size_t, How, OnError>;

class AlwaysOn : public ::testing::TestWithParam<Param> {};

TEST_P(AlwaysOn, Reported) {
  const auto& [index, how, on_error] = GetParam();
  const Case& c = AlwaysOnCases()[index];
  Env env;
  if (on_error != OnError::kAbort) env.emplace_back("ARENALLOC_ON_ERROR", OnErrorName(on_error));
  Result r = RunChild(how, c.scenario, env);
  ASSERT_TRUE(r.Has("ptr")) << r.Describe();
  std::string line = c.line(r);
  switch (on_error) {
    case OnError::kAbort:
      EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
      EXPECT_EQ(r.err, line) << "exactly the report, on one line (then its backtrace)";
      EXPECT_FALSE(r.Has("continued")) << r.Describe();
      break;
    case OnError::kWarn: {
      EXPECT_TRUE(r.Exited(0)) << r.Describe();
      std::string expected;
      for (int i = 0; i < c.lines_when_warned; ++i) expected += line;
      EXPECT_EQ(r.err, expected);
      break;
    }
    case OnError::kIgnore:
      EXPECT_TRUE(r.Exited(0)) << r.Describe();
      EXPECT_EQ(r.err, "") << "on_error=ignore is silent";
      break;
  }
  if (on_error != OnError::kAbort) {
    EXPECT_EQ(r.Str("continued"), "1") << r.Describe();
    for (const auto& [k, v] : c.after) EXPECT_EQ(r.Str(k), v) << k << "\n" << r.Describe();
    // The bad block was left alone (leaked), never put on a free list twice: thousands of
    // allocations of its class afterwards hand no block out twice.
    if (r.Has("dups")) {
      EXPECT_EQ(r.Str("dups"), "0") << r.Describe();
    }
  }
}

std::vector<size_t> CaseIndices() {
  std::vector<size_t> v;
  for (size_t i = 0; i < AlwaysOnCases().size(); ++i) v.push_back(i);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Diag, AlwaysOn,
                         ::testing::Combine(::testing::ValuesIn(CaseIndices()),
                                            ::testing::Values(How::kLinked, How::kPreload),
                                            ::testing::Values(OnError::kAbort, OnError::kWarn,
                                                              OnError::kIgnore)),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(AlwaysOnCases()[std::get<0>(info.param)].scenario) +
                                  "_" + HowName(std::get<1>(info.param)) + "_" +
                                  OnErrorName(std::get<2>(info.param));
                         });

// ---- sized frees that are right: never reported ----

class Both : public ::testing::TestWithParam<How> {};

TEST_P(Both, SizedFreeRightSizesAreSilent) {
  Result r = RunChild(GetParam(), "sized_right");
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.Str("continued"), "1");
  // The sizes after realloc shrank the block in place were checked (not merely a new block).
  EXPECT_EQ(r.Str("small_shrink_in_place"), "1");
  EXPECT_EQ(r.Str("large_shrink_in_place"), "1");
}

TEST_P(Both, FreeAlignedSizedRightAlignmentIsSilent) {
  Result r = RunChild(GetParam(), "aligned_sized_right");
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.Str("continued"), "1");
}

TEST_P(Both, SizedFreeRightSizesAreSilentInDebugMode) {
  for (const char* s : {"sized_right", "aligned_sized_right"}) {
    Result r = RunChild(GetParam(), s, kDebug);
    EXPECT_TRUE(r.Exited(0)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, "") << s;
  }
}

// ---- use after free: a fake free-list link never becomes a malloc result ----

TEST_P(Both, FakeFreeListLinkIsReportedAndNeverReturned) {
  const Env kSecureWarn = {{"ARENALLOC_SECURE", "1"}, {"ARENALLOC_ON_ERROR", "warn"}};
  for (const Env* env : {&kDefault, &kSecure}) {
    for (const char* s :
         {"uaf_link_global", "uaf_link_one_word", "uaf_link_live_block", "uaf_link_remote"}) {
      Result r = RunChild(GetParam(), s, *env);
      std::string what = std::string(s) + (env->empty() ? "" : " (secure)") + "\n" + r.Describe();
      ASSERT_TRUE(r.Has("target")) << what;
      EXPECT_FALSE(r.Has("hijacked")) << what;
      // The encoded link decodes to an address outside the page: malloc reports it before
      // following it.
      EXPECT_TRUE(r.Killed(SIGABRT)) << what;
      EXPECT_TRUE(StderrMatches(r,
                                "arenalloc: heap corruption: a free-list link of a 48-byte "
                                "block was overwritten after free \\(it leads to 0x[0-9a-f]+, "
                                "outside its page\\), in thread " +
                                    Tid(r) + "\n"))
          << what;
      // Warned: the rest of the list is dropped (leaked) and the program goes on, never given
      // the target.
      r = RunChild(GetParam(), s, env->empty() ? kWarn : kSecureWarn);
      EXPECT_TRUE(r.Exited(0)) << what << r.Describe();
      EXPECT_EQ(r.Str("hijacked"), "0") << what;
      EXPECT_NE(r.err.find("free-list link of a 48-byte block was overwritten"), std::string::npos)
          << r.Describe();
    }
  }
}

TEST_P(Both, FakeFreeListLinkIsReportedInDebugMode) {
  for (const char* s : {"uaf_link_global", "uaf_link_one_word", "uaf_link_live_block"}) {
    Result r = RunChild(GetParam(), s, kDebug);
    EXPECT_TRUE(r.Killed(SIGABRT)) << s << "\n" << r.Describe();
    EXPECT_TRUE(StderrMatches(r, "arenalloc: heap corruption at " + Ptr(r) +
                                     " \\([0-9]+-byte block\\): free-list link overwritten "
                                     "after free, in thread " +
                                     Tid(r) + "\n"))
        << s;
    r = RunChild(GetParam(), s, kDebugWarn);
    EXPECT_TRUE(r.Exited(0)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.Str("hijacked"), "0") << s;
    EXPECT_NE(r.err.find("free-list link overwritten"), std::string::npos) << r.Describe();
  }
}

// ---- debug mode ----

TEST_P(Both, DebugOverflowOfSmallBlock) {
  Result r = RunChild(GetParam(), "overflow_small", kDebug);
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.err, Overflow(Ptr(r), 40, 40, Tid(r)));
  // Warned: the block is leaked, the program goes on.
  r = RunChild(GetParam(), "overflow_small", kDebugWarn);
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, Overflow(Ptr(r), 40, 40, Tid(r)));
  EXPECT_EQ(r.Str("dups"), "0");
  // Without debug mode nothing notices.
  r = RunChild(GetParam(), "overflow_small", kDefault);
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
}

// A thread whose first allocation is above the direct sizes gets a checked block too.
TEST_P(Both, DebugChecksAThreadsFirstBlocksAboveTheDirectSizes) {
  Result r = RunChild(GetParam(), "debug_first_medium", kDebug);
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.Str("exact"), "1") << r.Describe();
  EXPECT_EQ(r.err, Overflow(Ptr(r), 3000, 3000, Tid(r)));
}

TEST_P(Both, DebugOverflowOfLargeBlockWithinItsSlack) {
  Result r = RunChild(GetParam(), "overflow_large", kDebug);
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.err, Overflow(Ptr(r), 200 * 1024, 200 * 1024 + 100, Tid(r)));
}

TEST_P(Both, DebugOverflowOfHugeBlock) {
  Result r = RunChild(GetParam(), "overflow_huge", kDebug);
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  size_t n = (size_t(40) << 20) + 3;
  EXPECT_EQ(r.err, Overflow(Ptr(r), n, n, Tid(r)));
}

TEST_P(Both, DebugRunPastLargeAndHugeBlocksHitsGuardPage) {
  for (const char* s : {"overflow_large_guard", "overflow_huge_guard"}) {
    Result r = RunChild(GetParam(), s, kDebug);
    EXPECT_TRUE(r.Killed(SIGSEGV)) << s << "\n" << r.Describe();
    EXPECT_FALSE(r.Has("survived")) << s;
    EXPECT_EQ(r.err, "") << s;
  }
}

TEST_P(Both, DebugWriteAfterFreeFoundAtReuse) {
  Result r = RunChild(GetParam(), "write_after_free", kDebug);
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_TRUE(StderrMatches(r, "arenalloc: write after free: " + Ptr(r) +
                                   " \\([0-9]+-byte block\\) was modified at byte 20 after it "
                                   "was freed; found when reusing it in thread " +
                                   Tid(r) + "\n"));
  r = RunChild(GetParam(), "write_after_free", kDefault);
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
}

std::string WriteAfterFree(const std::string& ptr, size_t block, const std::string& at,
                           const std::string& tid) {
  return "arenalloc: write after free: " + ptr + " (" + std::to_string(block) +
         "-byte block) was modified at byte " + at +
         " after it was freed; found when reusing it in thread " + tid + "\n";
}

// A write over bytes 8-15 of a freed block (its free mark) is found too: blocks never handed out
// look freed as well in debug mode, so a block without its mark was written after free.
TEST_P(Both, DebugWriteAfterFreeOverFreeMark) {
  for (const char* s : {"write_after_free_mark", "write_after_free_mark_remote"}) {
    Result r = RunChild(GetParam(), s, kDebug);
    EXPECT_TRUE(r.Killed(SIGABRT)) << s << "\n" << r.Describe();
    ASSERT_TRUE(r.Has("at")) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, WriteAfterFree(Ptr(r), 64, r.Str("at"), Tid(r))) << s;
    r = RunChild(GetParam(), s, kDebugWarn);
    EXPECT_TRUE(r.Exited(0)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, WriteAfterFree(Ptr(r), 64, r.Str("at"), Tid(r))) << s;
    EXPECT_EQ(r.Str("continued"), "1") << s;
    r = RunChild(GetParam(), s, kDefault);
    EXPECT_TRUE(r.Exited(0)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, "") << s;
  }
}

// No false reports: blocks carved out of memory that other classes, keys and threads used before
// (old fills, old free marks), blocks freed by other threads, abandoned and adopted pages, a
// private heap's reset; in secure mode (blocks carved in a random order) too.
TEST_P(Both, DebugReusedMemoryIsNotReported) {
  const Env debug_secure = {{"ARENALLOC_DEBUG", "1"}, {"ARENALLOC_SECURE", "1"}};
  for (const Env& env : {kDebug, debug_secure}) {
    Result r = RunChild(GetParam(), "debug_churn", env);
    std::string what = (env.size() == 1 ? "debug\n" : "debug+secure\n") + r.Describe();
    EXPECT_TRUE(r.Exited(0)) << what;
    EXPECT_EQ(r.err, "") << what;
    EXPECT_EQ(r.Str("continued"), "1") << what;
    EXPECT_GT(r.Num("reused"), 0u) << "freed pages were carved again for other classes\n" << what;
    EXPECT_NE(r.Num("reused"), ~uint64_t{0}) << what;
    EXPECT_GT(r.Num("adopted"), 0u) << "the exited thread's pages were adopted\n" << what;
    EXPECT_NE(r.Num("adopted"), ~uint64_t{0}) << what;
  }
}

TEST_P(Both, DebugDoubleFree) {
  for (const char* s : {"double_free", "double_free_remote", "double_free_owner_after_remote"}) {
    Result r = RunChild(GetParam(), s, kDebug);
    EXPECT_TRUE(r.Killed(SIGABRT)) << s << "\n" << r.Describe();
    std::string tid = r.Has("main_tid") ? r.Str("main_tid") : Tid(r);
    EXPECT_TRUE(StderrMatches(r, "arenalloc: double free of " + Ptr(r) +
                                     " \\([0-9]+-byte block\\) in thread " + tid + "\n"))
        << s;
  }
}

TEST_P(Both, DebugModeIsOn) {
  Result r = RunChild(GetParam(), "fill", kDebug);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.Str("new_first"), "165") << "new blocks are filled with 0xA5";
  EXPECT_EQ(r.Str("new_uniform"), "1");
  EXPECT_EQ(r.Str("large_new_first"), "165");
  EXPECT_EQ(r.Str("large_new_uniform"), "1");
  EXPECT_EQ(r.Str("calloc_zero"), "1") << "calloc still zeroes";
  EXPECT_EQ(r.Str("large_calloc_zero"), "1");
  EXPECT_EQ(r.Str("freed_16"), "223") << "freed blocks are filled with 0xDF past 16 bytes";
  EXPECT_EQ(r.Str("freed_uniform"), "1");
  EXPECT_EQ(r.Str("usable_37"), "37") << "malloc_usable_size is the requested size";
  EXPECT_EQ(r.Str("realloc_shrink_moved"), "1") << "realloc always moves";
  EXPECT_EQ(r.Str("realloc_grow_moved"), "1");
  EXPECT_EQ(r.Str("realloc_content"), "1");
}

TEST_P(Both, DebugModeIsOffByDefault) {
  Result r = RunChild(GetParam(), "fill", kDefault);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(r.Str("new_first") == "165" && r.Str("new_uniform") == "1") << r.Describe();
  EXPECT_EQ(r.Str("freed_16"), "17") << "the program's own bytes stay in a freed block";
  EXPECT_EQ(r.Str("usable_37"), "48");
  EXPECT_EQ(r.Str("realloc_shrink_moved"), "0");
  EXPECT_EQ(r.Str("calloc_zero"), "1");
  EXPECT_EQ(r.Str("realloc_content"), "1");
}

// ---- perturb ----

TEST_P(Both, PerturbFillIsVisible) {
  for (const char* var : {"MALLOC_PERTURB_", "ARENALLOC_PERTURB"}) {
    Result r = RunChild(GetParam(), "fill", {{var, "165"}});
    ASSERT_TRUE(r.Exited(0)) << var << "\n" << r.Describe();
    EXPECT_EQ(r.err, "") << var;
    EXPECT_EQ(r.Str("new_first"), "90") << var << ": new blocks get ~165 = 0x5A";
    EXPECT_EQ(r.Str("new_uniform"), "1") << var;
    EXPECT_EQ(r.Str("large_new_first"), "90") << var;
    EXPECT_EQ(r.Str("freed_16"), "165") << var << ": freed blocks get 165 past 16 bytes";
    EXPECT_EQ(r.Str("freed_uniform"), "1") << var;
    EXPECT_EQ(r.Str("calloc_zero"), "1") << var;
    EXPECT_EQ(r.Str("large_calloc_zero"), "1") << var;
    EXPECT_EQ(r.Str("usable_37"), "48") << var << ": not debug mode";
  }
}

// ---- secure mode ----

TEST_P(Both, SecureGuardSlicesAndFirstPage) {
  Result r = RunChild(GetParam(), "secure_info", kSecure);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.Str("guard_low"), "1") << "a ---p 64 KiB mapping after the segment header";
  EXPECT_EQ(r.Str("guard_high"), "1") << "a ---p 64 KiB mapping at the end of the segment";
  uint64_t off = r.Num("fresh_offset");
  EXPECT_GE(off, 0x30000u) << "a fresh segment's first page is after the guard slice";
  EXPECT_LT(off, 0x31000u) << "(within the first extension of that page)";
  r = RunChild(GetParam(), "secure_info", kDefault);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.Str("guard_low"), "0");
  EXPECT_EQ(r.Str("guard_high"), "0");
  EXPECT_EQ(r.Num("fresh_offset"), 0x20000u) << "after the two-slice header";
}

TEST_P(Both, SecureUnderflowFromFirstPageFaults) {
  Result r = RunChild(GetParam(), "secure_underflow", kSecure);
  EXPECT_TRUE(r.Killed(SIGSEGV)) << r.Describe();
  EXPECT_FALSE(r.Has("survived"));
}

TEST_P(Both, SecureRandomBlockOrder) {
  Result r = RunChild(GetParam(), "secure_info", kSecure);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.Str("sequential"), "0") << "16 consecutive malloc(208) are not 208 bytes apart";
  r = RunChild(GetParam(), "secure_info", kDefault);
  ASSERT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.Str("sequential"), "1") << "by default, a fresh page hands its blocks out in order";
}

TEST_P(Both, SecureSegmentPlacementIsRandom) {
  constexpr uint64_t kTiB = uint64_t(1) << 40;
  auto distance = [](uint64_t a, uint64_t b) { return a > b ? a - b : b - a; };
  Result a = RunChild(GetParam(), "secure_info", kSecure);
  Result b = RunChild(GetParam(), "secure_info", kSecure);
  ASSERT_TRUE(a.Exited(0)) << a.Describe();
  ASSERT_TRUE(b.Exited(0)) << b.Describe();
  EXPECT_NE(a.Num("segment"), b.Num("segment"));
  for (const Result* r : {&a, &b}) {
    EXPECT_EQ(r->Num("segment") & ((uint64_t(1) << 25) - 1), 0u);
    // Not next to the libraries, where the kernel puts mappings without a hint.
    EXPECT_GT(distance(r->Num("segment"), r->Num("libc")), kTiB) << r->Describe();
  }
  Result d = RunChild(GetParam(), "secure_info", kDefault);
  ASSERT_TRUE(d.Exited(0)) << d.Describe();
  EXPECT_LT(distance(d.Num("segment"), d.Num("libc")), kTiB) << d.Describe();
}

TEST_P(Both, SecureHugeBlockUnderflowFaults) {
  Result r = RunChild(GetParam(), "huge_underflow", kSecure);
  EXPECT_TRUE(r.Killed(SIGSEGV)) << r.Describe();
  r = RunChild(GetParam(), "huge_underflow", kDefault);
  EXPECT_TRUE(r.Exited(0)) << "no guard page by default\n" << r.Describe();
}

// A huge block below 32 MiB (mmap_threshold lowered) has room for its guard page in its mapping.
TEST_P(Both, SecureHugeBlockOverflowFaults) {
  Result r = RunChild(GetParam(), "huge_overflow_1m",
                      {{"ARENALLOC_SECURE", "1"}, {"ARENALLOC_MMAP_THRESHOLD", "524288"}});
  EXPECT_TRUE(r.Killed(SIGSEGV)) << r.Describe();
  EXPECT_FALSE(r.Has("survived"));
}

// A huge block of 32 MiB or more: its mapping is exactly the block, so without a guard page the
// next mapping the kernel hands out can sit right after it and an overflow runs into it.
TEST_P(Both, SecureHugeBlockOverflowFaultsWithNeighbourMapping) {
  Result r = RunChild(GetParam(), "huge_overflow_neighbour", kSecure);
  EXPECT_EQ(r.Str("neighbour_mapped"), "0") << "a mapping sits right after the block";
  EXPECT_TRUE(r.Killed(SIGSEGV)) << r.Describe();
  EXPECT_FALSE(r.Has("survived"));
}

TEST_P(Both, SecureModeStillReportsBadFrees) {
  for (const char* s : {"double_free", "free_interior"}) {
    Result r = RunChild(GetParam(), s, kSecure);
    EXPECT_TRUE(r.Killed(SIGABRT)) << s << "\n" << r.Describe();
    std::string line = std::string(s) == "double_free" ? DoubleFree(Ptr(r), 48, Tid(r))
                                                       : InvalidFree(Ptr(r), kNotStart, Tid(r));
    EXPECT_EQ(r.err, line) << s;
  }
}

// ---- reports need no memory ----

TEST_P(Both, ReportsWorkWithAddressSpaceExhausted) {
  Result r = RunChild(GetParam(), "oom_reports", kDefault);
  EXPECT_EQ(r.Str("exhausted"), "1") << "the child could not exhaust its address space\n"
                                     << r.Describe();
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.err, DoubleFree(Ptr(r), 48, Tid(r)));

  r = RunChild(GetParam(), "oom_reports", kWarn);
  EXPECT_EQ(r.Str("exhausted"), "1") << r.Describe();
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, DoubleFree(Ptr(r), 48, Tid(r)) +
                       InvalidFree(r.Str("stack_ptr"), kNotOurs, Tid(r)) +
                       SizeMismatch(r.Str("sized_ptr"), 1000, 112, Tid(r)) +
                       InvalidHeap(r.Str("heap_ptr"), Tid(r)));
}

INSTANTIATE_TEST_SUITE_P(Diag, Both, ::testing::Values(How::kLinked, How::kPreload),
                         [](const ::testing::TestParamInfo<How>& info) {
                           return std::string(HowName(info.param));
                         });

// ---- C++: delete twice, sized delete with the wrong size ----

TEST(Cxx, DeleteTwice) {
  for (const char* s : {"delete_twice", "delete_array_twice"}) {
    Result r = RunCxxChild(s);
    EXPECT_TRUE(r.Killed(SIGABRT)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, DoubleFree(Ptr(r), 48, Tid(r))) << s;
    // A C++ program has the unwinder loaded: the report is followed by its backtrace.
    EXPECT_GE(r.backtrace_frames, 2) << s;
    r = RunCxxChild(s, kWarn);
    EXPECT_TRUE(r.Exited(0)) << s << "\n" << r.Describe();
    EXPECT_EQ(r.err, DoubleFree(Ptr(r), 48, Tid(r))) << s;
  }
}

// `delete base` where Base has no virtual destructor: operator delete(p, sizeof(Base)) on a
// block that holds a Derived (8 + 200 bytes, a 208-byte block).
TEST(Cxx, SizedDeleteThroughBaseWithoutVirtualDestructor) {
  Result r = RunCxxChild("sized_delete_wrong");
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.err, SizeMismatch(Ptr(r), 8, 208, Tid(r)));
  r = RunCxxChild("sized_delete_wrong", kWarn);
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_EQ(r.err, SizeMismatch(Ptr(r), 8, 208, Tid(r)));
}

TEST(Cxx, SizedDeleteWrongSize) {
  Result r = RunCxxChild("sized_delete_explicit_wrong");
  EXPECT_TRUE(r.Killed(SIGABRT)) << r.Describe();
  EXPECT_EQ(r.err, SizeMismatch(Ptr(r), 400, 48, Tid(r)));
}

TEST(Cxx, SizedAndAlignedDeletesOfCorrectCodeAreSilent) {
  for (const Env& env : {kDefault, kDebug}) {
    Result r = RunCxxChild("sized_delete_right", env);
    EXPECT_TRUE(r.Exited(0)) << r.Describe();
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.Str("continued"), "1");
  }
}

// ---- valgrind: libarenalloc-valgrind.so ----

struct Valgrind {
  std::string valgrind = FindProgram("valgrind");
  std::string child = DIAG_VG_CHILD;
  // Why the test cannot run, or "".
  std::string Missing() const {
    if (child.empty()) return DIAG_VG_MISSING;
    if (valgrind.empty()) return "valgrind is not installed (apt-get install valgrind)";
    return "";
  }
  Result Run(const std::string& scenario, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv = {valgrind, "--leak-check=full", "--error-exitcode=99"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(child);
    argv.push_back(scenario);
    return diagtest::Run(argv, {}, 90);
  }
};

#define SKIP_WITHOUT_VALGRIND(vg)                                \
  do {                                                           \
    if (!(vg).Missing().empty()) GTEST_SKIP() << (vg).Missing(); \
  } while (0)

// What memcheck must say of each program, however it learns of the blocks (the two suites below).
void ExpectLeakFound(const Result& r) {
  EXPECT_TRUE(r.Exited(99)) << r.Describe();
  EXPECT_NE(r.err.find("definitely lost: 100 bytes in 1 blocks"), std::string::npos)
      << r.Describe();
}
void ExpectReadOfFreedFound(const Result& r) {
  EXPECT_TRUE(r.Exited(99)) << r.Describe();
  EXPECT_NE(r.err.find("Invalid read of size 1"), std::string::npos) << r.Describe();
}
void ExpectNoErrors(const Result& r) {
  EXPECT_TRUE(r.Exited(0)) << r.Describe();
  EXPECT_NE(r.err.find("ERROR SUMMARY: 0 errors"), std::string::npos) << r.Describe();
}

// With valgrind's default options, memcheck replaces the malloc family it finds in the program
// (valgrind 3.19 redirects malloc in whichever object defines it): these runs check that a
// program linked to arenalloc-valgrind is diagnosed as with glibc.
TEST(Valgrind, LeakIsDefinitelyLost) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  ExpectLeakFound(vg.Run("leak"));
}

TEST(Valgrind, ReadOfFreedMemory) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  ExpectReadOfFreedFound(vg.Run("read_freed"));
}

TEST(Valgrind, CleanProgramHasNoErrors) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  Result r = vg.Run("clean");
  ExpectNoErrors(r);
  EXPECT_NE(r.out.find("clean done"), std::string::npos) << r.Describe();
}

// With --soname-synonyms=somalloc=nouserintercepts memcheck leaves arenalloc's own malloc in
// place, and learns about blocks only from the client requests of the valgrind build: these runs
// check those. Stack traces then show malloc and free in libarenalloc-valgrind.so.
const std::vector<std::string> kKeepArenalloc = {"--soname-synonyms=somalloc=nouserintercepts"};

TEST(ValgrindClientRequests, ReadOfFreedMemory) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  Result r = vg.Run("read_freed", kKeepArenalloc);
  ExpectReadOfFreedFound(r);
  EXPECT_NE(r.err.find("free (in "), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("libarenalloc"), std::string::npos)
      << "arenalloc's free must be the one that ran\n"
      << r.Describe();
}

TEST(ValgrindClientRequests, LeakIsDefinitelyLost) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  ExpectLeakFound(vg.Run("leak", kKeepArenalloc));
}

TEST(ValgrindClientRequests, CleanProgramHasNoErrors) {
  Valgrind vg;
  SKIP_WITHOUT_VALGRIND(vg);
  ExpectNoErrors(vg.Run("clean", kKeepArenalloc));
}

}  // namespace
