// large: large allocations (100 KiB .. 32 MiB, log-uniform) allocated, touched on every
// page, verified and freed repeatedly, with a small live set per thread so that blocks
// of different sizes are freed in a different order than they were allocated.
#include <thread>

#include "common.hpp"

int main(int argc, char** argv) {
  const auto a =
      bench::parse_args(argc, argv, "Large blocks 100 KiB..32 MiB allocated, touched and freed.",
                        {{"iterations", 3000, 1, 1ull << 40, "allocations per thread"},
                         {"threads", 1, 1, 1024, "threads"},
                         {"min_size", 100 * 1024, 16, 1ull << 40, "smallest block in bytes"},
                         {"max_size", 32 * 1024 * 1024, 16, 1ull << 40, "largest block in bytes"},
                         {"live", 4, 1, 1u << 20, "live blocks per thread"}});
  const std::uint64_t iters = a[0], threads = a[1], min_size = a[2], live = a[4];
  const std::uint64_t max_size = a[3] < a[2] ? a[2] : a[3];
  std::atomic<std::uint64_t> residue{0}, bytes{0};
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      bench::Rng rng(t + 5);
      std::vector<void*> slots(live, nullptr);
      std::uint64_t sum = 0, total = 0;
      std::uint32_t tag = static_cast<std::uint32_t>(t << 24);
      for (std::uint64_t i = 0; i < iters; ++i) {
        void*& s = slots[rng.below(live)];
        if (s) {
          sum -= bench::check_touched(s, 0, "large");
          std::free(s);
        }
        const std::size_t n = rng.log_range(min_size, max_size);
        s = bench::checked_malloc(n);
        bench::touch_block(s, n, ++tag);
        sum += tag;
        total += n;
      }
      for (void* p : slots)
        if (p) {
          sum -= bench::check_touched(p, 0, "large final");
          std::free(p);
        }
      residue.fetch_or(sum);
      bytes.fetch_add(total);
    });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  if (residue.load()) bench::fail("checksum residue %" PRIu64, residue.load());
  bench::summary(
      "threads=%" PRIu64 " allocs=%" PRIu64 " bytes=%" PRIu64 " time_s=%.3f allocs_per_s=%.0f",
      threads, iters * threads, bytes.load(), secs, static_cast<double>(iters * threads) / secs);
  return 0;
}
