// handoff: the main thread builds the data set (every worker's array of objects, allocated in
// order), then only waits while the workers replace the objects at random. Every object the
// main thread made is freed by a worker, while the main thread never allocates again: memory
// that stays with the thread that allocated it stays unused until the end. Reports the peak RSS
// against the live data.
#include <thread>

#include "common.hpp"

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Data built by the main thread, then replaced by workers while it waits.",
      {{"ops", 6000000, 1, 1ull << 40, "replacements per worker"},
       {"threads", 4, 1, 1024, "worker threads"},
       {"slots", 10000, 1, 1u << 24, "live objects per worker"},
       {"min_size", 8, 8, 1u << 30, "smallest object in bytes"},
       {"max_size", 1000, 8, 1u << 30, "largest object in bytes"}});
  const std::uint64_t ops = a[0], threads = a[1], slots = a[2], min_size = a[3];
  const std::uint64_t max_size = a[4] < a[3] ? a[3] : a[4];

  std::vector<std::vector<void*>> arrays(threads, std::vector<void*>(slots));
  std::vector<std::uint64_t> made(threads, 0), freed(threads, 0);
  bench::Rng main_rng(7);
  std::uint64_t live_bytes = 0;
  for (std::uint64_t t = 0; t < threads; ++t)
    for (std::uint64_t i = 0; i < slots; ++i) {
      const std::size_t n = main_rng.range(min_size, max_size);
      const auto tag = static_cast<std::uint32_t>((t << 24) ^ i);
      arrays[t][i] = bench::checked_malloc(n);
      bench::stamp_block(arrays[t][i], n, tag);
      made[t] += tag;
      live_bytes += n;
    }

  bench::Timer timer;
  std::vector<std::thread> workers;
  for (std::uint64_t t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      bench::Rng rng(t + 1);
      std::vector<void*>& slot = arrays[t];
      std::uint64_t in = 0, out = 0;
      for (std::uint64_t k = 0; k < ops; ++k) {
        const std::size_t i = rng.below(slots);
        out += bench::check_stamp(slot[i], 0, "handoff worker");
        std::free(slot[i]);
        const std::size_t n = rng.range(min_size, max_size);
        const auto tag = static_cast<std::uint32_t>((t << 24) ^ (slots + k));
        slot[i] = bench::checked_malloc(n);
        bench::stamp_block(slot[i], n, tag);
        in += tag;
      }
      made[t] += in;
      freed[t] = out;
    });
  for (auto& w : workers) w.join();
  const double secs = timer.seconds();

  std::uint64_t made_sum = 0, freed_sum = 0;
  for (std::uint64_t t = 0; t < threads; ++t) {
    for (void* p : arrays[t]) {
      freed[t] += bench::check_stamp(p, 0, "handoff end");
      std::free(p);
    }
    made_sum += made[t];
    freed_sum += freed[t];
  }
  if (made_sum != freed_sum)
    bench::fail("checksum mismatch: made %" PRIu64 " freed %" PRIu64, made_sum, freed_sum);
  bench::summary("threads=%" PRIu64 " ops=%" PRIu64 " time_s=%.3f live_kib=%" PRIu64
                 " hwm_kib=%ld checksum=%016" PRIx64,
                 threads, ops * threads, secs, live_bytes / 1024, bench::hwm_kib(), made_sum);
  return 0;
}
