// cache_scratch: passive false sharing. The main thread allocates one small object per
// worker back to back (so they likely share cache lines) and hands them out. Each worker
// verifies and frees its object, then repeatedly allocates an object of the same size,
// writes it many times and frees it. An allocator that hands the freed object (whose
// cache line is shared with the other workers' objects) back to the worker makes the
// workers thrash that line.
#include "cache_common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Passive false sharing: objects from the main thread freed by workers.",
      {{"iterations", 100000, 1, 1ull << 40, "objects allocated per thread"},
       {"threads", 2, 1, 1024, "worker threads"},
       {"objsize", 8, 1, 1u << 20, "object size in bytes"},
       {"repetitions", 4000, 1, 1ull << 40, "times each byte is rewritten"}});
  const std::uint64_t iterations = a[0], threads = a[1], objsize = a[2], reps = a[3];
  std::vector<unsigned char*> initial(threads);
  for (std::uint64_t t = 0; t < threads; ++t) {
    initial[t] = static_cast<unsigned char*>(bench::checked_malloc(objsize));
    std::memset(initial[t], static_cast<int>(0xA0 + t), objsize);
  }
  return bench::run_writers(threads, iterations, objsize, reps, [&](std::uint64_t t) {
    unsigned char* mine = initial[t];
    for (std::size_t k = 0; k < objsize; ++k)
      if (mine[k] != static_cast<unsigned char>(0xA0 + t))
        bench::fail("initial object of thread %" PRIu64 " overwritten at byte %zu", t, k);
    std::free(mine);
  });
}
