// The cross-thread protocol of the core, driven directly (arenalloc::alloc, dealloc, ...) from
// many threads, under ThreadSanitizer or AddressSanitizer+UBSan:
//   - producer/consumer remote frees (thread_free) of small blocks, with reallocate and
//     alloc_aligned, while another thread calls trim();
//   - blocks freed by another thread into pages their owner parked as full (the delayed-free path),
//     with the owner exiting in the middle of those frees in half of the rounds;
//   - full pages taken over by the thread freeing into them while their owner pauses;
//   - freed lists: full pages that consumers free into, taken back by their producers or taken
//     by other producers instead of fresh memory (trim() keeps freed slices at zero);
//   - threads that exit with live blocks (abandonment) whose blocks others free later while other
//     threads adopt the abandoned pages and trim() sweeps them;
//   - large (> 128 KiB) and huge (>= 8 MiB) blocks freed and resized across threads;
//   - short-lived threads exchanging blocks through shared slots (heap reuse after exit);
//   - a heap switched between checked and unchecked (mallopt(M_PERTURB)) while others free its
//     blocks.
// Worker threads report to san::fail(); the assertions are on the main thread. After each test,
// with every thread joined and every block freed, nothing may be left in use.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/checked.h"
#include "diag/options.h"
#include "sanitize_util.h"

