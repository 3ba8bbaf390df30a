// A downstream program: std::pmr containers over an arenalloc private heap from several threads,
// and arenalloc's C API. Prints "consumer: ... OK" and exits 0 when every check passes.
#include <arenalloc/arenalloc.h>
#include <dlfcn.h>
#include <arenalloc/arenalloc.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory_resource>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++g_failures;
  }
}

std::uint64_t work(std::pmr::memory_resource* mr, int t) {
  std::pmr::map<int, std::pmr::string> m(mr);
  std::pmr::vector<std::pmr::string> v(mr);
  for (int i = 0; i < 5000; ++i) {
    std::pmr::string s(mr);
    s.assign(static_cast<std::size_t>(1 + (i * 7 + t) % 90), static_cast<char>('a' + (i + t) % 26));
    m.emplace(i, s);
    v.push_back(std::move(s));
  }
  std::uint64_t h = 0;
  for (const auto& [k, s] : m) h = h * 31 + static_cast<std::uint64_t>(k) + s.size() + s[0];
  for (const auto& s : v) h = h * 17 + s.size();
  return h;
}

}  // namespace

int main() {
  // The malloc this program calls is arenalloc's (shared: libarenalloc.so; static: the program).
  Dl_info mi{}, ai{};
  check(dladdr(reinterpret_cast<void*>(&std::malloc), &mi) != 0 &&
            dladdr(reinterpret_cast<void*>(&arenalloc_version), &ai) != 0 &&
            std::strcmp(mi.dli_fname, ai.dli_fname) == 0,
        "malloc and arenalloc_version come from the same object");
  void* p = std::malloc(100);
  check(arenalloc_usable_size(p) == arenalloc_good_size(100, 0),
        "malloc'ed block known to arenalloc");
  std::free(p);

  // C API: sized/flags calls and a private heap.
  void* a = arenalloc_alloc(1000, ARENALLOC_ALIGN(256) | ARENALLOC_ZERO);
  check(a != nullptr && reinterpret_cast<std::uintptr_t>(a) % 256 == 0, "aligned allocation");
  arenalloc_free_sized(a, 1000, ARENALLOC_ALIGN(256));
  errno = 0;
  check(arenalloc_alloc(1, 0x1000) == nullptr && errno == EINVAL, "bad flags are EINVAL");
  arenalloc_heap_t* h = arenalloc_heap_create();
  check(h != nullptr, "heap_create");
  for (int i = 0; i < 1000; ++i) check(arenalloc_heap_malloc(h, 64) != nullptr, "heap_malloc");
  arenalloc_heap_reset(h);
  arenalloc_heap_destroy(h);

  // C++: pmr containers over one private heap from four threads, twice (release in between).
  std::uint64_t expected[4];
  for (int t = 0; t < 4; ++t) expected[t] = work(std::pmr::new_delete_resource(), t);
  arenalloc::heap_resource heap;
  for (int round = 0; round < 2; ++round) {
    std::uint64_t got[4] = {};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { got[t] = work(&heap, t); });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) check(got[t] == expected[t], "pmr results match");
    heap.release();
  }

  std::printf("consumer: mode=%s link=%s arenalloc=%s malloc_from=%s %s\n", CONSUMER_MODE,
              CONSUMER_LINK, arenalloc_version(), mi.dli_fname ? mi.dli_fname : "?",
              g_failures == 0 ? "OK" : "FAILED");
  return g_failures == 0 ? 0 : 1;
}
