#include "diag/options.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace arenalloc;

namespace {
bool set(const char* name, const char* value) {
  return options::set(name, std::strlen(name), value, std::strlen(value));
}
}  // namespace

TEST(Options, AcceptsValuesInRangeWithSuffixes) {
  EXPECT_TRUE(set("arena_max", "4"));
  EXPECT_EQ(options::get().arena_max, 4u);
  EXPECT_EQ(options::arena_count(), 4u);
  EXPECT_TRUE(set("mmap_threshold", "1m"));
  EXPECT_EQ(options::get().mmap_threshold, 1u << 20);
  EXPECT_TRUE(set("purge_delay", "250"));
  EXPECT_EQ(options::get().purge_delay_ms, 250u);
  EXPECT_TRUE(set("on_error", "warn"));
  EXPECT_EQ(options::get().on_error, OnError::kWarn);
  EXPECT_TRUE(set("purge_lazy", "yes"));
  EXPECT_TRUE(options::get().purge_lazy);
  EXPECT_TRUE(set("purge_lazy", "0"));
  EXPECT_FALSE(options::get().purge_lazy);
}

TEST(Options, RejectsMalformedAndOutOfRangeKeepingTheValue) {
  ASSERT_TRUE(set("arena_max", "8"));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(set("arena_max", "0"));
  EXPECT_FALSE(set("arena_max", "129"));
  EXPECT_FALSE(set("arena_max", "12x"));
  EXPECT_FALSE(set("arena_max", ""));
  EXPECT_FALSE(set("arena_max", "99999999999999999999999"));
  EXPECT_FALSE(set("on_error", "explode"));
  EXPECT_FALSE(set("no_such_option", "1"));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(options::get().arena_max, 8u);
  EXPECT_NE(err.find("arena_max=\"129\": expected 1..128"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown option \"no_such_option\""), std::string::npos) << err;
  EXPECT_NE(err.find("abort, warn or ignore"), std::string::npos) << err;
}