namespace {

using san::Rng;

class CrossThread : public san::LeakCheckedTest {};

// Producers allocate small blocks in every way the core offers and hand them to consumers, who
// check and free them (sometimes after reallocating them). Producers also free some locally.
TEST_F(CrossThread, ProducerConsumer) {
  constexpr int kProducers = 3, kConsumers = 3;
  const size_t per_producer = san::scaled(25000);
  std::vector<std::unique_ptr<san::Ring<256>>> rings;
  for (int i = 0; i < kProducers * kConsumers; ++i)
    rings.push_back(std::make_unique<san::Ring<256>>());
  std::atomic<int> producers_left{kProducers};
  std::atomic<size_t> consumed{0};
  san::Trimmer trimmer;

  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      Rng r(100 + c);
      for (;;) {
        bool got = false;
        for (int p = 0; p < kProducers; ++p) {
          if (void* b = rings[p * kConsumers + c]->pop()) {
            san::release_block(r, b, "consumer");
            consumed.fetch_add(1, std::memory_order_relaxed);
            got = true;
          }
        }
        if (!got) {
          if (producers_left.load(std::memory_order_acquire) == 0) {
            bool empty = true;
            for (int p = 0; p < kProducers && empty; ++p)
              if (void* b = rings[p * kConsumers + c]->pop()) {
                san::release_block(r, b, "consumer");
                consumed.fetch_add(1, std::memory_order_relaxed);
                empty = false;
              }
            if (empty) return;
          }
          std::this_thread::yield();
        }
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      Rng r(p + 1);
      std::vector<void*> local;
      for (size_t i = 0; i < per_producer; ++i) {
        void* b = san::make_block(r, r.SmallSkewed(), r.Next());
        if (b == nullptr) break;
        if (r.OneIn(4)) {
          local.push_back(b);
          if (local.size() > 64) {
            size_t k = r.Below(local.size());
            san::release_block(r, local[k], "producer local");
            local[k] = local.back();
            local.pop_back();
          }
        } else {
          rings[p * kConsumers + r.Below(kConsumers)]->push_wait(b);
        }
      }
      for (void* b : local) san::release_block(r, b, "producer local");
      producers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(consumed.load(), per_producer);
}

// One thread allocates blocks of one size until many of its pages are full (parked in its full
// list), then hands them to a second thread that frees them while the owner goes on allocating
// the same size: frees into full pages take the delayed-free path and the owner requeues the
// pages. The owner also frees some of its own blocks from full pages. In odd rounds the owner
// exits while the frees are still coming (abandoning a heap with delayed frees in flight); the
// next round's owner may adopt its pages.
TEST_F(CrossThread, FullPagesDelayedFree) {
  const size_t kSizes[] = {16, 48, 112, 1000, 4000, 7000, 9000, 30000, 100000};
  const size_t rounds = san::scaled(36);
  san::Trimmer trimmer(2000);
  for (size_t round = 0; round < rounds; ++round) {
    size_t size = kSizes[round % (sizeof kSizes / sizeof kSizes[0])];
    size_t per_batch = std::min<size_t>(std::max<size_t>(48, 5 * 65536 / size), 4000);
    const int batches = 3;
    bool owner_exits_early = round % 2 == 1;
    auto ring = std::make_unique<san::Ring<1024>>();
    std::atomic<bool> owner_done{false};
    std::atomic<size_t> freed{0};

    std::thread freer([&] {
      Rng r(round * 7 + 3);
      for (;;) {
        void* b = ring->pop();
        if (b == nullptr) {
          if (owner_done.load(std::memory_order_acquire)) {
            b = ring->pop();
            if (b == nullptr) return;
          } else {
            std::this_thread::yield();
            continue;
          }
        }
        if (san::verify(b, "delayed freer") != 0) arenalloc::dealloc(b);
        freed.fetch_add(1, std::memory_order_relaxed);
      }
    });
    std::thread owner([&] {
      Rng r(round + 11);
      std::vector<void*> batch, mine;
      size_t sent = 0;
      for (int k = 0; k < batches; ++k) {
        // A whole batch first: the pages it fills are parked as full when the next one starts.
        for (size_t i = 0; i < per_batch; ++i) {
          void* b = san::alloc_stamped(size, r.Next());
          if (b == nullptr) break;
          batch.push_back(b);
        }
        for (size_t i = 0; i < batch.size(); ++i) {
          if (i % 5 == 4) {
            mine.push_back(batch[i]);
          } else {
            ring->push_wait(batch[i]);
            ++sent;
          }
        }
        batch.clear();
        // Local frees into (possibly) full pages while the other thread frees remotely.
        for (size_t i = 0; i < mine.size(); i += 2) {
          if (san::verify(mine[i], "owner") != 0) arenalloc::dealloc(mine[i]);
          mine[i] = nullptr;
        }
        mine.erase(std::remove(mine.begin(), mine.end(), nullptr), mine.end());
      }
      if (!owner_exits_early) {
        // Wait for the remote frees, then allocate again so the delayed list is processed.
        while (freed.load(std::memory_order_acquire) < sent) std::this_thread::yield();
        for (int k = 0; k < 4; ++k) {
          void* b = san::alloc_stamped(size, 5 + k);
          if (b == nullptr) break;
          mine.push_back(b);
        }
        arenalloc::trim(0);
      }
      // Half of the rest is freed here, half goes to the other thread, which frees it after
      // this thread has exited (in odd rounds, much of the above too).
      for (size_t i = 0; i < mine.size(); i += 2) {
        if (san::verify(mine[i], "owner end") != 0) arenalloc::dealloc(mine[i]);
        mine[i] = nullptr;
      }
      for (void* b : mine)
        if (b != nullptr) ring->push_wait(b);
      owner_done.store(true, std::memory_order_release);
    });
    owner.join();
    freer.join();
    if (san::g_errors.load() != 0) break;
  }
}

// Producers fill pages and hand every block to consumers that have no heap (each producer
// through a ring of its own); pages they park full move to their freed lists once freed into. A
// trimmer keeps the arenas without freed slices, so a producer short of a page takes another
// one's freed page, while that one takes its own back, frees its own blocks into them, or exits
// (one per round).
TEST_F(CrossThread, FreedPagesTakenByOtherProducers) {
  const size_t kSizes[] = {16, 64, 1000};
  const size_t rounds = san::scaled(6);
  constexpr int kProducers = 3, kConsumers = 2;
  san::Trimmer trimmer(200);
  for (size_t round = 0; round < rounds; ++round) {
    size_t size = kSizes[round % (sizeof kSizes / sizeof kSizes[0])];
    size_t per_producer = std::min<size_t>(8 * 65536 / size, 6000);
    std::vector<std::unique_ptr<san::Ring<1024>>> rings;
    for (int t = 0; t < kProducers; ++t) rings.push_back(std::make_unique<san::Ring<1024>>());
    std::atomic<bool> done[kProducers] = {};
    std::vector<std::thread> threads;
    for (int c = 0; c < kConsumers; ++c) {
      threads.emplace_back([&, c] {
        for (bool busy = true; busy;) {
          busy = false;
          for (int t = c; t < kProducers; t += kConsumers) {
            bool finished = done[t].load(std::memory_order_acquire);
            void* b = rings[t]->pop();
            if (b != nullptr && san::verify(b, "freed-list consumer") != 0) arenalloc::dealloc(b);
            if (b != nullptr || !finished) busy = true;
          }
          std::this_thread::yield();
        }
      });
    }
    for (int t = 0; t < kProducers; ++t) {
      threads.emplace_back([&, t] {
        Rng r(round * 13 + t);
        std::vector<void*> mine;
        bool exits_early = t == static_cast<int>(round % kProducers);
        for (size_t i = 0; i < per_producer; ++i) {
          void* b = san::alloc_stamped(size, r.Next());
          if (b == nullptr) break;
          if (i % 7 == 3) {
            mine.push_back(b);  // freed here later, into a page that may be parked by then
          } else {
            rings[t]->push_wait(b);
          }
          if (i % 512 == 511 && !mine.empty()) {
            if (san::verify(mine.back(), "freed-list producer") != 0)
              arenalloc::dealloc(mine.back());
            mine.pop_back();
          }
          if (exits_early && i == per_producer / 2) break;
        }
        for (void* b : mine)
          if (san::verify(b, "freed-list producer end") != 0) arenalloc::dealloc(b);
        done[t].store(true, std::memory_order_release);
      });
    }
    for (auto& th : threads) th.join();
    if (san::g_errors.load() != 0) break;
  }
}

// An owner that fills pages and then pauses (no page refill for longer than a thread freeing into
// them waits) has its full pages taken by the freeing thread, which allocates from them at once;
// meanwhile the owner frees blocks of its own into those pages, allocates again (processing its
// delayed list, whose blocks may belong to taken pages) and parks new pages as full.
TEST_F(CrossThread, FullPagesTakenFromAPausedOwner) {
  const size_t kSizes[] = {32, 256, 2000};
  const size_t rounds = san::scaled(6);
  for (size_t round = 0; round < rounds; ++round) {
    size_t size = kSizes[round % 3];
    size_t per_batch = 2 * 65536 / size;
    auto ring = std::make_unique<san::Ring<1024>>();
    std::atomic<bool> owner_done{false};
    std::thread freer([&] {
      Rng r(round + 5);
      std::vector<void*> own;
      for (size_t n = 1;; ++n) {
        // Slowly, so that frees go on while the owner pauses or waits on the ring.
        if (n % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        void* b = ring->pop();
        if (b == nullptr) {
          if (owner_done.load(std::memory_order_acquire) && (b = ring->pop()) == nullptr) break;
          if (b == nullptr) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            continue;
          }
        }
        if (san::verify(b, "paused-owner freer") != 0) arenalloc::dealloc(b);
        // Allocate from the pages it may have taken; free those later.
        void* mine = san::alloc_stamped(size, r.Next());
        if (mine == nullptr) break;
        own.push_back(mine);
      }
      for (void* b : own)
        if (san::verify(b, "freer's own") != 0) arenalloc::dealloc(b);
    });
    std::thread owner([&] {
      Rng r(round + 17);
      std::vector<void*> kept;
      for (int k = 0; k < 4; ++k) {
        for (size_t i = 0; i < per_batch; ++i) {
          void* b = san::alloc_stamped(size, r.Next());
          if (b == nullptr) break;
          if (i % 4 == 0)
            kept.push_back(b);
          else
            ring->push_wait(b);
        }
        // Pause: the freer sees no refill for longer than it waits before taking full pages.
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        // Local frees into pages that may have been taken meanwhile.
        for (size_t i = k % 2; i < kept.size(); i += 2) {
          if (san::verify(kept[i], "paused owner") != 0) arenalloc::dealloc(kept[i]);
          kept[i] = nullptr;
        }
        kept.erase(std::remove(kept.begin(), kept.end(), nullptr), kept.end());
      }
      for (void* b : kept)
        if (san::verify(b, "paused owner end") != 0) arenalloc::dealloc(b);
      owner_done.store(true, std::memory_order_release);
    });
    owner.join();
    freer.join();
    if (san::g_errors.load() != 0) break;
  }
}

// Threads allocate mixed blocks and exit with them alive. Half of each thread's blocks are freed
// by other threads while it is exiting; the rest afterwards, while more threads allocate the same
// size classes (adopting the abandoned pages) and trim() sweeps them.
TEST_F(CrossThread, AbandonedPagesFreedAndAdopted) {
  const size_t waves = san::scaled(5);
  const size_t per_thread = 2500;
  constexpr int kDying = 3;
  san::Trimmer trimmer(1000);
  for (size_t wave = 0; wave < waves; ++wave) {
    std::vector<std::vector<void*>> left(kDying);
    std::vector<std::unique_ptr<san::Ring<512>>> rings;
    for (int i = 0; i < kDying; ++i) rings.push_back(std::make_unique<san::Ring<512>>());
    std::atomic<int> dying_left{kDying};

    std::vector<std::thread> threads;
    for (int d = 0; d < kDying; ++d) {
      threads.emplace_back([&, d] {
        Rng r(wave * 100 + d);
        std::vector<void*> blocks;
        for (size_t i = 0; i < per_thread; ++i) {
          size_t n = r.SmallSkewed();
          if (r.OneIn(300)) n = r.LogUniform(128 * 1024 + 1, 2 << 20);             // large
          if (i == per_thread / 2 && d == 0) n = r.LogUniform(8 << 20, 10 << 20);  // huge
          void* b = san::make_block(r, n, r.Next());
          if (b != nullptr) blocks.push_back(b);
        }
        std::vector<void*>& keep = left[d];
        for (void* b : blocks) {
          if (r.OneIn(2))
            keep.push_back(b);
          else
            rings[d]->push_wait(b);
        }
        // Exit now: the thread_exit key destructor abandons the heap while the frees go on.
        dying_left.fetch_sub(1, std::memory_order_release);
      });
    }
    // Freers of the first halves, concurrent with the exits.
    for (int f = 0; f < 2; ++f) {
      threads.emplace_back([&, f] {
        Rng r(wave * 1000 + f);
        for (;;) {
          bool got = false;
          for (int d = f; d < kDying; d += 2)
            if (void* b = rings[d]->pop()) {
              san::release_block(r, b, "abandon freer");
              got = true;
            }
          if (!got) {
            if (dying_left.load(std::memory_order_acquire) == 0) {
              bool any = false;
              for (int d = f; d < kDying; d += 2)
                while (void* b = rings[d]->pop()) {
                  san::release_block(r, b, "abandon freer");
                  any = true;
                }
              if (!any) return;
            }
            std::this_thread::yield();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    threads.clear();

    // The other halves: freed by two threads while two others allocate the same classes.
    std::atomic<int> freers_left{2};
    for (int f = 0; f < 2; ++f) {
      threads.emplace_back([&, f] {
        Rng r(wave * 31 + f);
        for (int d = f; d < kDying; d += 2)
          for (void* b : left[d]) san::release_block(r, b, "abandoned block freer");
        freers_left.fetch_sub(1, std::memory_order_release);
      });
    }
    for (int a = 0; a < 2; ++a) {
      threads.emplace_back([&, a] {
        Rng r(wave * 57 + a);
        std::vector<void*> mine;
        while (freers_left.load(std::memory_order_acquire) != 0 || mine.size() < 1500) {
          void* b = san::make_block(r, r.SmallSkewed(), r.Next());
          if (b == nullptr) break;
          mine.push_back(b);
          if (mine.size() > 3000) break;
        }
        for (void* b : mine) san::release_block(r, b, "adopter");
      });
    }
    for (auto& t : threads) t.join();
    if (san::g_errors.load() != 0) break;
  }
}

// Large and huge blocks cross threads: allocated (sometimes grown or shrunk in place) by
// producers, checked, resized and freed by consumers, with trim() running.
TEST_F(CrossThread, LargeAndHugeBlocks) {
  constexpr int kPairs = 2;
  const size_t per_producer = san::scaled(80);
  std::vector<std::unique_ptr<san::Ring<2>>> rings;
  for (int i = 0; i < kPairs; ++i) rings.push_back(std::make_unique<san::Ring<2>>());
  std::atomic<int> producers_left{kPairs};
  san::Trimmer trimmer(1000);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPairs; ++i) {
    threads.emplace_back([&, i] {  // consumer of ring i
      Rng r(900 + i);
      for (;;) {
        void* b = rings[i]->pop();
        if (b == nullptr) {
          if (producers_left.load(std::memory_order_acquire) == 0 &&
              (b = rings[i]->pop()) == nullptr)
            return;
          if (b == nullptr) {
            std::this_thread::yield();
            continue;
          }
        }
        san::release_block(r, b, "large consumer");
      }
    });
    threads.emplace_back([&, i] {  // producer
      Rng r(700 + i);
      for (size_t k = 0; k < per_producer; ++k) {
        size_t n;
        unsigned pick = static_cast<unsigned>(r.Below(100));
        if (pick < 60)
          n = r.LogUniform(128 * 1024 + 1, (8 << 20) - 1);
        else if (pick < 85)
          n = r.LogUniform(8 << 20, 20 << 20);
        else
          n = r.SmallSkewed();
        void* b = san::make_block(r, n, r.Next());
        if (b == nullptr) break;
        if (r.OneIn(3)) {  // resize on the allocating side too
          size_t m = r.OneIn(2) ? n + r.LogUniform(1, 4 << 20) : n / 2 + 16;
          void* q = arenalloc::reallocate(b, m);
          if (q == nullptr) {
            san::fail("reallocate(%zu -> %zu) failed", n, m);
            arenalloc::dealloc(b);
            continue;
          }
          san::verify(q, "producer realloc", std::min(n, m));
          san::stamp(q, m, r.Next());
          b = q;
        }
        rings[i]->push_wait(b);
      }
      producers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (auto& t : threads) t.join();
}

// Waves of short-lived threads exchange blocks through shared slots: each takes whatever block a
// slot holds (often allocated by a thread that has exited, whose heap structure another thread
// may be using by now), checks and frees it, and leaves a block of its own.
TEST_F(CrossThread, ThreadChurnSharedSlots) {
  constexpr size_t kSlots = 512;
  static std::atomic<void*> slots[kSlots];
  for (auto& s : slots) s.store(nullptr);
  const size_t threads_total = san::scaled(64);
  const size_t ops = 1500;
  san::Trimmer trimmer(1000);
  std::atomic<size_t> next_thread{0};
  auto body = [&](size_t id) {
    Rng r(id * 13 + 5);
    for (size_t i = 0; i < ops; ++i) {
      size_t n = r.SmallSkewed();
      if (r.OneIn(500)) n = r.LogUniform(128 * 1024 + 1, 1 << 20);
      void* mine = r.OneIn(5) ? nullptr : san::make_block(r, n, r.Next());
      void* old = slots[r.Below(kSlots)].exchange(mine, std::memory_order_acq_rel);
      if (old != nullptr) san::release_block(r, old, "churn");
    }
  };
  // Four threads at a time, each replaced by a new one when it exits.
  std::vector<std::thread> running;
  for (int k = 0; k < 4; ++k)
    running.emplace_back([&] {
      for (size_t id; (id = next_thread.fetch_add(1)) < threads_total;) {
        std::thread t(body, id);
        t.join();
      }
    });
  for (auto& t : running) t.join();
  Rng r(1);
  for (auto& s : slots)
    if (void* b = s.exchange(nullptr)) san::release_block(r, b, "churn end");
}

// mallopt(M_PERTURB) at run time: a thread switches its heap between checked (every malloc and
// free on the slow path, blocks filled on malloc and free) and unchecked while another thread
// frees its blocks, some into its full pages.
TEST_F(CrossThread, CheckedHeapToggledWhileFreed) {
  uint64_t saved = arenalloc::options::get(arenalloc::options::Id::kPerturb);
  auto ring = std::make_unique<san::Ring<512>>();
  std::atomic<bool> done{false};
  std::thread freer([&] {
    Rng r(5);
    for (;;) {
      void* b = ring->pop();
      if (b == nullptr) {
        if (done.load(std::memory_order_acquire) && (b = ring->pop()) == nullptr) return;
        if (b == nullptr) {
          std::this_thread::yield();
          continue;
        }
      }
      san::release_block(r, b, "checked freer");
    }
  });
  std::thread owner([&] {
    Rng r(6);
    std::vector<void*> mine;
    const size_t rounds = san::scaled(80);
    for (size_t k = 0; k < rounds; ++k) {
      bool on = k % 2 == 0;
      // As mallopt(M_PERTURB, ...) does (debug mode, if on, keeps the heap checked).
      arenalloc::options::set(arenalloc::options::Id::kPerturb, on ? 0xA5 : 0);
      arenalloc::heap_set_checked(arenalloc::tls_heap, arenalloc::checking_wanted());
      for (int i = 0; i < 300; ++i) {
        size_t n = k % 3 == 0 ? 48 : r.SmallSkewed();
        void* b = san::make_block(r, n, r.Next());
        if (b == nullptr) break;
        if (r.OneIn(3))
          mine.push_back(b);
        else
          ring->push_wait(b);
      }
      while (mine.size() > 200) {
        san::release_block(r, mine.back(), "checked owner");
        mine.pop_back();
      }
    }
    for (void* b : mine) san::release_block(r, b, "checked owner");
    arenalloc::options::set(arenalloc::options::Id::kPerturb, saved);
    arenalloc::heap_set_checked(arenalloc::tls_heap, arenalloc::checking_wanted());
    done.store(true, std::memory_order_release);
  });
  owner.join();
  freer.join();
  arenalloc::options::set(arenalloc::options::Id::kPerturb, saved);
}

}  // namespace
