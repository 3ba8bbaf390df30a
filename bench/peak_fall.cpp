// peak_fall: a long-running mixed workload whose live heap rises to a peak and falls.
// Worker threads allocate objects of mixed sizes (with some churn: random frees while
// rising) until the live heap reaches peak_mib in total, then free all but keep_permille
// of their objects (scattered survivors, as in a real server). With the workers still
// alive and idle, the main thread sleeps sleep_ms and reads the RSS again. No
// malloc_trim: the figure shows how much memory the allocator gives back by itself.
// Prints rss_peak_kib (RSS at the peak) and rss_after_kib (after the fall and sleep).
#include <barrier>
#include <thread>

#include "common.hpp"

namespace {

struct Obj {
  void* p;
  std::size_t n;
};

std::size_t draw_size(bench::Rng& rng) {
  const std::uint64_t r = rng.below(1000);
  if (r < 900) return rng.log_range(16, 512);
  if (r < 999) return rng.log_range(513, 16 * 1024);
  return rng.log_range(16 * 1024 + 1, 1024 * 1024);
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Live heap rises to a peak and falls; RSS at the peak and after the fall.",
      {{"peak_mib", 768, 1, 1u << 22, "live heap at the peak in MiB (all threads)"},
       {"threads", 2, 1, 1024, "worker threads"},
       {"keep_permille", 10, 0, 1000, "objects still live after the fall, per mille"},
       {"sleep_ms", 1000, 0, 3600000, "pause after the fall before reading the RSS"},
       {"cycles", 1, 1, 1000, "rise/fall cycles"}});
  const std::uint64_t peak = a[0] << 20, threads = a[1], keep = a[2], sleep_ms = a[3],
                      cycles = a[4];
  std::barrier sync(static_cast<std::ptrdiff_t>(threads + 1));
  std::atomic<std::uint64_t> live_bytes{0}, residue{0}, allocs{0};
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      bench::Rng rng(t * 17 + 1);
      std::vector<Obj> live;
      std::uint64_t mine = 0, sum = 0, nallocs = 0;
      std::uint32_t tag = static_cast<std::uint32_t>(t << 24);
      auto release = [&](std::size_t i) {
        sum -= bench::check_marked(live[i].p, live[i].n, "peak_fall");
        std::free(live[i].p);
        mine -= live[i].n;
        live[i] = live.back();
        live.pop_back();
      };
      for (std::uint64_t c = 0; c < cycles; ++c) {
        while (mine < peak / threads) {  // rise, with churn
          if (!live.empty() && rng.below(4) == 0) {
            release(rng.below(live.size()));
            continue;
          }
          const std::size_t n = draw_size(rng);
          void* p = bench::checked_malloc(n);
          bench::mark_block(p, n, ++tag);
          sum += tag;
          ++nallocs;
          mine += n;
          live.push_back({p, n});
        }
        live_bytes.fetch_add(mine);
        sync.arrive_and_wait();  // at the peak
        sync.arrive_and_wait();  // main has measured
        live_bytes.fetch_sub(mine);
        for (std::size_t i = live.size(); i-- > 0;)  // fall, keeping a few survivors
          if (rng.below(1000) >= keep) release(i);
        live_bytes.fetch_add(mine);
        sync.arrive_and_wait();  // fallen
        sync.arrive_and_wait();  // main has measured
        live_bytes.fetch_sub(mine);
      }
      while (!live.empty()) release(live.size() - 1);
      residue.fetch_or(sum);
      allocs.fetch_add(nallocs);
    });
  long rss_peak = 0, rss_after = 0;
  std::uint64_t live_peak = 0, live_after = 0;
  for (std::uint64_t c = 0; c < cycles; ++c) {
    sync.arrive_and_wait();
    const long r = bench::rss_kib();
    if (r > rss_peak) rss_peak = r;
    if (live_bytes.load() > live_peak) live_peak = live_bytes.load();
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    rss_after = bench::rss_kib();
    live_after = live_bytes.load();
    sync.arrive_and_wait();
  }
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  if (residue.load()) bench::fail("checksum residue %" PRIu64, residue.load());
  bench::summary("threads=%" PRIu64 " cycles=%" PRIu64 " allocs=%" PRIu64
                 " time_s=%.3f"
                 " live_peak_kib=%" PRIu64 " live_after_kib=%" PRIu64
                 " rss_peak_kib=%ld"
                 " rss_after_kib=%ld hwm_kib=%ld",
                 threads, cycles, allocs.load(), secs, live_peak >> 10, live_after >> 10, rss_peak,
                 rss_after, bench::hwm_kib());
  return 0;
}
