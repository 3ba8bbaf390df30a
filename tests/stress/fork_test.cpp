// fork() while other threads allocate: the child can use the heap (also
// blocks the parent allocated, from any thread) without deadlock.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stress_util.h"

using namespace stress;

namespace {

// Exit codes of the child (0 = success).
enum ChildError {
  kOk = 0,
  kInheritedCorrupt = 20,
  kAllocFailed = 21,
  kContentsLost = 22,
  kCallocDirty = 23,
  kThreadCreate = 24,
  kThreadFailed = 25,
};

void* ChildThread(void*) {
  Rng r(4242);
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) {
    size_t n = r.LogUniform(16, 100000);
    void* p = std::malloc(n);
    if (p == nullptr) return reinterpret_cast<void*>(1);
    std::memset(p, 0x5C, n);
    v.push_back(p);
    if (v.size() > 50) {
      std::free(v.front());
      v.erase(v.begin());
    }
  }
  for (void* p : v) std::free(p);
  return nullptr;
}

// Runs in the child: only _exit, no gtest.
[[noreturn]] void ChildBody(std::vector<void*>* inherited, int iteration) {
  signal(SIGALRM, SIG_DFL);
  alarm(20);  // a deadlocked child dies with SIGALRM
  Rng r(uint64_t(iteration) + 77);
  // 1. Blocks the parent's main thread allocated before fork: verify, free.
  for (void* p : *inherited) {
    BlockInfo bi;
    std::string why;
    if (!Check(p, &bi, &why)) _exit(kInheritedCorrupt);
    ReleaseBlock(r, p, bi);
  }
  inherited->clear();
  // 2. Allocations of every size range, including huge, and realloc across
  //    size ranges.
  std::vector<void*> mine;
  for (size_t n : {size_t(16), size_t(100), size_t(3000), size_t(70000), size_t(1) << 20}) {
    for (int k = 0; k < 3; ++k) mine.push_back(AllocBlock(r, n + k, Kind(r.Below(kKinds)), n + k));
  }
  mine.push_back(AllocBlock(r, size_t(20) << 20, kMalloc, 20));
  void* g = std::malloc(10);
  if (g == nullptr) _exit(kAllocFailed);
  std::memcpy(g, "0123456789", 10);
  for (size_t n : {size_t(200), size_t(5000), size_t(300000), size_t(17) << 20, size_t(40)}) {
    g = std::realloc(g, n);
    if (g == nullptr) _exit(kAllocFailed);
    if (std::memcmp(g, "0123456789", 10) != 0) _exit(kContentsLost);
  }
  std::free(g);
  for (int i = 0; i < 20; ++i) {
    auto* c = static_cast<unsigned char*>(std::calloc(1, 4096));
    if (c == nullptr) _exit(kAllocFailed);
    for (int k = 0; k < 4096; ++k)
      if (c[k] != 0) _exit(kCallocDirty);
    std::memset(c, 0xAA, 4096);
    std::free(c);
  }
  // 3. A thread in the child.
  if (iteration % 2 == 0) {
    pthread_t th;
    if (pthread_create(&th, nullptr, ChildThread, nullptr) != 0) _exit(kThreadCreate);
    void* ret = nullptr;
    pthread_join(th, &ret);
    if (ret != nullptr) _exit(kThreadFailed);
  }
  for (void* p : mine) {
    BlockInfo bi;
    std::string why;
    if (!Check(p, &bi, &why)) _exit(kContentsLost);
    ReleaseBlock(r, p, bi);
  }
  _exit(kOk);
}

