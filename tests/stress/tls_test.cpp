// Allocation from thread-exit paths: C++ thread_local destructors and
// pthread key destructors that malloc and free, possibly in threads whose
// first allocation happens during teardown. Also the process-exit path.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

std::mutex g_mu;
std::vector<void*> g_handed;  // blocks allocated in destructors, freed by main
std::atomic<int> g_errors{0};
std::atomic<int> g_key_dtor_calls{0};
std::atomic<int> g_tls_dtor_calls{0};

void HandToMain(void* p) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_handed.push_back(p);
}

void CheckAndFree(Rng& r, void* p) {
  BlockInfo bi;
  std::string why;
  if (!Check(p, &bi, &why)) {
    std::fprintf(stderr, "tls: %s\n", why.c_str());
    ++g_errors;
    return;
  }
  ReleaseBlock(r, p, bi);
}

struct TlsObject {
  void* block = nullptr;
  std::vector<std::string> strings;  // freed during teardown too
  void Use() {
    if (block == nullptr) {
      Rng r(reinterpret_cast<uintptr_t>(this));
      block = AllocBlock(r, 3000, kMalloc, 1);
    }
    strings.emplace_back(100, 'x');
  }
  ~TlsObject() {
    ++g_tls_dtor_calls;
    Rng r(reinterpret_cast<uintptr_t>(this) + 1);
    if (block != nullptr) CheckAndFree(r, block);
    // Allocate and free while the thread is being torn down.
    for (int i = 0; i < 20; ++i) {
      void* p = AllocBlock(r, r.LogUniform(16, 20000), Kind(r.Below(kKinds)), uint64_t(i));
      CheckAndFree(r, p);
    }
    // And leave one block behind for the main thread.
    HandToMain(AllocBlock(r, 777, kMalloc, 2));
  }
};
thread_local TlsObject t_object;

pthread_key_t g_key;
thread_local int t_key_iterations = 0;  // trivially destructible

void KeyDestructor(void* value) {
  ++g_key_dtor_calls;
  Rng r(reinterpret_cast<uintptr_t>(value));
  CheckAndFree(r, value);
  void* tmp = std::malloc(5000);
  if (tmp == nullptr) {
    ++g_errors;
    return;
  }
  std::memset(tmp, 1, 5000);
  std::free(tmp);
  HandToMain(AllocBlock(r, 64, kCalloc, 3));
  // Re-arm the key twice: the destructor runs again (up to
  // PTHREAD_DESTRUCTOR_ITERATIONS), each time allocating.
  if (++t_key_iterations < 3) pthread_setspecific(g_key, AllocBlock(r, 200, kMalloc, 4));
}

// A second key whose value is not a heap block: in threads that only set
// this key, the first allocation of the thread happens in its destructor.
pthread_key_t g_key2;
std::atomic<int> g_key2_dtor_calls{0};
char g_static_value;

void Key2Destructor(void* value) {
  ++g_key2_dtor_calls;
  if (value != &g_static_value) ++g_errors;
  Rng r(reinterpret_cast<uintptr_t>(&value));
  for (int i = 0; i < 10; ++i) {
    void* p = AllocBlock(r, r.LogUniform(16, 70000), Kind(r.Below(kKinds)), uint64_t(i));
    CheckAndFree(r, p);
  }
  HandToMain(AllocBlock(r, 5000, kNew, 7));
}

void* ThreadBody(void* arg) {
  int mode = int(reinterpret_cast<intptr_t>(arg));
  Rng r(uint64_t(mode) + 11);
  switch (mode % 4) {
    case 0:  // both
      t_object.Use();
      pthread_setspecific(g_key, AllocBlock(r, 100, kMalloc, 5));
      break;
    case 1:  // only the thread_local; no allocation before teardown except its own
      t_object.Use();
      break;
    case 2:  // only the key: the value is allocated here, the rest in the destructor
      pthread_setspecific(g_key, AllocBlock(r, 48, kMalloc, 6));
      break;
    case 3:  // no allocation at all before the key destructor runs
      pthread_setspecific(g_key2, &g_static_value);
      break;
  }
  return nullptr;
}

