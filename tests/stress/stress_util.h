// Shared helpers for the stress tests (tests/stress/): self-describing
// stamped blocks, a deterministic RNG, RSS, and a watchdog.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include "rng.h"
#include "rss.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <utility>

extern "C" void free_sized(void* ptr, size_t size);
extern "C" void free_aligned_sized(void* ptr, size_t alignment, size_t size);

namespace stress {

using testcommon::Rng;

// How a block was obtained, which decides how it must be released.
enum Kind : uint8_t {
  kMalloc = 0,
  kCalloc = 1,
  kAlignedAlloc = 2,
  kPosixMemalign = 3,
  kNew = 4,
  kNewAligned = 5,
  kKinds = 6,
};

// Block layout: word 0 = meta (magic, kind, log2(align), size), word 1 = tag,
// then a pattern derived from the tag. Minimum block size is 16.
constexpr uint64_t kMagic = 0xA5;
constexpr size_t kMinBlock = 16;

inline uint64_t PatternWord(uint64_t tag, size_t i) {
  uint64_t x = tag + i * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  return x * 0xD6E8FEB86659FD93ull;
}

inline void Stamp(void* p, size_t n, Kind kind, size_t align, uint64_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  uint64_t meta = (kMagic << 56) | (uint64_t(kind) << 48) |
                  (uint64_t(__builtin_ctzll(align)) << 40) | uint64_t(n);
  std::memcpy(b, &meta, 8);
  std::memcpy(b + 8, &tag, 8);
  size_t i = 16, w = 0;
  for (; i + 8 <= n; i += 8, ++w) {
    uint64_t v = PatternWord(tag, w);
    std::memcpy(b + i, &v, 8);
  }
  uint64_t last = PatternWord(tag, w);
  for (size_t k = 0; i < n; ++i, ++k) b[i] = static_cast<unsigned char>(last >> (8 * k));
}

struct BlockInfo {
  size_t size = 0;
  size_t align = 0;
  Kind kind = kMalloc;
  uint64_t tag = 0;
};

// Verifies a stamped block; on failure fills *why and returns false.
inline bool Check(const void* p, BlockInfo* info, std::string* why) {
  auto* b = static_cast<const unsigned char*>(p);
  uint64_t meta, tag;
  std::memcpy(&meta, b, 8);
  std::memcpy(&tag, b + 8, 8);
  char buf[256];
  if ((meta >> 56) != kMagic) {
    std::snprintf(buf, sizeof buf, "block %p: header destroyed (meta %016llx)", p,
                  static_cast<unsigned long long>(meta));
    *why = buf;
    return false;
  }
  info->kind = Kind((meta >> 48) & 0xFF);
  info->align = size_t(1) << ((meta >> 40) & 0xFF);
  info->size = size_t(meta & ((uint64_t(1) << 40) - 1));
  info->tag = tag;
  size_t n = info->size;
  if ((reinterpret_cast<uintptr_t>(p) & (info->align - 1)) != 0) {
    std::snprintf(buf, sizeof buf, "block %p size %zu: not aligned to %zu", p, n, info->align);
    *why = buf;
    return false;
  }
  size_t us = malloc_usable_size(const_cast<void*>(p));
  if (us < n) {
    std::snprintf(buf, sizeof buf, "block %p size %zu: malloc_usable_size %zu too small", p, n, us);
    *why = buf;
    return false;
  }
  size_t i = 16, w = 0;
  for (; i + 8 <= n; i += 8, ++w) {
    uint64_t v;
    std::memcpy(&v, b + i, 8);
    if (v != PatternWord(tag, w)) {
      std::snprintf(buf, sizeof buf, "block %p size %zu kind %d: word at offset %zu corrupted", p,
                    n, int(info->kind), i);
      *why = buf;
      return false;
    }
  }
  uint64_t last = PatternWord(tag, w);
  for (size_t k = 0; i < n; ++i, ++k)
    if (b[i] != static_cast<unsigned char>(last >> (8 * k))) {
      std::snprintf(buf, sizeof buf, "block %p size %zu: tail byte %zu corrupted", p, n, i);
      *why = buf;
      return false;
    }
  return true;
}

// Allocates a block of n bytes (n >= 16) with the given kind; aligned kinds
// get a random power-of-two alignment 16..4096. Returns a stamped block.
inline void* AllocBlock(Rng& r, size_t n, Kind kind, uint64_t tag) {
  if (n < kMinBlock) n = kMinBlock;
  size_t align = 16;
  void* p = nullptr;
  switch (kind) {
    case kMalloc:
      p = std::malloc(n);
      align = 8;
      break;
    case kCalloc: {
      p = std::calloc(1, n);
      align = 8;
      if (p != nullptr) {
        auto* b = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i)
          if (b[i] != 0) {
            std::fprintf(stderr, "calloc(1, %zu) = %p: byte %zu not zero\n", n, p, i);
            std::abort();
          }
      }
      break;
    }
    case kAlignedAlloc:
      align = size_t(16) << r.Below(9);
      p = std::aligned_alloc(align, n);
      break;
    case kPosixMemalign:
      align = size_t(16) << r.Below(9);
      if (posix_memalign(&p, align, n) != 0) p = nullptr;
      break;
    case kNew:
      p = ::operator new(n);
      align = 8;
      break;
    case kNewAligned:
      align = size_t(32) << r.Below(8);
      p = ::operator new(n, std::align_val_t(align));
      break;
    default:
      std::abort();
  }
  if (p == nullptr) {
    std::fprintf(stderr, "allocation of %zu bytes (kind %d) failed\n", n, int(kind));
    std::abort();
  }
  Stamp(p, n, kind, align, tag);
  return p;
}

