// Shared helpers for the benchmark programs: positional argument parsing, a fast
// per-thread RNG, block patterns (fill / verify), timing, RSS reading and the
// one-line summary. Benchmarks only use the standard malloc API so that they can be
// run under any allocator with LD_PRELOAD.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace bench {

// ---- failure -------------------------------------------------------------------

inline const char*& prog_name() {
  static const char* name = "bench";
  return name;
}

// Prints "<prog>: VERIFICATION FAILED: <msg>" on stderr and exits with status 1.
[[noreturn]] [[gnu::format(printf, 1, 2)]] inline void fail(const char* fmt, ...) {
  std::fprintf(stderr, "%s: VERIFICATION FAILED: ", prog_name());
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

[[noreturn]] inline void out_of_memory(std::size_t n) {
  std::fprintf(stderr, "%s: allocation of %zu bytes failed\n", prog_name(), n);
  std::_Exit(3);
}

// ---- arguments -----------------------------------------------------------------

struct ArgSpec {
  const char* name;
  std::uint64_t def;
  std::uint64_t min;
  std::uint64_t max;
  const char* help;
};

// Positional arguments "prog [a] [b] ..." (each optional, in order). Accepts a k/m/g
// suffix (x1000, x1000^2, x1000^3) for convenience. --help prints the usage.
inline std::vector<std::uint64_t> parse_args(int argc, char** argv, const char* summary,
                                             const std::vector<ArgSpec>& specs) {
  const char* slash = std::strrchr(argv[0], '/');
  prog_name() = slash ? slash + 1 : argv[0];
  auto usage = [&](FILE* out) {
    std::fprintf(out, "usage: %s", prog_name());
    for (const auto& s : specs) std::fprintf(out, " [%s]", s.name);
    std::fprintf(out, "\n%s\n", summary);
    for (const auto& s : specs)
      std::fprintf(out, "  %-14s %s (default %" PRIu64 ")\n", s.name, s.help, s.def);
  };
  std::vector<std::uint64_t> v;
  for (const auto& s : specs) v.push_back(s.def);
  int pos = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    }
    if (pos >= static_cast<int>(specs.size())) {
      std::fprintf(stderr, "%s: too many arguments (at '%s'); see --help\n", prog_name(),
                   a.c_str());
      std::exit(2);
    }
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(a.c_str(), &end, 10);
    std::uint64_t mul = 1;
    if (end && *end) {
      if ((*end == 'k' || *end == 'K') && end[1] == 0)
        mul = 1000;
      else if ((*end == 'm' || *end == 'M') && end[1] == 0)
        mul = 1000000;
      else if ((*end == 'g' || *end == 'G') && end[1] == 0)
        mul = 1000000000;
      else
        mul = 0;
    }
    const ArgSpec& s = specs[pos];
    if (a.empty() || a[0] == '-' || errno != 0 || mul == 0 || end == a.c_str()) {
      std::fprintf(stderr, "%s: invalid value '%s' for %s; see --help\n", prog_name(), a.c_str(),
                   s.name);
      std::exit(2);
    }
    x *= mul;
    if (x < s.min || x > s.max) {
      std::fprintf(stderr, "%s: %s=%llu out of range [%" PRIu64 ", %" PRIu64 "]; see --help\n",
                   prog_name(), s.name, x, s.min, s.max);
      std::exit(2);
    }
    v[pos++] = x;
  }
  return v;
}

// ---- random numbers --------------------------------------------------------------

// xoshiro256** seeded through splitmix64: fast, deterministic per seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      w = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  // Log-uniform in [lo, hi]: as many sizes in 8..16 as in 32K..64K (skewed to small).
  std::uint64_t log_range(std::uint64_t lo, std::uint64_t hi) {
    const double u = static_cast<double>(next() >> 11) * 0x1.0p-53;
    const double l = __builtin_log(static_cast<double>(lo));
    const double h = __builtin_log(static_cast<double>(hi) + 1.0);
    auto x = static_cast<std::uint64_t>(__builtin_exp(l + u * (h - l)));
    return x < lo ? lo : (x > hi ? hi : x);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// ---- block patterns -----------------------------------------------------------------
// A block of n >= 8 bytes starts with a header word (size << 32 | tag); the rest is a
// pattern derived from the tag. Any thread can verify a block it receives.

inline std::uint64_t pattern_base(std::uint32_t tag) {
  return (tag + 1ull) * 0x9E3779B97F4A7C15ull;
}

inline void* checked_malloc(std::size_t n) {
  void* p = std::malloc(n);
  if (!p) out_of_memory(n);
  return p;
}

// Writes the whole block.
inline void fill_block(void* p, std::size_t n, std::uint32_t tag) {
  auto* w = static_cast<std::uint64_t*>(p);
  w[0] = (static_cast<std::uint64_t>(n) << 32) | tag;
  const std::uint64_t base = pattern_base(tag);
  const std::size_t nw = n / 8;
  for (std::size_t i = 1; i < nw; ++i) w[i] = base + i;
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = nw * 8; i < n; ++i) b[i] = static_cast<unsigned char>(base + i);
}

