#include "diag/stats.h"

#include "core/arena.h"
#include "diag/format.h"
#include "os/os.h"

namespace arenalloc::stats {

namespace {
constinit Global g_global;
}

Global& global() noexcept { return g_global; }

void print() noexcept {
  Global& g = global();
  os::SyscallCounts sc = os::syscall_counts();
  diag::Line a;
  a.str("arenalloc: segments mapped ").dec(g.segments_mapped.load())
      .str(", large blocks ").dec(g.large_count.load()).str(" (").dec(g.large_bytes.load())
      .str(" bytes), huge blocks ").dec(g.huge_count.load()).str(" (").dec(g.huge_bytes.load())
      .str(" bytes)\n");
  a.write_stderr();
  diag::Line b;
  b.str("arenalloc: purged ").dec(g.bytes_purged.load()).str(" bytes; syscalls: mmap ")
      .dec(sc.mmap).str(", munmap ").dec(sc.munmap).str(", madvise ").dec(sc.madvise)
      .str(", mremap ").dec(sc.mremap).str("; arenas ").dec(arena_count())
      .str("; rss ").dec(os::resident_bytes()).str(" bytes\n");
  b.write_stderr();
}

}  // namespace arenalloc::stats