// Releases a verified block with a matching function (randomly sized or not).
inline void ReleaseBlock(Rng& r, void* p, const BlockInfo& bi) {
  switch (bi.kind) {
    case kMalloc:
    case kCalloc:
      if (r.OneIn(2))
        std::free(p);
      else
        free_sized(p, bi.size);
      break;
    case kAlignedAlloc:
    case kPosixMemalign:
      if (r.OneIn(2))
        std::free(p);
      else
        free_aligned_sized(p, bi.align, bi.size);
      break;
    case kNew:
      if (r.OneIn(2))
        ::operator delete(p);
      else
        ::operator delete(p, bi.size);
      break;
    case kNewAligned:
      if (r.OneIn(2))
        ::operator delete(p, std::align_val_t(bi.align));
      else
        ::operator delete(p, bi.size, std::align_val_t(bi.align));
      break;
    default:
      std::abort();
  }
}

using testcommon::RssBytes;  // tests/common/rss.h

inline double MiB(size_t bytes) {
  return double(bytes) / (1024.0 * 1024.0);
}

// Kills the process with a message if a test runs longer than its limit, so
// that a deadlock fails instead of hanging. Uses SIGALRM (async-signal-safe
// handler, no allocation).
class Watchdog {
 public:
  Watchdog(unsigned seconds, const char* what) {
    Message() = what;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = &Watchdog::OnAlarm;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, nullptr);
    ::alarm(seconds);
  }
  ~Watchdog() { ::alarm(0); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  static const char*& Message() {
    static const char* msg = "";
    return msg;
  }
  static void OnAlarm(int) {
    const char head[] = "\n*** watchdog: time limit exceeded (deadlock?) in ";
    (void)!::write(2, head, sizeof head - 1);
    (void)!::write(2, Message(), std::strlen(Message()));
    (void)!::write(2, "\n", 1);
    ::_exit(86);
  }
};

