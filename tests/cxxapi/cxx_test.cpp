// The C++ interface (arenalloc.hpp): arenalloc::allocator<T> with the standard containers,
// arenalloc::Heap (RAII, move, reset) and arenalloc::heap_resource under std::pmr.
#include <arenalloc/arenalloc.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "cxxapi_util.h"

using namespace cxxapi;

namespace {

template <class T>
using A = arenalloc::allocator<T>;
using AString = std::basic_string<char, std::char_traits<char>, A<char>>;

struct alignas(64) Line64 {
  std::uint64_t v[8];
};
struct alignas(4096) Page4K {
  std::uint64_t first;
  char rest[4096 - 8];
};

// ---- arenalloc::allocator ----

static_assert(std::is_same_v<std::allocator_traits<A<int>>::is_always_equal, std::true_type>);
static_assert(std::is_nothrow_default_constructible_v<A<int>>);

TEST(Allocator, Vector) {
  std::vector<int, A<int>> v;
  for (int i = 0; i < 100000; ++i) v.push_back(i);
  long long sum = 0;
  for (int x : v) sum += x;
  EXPECT_EQ(sum, 100000LL * 99999 / 2);
  v.shrink_to_fit();
  v.resize(10);
  v.shrink_to_fit();
  EXPECT_EQ(v.size(), 10u);
  std::vector<int, A<int>> w = v;  // copy
  EXPECT_EQ(w, v);
  std::vector<int, A<int>> m = std::move(w);
  EXPECT_EQ(m.size(), 10u);
}

TEST(Allocator, DequeListOfStrings) {
  std::deque<AString, A<AString>> d;
  std::list<AString, A<AString>> l;
  for (int i = 0; i < 20000; ++i) {
    AString s(static_cast<std::size_t>(i % 100), static_cast<char>('a' + i % 26));
    if (i % 2)
      d.push_front(s);
    else
      d.push_back(s);
    l.push_back(std::move(s));
  }
  std::size_t dl = 0, ll = 0;
  for (const auto& s : d) dl += s.size();
  for (const auto& s : l) ll += s.size();
  EXPECT_EQ(dl, ll);
  l.sort();
  EXPECT_TRUE(l.front().empty());
  while (!d.empty()) d.pop_front();
}

TEST(Allocator, MapAndUnorderedMap) {
  std::map<int, AString, std::less<int>, A<std::pair<const int, AString>>> m;
  std::unordered_map<std::uint64_t, int, std::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
                     A<std::pair<const std::uint64_t, int>>>
      u;
  for (int i = 0; i < 50000; ++i) {
    m.emplace(i, AString(40, 'x'));
    u[static_cast<std::uint64_t>(i) * 2654435761u] = i;
  }
  for (int i = 0; i < 50000; i += 3) m.erase(i);
  EXPECT_EQ(m.size(), 50000u - 16667u);
  for (int i = 0; i < 50000; i += 1000)
    EXPECT_EQ(u.at(static_cast<std::uint64_t>(i) * 2654435761u), i);
  u.rehash(1 << 18);
  EXPECT_EQ(u.size(), 50000u);
}

TEST(Allocator, BasicString) {
  AString s;
  for (int i = 0; i < 100000; ++i) s += static_cast<char>('0' + i % 10);
  EXPECT_EQ(s.size(), 100000u);
  EXPECT_EQ(s.substr(0, 12), "012345678901");
  AString t = s + s;
  EXPECT_EQ(t.size(), 200000u);
  t.resize(3);
  t.shrink_to_fit();
  EXPECT_EQ(t, "012");
}

TEST(Allocator, OverAlignedTypes) {
  std::vector<Line64, A<Line64>> v(1000);
  EXPECT_TRUE(IsAligned(v.data(), 64));
  std::list<Line64, A<Line64>> l;
  std::map<int, Line64, std::less<int>, A<std::pair<const int, Line64>>> m;
  for (int i = 0; i < 2000; ++i) {
    l.push_back(Line64{{static_cast<std::uint64_t>(i)}});
    m[i].v[0] = static_cast<std::uint64_t>(i);
  }
  for (const auto& x : l) EXPECT_TRUE(IsAligned(&x, 64));
  for (const auto& [k, x] : m) EXPECT_TRUE(IsAligned(&x, 64));
  std::vector<Page4K, A<Page4K>> pages(5);
  EXPECT_TRUE(IsAligned(pages.data(), 4096));
  for (int i = 0; i < 5; ++i) pages[i].first = static_cast<std::uint64_t>(i);
  pages.resize(50);
  EXPECT_TRUE(IsAligned(pages.data(), 4096));
  EXPECT_EQ(pages[4].first, 4u);
}

TEST(Allocator, DirectAllocateDeallocate) {
  A<Line64> a;
  Line64* p = a.allocate(3);
  EXPECT_TRUE(IsAligned(p, 64));
  EXPECT_GE(arenalloc_usable_size(p), 3 * sizeof(Line64));
  a.deallocate(p, 3);
  A<char> c(a);  // rebinding copy
  EXPECT_TRUE(a == c);
  EXPECT_FALSE(a != c);
  char* s = c.allocate(0);  // zero elements: a unique pointer, freed as zero bytes
  EXPECT_NE(s, nullptr);
  c.deallocate(s, 0);
}

TEST(Allocator, TooManyElementsThrowBadArrayNewLength) {
  A<int> a;
  EXPECT_THROW((void)a.allocate(Opaque(SIZE_MAX / sizeof(int) + 1)), std::bad_array_new_length);
  EXPECT_THROW((void)a.allocate(Opaque(SIZE_MAX)), std::bad_array_new_length);
  A<Line64> b;
  EXPECT_THROW((void)b.allocate(Opaque(SIZE_MAX / 64 + 1)), std::bad_array_new_length);
  // Representable but impossible: bad_alloc (bad_array_new_length is a bad_alloc too).
  try {
    (void)a.allocate(Opaque(SIZE_MAX / sizeof(int) / 2));
    ADD_FAILURE() << "no exception";
  } catch (const std::bad_array_new_length&) {
    ADD_FAILURE() << "bad_array_new_length for a size that does not overflow";
  } catch (const std::bad_alloc&) {
  }
  // Through a container: its own length check or bad_alloc, never a crash.
  std::vector<int, A<int>> v;
  EXPECT_ANY_THROW(v.reserve(Opaque(SIZE_MAX / 2)));
}

TEST(Allocator, SizedDeallocationIsExact) {
  // The allocator frees with the size and alignment it allocated: no report, ever.
  OnErrorScope warn("warn");
  StderrCapture err;
  {
    std::vector<Line64, A<Line64>> v;
    for (int i = 0; i < 5000; ++i) v.emplace_back();
    std::vector<AString, A<AString>> strings;
    for (int i = 0; i < 5000; ++i) strings.emplace_back(static_cast<std::size_t>(i % 300), 'q');
    std::vector<int, A<int>> big(1 << 20);  // large block
    big.resize(3 << 20);                    // moves: freed with the old size
  }
  EXPECT_EQ(err.Take().find("size mismatch"), std::string::npos);
}

// ---- arenalloc::Heap ----

TEST(Heap, AllocateAlignResetDestroy) {
  arenalloc::Heap h;
  ASSERT_NE(h.get(), nullptr);
  void* p = h.allocate(100);
  void* q = h.allocate(100, 4096);
  void* r = h.allocate(10, 1);
  EXPECT_TRUE(IsAligned(p, alignof(std::max_align_t)));
  EXPECT_TRUE(IsAligned(q, 4096));
  EXPECT_NE(r, nullptr);
  h.deallocate(p);
  h.reset();  // q and r are gone; the heap stays usable
  void* s = h.allocate(1000, 64);
  EXPECT_TRUE(IsAligned(s, 64));
  std::memset(s, 1, 1000);
  EXPECT_THROW((void)h.allocate(Opaque(SIZE_MAX / 2)), std::bad_alloc);
}

TEST(Heap, DestructorReturnsMemory) {
  const std::size_t rss0 = RssBytes();
  std::size_t rss_full = 0;
  {
    arenalloc::Heap h;
    for (int i = 0; i < 64 * 1024; ++i) std::memset(h.allocate(1024), 1, 1024);
    rss_full = RssBytes();
    EXPECT_GE(rss_full, rss0 + 60 * MiB);
  }
  EXPECT_LE(RssBytes() + 56 * MiB, rss_full);
}

TEST(Heap, MoveConstructAndAssign) {
  arenalloc::Heap a;
  arenalloc_heap_t* ha = a.get();
  void* p = a.allocate(64);
  std::memset(p, 3, 64);

  arenalloc::Heap b(std::move(a));
  EXPECT_EQ(a.get(), nullptr);  // NOLINT: moved-from is empty
  EXPECT_EQ(b.get(), ha);
  EXPECT_EQ(static_cast<unsigned char*>(p)[63], 3);  // blocks survive the move
  b.deallocate(p);

  arenalloc::Heap c;
  arenalloc_heap_t* hc = c.get();
  c = std::move(b);  // c's own heap is destroyed, it takes over b's
  EXPECT_EQ(c.get(), ha);
  EXPECT_EQ(b.get(), nullptr);  // NOLINT
  {
    OnErrorScope warn("warn");
    StderrCapture err;
    errno = 0;
    EXPECT_EQ(arenalloc_heap_malloc(hc, 8), nullptr) << "the replaced heap was destroyed";
    EXPECT_EQ(errno, EINVAL);
    EXPECT_NE(err.Take().find("invalid heap handle"), std::string::npos);
  }
  auto& self = c;
  c = std::move(self);  // self-move leaves it alone
  EXPECT_EQ(c.get(), ha);
  EXPECT_NE(c.allocate(8), nullptr);
}

TEST(Heap, ResetIsRepeatable) {
  arenalloc::Heap h;
  for (int round = 0; round < 20; ++round) {
    std::vector<unsigned char*> v;
    for (int i = 0; i < 5000; ++i) {
      auto* p = static_cast<unsigned char*>(h.allocate(static_cast<std::size_t>(16 + i % 500)));
      p[0] = static_cast<unsigned char>(round);
      v.push_back(p);
    }
    for (auto* p : v) ASSERT_EQ(p[0], round);
    h.reset();
  }
}

// ---- arenalloc::heap_resource ----

TEST(HeapResource, PmrContainers) {
  arenalloc::heap_resource res;
  {
    std::pmr::vector<int> v(&res);
    std::pmr::map<int, std::pmr::string> m(&res);
    std::pmr::unordered_map<int, std::pmr::string> u(&res);
    for (int i = 0; i < 20000; ++i) {
      v.push_back(i);
      m.emplace(i, std::pmr::string(static_cast<std::size_t>(i % 64), 'm'));
      u.emplace(i, "a string long enough to need its own allocation " + std::to_string(i));
    }
    EXPECT_EQ(v.get_allocator().resource(), &res);
    EXPECT_EQ(m.at(63).get_allocator().resource(), &res) << "uses-allocator construction";
    EXPECT_EQ(m.at(63).size(), 63u);
    EXPECT_EQ(u.at(19999).substr(u.at(19999).size() - 5), "19999");
  }
  res.release();
  std::pmr::vector<int> again(&res);  // usable after release
  again.assign(1000, 7);
  EXPECT_EQ(again[999], 7);
}

TEST(HeapResource, OverAlignedAndEquality) {
  arenalloc::heap_resource a, b;
  void* p = a.allocate(100, 256);
  void* q = a.allocate(5000, 4096);
  EXPECT_TRUE(IsAligned(p, 256));
  EXPECT_TRUE(IsAligned(q, 4096));
  a.deallocate(p, 100, 256);
  a.deallocate(q, 5000, 4096);
  EXPECT_TRUE(a.is_equal(a));
  EXPECT_FALSE(a.is_equal(b));
  EXPECT_TRUE(a == a);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.heap().get(), b.heap().get());
  EXPECT_THROW((void)a.allocate(Opaque(SIZE_MAX / 2)), std::bad_alloc);
}

