// micro: Google Benchmark micro-benchmarks of the malloc API with a fixed number of
// iterations each (so the total run time is comparable across allocators):
//   malloc_free/<size>        malloc + free of one size (16 B .. 64 KiB), `threads` threads
//   cross_thread_free/<size>  malloc here, free on a second thread (through a ring)
//   calloc/<size>             calloc (checked zeroed) + dirty + free
//   realloc_grow              malloc(16) then realloc doubling to 64 KiB, free
//   aligned_alloc/<align>     aligned_alloc (checked aligned) + free
// Every block is written and checked before it is freed; a failed check marks the
// benchmark as an error and the program exits with status 1.
#include <benchmark/benchmark.h>

#include <thread>

#include "common.hpp"

namespace {

std::atomic<bool> g_failed{false};

void failed(benchmark::State& st, const char* what) {
  g_failed = true;
  st.SkipWithError(what);
}

void BM_malloc_free(benchmark::State& st, std::size_t n) {
  for (auto _ : st) {
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    benchmark::DoNotOptimize(p);
    if (!p) return failed(st, "malloc returned NULL");
    p[0] = 0x5A;
    p[n - 1] = 0xA5;
    benchmark::ClobberMemory();
    if (p[0] != 0x5A || p[n - 1] != 0xA5) return failed(st, "block overwritten");
    std::free(p);
  }
  st.SetItemsProcessed(st.iterations());
}

// Blocks are freed by a second thread; the ring is bounded so the producer waits when
// the freeing thread falls behind.
void BM_cross_thread_free(benchmark::State& st, std::size_t n) {
  constexpr std::size_t kRing = 1024;
  std::vector<void*> ring(kRing);
  alignas(64) std::atomic<std::uint64_t> head{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};
  std::atomic<bool> done{false}, bad{false};
  std::thread freer([&] {
    std::uint64_t t = 0;
    for (;;) {
      const std::uint64_t h = head.load(std::memory_order_acquire);
      if (h == t) {
        if (done.load(std::memory_order_acquire) && head.load() == t) break;
        std::this_thread::yield();
        continue;
      }
      for (; t < h; ++t) {
        void* p = ring[t % kRing];
        if (bench::check_stamp(p, n, "cross_thread_free") != static_cast<std::uint32_t>(t))
          bad = true;
        std::free(p);
      }
      tail.store(t, std::memory_order_release);
    }
  });
  std::uint64_t h = 0;
  for (auto _ : st) {
    void* p = bench::checked_malloc(n);
    bench::stamp_block(p, n, static_cast<std::uint32_t>(h));
    while (h - tail.load(std::memory_order_acquire) >= kRing) std::this_thread::yield();
    ring[h % kRing] = p;
    head.store(++h, std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  freer.join();
  if (bad) return failed(st, "block overwritten before the remote free");
  st.SetItemsProcessed(st.iterations());
}

void BM_calloc(benchmark::State& st, std::size_t n) {
  for (auto _ : st) {
    auto* p = static_cast<unsigned char*>(std::calloc(1, n));
    benchmark::DoNotOptimize(p);
    if (!p) return failed(st, "calloc returned NULL");
    if (p[0] | p[n / 2] | p[n - 1]) return failed(st, "calloc memory not zeroed");
    p[0] = p[n / 2] = p[n - 1] = 0xFF;  // dirty it: the next calloc must zero again
    std::free(p);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_realloc_grow(benchmark::State& st) {
  std::uint32_t tag = 0;
  for (auto _ : st) {
    void* p = bench::checked_malloc(16);
    bench::stamp_block(p, 16, ++tag);
    for (std::size_t n = 32; n <= 65536; n *= 2) {
      p = std::realloc(p, n);
      if (!p) return failed(st, "realloc returned NULL");
      std::uint64_t h;
      std::memcpy(&h, p, 8);
      if (h != ((16ull << 32) | tag)) return failed(st, "realloc lost the contents");
    }
    std::free(p);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_aligned_alloc(benchmark::State& st, std::size_t align) {
  const std::size_t n = align < 256 ? 256 : align;
  for (auto _ : st) {
    auto* p = static_cast<unsigned char*>(std::aligned_alloc(align, n));
    benchmark::DoNotOptimize(p);
    if (!p) return failed(st, "aligned_alloc returned NULL");
    if (reinterpret_cast<std::uintptr_t>(p) % align) return failed(st, "misaligned block");
    p[0] = 1;
    p[n - 1] = 2;
    benchmark::ClobberMemory();
    std::free(p);
  }
  st.SetItemsProcessed(st.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<bench::ArgSpec> specs = {
      {"iterations", 2000000, 1, 1ull << 40, "iterations of each small-size benchmark"},
      {"threads", 1, 1, 1024, "threads running malloc_free"}};
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::printf(
          "Google Benchmark flags (--benchmark_filter=REGEX, "
          "--benchmark_format=json, ...) are also accepted.\n");
      bench::parse_args(argc, argv, "malloc API micro-benchmarks (Google Benchmark).", specs);
    }
  benchmark::Initialize(&argc, argv);
  const auto a = bench::parse_args(argc, argv, "", specs);
  const auto iters = static_cast<benchmark::IterationCount>(a[0]);
  const int threads = static_cast<int>(a[1]);
  auto scaled = [&](std::size_t n) {  // fewer iterations for the big sizes
    const std::size_t div = n >= 16384 ? 8 : 1;
    return iters / static_cast<benchmark::IterationCount>(div) + 1;
  };
  int count = 0;
  for (std::size_t n = 16; n <= 65536; n *= 4, ++count)
    benchmark::RegisterBenchmark(("malloc_free/" + std::to_string(n)).c_str(), BM_malloc_free, n)
        ->Iterations(scaled(n))
        ->Threads(threads);
  for (std::size_t n : {64, 1024}) {
    benchmark::RegisterBenchmark(("cross_thread_free/" + std::to_string(n)).c_str(),
                                 BM_cross_thread_free, n)
        ->Iterations(iters / 2 + 1)
        ->UseRealTime();
    ++count;
  }
  for (std::size_t n : {64, 4096, 65536}) {
    benchmark::RegisterBenchmark(("calloc/" + std::to_string(n)).c_str(), BM_calloc, n)
        ->Iterations(scaled(n));
    ++count;
  }
  benchmark::RegisterBenchmark("realloc_grow", BM_realloc_grow)->Iterations(iters / 40 + 1);
  ++count;
  for (std::size_t al : {64, 4096}) {
    benchmark::RegisterBenchmark(("aligned_alloc/" + std::to_string(al)).c_str(), BM_aligned_alloc,
                                 al)
        ->Iterations(scaled(al));
    ++count;
  }
  bench::Timer timer;
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks();
  const double secs = timer.seconds();
  benchmark::Shutdown();
  if (g_failed) bench::fail("a micro-benchmark reported an error (see above)");
  bench::summary("benchmarks=%zu registered=%d iterations=%" PRIu64 " threads=%d time_s=%.3f", ran,
                 count, a[0], threads, secs);
  return 0;
}
