// A small futex mutex for the slow paths (arenas, the heap pool). Unlike pthread_mutex it can be
// reset in a fork child and needs no initialisation call; it spins briefly before sleeping since
// critical sections are short.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/os.h"

namespace arenalloc {

class Lock {
 public:
  void lock() noexcept {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) [[likely]]
      return;
    lock_contended();
  }
  bool try_lock() noexcept {
    uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) [[unlikely]]
      os::futex_wake_one(reinterpret_cast<uint32_t*>(&state_));
  }
  // Only for a fork child, where the thread that held the lock no longer exists.
  void reset() noexcept { state_.store(0, std::memory_order_relaxed); }

 private:
  // 0 = free, 1 = held, 2 = held and someone may be sleeping on it.
  [[gnu::noinline]] void lock_contended() noexcept {
    for (int spin = 0; spin < 100; ++spin) {
      uint32_t expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire))
        return;
      os::cpu_relax();
    }
    while (state_.exchange(2, std::memory_order_acquire) != 0)
      os::futex_wait(reinterpret_cast<uint32_t*>(&state_), 2);
  }
  std::atomic<uint32_t> state_{0};
};

class LockGuard {
 public:
  explicit LockGuard(Lock& l) noexcept : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

}  // namespace arenalloc