// An array of `count` pointers outside the heap (mmap'd, zero), so that keeping the blocks'
// addresses allocates nothing; unmapped when it goes out of scope. get() is nullptr if the
// mapping failed.
class PointerArray {
 public:
  explicit PointerArray(size_t count) : count_(count) {
    void* m = mmap(nullptr, count * sizeof(void*), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ptrs_ = m == MAP_FAILED ? nullptr : static_cast<void**>(m);
  }
  ~PointerArray() {
    if (ptrs_ != nullptr) munmap(ptrs_, count_ * sizeof(void*));
  }
  PointerArray(const PointerArray&) = delete;
  PointerArray& operator=(const PointerArray&) = delete;
  void** get() const { return ptrs_; }

 private:
  size_t count_;
  void** ptrs_;
};

// The RSS tests' workload: a pointer array outside the heap (touched before the baseline), then
// about `target` bytes in mixed sizes (a third in 16..512-byte blocks, the rest 1..256 KiB with a
// few up to 1 MiB), each touched, then all freed in a scrambled order. RSS is sampled at start,
// peak and right after the frees.
struct FillAndFree {
  static constexpr size_t kMaxBlocks = size_t(2) << 20;
  size_t blocks = 0, total = 0, start = 0, peak = 0, freed = 0;
  PointerArray ptrs{kMaxBlocks};  // stays mapped (and counted in RSS) until the test is done
};
// The next size of a mixed fill that has allocated `total` bytes, `small_bytes` of them in blocks
// of 512 bytes or less: small blocks make up a quarter of the bytes, the rest is 1-256 KiB with
// one block in 50 of 256 KiB-1 MiB.
inline size_t MixedFillSize(Rng& r, size_t small_bytes, size_t total) {
  return (small_bytes * 3 < total) ? r.LogUniform(16, 512)
         : r.OneIn(50)             ? r.LogUniform(256 << 10, 1 << 20)
                                   : r.LogUniform(1024, 256 << 10);
}

// A mixed fill of `target` bytes (or `max_blocks` blocks) into ptrs[], every byte written with
// `fill`; `failed` if malloc returned NULL (the fill stops there).
struct MixedFill {
  size_t blocks = 0, total = 0;
  bool failed = false;
};
inline MixedFill FillMixed(Rng& r, size_t target, void** ptrs, size_t max_blocks, int fill) {
  MixedFill f;
  size_t small_bytes = 0;
  while (f.total < target && f.blocks < max_blocks) {
    size_t n = MixedFillSize(r, small_bytes, f.total);
    if (n <= 512) small_bytes += n;
    void* p = std::malloc(n);
    if (p == nullptr) {
      f.failed = true;
      break;
    }
    std::memset(p, fill, n);
    ptrs[f.blocks++] = p;
    f.total += n;
  }
  return f;
}

// Reads RSS every 20 ms until it is below `limit` or `within` has passed. Returns the seconds
// it took, or -1; *last is the last reading.
inline double SecondsUntilRssBelow(size_t limit, std::chrono::milliseconds within, size_t* last) {
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < within) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    *last = RssBytes();
    if (*last < limit)
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return -1;
}

inline bool FillThenFreeMixed(uint64_t seed, size_t target, FillAndFree* out) {
  constexpr size_t kMaxBlocks = FillAndFree::kMaxBlocks;
  void** ptrs = out->ptrs.get();
  if (ptrs == nullptr) return false;
  std::memset(ptrs, 0, kMaxBlocks * sizeof(void*));
  for (int i = 0; i < 1000; ++i) std::free(std::malloc(size_t(i) * 64 + 1));  // init
  out->start = RssBytes();
  Rng r(seed);
  MixedFill fill = FillMixed(r, target, ptrs, kMaxBlocks, 0x6B);
  out->blocks = fill.blocks;
  out->total = fill.total;
  if (fill.failed) return false;
  out->peak = RssBytes();
  for (size_t i = 0; i < out->blocks; ++i) {
    size_t j = i + r.Below(out->blocks - i);
    std::swap(ptrs[i], ptrs[j]);
    std::free(ptrs[i]);
  }
  out->freed = RssBytes();
  return true;
}

}  // namespace stress
