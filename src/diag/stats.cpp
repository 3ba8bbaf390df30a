// Statistics counters and their reports (text on stderr, JSON into a caller's buffer). Nothing
// here allocates: the snapshot lives in a static buffer guarded by a lock.
#include "diag/stats.h"

#include "core/lock.h"
#include "diag/format.h"
#include "diag/options.h"
#include "diag/valgrind.h"
#include "os/os.h"

namespace arenalloc::stats {
namespace {

constinit Global g_global;
Lock g_snapshot_lock;
Snapshot g_snapshot;

void raise_to(std::atomic<uint64_t>& peak, uint64_t value) {
  uint64_t cur = peak.load(std::memory_order_relaxed);
  while (value > cur && !peak.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
  }
}

// Appends to a caller's buffer, counting what did not fit.
class Out {
 public:
  Out(char* buf, size_t len) : buf_(buf), len_(len) {}
  Out& str(const char* s) {
    while (*s != '\0') put(*s++);
    return *this;
  }
  Out& num(uint64_t v) {
    diag::Line l;
    l.dec(v);
    for (size_t i = 0; i < l.size(); ++i) put(l.data()[i]);
    return *this;
  }
  Out& key(const char* k) { return str("\"").str(k).str("\":"); }
  Out& field(const char* k, uint64_t v, bool comma = true) {
    key(k).num(v);
    return comma ? str(",") : *this;
  }
  size_t finish() {
    if (len_ != 0) buf_[pos_ < len_ ? pos_ : len_ - 1] = '\0';
    return pos_;
  }

