// Reclaiming an idle heap's empty pages (heap_reclaim_empty in heap.cpp): a page other than its
// class's current one whose every block came back through thread_free goes back to the arena
// without its owner's help. A page with a live block stays, so does the current page, and
// nothing is taken while the owner is in one of its slow paths.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <semaphore>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/heap.h"

using namespace arenalloc;

namespace {

constexpr size_t kSize = 1024;  // 64 blocks a page
const size_t kClass = class_of(kSize);

Page* page_of_block(const void* p) {
  return page_of(segment_of(p), p);
}

size_t queue_length(const Heap* heap) {
  size_t n = 0;
  for (const Page* page = heap->queues[kClass].first; page != nullptr; page = page->next) ++n;
  return n;
}

bool in_queue(const Heap* heap, const Page* wanted) {
  for (const Page* page = heap->queues[kClass].first; page != nullptr; page = page->next)
    if (page == wanted) return true;
  return false;
}

// What an owner thread leaves for the test: `full` full pages and a current one, every full page
// back in the queue behind the current one with one block freed by the owner (a page parked full
// would take its first remote free through the owner's delayed list instead).
struct OwnedPages {
  Heap* heap = nullptr;
  std::vector<Page*> pages;                // the current page last
  std::vector<std::vector<void*>> blocks;  // live blocks, per page
};

// On the owner thread.
void fill(OwnedPages& o, size_t full) {
  while (o.pages.size() < full + 1 || o.blocks.back().size() < 8) {
    void* p = alloc(kSize);
    if (o.pages.empty() || page_of_block(p) != o.pages.back()) {
      o.pages.push_back(page_of_block(p));
      o.blocks.emplace_back();
    }
    o.blocks.back().push_back(p);
  }
  for (size_t i = 0; i < full; ++i) {
    ASSERT_EQ(o.blocks[i].size(), o.pages[i]->reserved);
    dealloc(o.blocks[i].back());
    o.blocks[i].pop_back();
  }
  o.heap = tls_heap;
}

// On the owner thread: allocate over the memory the reclaim gave back and check what was written.
void use_heap_again() {
  std::vector<void*> more;
  for (int i = 0; i < 512; ++i) {
    void* p = alloc(kSize);
    std::memset(p, i & 0xff, kSize);
    more.push_back(p);
  }
  for (size_t i = 0; i < more.size(); ++i) {
    const auto* b = static_cast<const unsigned char*>(more[i]);
    ASSERT_EQ(b[0], i & 0xff);
    ASSERT_EQ(b[kSize - 1], i & 0xff);
  }
  for (void* p : more) dealloc(p);
}

void free_all(std::vector<void*>& blocks, size_t keep = 0) {
  while (blocks.size() > keep) {
    dealloc(blocks.back());
    blocks.pop_back();
  }
}

// An owner thread that fills `full` pages and a current one (fill), then waits, idle, until
// finish(); then it runs `after` and frees the blocks still listed in `o`.
class IdleOwner {
 public:
  explicit IdleOwner(size_t full, void (*after)() = nullptr)
      : thread_([this, full, after] {
          fill(o, full);
          idle_.release();
          resume_.acquire();
          if (after != nullptr) after();
          for (auto& b : o.blocks) free_all(b);
        }) {
    idle_.acquire();
  }
  ~IdleOwner() {
    if (thread_.joinable()) finish();
  }
  void finish() {
    resume_.release();
    thread_.join();
  }

  OwnedPages o;

 private:
  std::binary_semaphore idle_{0}, resume_{0};
  std::thread thread_;
};

}  // namespace

