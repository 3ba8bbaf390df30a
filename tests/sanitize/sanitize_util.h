// Helpers for the sanitizer tests: self-describing stamped blocks allocated through the core's
// internal entry points, a deterministic RNG, a single-producer/single-consumer ring, a trim
// thread, and an error sink that worker threads report to (assertions stay on the main thread).
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/alloc.h"
#include "diag/stats.h"
#include "rng.h"

namespace san {

// The shared generator, plus the size mix these tests allocate.
struct Rng : testcommon::Rng {
  using testcommon::Rng::Rng;
  // Mostly small, some medium, a few up to the largest size class.
  size_t SmallSkewed() {
    unsigned r = static_cast<unsigned>(Below(100));
    if (r < 75) return LogUniform(16, 512);
    if (r < 95) return LogUniform(513, 16384);
    return LogUniform(16385, 128 * 1024);
  }
};

// ---- errors from any thread ----

inline std::atomic<unsigned> g_errors{0};
inline std::mutex g_error_mu;
inline std::string g_first_error;

inline void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void fail(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "FAILURE: %s\n", buf);
  std::lock_guard<std::mutex> lk(g_error_mu);
  if (g_errors.fetch_add(1) == 0) g_first_error = buf;
}
inline void reset_errors() {
  std::lock_guard<std::mutex> lk(g_error_mu);
  g_errors = 0;
  g_first_error.clear();
}

// ---- stamped blocks ----
//
// Word 0: the requested size; word 1: a seed. The rest holds words derived from the seed: all of
// them up to kFullFill bytes, beyond that the first and last 4 KiB and one word per 4 KiB, so that
// large and huge blocks stay cheap under the sanitizers while still catching lost or moved data.
// Requests are at least 16 bytes.

inline constexpr size_t kMinBlock = 16;
inline constexpr size_t kFullFill = 64 * 1024;
inline constexpr size_t kEdge = 4096;

inline uint64_t pattern(uint64_t seed, size_t word) {
  uint64_t x = seed + word * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 29);
}

// Calls f(word index) for the payload words of an n-byte block that are stamped (index >= 2).
template <class F>
inline void for_each_word(size_t n, F&& f) {
  size_t words = n / 8;
  if (n <= kFullFill) {
    for (size_t i = 2; i < words; ++i) f(i);
    return;
  }
  constexpr size_t kEdgeWords = kEdge / 8;
  for (size_t i = 2; i < kEdgeWords; ++i) f(i);
  for (size_t i = kEdgeWords; i + kEdgeWords < words; i += kEdgeWords) f(i);
  for (size_t i = words - kEdgeWords; i < words; ++i) f(i);
}

inline void stamp(void* p, size_t n, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(p);
  w[0] = n;
  w[1] = seed;
  for_each_word(n, [&](size_t i) { w[i] = pattern(seed, i); });
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = n & ~size_t{7}; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i);
}

// A stamped block of `size` bytes from the core, or nullptr after reporting the failure.
inline void* alloc_stamped(size_t size, uint64_t seed) {
  void* p = arenalloc::alloc(size);
  if (p == nullptr)
    fail("alloc(%zu) failed", size);
  else
    stamp(p, size, seed);
  return p;
}

// Checks the stamp of the first `limit` bytes (the whole block if limit >= its size) and that the
// usable size covers them. Returns the stamped size, or 0 after reporting the damage.
inline size_t verify(const void* p, const char* where, size_t limit = SIZE_MAX) {
  const auto* w = static_cast<const uint64_t*>(p);
  if ((reinterpret_cast<uintptr_t>(p) & 15) != 0) {
    fail("%s: block %p is not 16-aligned", where, p);
    return 0;
  }
  size_t n = w[0];
  uint64_t seed = w[1];
  if (n < kMinBlock || n > (size_t{1} << 40)) {
    fail("%s: block %p header destroyed (size word %zx)", where, p, n);
    return 0;
  }
  size_t upto = n < limit ? n : limit;  // after a resize, the block may be smaller than n
  size_t usable = arenalloc::usable_size(p);
  if (usable < upto) {
    fail("%s: block %p of %zu bytes has usable_size %zu", where, p, upto, usable);
    return 0;
  }
  bool ok = true;
  size_t bad = 0;
  for_each_word(n, [&](size_t i) {
    if (ok && (i + 1) * 8 <= upto && w[i] != pattern(seed, i)) {
      ok = false;
      bad = i * 8;
    }
  });
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = n & ~size_t{7}; ok && i < upto; ++i)
    if (b[i] != static_cast<uint8_t>(seed + i)) {
      ok = false;
      bad = i;
    }
  if (!ok) {
    fail("%s: block %p of %zu bytes corrupted at offset %zu", where, p, n, bad);
    return 0;
  }
  return n;
}

// How a stamped block is obtained.
enum class How { kAlloc, kZeroed, kAligned, kRealloc };

