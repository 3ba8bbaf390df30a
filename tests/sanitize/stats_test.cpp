// Statistics while other threads allocate and free: stats::take_snapshot (behind mallinfo2,
// malloc_stats, malloc_info and arenalloc's statistics) walks every arena's page descriptors
// under the arena locks while the pages' owners go on without them.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "diag/stats.h"
#include "sanitize_util.h"

namespace {

using san::Rng;

TEST(Statistics, SnapshotWhileThreadsAllocate) {
  san::reset_errors();
  std::atomic<bool> stop{false};
  std::atomic<size_t> snapshots{0};
  std::thread reader([&] {
    auto s = std::make_unique<arenalloc::stats::Snapshot>();
    std::vector<char> json(1 << 16);
    while (!stop.load(std::memory_order_relaxed)) {
      arenalloc::stats::take_snapshot(s.get());
      arenalloc::stats::to_json(json.data(), json.size());
      snapshots.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([t] {
      Rng r(t + 500);
      std::vector<void*> v;
      for (size_t i = 0; i < san::scaled(6000); ++i) {
        size_t n = r.OneIn(100) ? r.LogUniform(128 * 1024 + 1, 1 << 20) : r.SmallSkewed();
        v.push_back(san::make_block(r, n, r.Next()));
        if (v.size() > 200) {
          size_t k = r.Below(v.size());
          san::release_block(r, v[k], "stats worker");
          v[k] = v.back();
          v.pop_back();
        }
      }
      for (void* b : v) san::release_block(r, b, "stats worker");
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  reader.join();
  EXPECT_GT(snapshots.load(), 0u);
  EXPECT_EQ(san::g_errors.load(), 0u) << "first error: " << san::g_first_error;
}

}  // namespace
