// random_sizes: random sizes from 8 B to 64 KiB (log-uniform, so skewed towards small
// sizes), with a live set that grows to max_live objects and shrinks to max_live/8 in
// alternating phases. Each thread works on its own live set; threads=1 is the
// single-threaded case.
#include <thread>

#include "common.hpp"

namespace {

struct Live {
  void* p;
  std::size_t n;
};

struct Result {
  std::uint64_t asum = 0, fsum = 0, allocs = 0, phases = 0;
};

Result work(unsigned id, std::uint64_t ops, std::size_t max_live, std::size_t max_size) {
  bench::Rng rng(7919 * (id + 1));
  std::vector<Live> live;
  live.reserve(max_live + 1);
  Result r;
  bool growing = true;
  std::uint32_t tag = id << 24;
  for (std::uint64_t op = 0; op < ops; ++op) {
    const bool alloc = live.empty() || (growing ? rng.below(4) != 0 : rng.below(4) == 0);
    if (alloc) {
      const std::size_t n = rng.log_range(8, max_size);
      void* p = bench::checked_malloc(n);
      bench::mark_block(p, n, ++tag);
      r.asum += tag;
      ++r.allocs;
      live.push_back({p, n});
    } else {
      const std::size_t i = rng.below(live.size());
      r.fsum += bench::check_marked(live[i].p, live[i].n, "random_sizes free");
      std::free(live[i].p);
      live[i] = live.back();
      live.pop_back();
    }
    if (growing && live.size() >= max_live)
      growing = false, ++r.phases;
    else if (!growing && live.size() <= max_live / 8)
      growing = true, ++r.phases;
  }
  for (const Live& l : live) {
    r.fsum += bench::check_marked(l.p, l.n, "random_sizes final");
    std::free(l.p);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Random sizes 8 B..64 KiB, live set growing and shrinking in phases.",
      {{"ops", 6000000, 1, 1ull << 40, "allocations + frees per thread"},
       {"threads", 1, 1, 1024, "threads (1 = single-threaded)"},
       {"max_live", 20000, 8, 1u << 28, "live objects per thread at the top of a phase"},
       {"max_size", 65536, 8, 1u << 30, "largest object in bytes"}});
  const std::uint64_t ops = a[0], threads = a[1], max_live = a[2], max_size = a[3];
  std::vector<Result> results(threads);
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back(
        [&, t] { results[t] = work(static_cast<unsigned>(t), ops, max_live, max_size); });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  std::uint64_t asum = 0, fsum = 0, allocs = 0, phases = 0;
  for (const Result& r : results)
    asum += r.asum, fsum += r.fsum, allocs += r.allocs, phases += r.phases;
  if (asum != fsum) bench::fail("checksum mismatch: %" PRIu64 " != %" PRIu64, asum, fsum);
  const double n = static_cast<double>(ops * threads);
  bench::summary("threads=%" PRIu64 " ops=%.0f allocs=%" PRIu64 " phases=%" PRIu64
                 " time_s=%.3f ops_per_s=%.0f checksum=%016" PRIx64,
                 threads, n, allocs, phases, secs, n / secs, asum);
  return 0;
}
