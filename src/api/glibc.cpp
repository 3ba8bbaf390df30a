// glibc's tuning and introspection calls: mallopt, mallinfo/mallinfo2, malloc_stats,
// malloc_info, answered from arenalloc's options and statistics.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/checked.h"
#include "core/heap.h"
#include "diag/format.h"
#include "diag/options.h"
#include "diag/stats.h"
#include "diag/valgrind.h"

using namespace arenalloc;
using options::Id;

#define ARENALLOC_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// One snapshot at a time for these calls (they may come from several threads).
Lock g_lock;
stats::Snapshot g_snapshot;

template <typename T>
T info_from(const stats::Snapshot& s) {
  T mi{};
  uint64_t system = s.bytes_committed;
  mi.arena = static_cast<decltype(mi.arena)>(system);
  mi.ordblks = 0;
  for (const stats::ArenaStats& a : s.arenas)
    mi.ordblks += static_cast<decltype(mi.ordblks)>(a.free_runs);
  mi.smblks = 0;
  mi.hblks = static_cast<decltype(mi.hblks)>(s.huge_count);
  mi.hblkhd = static_cast<decltype(mi.hblkhd)>(s.huge_bytes);
  mi.usmblks = 0;
  mi.fsmblks = 0;
  mi.uordblks = static_cast<decltype(mi.uordblks)>(s.bytes_in_use);
  mi.fordblks = static_cast<decltype(mi.fordblks)>(system - s.bytes_in_use);
  mi.keepcost = static_cast<decltype(mi.keepcost)>(s.bytes_dirty);
  return mi;
}

}  // namespace

ARENALLOC_EXPORT int mallopt(int param, int value) noexcept {
  switch (param) {
    case M_ARENA_MAX:
      if (value > 0) {
        options::set(Id::kArenaMax, value > int(kMaxArenas) ? kMaxArenas : uint64_t(value));
        arenas_set_count(options::arena_count());
      }
      return 1;
    case M_ARENA_TEST:
      if (value > 0) {
        options::set(Id::kArenaTest, value > int(kMaxArenas) ? kMaxArenas : uint64_t(value));
        arenas_set_count(options::arena_count());
      }
      return 1;
    case M_MMAP_THRESHOLD:
      // glibc refuses more than half its heap size (32 MiB on 64-bit); so does arenalloc.
      return options::set(Id::kMmapThreshold, static_cast<unsigned>(value)) ? 1 : 0;
    case M_TRIM_THRESHOLD:  // -1 (huge as unsigned) means never trim early
      options::set(Id::kTrimThreshold, value < 0 ? uint64_t{1} << 62 : uint64_t(value));
      return 1;
    case M_TOP_PAD:
      options::set(Id::kTopPad, value < 0 ? 0 : uint64_t(value));
      return 1;
    case M_MMAP_MAX:
      options::set(Id::kMmapMax, value < 0 ? 0 : uint64_t(value));
      return 1;
    case M_PERTURB:
      options::set(Id::kPerturb, uint64_t(value) & 0xff);
      heap_set_checked(tls_heap, checking_wanted());
      return 1;
    case M_CHECK_ACTION:  // glibc accepts and no longer acts on it
      return 1;
    case M_MXFAST:  // no fast bins here; accept glibc's valid range
      return value >= 0 && value <= 80 * int(sizeof(size_t)) / 4 ? 1 : 0;
    default:
      return 0;
  }
}

ARENALLOC_EXPORT struct mallinfo2 mallinfo2() noexcept {
  vg::Scope scope;
  LockGuard guard(g_lock);
  stats::take_snapshot(&g_snapshot);
  return info_from<struct mallinfo2>(g_snapshot);
}

// Deprecated int version: fields wrap past 2 GiB, as glibc's do.
ARENALLOC_EXPORT struct mallinfo mallinfo() noexcept {
  vg::Scope scope;
  LockGuard guard(g_lock);
  stats::take_snapshot(&g_snapshot);
  return info_from<struct mallinfo>(g_snapshot);
}

