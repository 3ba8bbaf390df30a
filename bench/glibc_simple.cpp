// glibc_simple: fixed-size small allocations in a loop, after glibc's
// bench-malloc-simple: for each size (16..512 bytes) and batch (25..1600 blocks),
// allocate a batch of blocks, then free them all, many times. threads > 1 runs the same
// loop in that many threads at once (threads = 1 runs in the main thread).
#include <thread>

#include "common.hpp"

namespace {

constexpr std::size_t kSizes[] = {16, 32, 64, 128, 256, 512};
constexpr std::size_t kBatches[] = {25, 100, 400, 1600};

std::uint64_t work(unsigned id, std::uint64_t allocs_per_case) {
  std::vector<void*> blocks(1600);
  std::uint64_t sum = 0;
  std::uint32_t tag = id << 24;
  for (std::size_t size : kSizes)
    for (std::size_t batch : kBatches) {
      const std::uint64_t loops = (allocs_per_case + batch - 1) / batch;
      for (std::uint64_t l = 0; l < loops; ++l) {
        for (std::size_t i = 0; i < batch; ++i) {
          blocks[i] = bench::checked_malloc(size);
          bench::stamp_block(blocks[i], size, ++tag);
          sum += tag;
        }
        for (std::size_t i = 0; i < batch; ++i) {
          sum -= bench::check_stamp(blocks[i], size, "glibc_simple");
          std::free(blocks[i]);
        }
      }
    }
  return sum;  // 0 when every block was verified
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Fixed-size small malloc/free batches (glibc bench-malloc-simple).",
      {{"allocs", 3000000, 1, 1ull << 40, "allocations per (size, batch) case per thread"},
       {"threads", 1, 1, 1024, "threads (1 = main thread only)"}});
  const std::uint64_t allocs = a[0], threads = a[1];
  std::vector<std::uint64_t> sums(threads);
  bench::Timer timer;
  if (threads == 1) {
    sums[0] = work(0, allocs);
  } else {
    std::vector<std::thread> ts;
    for (std::uint64_t t = 0; t < threads; ++t)
      ts.emplace_back([&, t] { sums[t] = work(static_cast<unsigned>(t), allocs); });
    for (auto& t : ts) t.join();
  }
  const double secs = timer.seconds();
  for (std::uint64_t t = 0; t < threads; ++t)
    if (sums[t]) bench::fail("thread %" PRIu64 ": checksum residue %" PRIu64, t, sums[t]);
  std::uint64_t total = 0;
  for (std::size_t batch : kBatches) total += (allocs + batch - 1) / batch * batch;
  total *= std::size(kSizes) * threads;
  bench::summary("threads=%" PRIu64 " allocs=%" PRIu64 " time_s=%.3f ns_per_pair=%.2f", threads,
                 total, secs, secs * 1e9 / static_cast<double>(total) * threads);
  return 0;
}