// A stamped block of n >= 16 bytes obtained in a way chosen by r.
inline void* make_block(Rng& r, size_t n, uint64_t seed) {
  void* p = nullptr;
  size_t align = 16;
  switch (r.Below(8)) {
    case 0: {
      p = n % 16 == 0 && r.OneIn(2) ? arenalloc::alloc_zeroed(n / 16, 16)
                                    : arenalloc::alloc_zeroed(1, n);
      if (p != nullptr) {
        const auto* b = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n && i < kFullFill; ++i)
          if (b[i] != 0) {
            fail("alloc_zeroed(%zu): byte %zu of %p is %u", n, i, p, b[i]);
            break;
          }
      }
      break;
    }
    case 1:
      align = size_t{16} << r.Below(9);                         // 16 .. 4096
      if (r.OneIn(16)) align = size_t{1} << (13 + r.Below(6));  // 8 KiB .. 256 KiB
      p = arenalloc::alloc_aligned(n, align);
      break;
    case 2: {  // grown or shrunk into place by reallocate
      size_t first = r.SmallSkewed();
      p = arenalloc::alloc(first);
      if (p != nullptr) {
        stamp(p, first < kMinBlock ? kMinBlock : first, seed ^ 1);
        p = arenalloc::reallocate(p, n);
        if (p != nullptr) verify(p, "make_block realloc", first < n ? first : n);
      }
      break;
    }
    default:
      p = arenalloc::alloc(n);
      break;
  }
  if (p == nullptr) {
    fail("allocation of %zu bytes failed (errno %d)", n, errno);
    return nullptr;
  }
  if ((reinterpret_cast<uintptr_t>(p) & (align - 1)) != 0) fail("%p not aligned to %zu", p, align);
  stamp(p, n, seed);
  return p;
}

// Verifies and releases a stamped block; sometimes resizes it first.
inline void release_block(Rng& r, void* p, const char* where) {
  size_t n = verify(p, where);
  if (n == 0) return;  // reported; leak it rather than free garbage
  if (r.OneIn(8)) {
    size_t m = r.OneIn(2) ? n / 2 + kMinBlock : n * 2 + r.Below(64);
    void* q = arenalloc::reallocate(p, m);
    if (q == nullptr) {
      fail("%s: reallocate(%p, %zu) failed", where, p, m);
      return;
    }
    verify(q, where, n < m ? n : m);
    // Restamp at the new size so that the header is consistent, then check the whole of it.
    stamp(q, m, reinterpret_cast<uintptr_t>(q) ^ m);
    if (verify(q, where) == 0) return;
    p = q;
  }
  arenalloc::dealloc(p);
}

// ---- single-producer / single-consumer ring (acquire/release on the indices only) ----

template <size_t N>
class Ring {
 public:
  bool push(void* p) {
    size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_.load(std::memory_order_acquire) == N) return false;
    slots_[t % N] = p;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }
  void* pop() {
    size_t h = head_.load(std::memory_order_relaxed);
    if (tail_.load(std::memory_order_acquire) == h) return nullptr;
    void* p = slots_[h % N];
    head_.store(h + 1, std::memory_order_release);
    return p;
  }
  void push_wait(void* p) {
    while (!push(p)) std::this_thread::yield();
  }

 private:
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
  void* slots_[N];
};

// ---- a thread calling trim() until stopped ----

class Trimmer {
 public:
  explicit Trimmer(unsigned period_us = 500)
      : thread_([this, period_us] {
          while (!stop_.load(std::memory_order_relaxed)) {
            arenalloc::trim(0);
            ++count_;
            std::this_thread::sleep_for(std::chrono::microseconds(period_us));
          }
        }) {}
  ~Trimmer() {
    stop_ = true;
    thread_.join();
  }
  size_t count() const { return count_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<size_t> count_{0};
  std::thread thread_;
};

// ---- nothing left behind ----

// Blocks the core still counts as in use (small and large) plus huge blocks, after trim() has
// collected the calling thread's remote frees and swept the abandoned pages. Call it when every
// other thread has been joined and every block freed: a block freed by another thread that never
// reached its page (lost in a delayed-free list, say) shows up here.
struct InUse {
  uint64_t bytes = 0;
  uint64_t huge = 0;
};
inline InUse in_use_after_trim() {
  arenalloc::trim(0);
  auto s = std::make_unique<arenalloc::stats::Snapshot>();
  arenalloc::stats::take_snapshot(s.get());
  return {s->bytes_in_use, s->huge_count};
}

// A test that starts with no recorded error and ends with none, every thread joined and every
// block freed: nothing may be left in use.
class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override { reset_errors(); }
  void TearDown() override {
    EXPECT_EQ(g_errors.load(), 0u) << "first error: " << g_first_error;
    if (g_errors.load() == 0) {
      InUse left = in_use_after_trim();
      EXPECT_EQ(left.bytes, 0u) << "bytes still in use after the test";
      EXPECT_EQ(left.huge, 0u) << "huge blocks still mapped after the test";
    }
  }
};

// Work scale: ARENALLOC_SANITIZE_SCALE (default 1) multiplies the iteration counts.
inline double scale() {
  const char* s = std::getenv("ARENALLOC_SANITIZE_SCALE");
  double v = s != nullptr ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}
inline size_t scaled(size_t n) {
  size_t v = static_cast<size_t>(static_cast<double>(n) * scale());
  return v == 0 ? 1 : v;
}

}  // namespace san