// glibc's layout on stderr: per arena, then totals including mmapped blocks.
ARENALLOC_EXPORT void malloc_stats() noexcept {
  vg::Scope scope;
  LockGuard guard(g_lock);
  stats::Snapshot& s = g_snapshot;
  stats::take_snapshot(&s);
  auto row = [](diag::Line& l, const char* label, uint64_t v) {
    l.str(label);
    diag::Line num;
    num.dec(v);
    for (size_t i = num.size(); i < 10; ++i) l.str(" ");
    l.chars(num.data(), num.size()).str("\n");
  };
  for (size_t i = 0; i < kMaxArenas; ++i) {
    const stats::ArenaStats& a = s.arenas[i];
    if (a.segments == 0) continue;
    diag::Line l;
    l.str("Arena ").dec(i).str(":\n");
    row(l, "system bytes     = ", a.bytes_committed);
    row(l, "in use bytes     = ", a.bytes_in_use);
    l.write_stderr();
  }
  diag::Line l;
  l.str("Total (incl. mmap):\n");
  row(l, "system bytes     = ", s.bytes_committed + s.huge_bytes);
  row(l, "in use bytes     = ", s.bytes_in_use + s.huge_bytes);
  row(l, "max mmap regions = ", s.huge_peak_count);
  row(l, "max mmap bytes   = ", s.huge_peak_bytes);
  l.write_stderr();
}

// glibc's XML layout. Per heap (arena), <size> lists the free blocks of each size class.
ARENALLOC_EXPORT int malloc_info(int opts, FILE* fp) noexcept {
  if (opts != 0) return EINVAL;
  vg::Scope scope;
  LockGuard guard(g_lock);
  stats::Snapshot& s = g_snapshot;
  stats::take_snapshot(&s);
  fputs("<malloc version=\"1\">\n", fp);
  uint64_t free_blocks = 0, free_bytes = 0;
  for (size_t i = 0; i < kMaxArenas; ++i) {
    const stats::ArenaStats& a = s.arenas[i];
    if (a.segments == 0) continue;
    fprintf(fp, "<heap nr=\"%zu\">\n<sizes>\n", i);
    fputs("</sizes>\n", fp);
    uint64_t rest = a.bytes_committed - a.bytes_in_use;
    fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
    fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n",
            (unsigned long long)a.free_runs, (unsigned long long)rest);
    fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n",
            (unsigned long long)a.bytes_committed);
    fprintf(fp, "<system type=\"max\" size=\"%llu\"/>\n", (unsigned long long)a.bytes_committed);
    fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n", (unsigned long long)a.bytes_reserved);
    fprintf(fp, "<aspace type=\"mprotect\" size=\"%llu\"/>\n",
            (unsigned long long)a.bytes_reserved);
    fputs("</heap>\n", fp);
  }
  fputs("<sizes>\n", fp);
  for (size_t c = 0; c < kClassCount; ++c) {
    const stats::ClassStats& cs = s.classes[c];
    if (cs.blocks_free == 0) continue;
    size_t from = c == 0 ? 1 : class_size(c - 1) + 1;
    fprintf(fp, "  <size from=\"%zu\" to=\"%zu\" total=\"%llu\" count=\"%llu\"/>\n", from,
            class_size(c), (unsigned long long)(cs.blocks_free * class_size(c)),
            (unsigned long long)cs.blocks_free);
    free_blocks += cs.blocks_free;
    free_bytes += cs.blocks_free * class_size(c);
  }
  fputs("</sizes>\n", fp);
  fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
  fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n",
          (unsigned long long)free_blocks, (unsigned long long)free_bytes);
  fprintf(fp, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n",
          (unsigned long long)s.huge_count, (unsigned long long)s.huge_bytes);
  fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n",
          (unsigned long long)(s.bytes_committed + s.huge_bytes));
  fprintf(fp, "<system type=\"max\" size=\"%llu\"/>\n", (unsigned long long)s.peak_rss);
  fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n",
          (unsigned long long)(s.bytes_reserved + s.huge_bytes));
  fprintf(fp, "<aspace type=\"mprotect\" size=\"%llu\"/>\n",
          (unsigned long long)(s.bytes_reserved + s.huge_bytes));
  fputs("</malloc>\n", fp);
  return 0;
}
