// Shared helpers for the API conformance tests (tests/api/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>
#include "rss.h"

#include <fcntl.h>
#include <unistd.h>

// C23 sized deallocation; glibc 2.36 headers do not declare these.
extern "C" void free_sized(void* ptr, size_t size);
extern "C" void free_aligned_sized(void* ptr, size_t alignment, size_t size);

// glibc-compatible internal entry points that arenalloc also exports.
extern "C" void* __libc_malloc(size_t size);
extern "C" void __libc_free(void* ptr);
extern "C" void* __libc_calloc(size_t nmemb, size_t size);
extern "C" void* __libc_realloc(void* ptr, size_t size);
extern "C" void* __libc_memalign(size_t alignment, size_t size);

namespace apitest {

// Hides a value from the optimiser so that calls with impossible sizes are
// neither folded nor warned about (-Walloc-size-larger-than).
template <class T>
[[gnu::noinline]] T Opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

// Makes a pointer escape so that malloc/free pairs are not elided.
inline void Escape(const void* p) {
  asm volatile("" : : "g"(p) : "memory");
}

inline bool IsAligned(const void* p, size_t a) {
  return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

// Deterministic byte pattern depending on a seed and the offset, so that a
// block moved by realloc can be checked at its new address.
inline unsigned char PatternByte(uint64_t seed, size_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<unsigned char>(x);
}

inline void Fill(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = PatternByte(seed, i);
}

// Returns the first offset whose byte differs from the pattern, or n.
inline size_t FirstMismatch(const void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != PatternByte(seed, i)) return i;
  return n;
}

// Returns the first non-zero offset, or n.
inline size_t FirstNonZero(const void* p, size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, b + i, 8);
    if (w != 0) break;
  }
  for (; i < n; ++i)
    if (b[i] != 0) return i;
  return n;
}

using testcommon::RssBytes;  // tests/common/rss.h

// Sizes 0..limit: every size up to 1024, then a geometric progression with the
// neighbours (-1, +1) of each power of two and of each step.
inline std::vector<size_t> SizeSweep(size_t limit) {
  std::vector<size_t> v;
  for (size_t s = 0; s <= 1024 && s <= limit; ++s) v.push_back(s);
  for (size_t p = 2048; p <= limit; p *= 2) {
    for (size_t s : {p - 1, p, p + 1}) v.push_back(s);
    for (size_t k = 1; k < 8; ++k) {
      size_t s = p + p * k / 8;
      if (s <= limit) v.push_back(s), v.push_back(s + 7);
    }
  }
  std::vector<size_t> out;
  for (size_t s : v)
    if (s <= limit) out.push_back(s);
  return out;
}

}  // namespace apitest
