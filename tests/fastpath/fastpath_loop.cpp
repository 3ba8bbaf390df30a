// The fast paths, for instruction counting under callgrind (tests/fastpath and
// docs/PERFORMANCE.md): `fastpath_loop MODE N` runs N iterations of one pattern. Counting two
// values of N and taking the difference cancels start-up. Not linked to any allocator: run it
// with LD_PRELOAD.
//   pair    malloc(32) + free
//   mixed   a ring of 64 live blocks of sizes 16..1024; each step frees the oldest and allocates
//   medium  malloc + free of 1.5-1.9 KiB (eight sizes in turn, above the direct-table sizes)
//   aligned aligned_alloc(64, 192) + free
//   sized   operator new(48) + sized operator delete(p, 48)
//   null    free(NULL)
//   usable  malloc_usable_size of one 32-byte block
//   calloc  calloc(1, 32) + free
//   large   malloc(200000) + free (a large block, which the heap keeps for the next round)
#include <malloc.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

// n rounds of a block from allocate(i), stored to `sink` (so the pair is not optimised away),
// then freed.
template <class Allocate>
[[gnu::always_inline]] inline void pairs(long n, void* volatile& sink, Allocate allocate) {
  for (long i = 0; i < n; ++i) {
    void* p = allocate(i);
    sink = p;
    std::free(p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(
        stderr,
        "usage: fastpath_loop pair|mixed|medium|aligned|sized|null|usable|calloc|large N\n");
    return 2;
  }
  const long n = std::atol(argv[2]);
  void* volatile sink = nullptr;
  if (std::strcmp(argv[1], "pair") == 0) {
    pairs(n, sink, [](long) { return std::malloc(32); });
  } else if (std::strcmp(argv[1], "mixed") == 0) {
    void* ring[64] = {};
    unsigned x = 12345;
    for (long i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      size_t size = 16 + ((x >> 8) % 1009);
      void*& slot = ring[i & 63];
      std::free(slot);
      slot = std::malloc(size);
      sink = slot;
    }
    for (void* p : ring) std::free(p);
  } else if (std::strcmp(argv[1], "medium") == 0) {
    pairs(n, sink, [](long i) { return std::malloc(1500 + static_cast<size_t>(i & 7) * 64); });
  } else if (std::strcmp(argv[1], "aligned") == 0) {
    pairs(n, sink, [](long) { return std::aligned_alloc(64, 192); });
  } else if (std::strcmp(argv[1], "sized") == 0) {
    for (long i = 0; i < n; ++i) {
      void* p = ::operator new(48);
      sink = p;
      ::operator delete(p, 48);
    }
  } else if (std::strcmp(argv[1], "null") == 0) {
    void* volatile null = nullptr;
    for (long i = 0; i < n; ++i) std::free(null);
  } else if (std::strcmp(argv[1], "calloc") == 0) {
    pairs(n, sink, [](long) { return std::calloc(1, 32); });
  } else if (std::strcmp(argv[1], "large") == 0) {
    pairs(n, sink, [](long) { return std::malloc(200000); });
  } else if (std::strcmp(argv[1], "usable") == 0) {
    void* p = std::malloc(32);
    size_t total = 0;
    for (long i = 0; i < n; ++i) {
      total += malloc_usable_size(p);
      sink = p;
    }
    std::free(p);
    if (total == 1) std::puts("");  // keeps the sum live
  } else {
    std::fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  (void)sink;
  return 0;
}
