// realloc_growth: many buffers grown by realloc in steps, interleaved round-robin so
// that neighbours compete for in-place growth. Half grow like strings (append 1..128
// bytes per realloc), half like vectors (capacity doubling). Every byte written is
// checked: the edges of the old contents after each realloc, everything before free.
// A finished buffer is freed and replaced by a new one until `lifetimes` buffers have
// been grown per thread.
#include <thread>

#include "common.hpp"

namespace {

struct Buf {
  unsigned char* p = nullptr;
  std::size_t len = 0, cap = 0, target = 0;
  std::uint32_t tag = 0;
  bool vector_like = false;
};

inline unsigned char byte_at(std::uint32_t tag, std::size_t k) {
  return static_cast<unsigned char>(tag * 131u + k * 7u + (k >> 8));
}

void verify(const Buf& b, std::size_t from, std::size_t to, const char* where) {
  for (std::size_t k = from; k < to; ++k)
    if (b.p[k] != byte_at(b.tag, k))
      bench::fail("%s: buffer %u (len %zu) wrong byte at %zu", where, b.tag, b.len, k);
}

struct Result {
  std::uint64_t reallocs = 0, bytes = 0;
};

Result work(unsigned id, std::uint64_t lifetimes, std::size_t nbuf, std::size_t max_size) {
  bench::Rng rng(id * 7 + 3);
  std::vector<Buf> bufs(nbuf < lifetimes ? nbuf : lifetimes);
  Result r;
  std::uint64_t started = 0, finished = 0;
  std::uint32_t tag = id << 24;
  auto start = [&](Buf& b) {
    b = Buf{};
    b.tag = ++tag;
    b.vector_like = (tag & 1) != 0;
    b.target = rng.log_range(64, max_size);
    ++started;
  };
  for (Buf& b : bufs) start(b);
  while (finished < lifetimes) {
    for (Buf& b : bufs) {
      if (!b.target) continue;  // slot retired
      std::size_t want = b.len + (b.vector_like ? b.len + 16 : rng.range(1, 128));
      if (want > b.target) want = b.target;
      if (want > b.cap) {
        std::size_t cap = b.vector_like ? (b.cap ? 2 * b.cap : 16) : want;
        if (cap < want) cap = want;
        auto* q = static_cast<unsigned char*>(std::realloc(b.p, cap));
        if (!q) bench::out_of_memory(cap);
        b.p = q;
        b.cap = cap;
        ++r.reallocs;
        if (b.len) {  // the old contents must have moved along
          verify(b, 0, b.len < 16 ? b.len : 16, "realloc_growth (head)");
          verify(b, b.len - 1, b.len, "realloc_growth (tail)");
        }
      }
      for (std::size_t k = b.len; k < want; ++k) b.p[k] = byte_at(b.tag, k);
      b.len = want;
      if (b.len == b.target) {
        verify(b, 0, b.len, "realloc_growth (final)");
        r.bytes += b.len;
        std::free(b.p);
        ++finished;
        if (started < lifetimes)
          start(b);
        else
          b.target = 0;
      }
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv, "Buffers grown by realloc (string-like appends, vector-like doubling).",
      {{"lifetimes", 250000, 1, 1ull << 40, "buffers grown to their final size per thread"},
       {"threads", 1, 1, 1024, "threads (each with its own buffers)"},
       {"max_size", 16384, 64, 1u << 30, "largest final buffer size in bytes"},
       {"buffers", 1000, 1, 1u << 24, "buffers growing at the same time per thread"}});
  const std::uint64_t lifetimes = a[0], threads = a[1], max_size = a[2], nbuf = a[3];
  std::vector<Result> results(threads);
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back(
        [&, t] { results[t] = work(static_cast<unsigned>(t), lifetimes, nbuf, max_size); });
  for (auto& t : ts) t.join();
  const double secs = timer.seconds();
  std::uint64_t reallocs = 0, bytes = 0;
  for (const Result& r : results) reallocs += r.reallocs, bytes += r.bytes;
  bench::summary("threads=%" PRIu64 " buffers=%" PRIu64 " reallocs=%" PRIu64 " bytes=%" PRIu64
                 " time_s=%.3f reallocs_per_s=%.0f",
                 threads, lifetimes * threads, reallocs, bytes, secs,
                 static_cast<double>(reallocs) / secs);
  return 0;
}