 private:
  void put(char c) {
    if (pos_ + 1 < len_) buf_[pos_] = c;
    ++pos_;
  }
  char* buf_;
  size_t len_;
  size_t pos_ = 0;
};

void line_bytes(diag::Line& l, const char* label, uint64_t bytes) {
  l.str(label).dec(bytes / 1024).str(" KiB");
}

}  // namespace

Global& global() noexcept {
  return g_global;
}

void huge_allocated(size_t bytes) noexcept {
  uint64_t n = g_global.huge_count.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t b = g_global.huge_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  raise_to(g_global.huge_peak_count, n);
  raise_to(g_global.huge_peak_bytes, b);
}

void huge_freed(size_t bytes) noexcept {
  g_global.huge_count.fetch_sub(1, std::memory_order_relaxed);
  g_global.huge_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

void print() noexcept {
  vg::Scope scope;
  LockGuard guard(g_snapshot_lock);
  Snapshot& s = g_snapshot;
  take_snapshot(&s);
  {
    diag::Line l;
    l.str("arenalloc statistics: ");
    line_bytes(l, "in use ", s.bytes_in_use + s.huge_bytes);
    line_bytes(l, ", committed ", s.bytes_committed + s.huge_bytes);
    line_bytes(l, ", dirty ", s.bytes_dirty);
    line_bytes(l, ", rss ", s.rss);
    line_bytes(l, ", peak rss ", s.peak_rss);
    l.str("\n").write_stderr();
  }
  {
    diag::Line l;
    l.str("  huge blocks ").dec(s.huge_count);
    line_bytes(l, " (", s.huge_bytes);
    l.str("), at most ").dec(s.huge_peak_count);
    line_bytes(l, " (", s.huge_peak_bytes);
    l.str("); segments mapped ").dec(s.segments_mapped);
    line_bytes(l, "; purged ", s.bytes_purged);
    l.str("\n").write_stderr();
  }
  {
    diag::Line l;
    l.str("  system calls: mmap ")
        .dec(s.mmap_calls)
        .str(", munmap ")
        .dec(s.munmap_calls)
        .str(", madvise ")
        .dec(s.madvise_calls)
        .str(", mremap ")
        .dec(s.mremap_calls)
        .str(", brk ")
        .dec(s.brk_calls)
        .str("\n")
        .write_stderr();
  }
  {
    diag::Line l;
    l.str("  arena  segments  in-use KiB  committed KiB  dirty KiB  pages  large  abandoned\n");
    l.write_stderr();
  }
  for (size_t i = 0; i < kMaxArenas; ++i) {
    const ArenaStats& a = s.arenas[i];
    if (a.segments == 0) continue;
    diag::Line l;
    l.str("  ")
        .dec(i)
        .str("  ")
        .dec(a.segments)
        .str("  ")
        .dec(a.bytes_in_use / 1024)
        .str("  ")
        .dec(a.bytes_committed / 1024)
        .str("  ")
        .dec(a.bytes_dirty / 1024)
        .str("  ")
        .dec(a.small_pages)
        .str("  ")
        .dec(a.large_blocks)
        .str("  ")
        .dec(a.abandoned_pages)
        .str("\n")
        .write_stderr();
  }
  {
    diag::Line l;
    l.str("  class-size  pages  blocks-in-use  blocks-free\n").write_stderr();
  }
  for (size_t c = 0; c < kClassCount; ++c) {
    const ClassStats& cs = s.classes[c];
    if (cs.pages == 0) continue;
    diag::Line l;
    l.str("  ")
        .dec(class_size(c))
        .str("  ")
        .dec(cs.pages)
        .str("  ")
        .dec(cs.blocks_in_use)
        .str("  ")
        .dec(cs.blocks_free)
        .str("\n")
        .write_stderr();
  }
  diag::Line l;
  l.str("  options:");
  for (size_t i = 0; i < size_t(options::Id::kCount); ++i) {
    char v[32];
    options::format(options::Id(i), v, sizeof(v));
    l.str(" ").str(options::info(options::Id(i)).name).str("=").str(v);
  }
  l.str("\n").write_stderr();
}

size_t to_json(char* buf, size_t len) noexcept {
  vg::Scope scope;
  LockGuard guard(g_snapshot_lock);
  Snapshot& s = g_snapshot;
  take_snapshot(&s);
  Out o(buf, len);
  o.str("{");
  o.field("bytes_in_use", s.bytes_in_use + s.huge_bytes)
      .field("bytes_committed", s.bytes_committed + s.huge_bytes)
      .field("bytes_dirty", s.bytes_dirty)
      .field("bytes_reserved", s.bytes_reserved)
      .field("bytes_purged", s.bytes_purged)
      .field("rss", s.rss)
      .field("peak_rss", s.peak_rss)
      .field("segments_mapped", s.segments_mapped)
      .field("arena_count", s.arena_count);
  o.key("huge")
      .str("{")
      .field("count", s.huge_count)
      .field("bytes", s.huge_bytes)
      .field("peak_count", s.huge_peak_count)
      .field("peak_bytes", s.huge_peak_bytes, false)
      .str("},");
  o.key("syscalls")
      .str("{")
      .field("mmap", s.mmap_calls)
      .field("munmap", s.munmap_calls)
      .field("madvise", s.madvise_calls)
      .field("mremap", s.mremap_calls)
      .field("brk", s.brk_calls, false)
      .str("},");
  o.key("arenas").str("[");
  bool first = true;
  for (size_t i = 0; i < kMaxArenas; ++i) {
    const ArenaStats& a = s.arenas[i];
    if (a.segments == 0) continue;
    if (!first) o.str(",");
    first = false;
    o.str("{")
        .field("index", i)
        .field("segments", a.segments)
        .field("bytes_in_use", a.bytes_in_use)
        .field("bytes_committed", a.bytes_committed)
        .field("bytes_dirty", a.bytes_dirty)
        .field("bytes_reserved", a.bytes_reserved)
        .field("small_pages", a.small_pages)
        .field("large_blocks", a.large_blocks)
        .field("abandoned_pages", a.abandoned_pages, false)
        .str("}");
  }
  o.str("],");
  o.key("size_classes").str("[");
  first = true;
  for (size_t c = 0; c < kClassCount; ++c) {
    const ClassStats& cs = s.classes[c];
    if (cs.pages == 0) continue;
    if (!first) o.str(",");
    first = false;
    o.str("{")
        .field("size", class_size(c))
        .field("pages", cs.pages)
        .field("blocks_in_use", cs.blocks_in_use)
        .field("blocks_free", cs.blocks_free, false)
        .str("}");
  }
  o.str("],");
  o.key("options").str("{");
  for (size_t i = 0; i < size_t(options::Id::kCount); ++i) {
    char v[32];
    options::format(options::Id(i), v, sizeof(v));
    o.key(options::info(options::Id(i)).name).str("\"").str(v).str("\"");
    if (i + 1 < size_t(options::Id::kCount)) o.str(",");
  }
  o.str("}}");
  return o.finish();
}

}  // namespace arenalloc::stats
