// cache_thrash: active false sharing. Every thread repeatedly allocates a small object,
// writes it many times and frees it. An allocator that places small objects of
// different threads in the same cache line makes the threads thrash that line.
#include "cache_common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Active false sharing: per-thread small objects written repeatedly.",
      {{"iterations", 100000, 1, 1ull << 40, "objects allocated per thread"},
       {"threads", 2, 1, 1024, "threads"},
       {"objsize", 8, 1, 1u << 20, "object size in bytes"},
       {"repetitions", 4000, 1, 1ull << 40, "times each byte is rewritten"}});
  const std::uint64_t iterations = a[0], threads = a[1], objsize = a[2], reps = a[3];
  return bench::run_writers(threads, iterations, objsize, reps, [](std::uint64_t) {});
}