// Verifies a block written by fill_block; returns its tag. expect_n == 0: any size.
inline std::uint32_t check_block(const void* p, std::size_t expect_n, const char* where) {
  const auto* w = static_cast<const std::uint64_t*>(p);
  const std::size_t n = static_cast<std::size_t>(w[0] >> 32);
  const auto tag = static_cast<std::uint32_t>(w[0]);
  if (n < 8 || (expect_n && n != expect_n))
    fail("%s: block %p has a corrupt header (size %zu, expected %zu)", where, p, n, expect_n);
  const std::uint64_t base = pattern_base(tag);
  const std::size_t nw = n / 8;
  std::uint64_t bad = 0;
  for (std::size_t i = 1; i < nw; ++i) bad |= w[i] ^ (base + i);
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = nw * 8; i < n; ++i) bad |= b[i] ^ static_cast<unsigned char>(base + i);
  if (bad) fail("%s: block %p of %zu bytes (tag %u) was overwritten", where, p, n, tag);
  return tag;
}

// Large blocks: header, one word per 4 KiB page and the last word (touches every page).
inline void touch_block(void* p, std::size_t n, std::uint32_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  const std::uint64_t base = pattern_base(tag);
  *reinterpret_cast<std::uint64_t*>(b) = (static_cast<std::uint64_t>(n) << 32) | tag;
  for (std::size_t off = 4096; off + 16 <= n; off += 4096)
    *reinterpret_cast<std::uint64_t*>(b + off) = base + off;
  std::memcpy(b + n - 8, &base, 8);
}

inline std::uint32_t check_touched(const void* p, std::size_t expect_n, const char* where) {
  const auto* b = static_cast<const unsigned char*>(p);
  const std::uint64_t h = *reinterpret_cast<const std::uint64_t*>(b);
  const std::size_t n = static_cast<std::size_t>(h >> 32);
  const auto tag = static_cast<std::uint32_t>(h);
  if (n < 16 || (expect_n && n != expect_n))
    fail("%s: large block %p has a corrupt header (size %zu)", where, p, n);
  const std::uint64_t base = pattern_base(tag);
  for (std::size_t off = 4096; off + 16 <= n; off += 4096)
    if (*reinterpret_cast<const std::uint64_t*>(b + off) != base + off)
      fail("%s: large block %p (%zu bytes) overwritten at offset %zu", where, p, n, off);
  std::uint64_t last;
  std::memcpy(&last, b + n - 8, 8);
  if (last != base) fail("%s: large block %p (%zu bytes) overwritten at its end", where, p, n);
  return tag;
}

// Cheap marking for allocation-speed loops: the header word and the last 8 bytes.
inline void stamp_block(void* p, std::size_t n, std::uint32_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  const std::uint64_t h = (static_cast<std::uint64_t>(n) << 32) | tag, t = pattern_base(tag);
  std::memcpy(b, &h, 8);
  if (n >= 16) std::memcpy(b + n - 8, &t, 8);
}

inline std::uint32_t check_stamp(const void* p, std::size_t expect_n, const char* where) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::uint64_t h, t;
  std::memcpy(&h, b, 8);
  const std::size_t n = static_cast<std::size_t>(h >> 32);
  const auto tag = static_cast<std::uint32_t>(h);
  if (n < 8 || (expect_n && n != expect_n))
    fail("%s: block %p has a corrupt header (size %zu, expected %zu)", where, p, n, expect_n);
  if (n < 16) return tag;
  std::memcpy(&t, b + n - 8, 8);
  if (t != pattern_base(tag)) fail("%s: block %p (%zu bytes) overwritten at its end", where, p, n);
  return tag;
}

// Blocks up to 4 KiB are filled completely, larger ones touched once per page.
inline void mark_block(void* p, std::size_t n, std::uint32_t tag) {
  if (n <= 4096)
    fill_block(p, n, tag);
  else
    touch_block(p, n, tag);
}

inline std::uint32_t check_marked(const void* p, std::size_t expect_n, const char* where) {
  const std::size_t n = static_cast<std::size_t>(*static_cast<const std::uint64_t*>(p) >> 32);
  return n <= 4096 ? check_block(p, expect_n, where) : check_touched(p, expect_n, where);
}

// ---- time, memory, output ---------------------------------------------------------------

class Timer {
 public:
  Timer() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// Reads a small /proc file into buf with plain open/read (no malloc). Returns length.
inline std::size_t read_proc(const char* path, char* buf, std::size_t cap) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t len = 0;
  while (len + 1 < cap) {
    ssize_t r = ::read(fd, buf + len, cap - 1 - len);
    if (r <= 0) break;
    len += static_cast<std::size_t>(r);
  }
  ::close(fd);
  buf[len] = 0;
  return len;
}

// Resident set size in KiB from /proc/self/statm (second field, in pages).
inline long rss_kib() {
  char buf[256];
  if (!read_proc("/proc/self/statm", buf, sizeof buf)) return -1;
  unsigned long size = 0, resident = 0;
  if (std::sscanf(buf, "%lu %lu", &size, &resident) != 2) return -1;
  return static_cast<long>(resident * (static_cast<unsigned long>(sysconf(_SC_PAGESIZE)) / 1024));
}

// Peak resident set size (VmHWM) in KiB from /proc/self/status.
inline long hwm_kib() {
  char buf[4096];
  if (!read_proc("/proc/self/status", buf, sizeof buf)) return -1;
  const char* p = std::strstr(buf, "VmHWM:");
  return p ? std::strtol(p + 6, nullptr, 10) : -1;
}

// Prints "<name>: key=value ... verified" (the marker the tools and tests look for).
[[gnu::format(printf, 1, 2)]] inline void summary(const char* fmt, ...) {
  std::printf("%s: ", prog_name());
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf(" verified\n");
  std::fflush(stdout);
}

// Keeps a value alive so the compiler cannot drop the work that produced it.
inline std::atomic<std::uint64_t> g_sink{0};
inline void consume(std::uint64_t x) {
  g_sink.fetch_add(x, std::memory_order_relaxed);
}

}  // namespace bench