std::string DescribeStatus(int status) {
  char buf[128];
  if (WIFEXITED(status)) {
    const char* what = "";
    switch (WEXITSTATUS(status)) {
      case kInheritedCorrupt:
        what = " (block inherited from the parent corrupted)";
        break;
      case kAllocFailed:
        what = " (allocation failed)";
        break;
      case kContentsLost:
        what = " (contents lost)";
        break;
      case kCallocDirty:
        what = " (calloc returned dirty memory)";
        break;
      case kThreadCreate:
        what = " (pthread_create failed)";
        break;
      case kThreadFailed:
        what = " (allocation in a child thread failed)";
        break;
    }
    std::snprintf(buf, sizeof buf, "exit code %d%s", WEXITSTATUS(status), what);
  } else if (WIFSIGNALED(status)) {
    std::snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", WTERMSIG(status),
                  strsignal(WTERMSIG(status)),
                  WTERMSIG(status) == SIGALRM ? " -- child deadlocked" : "");
  } else {
    std::snprintf(buf, sizeof buf, "status 0x%x", status);
  }
  return buf;
}

TEST(Fork, WhileOtherThreadsAllocate) {
  Watchdog wd(120, "Fork.WhileOtherThreadsAllocate");
  constexpr int kForks = 50, kBackground = 3;
  std::atomic<bool> stop{false};
  std::atomic<bool> bg_failed{false};
  std::atomic<size_t> bg_ops{0};
  std::string bg_msg;
  std::mutex bg_mu;
  std::vector<std::thread> bg;
  for (int t = 0; t < kBackground; ++t) {
    bg.emplace_back([&, t] {
      Rng r(uint64_t(t) + 5);
      std::vector<void*> v(256, nullptr);
      uint64_t tag = uint64_t(t) << 40;
      while (!stop.load(std::memory_order_relaxed)) {
        void*& slot = v[r.Below(v.size())];
        if (slot != nullptr) {
          BlockInfo bi;
          std::string why;
          if (!Check(slot, &bi, &why)) {
            std::lock_guard<std::mutex> lk(bg_mu);
            bg_msg = why;
            bg_failed = true;
            return;
          }
          ReleaseBlock(r, slot, bi);
        }
        size_t n = r.OneIn(200)  ? r.LogUniform(1 << 20, 24 << 20)
                   : r.OneIn(20) ? r.LogUniform(4096, 256 << 10)
                                 : r.LogUniform(16, 2048);
        slot = AllocBlock(r, n, Kind(r.Below(kKinds)), ++tag);
        bg_ops.fetch_add(1, std::memory_order_relaxed);
      }
      Rng r2(1);
      for (void* p : v)
        if (p != nullptr) {
          BlockInfo bi;
          std::string why;
          if (Check(p, &bi, &why)) ReleaseBlock(r2, p, bi);
        }
    });
  }
  auto start = std::chrono::steady_clock::now();
  Rng r(3);
  std::vector<std::string> failures;
  for (int i = 0; i < kForks; ++i) {
    // Blocks allocated by this thread just before fork; the child frees them.
    std::vector<void*> inherited;
    for (int k = 0; k < 64; ++k)
      inherited.push_back(AllocBlock(r, r.LogUniform(16, 200000), Kind(r.Below(kKinds)), k));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) ChildBody(&inherited, i);
    // Parent: wait with a timeout.
    int status = 0;
    pid_t w = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (w == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      failures.push_back("fork " + std::to_string(i) + ": child hung (killed after 30 s)");
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      failures.push_back("fork " + std::to_string(i) + ": child " + DescribeStatus(status));
    }
    // The parent still owns its copies.
    for (void* p : inherited) {
      BlockInfo bi;
      std::string why;
      ASSERT_TRUE(Check(p, &bi, &why)) << why;
      ReleaseBlock(r, p, bi);
    }
  }
  stop = true;
  for (auto& t : bg) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fork: %d forks, %zu background operations, %.2f s\n", kForks, bg_ops.load(), secs);
  EXPECT_FALSE(bg_failed.load()) << bg_msg;
  if (!failures.empty()) {
    ADD_FAILURE() << failures.size() << " of " << kForks
                  << " children failed, first: " << failures[0];
  }
}

}  // namespace