TEST(HeapResource, MonotonicBufferChained) {
  arenalloc::heap_resource res;
  for (int round = 0; round < 5; ++round) {
    std::pmr::monotonic_buffer_resource mono(4096, &res);
    std::pmr::vector<std::pmr::string> v(&mono);
    for (int i = 0; i < 50000; ++i)
      v.emplace_back(static_cast<std::size_t>(20 + i % 40), static_cast<char>('a' + i % 26));
    std::size_t total = 0;
    for (const auto& s : v) total += s.size();
    EXPECT_GT(total, 50000u * 20);
    EXPECT_EQ(mono.upstream_resource(), &res);
  }  // mono gives its buffers back to res on destruction
  res.release();
}

TEST(HeapResource, PoolResourcesChained) {
  arenalloc::heap_resource res;
  {
    std::pmr::unsynchronized_pool_resource pool(&res);
    std::pmr::list<std::pmr::string> l(&pool);
    std::pmr::map<int, int> m(&pool);
    for (int i = 0; i < 30000; ++i) {
      l.emplace_back(static_cast<std::size_t>(i % 100), 'p');
      m[i] = i;
    }
    for (int i = 0; i < 30000; i += 2) m.erase(i);
    l.clear();
    EXPECT_EQ(m.size(), 15000u);
    pool.release();
  }
  {
    std::pmr::synchronized_pool_resource pool(&res);
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        std::pmr::map<int, std::pmr::string> m(&pool);
        for (int i = 0; i < 10000; ++i)
          m.emplace(i, std::pmr::string(static_cast<std::size_t>(t + i % 50), 'z'));
        for (int i = 0; i < 10000; i += 97)
          if (m.at(i).size() != static_cast<std::size_t>(t + i % 50)) bad.fetch_add(1);
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
  }
}

