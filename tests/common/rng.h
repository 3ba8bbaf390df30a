// Shared by the test folders: the random numbers of the test workloads. splitmix64: fast, well
// mixed, and the same seed gives the same sequence on every run, so a failure can be replayed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace testcommon {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool OneIn(unsigned n) { return Next() % n == 0; }
  // Log-uniform in [lo, hi]: as many sizes from each power of two.
  size_t LogUniform(size_t lo, size_t hi) {
    int lo_bits = 63 - __builtin_clzll(lo), hi_bits = 63 - __builtin_clzll(hi);
    int bits = lo_bits + static_cast<int>(Below(static_cast<size_t>(hi_bits - lo_bits + 1)));
    size_t base = size_t{1} << bits;
    size_t n = base + Below(base);
    return n < lo ? lo : n > hi ? hi : n;
  }
};

}  // namespace testcommon
