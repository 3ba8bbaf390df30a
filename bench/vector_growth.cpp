// vector_growth: a std::vector<uint64_t> grown by push_back to `elements`, checked and dropped,
// `cycles` times with `pause_ms` after each. The vector doubles its buffer as it grows: a new
// block, a copy, then the old block freed, so the peak RSS shows whether the old buffers stay
// resident beside the new one; the pause decides whether the memory one cycle freed is still
// there for the next (an allocator that keeps it saves faults, one that returns it saves RSS).
// With `by_realloc` 1 the buffer is a malloc'd array grown by realloc a quarter at a time
// instead (as a C string or buffer grows).

#include <cinttypes>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "A std::vector (or a realloc'd array) grown, dropped, and grown again.",
      {{"elements", 3000000, 1, 1ull << 32, "elements (8 bytes each) per vector"},
       {"cycles", 1, 1, 1ull << 32, "vectors grown one after the other"},
       {"pause_ms", 0, 0, 60000, "pause after each vector, in milliseconds"},
       {"by_realloc", 0, 0, 1, "1: a malloc'd array grown by realloc a quarter at a time"}});
  const std::uint64_t elements = a[0], cycles = a[1], pause_ms = a[2], by_realloc = a[3];
  bench::Timer timer;
  std::uint64_t checked = 0;
  for (std::uint64_t c = 0; c < cycles; ++c) {
    std::vector<std::uint64_t> v;
    std::uint64_t* data;
    std::uint64_t* array = nullptr;  // by_realloc
    if (by_realloc) {
      std::uint64_t n = 0;
      for (std::uint64_t cap = 1024; n < elements; cap += cap / 4) {
        if (cap > elements) cap = elements;
        auto* grown = static_cast<std::uint64_t*>(std::realloc(array, cap * sizeof *array));
        if (!grown) bench::out_of_memory(cap * sizeof *array);
        array = grown;
        for (; n < cap; ++n) array[n] = n * 0x9E3779B97F4A7C15ull ^ c;
      }
      data = array;
    } else {
      for (std::uint64_t i = 0; i < elements; ++i) v.push_back(i * 0x9E3779B97F4A7C15ull ^ c);
      data = v.data();
    }
    for (std::uint64_t i = 0; i < elements; ++i)
      if (data[i] != (i * 0x9E3779B97F4A7C15ull ^ c))
        bench::fail("vector_growth: cycle %" PRIu64 ", element %" PRIu64 " lost", c, i);
    std::free(array);
    checked += elements;
    if (pause_ms != 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  const double secs = timer.seconds();
  bench::summary("elements=%" PRIu64 " cycles=%" PRIu64 " checked=%" PRIu64 " time_s=%.3f",
                 elements, cycles, checked, secs);
  return 0;
}
