#include "diag/options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

using namespace arenalloc;
using options::Id;

namespace {
bool set(const char* name, const char* value) {
  return options::set(name, std::strlen(name), value, std::strlen(value));
}
std::string text(Id id) {
  char buf[32];
  options::format(id, buf, sizeof(buf));
  return buf;
}
// Restores defaults by clearing the environment this test set and re-reading it.
struct EnvScope {
  std::vector<std::string> names;
  void set(const char* name, const char* value) {
    setenv(name, value, 1);
    names.push_back(name);
  }
  ~EnvScope() {
    for (auto& n : names) unsetenv(n.c_str());
  }
};
}  // namespace

TEST(Options, AcceptsValuesInRangeWithSuffixesAndNames) {
  EXPECT_TRUE(set("arena_max", "4"));
  EXPECT_EQ(options::get(Id::kArenaMax), 4u);
  EXPECT_EQ(options::arena_count(), 4u);
  EXPECT_TRUE(set("mmap_threshold", "1m"));
  EXPECT_EQ(options::mmap_threshold(), 1u << 20);
  EXPECT_TRUE(set("purge_delay", "250"));
  EXPECT_EQ(options::purge_delay_ms(), 250u);
  EXPECT_TRUE(set("on_error", "warn"));
  EXPECT_EQ(options::on_error(), OnError::kWarn);
  EXPECT_EQ(text(Id::kOnError), "warn");
  EXPECT_TRUE(set("purge_method", "free"));
  EXPECT_EQ(text(Id::kPurgeMethod), "free");
  EXPECT_TRUE(set("stats", "yes"));
  EXPECT_EQ(options::get(Id::kStats), 1u);
  EXPECT_TRUE(set("huge_pages", "never"));
  EXPECT_EQ(options::get(Id::kHugePages), uint64_t(HugePages::kNever));
  EXPECT_TRUE(set("huge_pages", "large"));
  EXPECT_EQ(options::get(Id::kHugePages), uint64_t(HugePages::kLarge));
  EXPECT_EQ(text(Id::kHugePages), "large");
  EXPECT_TRUE(set("purge_method", "dontneed"));
  EXPECT_TRUE(set("stats", "0"));
  EXPECT_TRUE(set("on_error", "abort"));
  EXPECT_TRUE(set("huge_pages", "default"));
}

TEST(Options, RejectsMalformedAndOutOfRangeKeepingTheValue) {
  ASSERT_TRUE(set("arena_max", "8"));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(set("arena_max", "129"));
  EXPECT_FALSE(set("arena_max", "12x"));
  EXPECT_FALSE(set("arena_max", ""));
  EXPECT_FALSE(set("arena_max", "99999999999999999999999"));
  EXPECT_FALSE(set("on_error", "explode"));
  EXPECT_FALSE(set("perturb", "256"));
  EXPECT_FALSE(set("no_such_option", "1"));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(options::get(Id::kArenaMax), 8u);
  EXPECT_NE(err.find("arena_max=\"129\": expected 0..128"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown option \"no_such_option\""), std::string::npos) << err;
  EXPECT_NE(err.find("abort, warn or ignore"), std::string::npos) << err;
  EXPECT_NE(err.find("perturb=\"256\": expected 0..255"), std::string::npos) << err;
}

TEST(Options, EnvironmentPrecedenceGlibcThenTunablesThenArenalloc) {
  EnvScope env;
  env.set("MALLOC_ARENA_MAX", "3");
  env.set("MALLOC_MMAP_THRESHOLD_", "131072");
  env.set("MALLOC_TOP_PAD_", "65536");
  env.set("GLIBC_TUNABLES",
          "glibc.malloc.mmap_threshold=262144:glibc.malloc.perturb=165:glibc.rtld.x=1:"
          "glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1");
  env.set("ARENALLOC_PURGE_DELAY", "77");
  env.set("ARENALLOC_OPTIONS", "trim_threshold=2m,arena_test=5");
  options::init();
  EXPECT_EQ(options::get(Id::kArenaMax), 3u);
  EXPECT_EQ(options::mmap_threshold(), 262144u);  // GLIBC_TUNABLES wins over MALLOC_*
  EXPECT_EQ(options::get(Id::kTopPad), 65536u);
  EXPECT_EQ(options::get(Id::kPerturb), 165u);
  EXPECT_EQ(options::get(Id::kHugePages), uint64_t(HugePages::kAlways));
  EXPECT_EQ(options::purge_delay_ms(), 77u);
  EXPECT_EQ(options::get(Id::kTrimThreshold), 2u << 20);
  EXPECT_EQ(options::get(Id::kArenaTest), 5u);
  env.set("ARENALLOC_ARENA_MAX", "6");  // the arenalloc name wins over glibc's
  options::init();
  EXPECT_EQ(options::get(Id::kArenaMax), 6u);
  // Restore what the rest of this process expects.
  for (Id id : {Id::kPerturb, Id::kTopPad, Id::kHugePages}) options::set(id, 0);
  options::set(Id::kMmapThreshold, 8u << 20);
  options::set(Id::kPurgeDelay, 10);
}

TEST(Options, MalformedEnvironmentWarnsWithTheVariableName) {
  EnvScope env;
  uint64_t before = options::get(Id::kArenaMax);
  env.set("MALLOC_ARENA_MAX", "lots");
  env.set("ARENALLOC_OPTIONS", "purge_delay=fast,bogus");
  testing::internal::CaptureStderr();
  options::init();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(options::get(Id::kArenaMax), before);
  EXPECT_NE(err.find("MALLOC_ARENA_MAX=\"lots\": expected 0..128"), std::string::npos) << err;
  EXPECT_NE(err.find("purge_delay=\"fast\""), std::string::npos) << err;
  EXPECT_NE(err.find("bogus"), std::string::npos) << err;
}

TEST(Options, EveryOptionIsDocumented) {
  for (size_t i = 0; i < size_t(Id::kCount); ++i) {
    const options::Info& info = options::info(Id(i));
    EXPECT_NE(info.name, nullptr);
    EXPECT_GT(std::strlen(info.description), 10u) << info.name;
    EXPECT_EQ(options::find(info.name, std::strlen(info.name)), Id(i));
  }
}
