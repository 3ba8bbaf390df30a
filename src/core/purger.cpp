// The background purger: one thread, started the first time 16 MiB of freed memory waits to be
// purged (1 MiB once the process has made a thread), an idle heap's pages may wait to be
// reclaimed (heaps_reclaim_idle), or other threads' frees fill half of a heap's page
// (remote_frees_filled_half_a_page in free.cpp), that maintains the arenas every fraction of the
// purge delay. Without it, memory freed just before a program goes idle (or stops allocating)
// would stay resident: the arenas are otherwise maintained only on allocator slow paths.
//
// The thread blocks every signal, allocates nothing from arenalloc's heaps, and only takes arena
// locks with try_lock. It is started outside any allocator lock (pthread_create itself calls
// malloc). A fork child has no purger; it starts its own when it needs one.
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <time.h>

#include <atomic>

#include "core/arena.h"
#include "core/heap.h"
#include "core/private_heap.h"
#include "diag/options.h"
#include "diag/valgrind.h"

namespace arenalloc {
namespace {

// Small programs (shells, scripts) never get the thread: some of them count their threads (e.g.
// Python warns about fork() in a multi-threaded process). Below this, freed memory is purged on
// the allocator's own slow paths.
constexpr size_t kStartBytes = size_t{16} << 20;
// A process that has made threads gets it sooner: one more thread is no news to it, and memory
// that its threads free and then stop calling the allocator would otherwise stay (12 blocks of
// 1 MiB built by one thread and freed by another: 12 MiB resident as long as both waited; glibc
// unmaps such blocks at free).
constexpr size_t kStartBytesThreaded = size_t{1} << 20;

size_t start_bytes() {
  return __libc_single_threaded ? kStartBytes : kStartBytesThreaded;
}
// 0 = not started, 1 = running, 2 = could not start (not retried).
std::atomic<int> g_state{0};

void* purger_main(void*) {
  prctl(PR_SET_NAME, "arenalloc-purge", 0, 0, 0);
  for (;;) {
    uint64_t delay = options::purge_delay_ms();
    uint64_t interval = delay / 4;
    if (interval < 10) interval = 10;
    if (interval > 250) interval = 250;
    struct timespec ts = {static_cast<time_t>(interval / 1000),
                          static_cast<long>((interval % 1000) * 1000000)};
    nanosleep(&ts, nullptr);
    vg::Scope scope;
    heaps_release_idle();
    arenas_maintain_due();
    private_heaps_maintain(false);
  }
  return nullptr;
}

}  // namespace

void purger_start_if_needed(bool reclaim_pending) noexcept {
  if (g_state.load(std::memory_order_relaxed) != 0) [[likely]]
    return;
  if ((!reclaim_pending && arenas_dirty_bytes() < start_bytes()) ||
      options::get(options::Id::kBackground) == 0)
    return;
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread inherits "everything blocked"
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  if (pthread_create(&thread, &attr, purger_main, nullptr) != 0)
    g_state.store(2, std::memory_order_relaxed);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void purger_after_fork_child() noexcept {
  if (g_state.load(std::memory_order_relaxed) == 1) g_state.store(0, std::memory_order_relaxed);
}

}  // namespace arenalloc
