// Programs run under valgrind by the diagnostics tests, linked to libarenalloc-valgrind.so:
// `diag_vg_child leak | read_freed | clean`.
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arenalloc/arenalloc.h"

namespace {

// Allocates 100 bytes and forgets them: definitely lost.
[[gnu::noinline]] void Leak() {
  auto* volatile p = static_cast<char*>(malloc(100));
  std::memset(p, 1, 100);
}

// Clobbers the stack area the leaked pointer may have been left in.
[[gnu::noinline]] void ScrubStack() {
  volatile char buf[4096];
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = 0;
}

int ReadFreed() {
  auto* p = static_cast<char*>(malloc(64));
  std::memset(p, 7, 64);
  free(p);
  int v = reinterpret_cast<volatile char*>(p)[10];
  return v == 99 ? 1 : 0;
}

int Clean() {
  // C++ new and delete, arrays, strings and vectors.
  {
    std::vector<std::string> v;
    for (int i = 0; i < 200; ++i) v.push_back(std::string(static_cast<size_t>(i) * 3, 'x'));
    auto u = std::make_unique<int[]>(1000);
    u[999] = 1;
    auto* d = new double(1.5);
    delete d;
  }
  // realloc growth, with the contents checked.
  char* r = nullptr;
  for (size_t n = 1; n <= 300000; n = n * 3 / 2 + 1) {
    char* q = static_cast<char*>(realloc(r, n));
    if (q == nullptr) return 1;
    q[n - 1] = static_cast<char>(n);
    r = q;
  }
  free(r);
  // calloc: zeroed, so reading it is defined.
  auto* c = static_cast<int*>(calloc(1000, sizeof(int)));
  int sum = 0;
  for (int i = 0; i < 1000; ++i) sum += c[i];
  free(c);
  if (sum != 0) return 1;
  // posix_memalign, aligned_alloc, memalign.
  void* a = nullptr;
  if (posix_memalign(&a, 4096, 1000) != 0) return 1;
  std::memset(a, 1, 1000);
  free(a);
  a = aligned_alloc(64, 640);
  std::memset(a, 1, 640);
  free(a);
  // Large and huge blocks.
  for (size_t n : {size_t(200000), size_t(40) << 20}) {
    auto* b = static_cast<char*>(malloc(n));
    b[0] = b[n - 1] = 1;
    free(b);
  }
  // A private heap, reset, reused and destroyed.
  arenalloc_heap_t* h = arenalloc_heap_create();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      auto* p = static_cast<char*>(arenalloc_heap_malloc(h, 32 + static_cast<size_t>(i)));
      std::memset(p, 2, 32);
    }
    arenalloc_heap_reset(h);
  }
  auto* p = static_cast<char*>(arenalloc_heap_malloc(h, 64));
  std::memset(p, 3, 64);
  arenalloc_heap_free(h, p);
  arenalloc_heap_destroy(h);
  std::printf("clean done\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string s = argc >= 2 ? argv[1] : "";
  if (s == "leak") {
    Leak();
    ScrubStack();
    return 0;
  }
  if (s == "read_freed") return ReadFreed();
  if (s == "clean") return Clean();
  std::fprintf(stderr, "usage: diag_vg_child leak | read_freed | clean\n");
  return 2;
}
