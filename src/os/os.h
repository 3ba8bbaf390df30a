// The platform layer: every system call arenalloc makes goes through here.
//
// Nothing in this file allocates: it is used while the allocator initialises and from inside
// malloc itself. Errors are returned, never thrown or printed.
#pragma once

#include <errno.h>

#include <cstddef>
#include <cstdint>

namespace arenalloc::os {

// ---- address space ----
// Reserve `size` bytes aligned to `align` (a power of two >= the OS page size). The memory is
// readable and writable, counted as RSS only once touched (MAP_NORESERVE). nullptr on failure.
// A non-null `hint` asks for that address first.
void* reserve_aligned(size_t size, size_t align, void* hint = nullptr) noexcept;
// Reserve `size` bytes that read as zero and cannot be written (no RSS, no commit charge) until
// parts are made writable.
void* reserve_readonly(size_t size) noexcept;
// Make a range of such a reservation writable; false if the kernel refuses (commit limit).
bool make_writable(void* addr, size_t size) noexcept;
// The same from the program break (brk), as ptmalloc's main arena; nullptr if brk cannot grow.
// Such memory is never released, only purged.
void* brk_reserve_aligned(size_t size, size_t align) noexcept;
// Release address space: give it back to the OS.
void release(void* addr, size_t size) noexcept;
// Drop the contents of committed pages so they stop counting as RSS; they read as zero after.
// `lazy` uses MADV_FREE (cheaper, but pages stay in RSS until the kernel needs them).
bool purge(void* addr, size_t size, bool lazy) noexcept;
// Name a mapping for /proc/PID/maps ("[anon:NAME]"), where the kernel supports it.
void name_mapping(void* addr, size_t size, const char* name) noexcept;
// Ask for (or refuse) transparent huge pages on a range.
void advise_huge(void* addr, size_t size, bool huge) noexcept;
// Make a range inaccessible (a guard page) or readable and writable again.
void protect(void* addr, size_t size, bool read_write) noexcept;
// Move the pages of [from, from+size) to `to` (an address we reserved), without copying.
bool remap_fixed(void* from, size_t size, void* to, size_t new_size) noexcept;

// Counters of the calls above (read by statistics).
struct SyscallCounts {
  uint64_t mmap, munmap, madvise, mremap, brk;
};
SyscallCounts syscall_counts() noexcept;

// ---- machine ----
size_t page_size() noexcept;
unsigned cpu_count() noexcept;  // CPUs this process may run on
uint64_t now_ms() noexcept;     // monotonic, coarse (vDSO, no syscall)
uint32_t thread_id() noexcept;  // kernel tid
uint64_t random_seed() noexcept;

// ---- environment and output (no malloc) ----
const char* getenv(const char* name) noexcept;
void write_stderr(const char* text, size_t len) noexcept;
size_t resident_bytes() noexcept;       // current RSS, from /proc/self/statm
size_t peak_resident_bytes() noexcept;  // VmHWM, from /proc/self/status

// ---- waiting ----
void futex_wait(uint32_t* addr, uint32_t expected) noexcept;
void futex_wake_one(uint32_t* addr) noexcept;
void yield() noexcept;
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
// One step of waiting for another thread that should be done within a few instructions: spin a
// little, then give the CPU away (the other thread may have been preempted mid-way).
inline void spin_pause(unsigned spins) noexcept {
  if (spins > 64)
    yield();
  else
    cpu_relax();
}

// Restores errno when it goes out of scope: free() must leave errno as it found it, and its slow
// paths may sleep on a futex or call madvise.
class ErrnoGuard {
 public:
  ErrnoGuard() : saved_(errno) {}
  ~ErrnoGuard() { errno = saved_; }

 private:
  int saved_;
};

}  // namespace arenalloc::os
