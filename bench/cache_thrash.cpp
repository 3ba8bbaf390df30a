// cache_thrash: active false sharing. Every thread repeatedly allocates a small object,
// writes it many times and frees it. An allocator that places small objects of
// different threads in the same cache line makes the threads thrash that line.
#include <latch>
#include <thread>

#include "cache_common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Active false sharing: per-thread small objects written repeatedly.",
      {{"iterations", 100000, 1, 1ull << 40, "objects allocated per thread"},
       {"threads", 2, 1, 1024, "threads"},
       {"objsize", 8, 1, 1u << 20, "object size in bytes"},
       {"repetitions", 4000, 1, 1ull << 40, "times each byte is rewritten"}});
  const std::uint64_t iterations = a[0], threads = a[1], objsize = a[2], reps = a[3];
  std::atomic<std::uint64_t> writes{0};
  std::latch start(static_cast<std::ptrdiff_t>(threads));
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      start.arrive_and_wait();  // write concurrently
      writes.fetch_add(bench::write_objects(iterations, objsize, reps, static_cast<unsigned>(t)));
    });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  if (writes.load() != iterations * threads * objsize * reps)
    bench::fail("write count mismatch: %" PRIu64, writes.load());
  bench::summary("threads=%" PRIu64 " objsize=%" PRIu64 " writes=%" PRIu64
                 " time_s=%.3f writes_per_s=%.0f",
                 threads, objsize, writes.load(), secs, static_cast<double>(writes.load()) / secs);
  return 0;
}