TEST(HeapResource, SharedByFourThreads) {
  arenalloc::heap_resource res;
  constexpr int kThreads = 4;
  std::atomic<int> bad{0};
  // Containers built in one thread are destroyed in another (deallocation from another thread).
  std::vector<std::pmr::vector<std::pmr::string>*> built(kThreads, nullptr);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto* v = new std::pmr::vector<std::pmr::string>(&res);
        std::pmr::map<std::pmr::string, int> index(&res);
        for (int i = 0; i < 20000; ++i) {
          std::pmr::string s(&res);
          s = "key-" + std::to_string(t) + "-" + std::to_string(i) +
              std::string(static_cast<std::size_t>(i % 30), '.');
          index.emplace(s, i);
          v->push_back(std::move(s));
        }
        for (int i = 0; i < 20000; i += 101)
          if (index.at((*v)[static_cast<std::size_t>(i)]) != i) bad.fetch_add(1);
        built[t] = v;
      });
    for (auto& th : threads) th.join();
    threads.clear();
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto* v = built[(t + 1) % kThreads];
        if (v->size() != 20000u) bad.fetch_add(1);
        delete v;  // its strings are freed by a thread that did not allocate them
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0) << "round " << round;
  }
}

TEST(HeapResource, ReleaseReturnsMemory) {
  arenalloc::heap_resource res;
  std::size_t rss_full = 0;
  {
    std::pmr::vector<std::pmr::string> v(&res);
    for (int i = 0; i < 200000; ++i) v.emplace_back(300, 's');  // ~64 MiB of strings
    rss_full = RssBytes();
  }
  // The strings were freed one by one: their pages may still be resident; after release the
  // unused memory goes back to the system within the purge delay (500 ms by default), even
  // if the program does nothing (the background purger).
  res.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::size_t rss_after = RssBytes();
  EXPECT_LE(rss_after + 48 * MiB, rss_full)
      << rss_full / KiB << " KiB -> " << rss_after / KiB << " KiB";
}

}  // namespace