TEST(Reclaim, QueuePagesWhoseBlocksAllCameBackFromOtherThreadsGoBackToTheArena) {
  if (!kReclaimIdlePages) GTEST_SKIP() << "compiled out in this build (not x86-64, or TSan)";
  IdleOwner owner(3, use_heap_again);
  OwnedPages& o = owner.o;
  ASSERT_EQ(queue_length(o.heap), 4u);
  ASSERT_EQ(o.heap->queues[kClass].first, o.pages[3]);
  // Frees from this thread are remote: the blocks wait on the pages' thread_free lists.
  free_all(o.blocks[0]);
  free_all(o.blocks[1]);
  free_all(o.blocks[2], 1);  // one block stays live
  free_all(o.blocks[3]);     // the current page, every block back too
  EXPECT_EQ(heap_reclaim_empty(o.heap), 2u);
  EXPECT_EQ(queue_length(o.heap), 2u);
  EXPECT_FALSE(in_queue(o.heap, o.pages[0]));
  EXPECT_FALSE(in_queue(o.heap, o.pages[1]));
  EXPECT_TRUE(in_queue(o.heap, o.pages[2]));
  EXPECT_EQ(o.heap->queues[kClass].first, o.pages[3]);
  EXPECT_EQ(o.pages[0]->kind, PageKind::kFree);
  EXPECT_EQ(heap_reclaim_empty(o.heap), 0u) << "nothing more to take";
}

TEST(Reclaim, NothingIsTakenWhileTheOwnerIsInASlowPath) {
  if (!kReclaimIdlePages) GTEST_SKIP() << "compiled out in this build (not x86-64, or TSan)";
  OwnedPages o;
  std::binary_semaphore idle{0}, resume{0};
  std::thread owner([&] {
    fill(o, 2);
    {
      OwnerSlowPath slow_path(tls_heap);  // as if descheduled in the middle of a refill
      idle.release();
      resume.acquire();
    }
    idle.release();
    resume.acquire();
    use_heap_again();
    for (auto& b : o.blocks) free_all(b);
  });
  idle.acquire();
  free_all(o.blocks[0]);
  free_all(o.blocks[1]);
  EXPECT_EQ(heap_reclaim_empty(o.heap), 0u);
  EXPECT_EQ(queue_length(o.heap), 3u);
  resume.release();
  idle.acquire();
  EXPECT_EQ(heap_reclaim_empty(o.heap), 2u);
  EXPECT_EQ(queue_length(o.heap), 1u);
  resume.release();
  owner.join();
}

TEST(Reclaim, AThreadAboutToTakeFreshMemoryReclaimsFromAnIdleHeap) {
  if (!kReclaimIdlePages) GTEST_SKIP() << "compiled out in this build (not x86-64, or TSan)";
  IdleOwner owner(2);
  OwnedPages& o = owner.o;
  free_all(o.blocks[0]);
  free_all(o.blocks[1]);
  // The owner counts as idle once two looks kIdleMs apart (heaps_mark_idle, which frees into
  // parked pages and the purger make) saw no refill, and is reclaimed from kReclaimIdleMs later;
  // passes are kReclaimPeriodMs apart. Bounded: 2 s, where about 160 ms are enough.
  void* mine = alloc(16);  // this thread's heap, the reclaimer's
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (queue_length(o.heap) != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    heaps_mark_idle();
    heaps_reclaim_idle(tls_heap);
  }
  EXPECT_EQ(queue_length(o.heap), 1u);
  dealloc(mine);
}

