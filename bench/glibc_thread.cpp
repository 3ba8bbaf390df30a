// glibc_thread: the threaded form, after glibc's bench-malloc-thread: every thread keeps
// a working set of blocks and repeatedly replaces a random one with a block of a random
// size drawn from a distribution skewed to small sizes (most 8..256 B, a few up to
// 32 KiB).
#include <thread>

#include "common.hpp"

namespace {

std::size_t draw_size(bench::Rng& rng, std::size_t max_size) {
  const std::uint64_t r = rng.below(100);
  std::size_t n;
  if (r < 85)
    n = rng.range(8, 256);
  else if (r < 98)
    n = rng.range(257, 4096);
  else
    n = rng.range(4097, 32768);
  return n > max_size ? max_size : n;
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Per-thread working sets of random-sized blocks (glibc bench-malloc-thread).",
      {{"ops", 50000000, 1, 1ull << 40, "block replacements per thread"},
       {"threads", 2, 1, 1024, "threads"},
       {"working_set", 1024, 1, 1u << 24, "live blocks per thread"},
       {"max_size", 32768, 8, 1u << 30, "largest block in bytes"}});
  const std::uint64_t ops = a[0], threads = a[1], ws = a[2], max_size = a[3];
  std::atomic<std::uint64_t> residue{0};
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      bench::Rng rng(t + 99);
      std::vector<void*> blocks(ws, nullptr);
      std::uint64_t sum = 0;
      std::uint32_t tag = static_cast<std::uint32_t>(t << 24);
      for (std::uint64_t i = 0; i < ops; ++i) {
        void*& slot = blocks[rng.below(ws)];
        if (slot) {
          sum -= bench::check_stamp(slot, 0, "glibc_thread");
          std::free(slot);
        }
        const std::size_t n = draw_size(rng, max_size);
        slot = bench::checked_malloc(n);
        bench::stamp_block(slot, n, ++tag);
        sum += tag;
      }
      for (void* p : blocks)
        if (p) {
          sum -= bench::check_stamp(p, 0, "glibc_thread final");
          std::free(p);
        }
      residue.fetch_or(sum);
    });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  if (residue.load()) bench::fail("checksum residue %" PRIu64, residue.load());
  const double n = static_cast<double>(ops * threads);
  bench::summary("threads=%" PRIu64 " ops=%.0f time_s=%.3f ops_per_s=%.0f", threads, n, secs,
                 n / secs);
  return 0;
}
