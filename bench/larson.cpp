// larson: server simulation (after Larson & Krishnan). Each worker owns an array of
// slots holding live objects of random size; an operation frees the object in a random
// slot (verifying its contents) and allocates a new one. Some objects are instead
// swapped through a shared exchange array, so they are freed by a thread other than the
// one that allocated them. In each round fresh threads take over the arrays of the
// previous round's threads (thread replacement: everything they free was allocated by a
// thread that has exited).
#include <thread>

#include "common.hpp"

namespace {

struct Totals {
  std::atomic<std::uint64_t> alloc_sum{0}, free_sum{0}, ops{0};
};

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Larson server simulation: random-sized objects, cross-thread frees.",
      {{"ops", 16000000, 1, 1ull << 40, "malloc/free pairs per thread (all rounds)"},
       {"threads", 2, 1, 1024, "worker threads"},
       {"slots", 1000, 1, 1u << 24, "live objects per thread"},
       {"min_size", 8, 8, 1u << 30, "smallest object in bytes"},
       {"max_size", 1000, 8, 1u << 30, "largest object in bytes"},
       {"rounds", 4, 1, 1u << 20, "thread generations (arrays handed to new threads)"},
       {"xchg_permille", 50, 0, 1000, "operations that swap an object with another thread"}});
  const std::uint64_t ops = a[0], threads = a[1], slots = a[2], rounds = a[5], xchg = a[6];
  const std::uint64_t min_size = a[3], max_size = a[4] < a[3] ? a[3] : a[4];

  Totals tot;
  std::vector<std::vector<void*>> arrays(threads, std::vector<void*>(slots));
  const std::size_t nexchange = 64 * threads;
  std::vector<std::atomic<void*>> exchange(nexchange);
  bench::Rng main_rng(12345);
  std::uint32_t main_tag = 0xF0000000u;
  auto make = [&](bench::Rng& rng, std::uint32_t tag) {
    const std::size_t n = rng.range(min_size, max_size);
    void* p = bench::checked_malloc(n);
    bench::fill_block(p, n, tag);
    tot.alloc_sum.fetch_add(tag, std::memory_order_relaxed);
    return p;
  };
  for (auto& arr : arrays)
    for (auto& p : arr) p = make(main_rng, main_tag++);
  for (auto& e : exchange) e.store(make(main_rng, main_tag++));

  bench::Timer timer;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    const std::uint64_t round_ops = ops / rounds + (r < ops % rounds ? 1 : 0);
    std::vector<std::thread> workers;
    for (std::uint64_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t, r, round_ops] {
        std::vector<void*>& arr = arrays[(t + r) % threads];
        bench::Rng rng(1000 * r + t + 1);
        std::uint32_t tag = static_cast<std::uint32_t>(((t & 0xff) << 24) | ((r & 0xff) << 16));
        std::uint64_t asum = 0, fsum = 0, done = 0;
        while (done < round_ops) {
          const std::size_t i = rng.below(slots);
          if (xchg && rng.below(1000) < xchg) {
            arr[i] = exchange[rng.below(nexchange)].exchange(arr[i], std::memory_order_acq_rel);
            continue;
          }
          fsum += bench::check_block(arr[i], 0, "larson free");
          std::free(arr[i]);
          const std::size_t n = rng.range(min_size, max_size);
          void* p = bench::checked_malloc(n);
          bench::fill_block(p, n, ++tag);
          asum += tag;
          arr[i] = p;
          ++done;
        }
        tot.alloc_sum.fetch_add(asum);
        tot.free_sum.fetch_add(fsum);
        tot.ops.fetch_add(done);
      });
    }
    for (auto& w : workers) w.join();
  }
  const double secs = timer.seconds();

  std::uint64_t fsum = 0;
  for (auto& arr : arrays)
    for (void* p : arr) {
      fsum += bench::check_block(p, 0, "larson final");
      std::free(p);
    }
  for (auto& e : exchange) {
    fsum += bench::check_block(e.load(), 0, "larson final");
    std::free(e.load());
  }
  tot.free_sum.fetch_add(fsum);
  if (tot.alloc_sum.load() != tot.free_sum.load())
    bench::fail("checksum mismatch: allocated tags %" PRIu64 " != freed tags %" PRIu64,
                tot.alloc_sum.load(), tot.free_sum.load());
  const double n = static_cast<double>(tot.ops.load());
  bench::summary("threads=%" PRIu64 " rounds=%" PRIu64
                 " ops=%.0f time_s=%.3f ops_per_s=%.0f"
                 " checksum=%016" PRIx64,
                 threads, rounds, n, secs, n / secs, tot.alloc_sum.load());
  return 0;
}