void RunThreads(int count, int concurrency) {
  for (int done = 0; done < count;) {
    std::vector<pthread_t> ths;
    for (int k = 0; k < concurrency && done < count; ++k, ++done) {
      pthread_t th;
      ASSERT_EQ(pthread_create(&th, nullptr, ThreadBody, reinterpret_cast<void*>(intptr_t(done))),
                0);
      ths.push_back(th);
    }
    for (pthread_t th : ths) pthread_join(th, nullptr);
    std::vector<void*> handed;
    {
      std::lock_guard<std::mutex> lk(g_mu);
      handed.swap(g_handed);
    }
    Rng r{static_cast<uint64_t>(done)};
    for (void* p : handed) CheckAndFree(r, p);
  }
}

TEST(ThreadExit, DestructorsAllocateAndFree) {
  Watchdog wd(60, "ThreadExit.DestructorsAllocateAndFree");
  ASSERT_EQ(pthread_key_create(&g_key, KeyDestructor), 0);
  ASSERT_EQ(pthread_key_create(&g_key2, Key2Destructor), 0);
  auto start = std::chrono::steady_clock::now();
  RunThreads(600, 8);  // warm-up round
  size_t rss1 = RssBytes();
  for (int round = 0; round < 4; ++round) RunThreads(600, 8);
  size_t rss2 = RssBytes();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("thread exit: %d tls dtors, %d+%d key dtors, RSS %.1f -> %.1f MiB, %.2f s\n",
              g_tls_dtor_calls.load(), g_key_dtor_calls.load(), g_key2_dtor_calls.load(), MiB(rss1),
              MiB(rss2), secs);
  EXPECT_EQ(g_errors.load(), 0);
  // 3000 threads in 4 modes of 750: modes 0 and 1 run the thread_local destructor.
  EXPECT_EQ(g_tls_dtor_calls.load(), 1500);
  // Modes 0 and 2 set the key; each destructor re-arms twice: 3 calls per thread.
  EXPECT_EQ(g_key_dtor_calls.load(), 1500 * 3);
  EXPECT_EQ(g_key2_dtor_calls.load(), 750);
  EXPECT_LT(rss2, rss1 + (16 << 20))
      << "RSS grew by " << MiB(rss2 - rss1) << " MiB over 2400 threads with allocating destructors";
  {
    std::lock_guard<std::mutex> lk(g_mu);
    EXPECT_TRUE(g_handed.empty());
  }
}

// The process-exit path: a thread_local in the main thread, a static object
// and an atexit handler all allocate during exit(); the child must exit 0.
struct ExitObject {
  ~ExitObject() {
    void* p = std::malloc(12345);
    if (p == nullptr) _exit(31);
    std::memset(p, 2, 12345);
    std::free(p);
  }
};

TEST(ThreadExit, ProcessExitPathAllocates) {
  Watchdog wd(30, "ThreadExit.ProcessExitPathAllocates");
  std::fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGALRM, SIG_DFL);
    alarm(20);
    static ExitObject static_object;
    thread_local ExitObject main_thread_object;
    (void)&main_thread_object;
    std::atexit([] {
      std::vector<std::string> v;
      for (int i = 0; i < 1000; ++i) v.emplace_back(size_t(i), 'q');
      void* big = std::malloc(size_t(20) << 20);
      if (big == nullptr) _exit(32);
      std::memset(big, 1, size_t(20) << 20);
      std::free(big);
    });
    // A detached thread still running at exit() that keeps allocating.
    std::thread([] {
      for (;;) {
        void* p = std::malloc(100);
        if (p) std::memset(p, 0, 100);
        std::free(p);
      }
    }).detach();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status)
                                 << (WTERMSIG(status) == SIGALRM ? " (deadlock at exit)" : "");
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

}  // namespace
