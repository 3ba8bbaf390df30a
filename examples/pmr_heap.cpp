// std::pmr containers over an arenalloc private heap (include/arenalloc/arenalloc.hpp).
//
//   c++ -std=c++20 pmr_heap.cpp $(pkg-config --cflags --libs arenalloc) -pthread -o pmr_heap
//
// Four threads each build a word index (pmr::map of pmr::string to pmr::vector) over one shared
// arenalloc::heap_resource, and scratch strings in a monotonic_buffer_resource chained over it.
// Everything is dropped at once by heap_resource::release(): no per-node free. Prints a digest
// per round and "pmr_heap: ok" when every thread's result matches a recomputation.
#include <arenalloc/arenalloc.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory_resource>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 3;
constexpr int kWords = 20000;

std::uint64_t mix(std::uint64_t h, std::uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

// A deterministic pseudo-word for (thread, i).
template <class String>
void make_word(String& s, int thread, int i) {
  std::uint64_t x =
      (static_cast<std::uint64_t>(thread) << 32 | static_cast<unsigned>(i)) * 0x9E3779B97F4A7C15ull;
  s.clear();
  int len = 3 + static_cast<int>(x % 29);  // some longer than the small-string buffer
  for (int k = 0; k < len; ++k) s.push_back(static_cast<char>('a' + (x >> (k % 58)) % 7));
}

// One thread's work: an index of word -> positions, all nodes and strings from `upstream`.
std::uint64_t build_index(std::pmr::memory_resource* upstream, int thread) {
  // Scratch space: bump allocation over the heap, dropped when `scratch` goes.
  std::pmr::monotonic_buffer_resource scratch(64 * 1024, upstream);
  std::pmr::string word(&scratch);

  std::pmr::map<std::pmr::string, std::pmr::vector<int>> index(upstream);
  for (int i = 0; i < kWords; ++i) {
    make_word(word, thread, i);
    index[std::pmr::string(word, upstream)].push_back(i);
  }
  std::uint64_t h = index.size();
  for (const auto& [w, positions] : index) {
    for (char c : w) h = mix(h, static_cast<unsigned char>(c));
    for (int p : positions) h = mix(h, static_cast<std::uint64_t>(p));
  }
  return h;
}

// The same computation with std::allocator, to check the result.
std::uint64_t build_index_reference(int thread) {
  std::string word;
  std::map<std::string, std::vector<int>> index;
  for (int i = 0; i < kWords; ++i) {
    make_word(word, thread, i);
    index[word].push_back(i);
  }
  std::uint64_t h = index.size();
  for (const auto& [w, positions] : index) {
    for (char c : w) h = mix(h, static_cast<unsigned char>(c));
    for (int p : positions) h = mix(h, static_cast<std::uint64_t>(p));
  }
  return h;
}

}  // namespace

int main() {
  arenalloc::heap_resource heap;  // one private heap, shared by the threads (calls are locked)
  std::uint64_t expected = 0;
  for (int t = 0; t < kThreads; ++t) expected = mix(expected, build_index_reference(t));

  bool ok = true;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::uint64_t> results(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] { results[t] = build_index(&heap, t); });
    for (auto& th : threads) th.join();

    std::uint64_t digest = 0;
    for (std::uint64_t r : results) digest = mix(digest, r);
    std::printf("round %d: %d threads, digest %016llx %s\n", round, kThreads,
                static_cast<unsigned long long>(digest),
                digest == expected ? "(matches)" : "(WRONG)");
    ok = ok && digest == expected;

    // Every container is gone: give the heap's memory back in one call (the heap stays usable).
    heap.release();
  }
  std::printf("pmr_heap: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
