// Every replaceable operator new / delete, bad_alloc and the new-handler.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

using namespace apitest;

namespace {

constexpr size_t kSizes[] = {
    0, 1, 8, 15, 16, 24, 100, 512, 4095, 65536, 300000, 3 << 20, (17 << 20) + 1};

void Touch(void* p, size_t n, uint64_t seed) {
  Fill(p, n, seed);
  ASSERT_EQ(FirstMismatch(p, n, seed), n);
  ASSERT_GE(malloc_usable_size(p), n);
}

// Alignment: an object of size n without new-extended alignment has an
// alignment dividing n, so 16 is only guaranteed for multiples of 16; arenalloc
// promises 8 for everything else.
TEST(NewDelete, PlainAndArray) {
  for (size_t n : kSizes) {
    void* p = ::operator new(n);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(IsAligned(p, n % 16 == 0 && n > 0 ? 16 : 8)) << n;
    Touch(p, n, 1);
    ::operator delete(p);
    void* a = ::operator new[](n);
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(IsAligned(a, n % 16 == 0 && n > 0 ? 16 : 8)) << n;
    Touch(a, n, 2);
    ::operator delete[](a);
  }
}

TEST(NewDelete, Sized) {
  for (size_t n : kSizes) {
    void* p = ::operator new(n);
    ASSERT_NE(p, nullptr);
    Touch(p, n, 3);
    ::operator delete(p, n);
    void* a = ::operator new[](n);
    ASSERT_NE(a, nullptr);
    Touch(a, n, 4);
    ::operator delete[](a, n);
  }
}

TEST(NewDelete, Nothrow) {
  for (size_t n : kSizes) {
    void* p = ::operator new(n, std::nothrow);
    ASSERT_NE(p, nullptr);
    Touch(p, n, 5);
    ::operator delete(p, std::nothrow);
    void* a = ::operator new[](n, std::nothrow);
    ASSERT_NE(a, nullptr);
    Touch(a, n, 6);
    ::operator delete[](a, std::nothrow);
  }
}

TEST(NewDelete, AlignedAllForms) {
  for (size_t al = 1; al <= (size_t(2) << 20); al <<= 1) {
    const std::align_val_t a{al};
    for (size_t n : {size_t(1), size_t(8), size_t(100), al, al + 1, 3 * al, size_t(1) << 20}) {
      void* p = ::operator new(n, a);
      ASSERT_TRUE(IsAligned(p, al)) << "new(" << n << ", align " << al << ")";
      Touch(p, n, 7);
      ::operator delete(p, a);

      p = ::operator new[](n, a);
      ASSERT_TRUE(IsAligned(p, al)) << "new[](" << n << ", align " << al << ")";
      Touch(p, n, 8);
      ::operator delete[](p, a);

      p = ::operator new(n, a);
      ASSERT_TRUE(IsAligned(p, al));
      Touch(p, n, 9);
      ::operator delete(p, n, a);

      p = ::operator new[](n, a);
      ASSERT_TRUE(IsAligned(p, al));
      Touch(p, n, 10);
      ::operator delete[](p, n, a);

      p = ::operator new(n, a, std::nothrow);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(IsAligned(p, al));
      Touch(p, n, 11);
      ::operator delete(p, a, std::nothrow);

      p = ::operator new[](n, a, std::nothrow);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(IsAligned(p, al));
      Touch(p, n, 12);
      ::operator delete[](p, a, std::nothrow);
    }
  }
}

TEST(NewDelete, DeleteNullIsNoop) {
  ::operator delete(nullptr);
  ::operator delete[](nullptr);
  ::operator delete(nullptr, std::nothrow);
  ::operator delete[](nullptr, std::nothrow);
  ::operator delete (nullptr, std::align_val_t{64});
  ::operator delete[](nullptr, std::align_val_t{64});
  ::operator delete (nullptr, std::align_val_t{64}, std::nothrow);
  ::operator delete[](nullptr, std::align_val_t{64}, std::nothrow);
  ::operator delete(nullptr, size_t(0));
  ::operator delete (nullptr, size_t(16), std::align_val_t{64});
  ::operator delete[](nullptr, size_t(16), std::align_val_t{64});
}

// operator new and malloc share one heap: a block from new can be inspected
// with malloc_usable_size (done above) and new/delete interleave with malloc.
TEST(NewDelete, NewExpressionsAndContainers) {
  struct alignas(128) Over {
    char c[200];
  };
  std::vector<std::unique_ptr<Over>> overs;
  for (int i = 0; i < 500; ++i) {
    overs.push_back(std::make_unique<Over>());
    ASSERT_TRUE(IsAligned(overs.back().get(), 128));
    std::memset(overs.back()->c, i, sizeof overs.back()->c);
  }
  auto* arr = new Over[37];
  ASSERT_TRUE(IsAligned(arr, 128));
  delete[] arr;

  std::map<int, std::string> m;
  std::unordered_map<std::string, std::vector<int>> um;
  for (int i = 0; i < 20000; ++i) {
    m[i * 7 % 10007] = std::string(size_t(i % 100), char('a' + i % 26));
    um[std::to_string(i % 3000)].push_back(i);
    void* p = std::malloc(size_t(i % 500) + 1);
    ASSERT_NE(p, nullptr);
    std::free(p);
  }
  size_t total = 0;
  for (auto& [k, v] : um) total += v.size();
  EXPECT_EQ(total, 20000u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(overs[i]->c[199], char(i));
}

// Sized and aligned deletes really release memory.
TEST(NewDelete, DeletedMemoryIsReused) {
  struct Form {
    const char* name;
    void* (*alloc)(size_t);
    void (*release)(void*, size_t);
  };
  const Form forms[] = {
      {"new/delete", [](size_t n) { return ::operator new(n); },
       [](void* p, size_t) { ::operator delete(p); }},
      {"new/sized delete", [](size_t n) { return ::operator new(n); },
       [](void* p, size_t n) { ::operator delete(p, n); }},
      {"new[]/sized delete[]", [](size_t n) { return ::operator new[](n); },
       [](void* p, size_t n) { ::operator delete[](p, n); }},
      {"aligned new/delete", [](size_t n) { return ::operator new (n, std::align_val_t{512}); },
       [](void* p, size_t) { ::operator delete (p, std::align_val_t{512}); }},
      {"aligned new/sized aligned delete",
       [](size_t n) { return ::operator new (n, std::align_val_t{4096}); },
       [](void* p, size_t n) { ::operator delete (p, n, std::align_val_t{4096}); }},
      {"aligned new[]/sized aligned delete[]",
       [](size_t n) { return ::operator new[](n, std::align_val_t{64}); },
       [](void* p, size_t n) { ::operator delete[](p, n, std::align_val_t{64}); }},
  };
  for (const Form& f : forms) {
    for (size_t n : {size_t(40), size_t(2000), size_t(200000)}) {
      size_t before = RssBytes();
      int iters = int((size_t(1) << 30) / n);
      if (iters > 200000) iters = 200000;
      for (int i = 0; i < iters; ++i) {
        auto* p = static_cast<unsigned char*>(f.alloc(n));
        for (size_t off = 0; off < n; off += 4096) p[off] = 1;
        p[n - 1] = 2;
        Escape(p);
        f.release(p, n);
      }
      size_t after = RssBytes();
      EXPECT_LT(after, before + (64 << 20))
          << f.name << " size " << n << ": RSS " << before << " -> " << after;
    }
  }
}

size_t HugeSize() {
  return Opaque(SIZE_MAX / 2);
}

// Calls an allocation function and keeps its result (it is expected to
// throw), so that EXPECT_THROW has a statement without a discarded result.
void* volatile g_sink = nullptr;
template <class F>
void NewAndDelete(F f) {
  g_sink = f();
}

TEST(NewDelete, ImpossibleSizesThrowBadAlloc) {
  EXPECT_THROW(NewAndDelete([] { return ::operator new(HugeSize()); }), std::bad_alloc);
  EXPECT_THROW(NewAndDelete([] { return ::operator new[](HugeSize()); }), std::bad_alloc);
  EXPECT_THROW(NewAndDelete([] { return ::operator new (HugeSize(), std::align_val_t{64}); }),
               std::bad_alloc);
  EXPECT_THROW(NewAndDelete([] { return ::operator new[](HugeSize(), std::align_val_t{4096}); }),
               std::bad_alloc);
  EXPECT_THROW(NewAndDelete([] { return ::operator new(Opaque(SIZE_MAX)); }), std::bad_alloc);
  EXPECT_THROW(NewAndDelete([] {
                 return ::operator new (Opaque(SIZE_MAX - 100), std::align_val_t{1 << 20});
               }),
               std::bad_alloc);
  EXPECT_EQ(::operator new(HugeSize(), std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](HugeSize(), std::nothrow), nullptr);
  EXPECT_EQ(::operator new (HugeSize(), std::align_val_t{64}, std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](HugeSize(), std::align_val_t{64}, std::nothrow), nullptr);
  // Still fine afterwards.
  void* p = ::operator new(100);
  std::memset(p, 0, 100);
  ::operator delete(p);
}

int g_handler_calls = 0;
void CountingHandler() {
  if (++g_handler_calls >= 3) std::set_new_handler(nullptr);
}

struct HandlerGuard {
  ~HandlerGuard() { std::set_new_handler(nullptr); }
};

// operator new calls the handler until it uninstalls itself, then throws.
TEST(NewHandler, CalledRepeatedlyThenBadAlloc) {
  HandlerGuard guard;
  using Fn = void (*)();
  struct Case {
    const char* name;
    Fn call;
  };
  const Case cases[] = {
      {"new", [] { ::operator delete(::operator new(HugeSize())); }},
      {"new[]", [] { ::operator delete[](::operator new[](HugeSize())); }},
      {"aligned new",
       [] { ::operator delete(::operator new (HugeSize(), std::align_val_t{256})); }},
      {"aligned new[]",
       [] { ::operator delete[](::operator new[](HugeSize(), std::align_val_t{256})); }},
  };
  for (const Case& c : cases) {
    g_handler_calls = 0;
    std::set_new_handler(CountingHandler);
    EXPECT_THROW(c.call(), std::bad_alloc) << c.name;
    EXPECT_EQ(g_handler_calls, 3) << c.name << ": new-handler calls";
    EXPECT_EQ(std::get_new_handler(), nullptr);
  }
}

TEST(NewHandler, NothrowFormsCallHandlerAndReturnNull) {
  HandlerGuard guard;
  g_handler_calls = 0;
  std::set_new_handler(CountingHandler);
  EXPECT_EQ(::operator new(HugeSize(), std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 3);

  g_handler_calls = 0;
  std::set_new_handler(CountingHandler);
  EXPECT_EQ(::operator new[](HugeSize(), std::align_val_t{64}, std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 3);
}

struct HandlerThrew : std::bad_alloc {};
int g_throwing_calls = 0;
void ThrowingHandler() {
  ++g_throwing_calls;
  throw HandlerThrew();
}

TEST(NewHandler, ExceptionFromHandlerPropagates) {
  HandlerGuard guard;
  std::set_new_handler(ThrowingHandler);
  g_throwing_calls = 0;
  EXPECT_THROW(NewAndDelete([] { return ::operator new(HugeSize()); }), HandlerThrew);
  EXPECT_EQ(g_throwing_calls, 1);
  g_throwing_calls = 0;
  EXPECT_THROW(NewAndDelete([] { return ::operator new[](HugeSize(), std::align_val_t{64}); }),
               HandlerThrew);
  EXPECT_EQ(g_throwing_calls, 1);
}

// The nothrow forms return null when the handler throws ([new.delete.single]:
// "if the call [to the throwing form] returns normally, returns the result;
// otherwise, returns a null pointer").
TEST(NewHandler, NothrowFormsSwallowHandlerException) {
  HandlerGuard guard;
  using Fn = void* (*)();
  struct Case {
    const char* name;
    Fn call;
  };
  const Case cases[] = {
      {"new(nothrow)", [] { return ::operator new(HugeSize(), std::nothrow); }},
      {"new[](nothrow)", [] { return ::operator new[](HugeSize(), std::nothrow); }},
      {"new(align, nothrow)",
       [] { return ::operator new (HugeSize(), std::align_val_t{64}, std::nothrow); }},
      {"new[](align, nothrow)",
       [] { return ::operator new[](HugeSize(), std::align_val_t{64}, std::nothrow); }},
  };
  for (const Case& c : cases) {
    std::set_new_handler(ThrowingHandler);
    g_throwing_calls = 0;
    try {
      EXPECT_EQ(c.call(), nullptr) << c.name;
    } catch (const std::bad_alloc&) {
      ADD_FAILURE() << "operator " << c.name
                    << " let the new-handler's exception escape instead of returning nullptr";
    }
    EXPECT_EQ(g_throwing_calls, 1) << c.name;
  }
}

// A successful allocation never calls the handler.
TEST(NewHandler, NotCalledWhenAllocationSucceeds) {
  HandlerGuard guard;
  g_handler_calls = 0;
  std::set_new_handler(CountingHandler);
  for (size_t n : kSizes) {
    ::operator delete(::operator new(n));
    ::operator delete(::operator new (n, std::align_val_t{1024}));
  }
  EXPECT_EQ(g_handler_calls, 0);
}

// A handler that frees a reserve lets the retry succeed. Real exhaustion is
// produced in a child process with RLIMIT_AS: the address-space limit leaves
// room for the 256 MiB reserve but not for a further 200 MiB; the handler
// frees the reserve, whose space must then be either unmapped or reused.
void* g_reserve = nullptr;
int g_reserve_calls = 0;
void FreeReserveHandler() {
  ++g_reserve_calls;
  if (g_reserve != nullptr) {
    std::free(g_reserve);
    g_reserve = nullptr;
  } else {
    std::set_new_handler(nullptr);
  }
}

size_t VmSizeBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0;
  if (std::fscanf(f, "%lu", &size) != 1) size = 0;
  std::fclose(f);
  return size * size_t(sysconf(_SC_PAGESIZE));
}

TEST(NewHandler, HandlerFreeingReserveLetsRetrySucceed) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(60);
    // Warm up the allocator's size classes and metadata before limiting.
    for (size_t n = 8; n < (size_t(64) << 20); n *= 2) {
      void* w = std::malloc(n);
      if (w == nullptr) _exit(10);
      std::memset(w, 1, n < 4096 ? n : 4096);
      std::free(w);
    }
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = VmSizeBytes() + (size_t(384) << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(11);
    g_reserve = std::malloc(size_t(256) << 20);
    if (g_reserve == nullptr) _exit(12);
    std::memset(g_reserve, 7, size_t(1) << 20);
    // Without the handler, 200 MiB more does not fit.
    void* probe = std::malloc(size_t(200) << 20);
    if (probe != nullptr) _exit(13);
    std::set_new_handler(FreeReserveHandler);
    void* p = nullptr;
    try {
      p = ::operator new(size_t(200) << 20);
    } catch (const std::bad_alloc&) {
      _exit(14);
    }
    if (g_reserve_calls != 1) _exit(15);
    std::memset(p, 9, size_t(200) << 20);
    ::operator delete(p);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  const char* what[] = {"ok",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "warm-up allocation failed",
                        "setrlimit failed",
                        "256 MiB reserve allocation failed under the limit",
                        "setup error: 200 MiB fit beside the reserve (limit too loose)",
                        "operator new threw although the handler freed the 256 MiB reserve",
                        "handler was not called exactly once"};
  int code = WEXITSTATUS(status);
  EXPECT_EQ(code, 0) << (code < 16 ? what[code] : "unexpected exit code");
}

}  // namespace
