// vector_growth: a std::vector<uint64_t> grown by push_back to `elements`, checked and dropped,
// `cycles` times with `pause_ms` after each. The vector doubles its buffer as it grows: a new
// block, a copy, then the old block freed, so the peak RSS shows whether the old buffers stay
// resident beside the new one; the pause decides whether the memory one cycle freed is still
// there for the next (an allocator that keeps it saves faults, one that returns it saves RSS).

#include <cinttypes>
#include <cstdint>
#include <thread>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "A std::vector grown by push_back, dropped, and grown again.",
      {{"elements", 3000000, 1, 1ull << 32, "elements (8 bytes each) per vector"},
       {"cycles", 1, 1, 1ull << 32, "vectors grown one after the other"},
       {"pause_ms", 0, 0, 60000, "pause after each vector, in milliseconds"}});
  const std::uint64_t elements = a[0], cycles = a[1], pause_ms = a[2];
  bench::Timer timer;
  std::uint64_t checked = 0;
  for (std::uint64_t c = 0; c < cycles; ++c) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 0; i < elements; ++i) v.push_back(i * 0x9E3779B97F4A7C15ull ^ c);
    for (std::uint64_t i = 0; i < elements; ++i)
      if (v[i] != (i * 0x9E3779B97F4A7C15ull ^ c))
        bench::fail("vector_growth: cycle %" PRIu64 ", element %" PRIu64 " lost", c, i);
    checked += elements;
    if (pause_ms != 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  const double secs = timer.seconds();
  bench::summary("elements=%" PRIu64 " cycles=%" PRIu64 " checked=%" PRIu64 " time_s=%.3f",
                 elements, cycles, checked, secs);
  return 0;
}