// A thread that only frees (here: no allocation at all) is enough: the remote free that fills half
// a page's thread_free list has idleness marked and, with a heap idle, the purger started, which
// reclaims from heaps idle for kReclaimIdleMs. Pages are freed 10 ms apart so that the owner is
// seen idle (two looks kIdleMs apart). Bounded: 3 s, where about 0.5 s is enough.
TEST(Reclaim, FreesAloneGetAnIdleHeapsPagesReclaimedByThePurger) {
  if (!kReclaimIdlePages) GTEST_SKIP() << "compiled out in this build (not x86-64, or TSan)";
  constexpr size_t kPages = 20;
  IdleOwner owner(kPages);
  OwnedPages& o = owner.o;
  ASSERT_EQ(queue_length(o.heap), kPages + 1);
  std::thread freer([&] {
    for (size_t i = 0; i < kPages; ++i) {
      free_all(o.blocks[i]);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  freer.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (queue_length(o.heap) != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(queue_length(o.heap), 1u) << "the purger did not reclaim the freed pages";
}

// The owner frees half of each page's blocks itself (the free fast path) while another thread
// frees the other half and a third reclaims all along: a page is taken only once both halves are
// back, and the memory reused afterwards holds what is written to it.
TEST(Reclaim, OwnerFreesRacingWithAReclaimerLoseNothing) {
  if (!kReclaimIdlePages) GTEST_SKIP() << "compiled out in this build (not x86-64, or TSan)";
  constexpr size_t kPages = 24;
  OwnedPages o;
  std::binary_semaphore idle{0}, start{0}, resume{0};
  std::vector<void*> remote_half;
  remote_half.reserve(kPages * 64);  // no allocation on the owner thread once its pages are set
  std::thread owner([&] {
    fill(o, kPages);
    for (size_t i = 0; i < kPages; ++i)
      for (size_t k = 0; k < o.blocks[i].size(); k += 2) remote_half.push_back(o.blocks[i][k]);
    idle.release();
    start.acquire();
    for (size_t i = 0; i < kPages; ++i)
      for (size_t k = 1; k < o.blocks[i].size(); k += 2) dealloc(o.blocks[i][k]);
    idle.release();
    resume.acquire();
    use_heap_again();
    free_all(o.blocks[kPages]);
  });
  idle.acquire();
  std::atomic<bool> frees_done{false};
  std::atomic<size_t> reclaimed{0};
  std::thread reclaimer([&] {
    while (!frees_done.load()) reclaimed += heap_reclaim_empty(o.heap);
    reclaimed += heap_reclaim_empty(o.heap);
  });
  start.release();
  for (void* b : remote_half) dealloc(b);
  idle.acquire();
  frees_done = true;
  reclaimer.join();
  EXPECT_EQ(reclaimed.load(), kPages);
  EXPECT_EQ(queue_length(o.heap), 1u);
  // The reclaimed memory is reused by this thread while the owner allocates again.
  std::vector<void*> mine;
  for (size_t i = 0; i < kPages * 64; ++i) {
    void* p = alloc(kSize);
    std::memset(p, 0x5a, kSize);
    mine.push_back(p);
  }
  resume.release();
  owner.join();
  for (void* p : mine) {
    const auto* b = static_cast<const unsigned char*>(p);
    ASSERT_EQ(b[0], 0x5a);
    ASSERT_EQ(b[kSize - 1], 0x5a);
    dealloc(p);
  }
}

// A fork child leaves alone the heap of a thread that was inside one of its slow paths when the
// process forked: its queues may be half-changed there (abandoning them once put a page twice on
// an arena's abandoned list, and the child hung). The heap of a thread that was not is abandoned
// as before. Checked in the child, which reports through its exit status.
TEST(Reclaim, AForkChildLeavesTheHeapOfAThreadCaughtInASlowPath) {
  OwnedPages busy, quiet;
  std::counting_semaphore<2> ready{0}, resume{0};
  auto owner = [&](OwnedPages& o, bool hold) {
    fill(o, 1);
    if (hold) {
      OwnerSlowPath slow_path(tls_heap);  // as if forked in the middle of a refill
      ready.release();
      resume.acquire();
    } else {
      ready.release();
      resume.acquire();
    }
    for (auto& b : o.blocks) free_all(b);
  };
  std::thread t1(owner, std::ref(busy), true), t2(owner, std::ref(quiet), false);
  ready.acquire();
  ready.acquire();
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    int status = 0;
    if (busy.pages[0]->owner.load() == 0) status |= 1;   // the caught heap was abandoned
    if (quiet.pages[0]->owner.load() != 0) status |= 2;  // the other one was not
    void* p = alloc(kSize);                              // the child allocates as usual
    dealloc(p);
    _exit(status);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child did not exit normally";
  EXPECT_EQ(WEXITSTATUS(status) & 1, 0) << "the heap caught in a slow path was abandoned";
  EXPECT_EQ(WEXITSTATUS(status) & 2, 0) << "the quiet thread's heap was not abandoned";
  resume.release(2);
  t1.join();
  t2.join();
}
