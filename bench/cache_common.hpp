// Shared worker loop for cache_thrash and cache_scratch (false-sharing tests, after the
// Hoard benchmarks): allocate a small object, write every byte of it many times
// (through volatile, so each write reaches memory), verify, free.
#pragma once

#include <latch>
#include <thread>

#include "common.hpp"

namespace bench {

// Returns the number of byte writes done; fails on a lost write.
inline std::uint64_t write_objects(std::uint64_t iterations, std::size_t objsize,
                                   std::uint64_t repetitions, unsigned thread) {
  std::uint64_t writes = 0;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    auto* p = static_cast<unsigned char*>(checked_malloc(objsize));
    volatile unsigned char* v = p;
    const unsigned char seed = static_cast<unsigned char>(thread * 31 + i);
    for (std::size_t k = 0; k < objsize; ++k) v[k] = static_cast<unsigned char>(seed + k);
    for (std::uint64_t r = 0; r < repetitions; ++r)
      for (std::size_t k = 0; k < objsize; ++k) v[k] = static_cast<unsigned char>(v[k] + 1);
    for (std::size_t k = 0; k < objsize; ++k)
      if (v[k] != static_cast<unsigned char>(seed + k + repetitions))
        fail("thread %u object %p byte %zu: expected %u, found %u", thread, static_cast<void*>(p),
             k, static_cast<unsigned char>(seed + k + repetitions), v[k]);
    writes += objsize * repetitions;
    std::free(p);
  }
  return writes;
}

// Runs `threads` workers at once, each calling `first(t)` and then write_objects; checks the
// total and prints the summary line. Returns main's exit status.
template <class First>
int run_writers(std::uint64_t threads, std::uint64_t iterations, std::size_t objsize,
                std::uint64_t reps, First first) {
  std::atomic<std::uint64_t> writes{0};
  std::latch start(static_cast<std::ptrdiff_t>(threads));
  Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      start.arrive_and_wait();  // write concurrently
      first(t);
      writes.fetch_add(write_objects(iterations, objsize, reps, static_cast<unsigned>(t)));
    });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  if (writes.load() != iterations * threads * objsize * reps)
    fail("write count mismatch: %" PRIu64, writes.load());
  summary("threads=%" PRIu64 " objsize=%zu writes=%" PRIu64 " time_s=%.3f writes_per_s=%.0f",
          threads, objsize, writes.load(), secs, static_cast<double>(writes.load()) / secs);
  return 0;
}

}  // namespace bench
