// Shared helpers for the C and C++ API tests (tests/cxxapi/).
#pragma once

#include <arenalloc/arenalloc.h>
#include <fcntl.h>
#include <unistd.h>
#include "rss.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cxxapi {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * 1024;

// Hides a value from the optimiser (impossible sizes are neither folded nor warned about).
template <class T>
[[gnu::noinline]] T Opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

inline bool IsAligned(const void* p, std::size_t a) {
  return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

inline unsigned char PatternByte(std::uint64_t seed, std::size_t i) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<unsigned char>(x);
}

inline void Fill(void* p, std::size_t n, std::uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = PatternByte(seed, i);
}

// The first offset that differs from the pattern, or n.
inline std::size_t FirstMismatch(const void* p, std::size_t n, std::uint64_t seed) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != PatternByte(seed, i)) return i;
  return n;
}

// The first non-zero offset, or n.
inline std::size_t FirstNonZero(const void* p, std::size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != 0) return i;
  return n;
}

// Touches one byte per 4 KiB page (makes the memory resident).
inline void TouchPages(void* p, std::size_t n, unsigned char v = 0x5A) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 4096) b[i] = v;
  if (n > 0) b[n - 1] = v;
}

using testcommon::RssBytes;  // tests/common/rss.h

// Sizes 0..limit: every size up to 1 KiB, then each power of two with its neighbours and seven
// steps in between (with an odd offset), up to `limit`.
inline std::vector<std::size_t> SizeSweep(std::size_t limit) {
  std::vector<std::size_t> v;
  for (std::size_t s = 0; s <= 1024 && s <= limit; ++s) v.push_back(s);
  for (std::size_t p = 2048; p <= limit; p *= 2) {
    for (std::size_t s : {p - 1, p, p + 1}) v.push_back(s);
    for (std::size_t k = 1; k < 8; ++k) v.push_back(p + p * k / 8), v.push_back(p + p * k / 8 + 7);
  }
  std::vector<std::size_t> out;
  for (std::size_t s : v)
    if (s <= limit) out.push_back(s);
  return out;
}

// arenalloc_free_sized(p, n, flags).
inline void FreeSized(void* p, std::size_t n, int flags) {
  arenalloc_free_sized(p, n, flags);
}

// Sets one of arenalloc's options (arenalloc_option_set) for the scope, then restores it.
class OptionScope {
 public:
  OptionScope(const char* name, const char* value) : name_(name) {
    char buf[64];
    if (arenalloc_option_get(name, buf, sizeof buf) == 0) old_ = buf;
    EXPECT_EQ(arenalloc_option_set(name, value), 0) << name << "=" << value;
  }
  ~OptionScope() {
    if (!old_.empty()) arenalloc_option_set(name_, old_.c_str());
  }
  OptionScope(const OptionScope&) = delete;
  OptionScope& operator=(const OptionScope&) = delete;

 private:
  const char* name_;
  std::string old_;
};

// on_error (abort, warn, ignore) for the scope: it is read at start-up from ARENALLOC_ON_ERROR,
// and at run time through arenalloc_option_set.
class OnErrorScope : public OptionScope {
 public:
  explicit OnErrorScope(const char* value) : OptionScope("on_error", value) {}
};

// Blocks of at least 1 MiB get a mapping of their own ("huge") for the scope, whatever the
// default threshold is.
class HugeFrom1MiB : public OptionScope {
 public:
  HugeFrom1MiB() : OptionScope("mmap_threshold", "1m") {}
};

// Captures what is written to file descriptor 2 (arenalloc's reports use write(2)).
class StderrCapture {
 public:
  StderrCapture() { testing::internal::CaptureStderr(); }
  ~StderrCapture() {
    if (!taken_) testing::internal::GetCapturedStderr();
  }
  std::string Take() {
    taken_ = true;
    return testing::internal::GetCapturedStderr();
  }

 private:
  bool taken_ = false;
};

// Death tests re-execute the test binary (the "threadsafe" style): the child starts with a fresh
// allocator instead of a fork of this one, and other tests' threads do not matter.
inline void UseThreadsafeDeathTests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

}  // namespace cxxapi
