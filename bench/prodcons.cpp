// prodcons: producer threads allocate and fill objects and pass them through a bounded
// lock-free single-producer/single-consumer ring to a consumer thread, which verifies
// and frees them: every free is a cross-thread free, at full speed. N independent
// producer/consumer pairs.
#include <thread>

#include "common.hpp"

namespace {

constexpr std::size_t kRing = 4096;  // power of two

struct alignas(64) Ring {
  alignas(64) std::atomic<std::uint64_t> head{0};  // next slot to write (producer)
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next slot to read (consumer)
  alignas(64) void* slot[kRing];
};

void backoff(unsigned& spins) {
  if (++spins > 64) {
    std::this_thread::yield();
    spins = 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Producer/consumer pairs: allocate on one thread, free on another.",
      {{"ops", 6000000, 1, 1ull << 40, "objects passed per pair"},
       {"pairs", 1, 1, 512, "producer/consumer pairs (2 threads each)"},
       {"min_size", 16, 8, 1u << 30, "smallest object in bytes"},
       {"max_size", 512, 8, 1u << 30, "largest object in bytes"}});
  const std::uint64_t ops = a[0], pairs = a[1], min_size = a[2];
  const std::uint64_t max_size = a[3] < a[2] ? a[2] : a[3];

  std::vector<Ring> rings(pairs);
  std::atomic<std::uint64_t> produced_sum{0}, consumed_sum{0}, consumed{0};
  bench::Timer timer;
  std::vector<std::thread> threads;
  for (std::uint64_t pi = 0; pi < pairs; ++pi) {
    Ring& ring = rings[pi];
    threads.emplace_back([&, pi] {
      bench::Rng rng(pi + 1);
      std::uint64_t sum = 0;
      unsigned spins = 0;
      const std::uint64_t head0 = ring.head.load(std::memory_order_relaxed);
      for (std::uint64_t i = 0; i < ops; ++i) {
        const std::size_t n = rng.range(min_size, max_size);
        void* p = bench::checked_malloc(n);
        const auto tag = static_cast<std::uint32_t>((pi << 26) ^ i);
        bench::fill_block(p, n, tag);
        sum += tag;
        const std::uint64_t h = head0 + i;
        while (h - ring.tail.load(std::memory_order_acquire) >= kRing) backoff(spins);
        ring.slot[h % kRing] = p;
        ring.head.store(h + 1, std::memory_order_release);
      }
      produced_sum.fetch_add(sum);
    });
    threads.emplace_back([&] {
      std::uint64_t sum = 0, t = 0;
      unsigned spins = 0;
      while (t < ops) {
        const std::uint64_t h = ring.head.load(std::memory_order_acquire);
        if (h == t) {
          backoff(spins);
          continue;
        }
        for (; t < h; ++t) {
          void* p = ring.slot[t % kRing];
          sum += bench::check_block(p, 0, "prodcons consumer");
          std::free(p);
          if ((t & 63) == 63) ring.tail.store(t + 1, std::memory_order_release);
        }
        ring.tail.store(t, std::memory_order_release);
      }
      consumed_sum.fetch_add(sum);
      consumed.fetch_add(t);
    });
  }
  for (auto& t : threads) t.join();
  const double secs = timer.seconds();
  if (consumed.load() != ops * pairs || produced_sum.load() != consumed_sum.load())
    bench::fail("checksum mismatch: produced %" PRIu64 " consumed %" PRIu64 " (objects %" PRIu64
                " of %" PRIu64 ")",
                produced_sum.load(), consumed_sum.load(), consumed.load(), ops * pairs);
  const double n = static_cast<double>(ops * pairs);
  bench::summary("pairs=%" PRIu64 " ops=%.0f time_s=%.3f ops_per_s=%.0f checksum=%016" PRIx64,
                 pairs, n, secs, n / secs, produced_sum.load());
  return 0;
}
