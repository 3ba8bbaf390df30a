// Linux implementation of the platform layer (see os.h). Raw system calls only: no stdio, no
// malloc, nothing that could re-enter the allocator.
#include "os/os.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

extern char** environ;

namespace arenalloc::os {
namespace {

std::atomic<uint64_t> n_mmap{0}, n_munmap{0}, n_madvise{0}, n_mremap{0}, n_brk{0};
std::atomic<int> naming_supported{1};

void count(std::atomic<uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

// System calls are made directly, not through libc's wrappers: each wrapper lives in a different
// part of libc's text, and calling it at start-up maps that part into the process (the kernel
// maps 64 KiB around each first touch), which shows in the RSS of every program. Results are
// the kernel's: a value in [-4095, -1] is -errno (libc's errno is left alone).
#if defined(__x86_64__)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
#else
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long r = syscall(n, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}
#endif

bool failed(long r) {
  return static_cast<unsigned long>(r) > static_cast<unsigned long>(-4096);
}

long arg(const void* p) {
  return reinterpret_cast<long>(p);
}

// mmap; nullptr on failure.
void* map(void* hint, size_t size, int prot, int flags) {
  long r = sys(SYS_mmap, arg(hint), static_cast<long>(size), prot, flags, -1, 0);
  return failed(r) ? nullptr : reinterpret_cast<void*>(r);
}

void* map_anonymous(size_t size, void* hint = nullptr) {
  count(n_mmap);
  return map(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

}  // namespace

void* reserve_aligned(size_t size, size_t align, void* hint) noexcept {
  if (size == 0 || size + align < size) return nullptr;
  // The kernel places mappings top-down: just below the last aligned reservation is usually
  // free and aligned, so ask for it first (MAP_FIXED_NOREPLACE fails rather than clobbering).
  static std::atomic<uintptr_t> next_hint{0};
  uintptr_t guess = hint != nullptr ? reinterpret_cast<uintptr_t>(hint)
                                    : next_hint.load(std::memory_order_relaxed);
  if (guess > size) {
    guess = (guess - (hint != nullptr ? 0 : size)) & ~(uintptr_t)(align - 1);
    count(n_mmap);
    void* p = map(reinterpret_cast<void*>(guess), size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE);
    if (p != nullptr) {
      if (p == reinterpret_cast<void*>(guess)) {
        next_hint.store(guess, std::memory_order_relaxed);
        return p;
      }
      release(p, size);  // a kernel without MAP_FIXED_NOREPLACE took it as a plain hint
    }
  }
  // Over-reserve, then trim the unaligned head and the tail.
  uint8_t* p = nullptr;
  size_t padded = size + align;
  if (padded < size) return nullptr;
  p = static_cast<uint8_t*>(map_anonymous(padded));
  if (p == nullptr) return nullptr;
  uintptr_t start = (reinterpret_cast<uintptr_t>(p) + align - 1) & ~(uintptr_t)(align - 1);
  uint8_t* aligned = reinterpret_cast<uint8_t*>(start);
  size_t head = aligned - p;
  size_t tail = padded - head - size;
  if (head != 0) release(p, head);
  if (tail != 0) release(aligned + size, tail);
  next_hint.store(reinterpret_cast<uintptr_t>(aligned), std::memory_order_relaxed);
  return aligned;
}

void* reserve_readonly(size_t size) noexcept {
  count(n_mmap);
  return map(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

bool make_writable(void* addr, size_t size) noexcept {
  return sys(SYS_mprotect, arg(addr), static_cast<long>(size), PROT_READ | PROT_WRITE) == 0;
}

void* brk_reserve_aligned(size_t size, size_t align) noexcept {
  count(n_brk);
  auto current = reinterpret_cast<uintptr_t>(sbrk(0));
  if (current == ~uintptr_t{0}) return nullptr;
  uintptr_t start = (current + align - 1) & ~(uintptr_t)(align - 1);
  size_t grow = (start - current) + size;
  count(n_brk);
  if (sbrk(static_cast<intptr_t>(grow)) == reinterpret_cast<void*>(-1)) return nullptr;
  return reinterpret_cast<void*>(start);
}

void release(void* addr, size_t size) noexcept {
  count(n_munmap);
  sys(SYS_munmap, arg(addr), static_cast<long>(size));
}

bool purge(void* addr, size_t size, bool lazy) noexcept {
  count(n_madvise);
  if (lazy && sys(SYS_madvise, arg(addr), static_cast<long>(size), MADV_FREE) == 0) return true;
  return sys(SYS_madvise, arg(addr), static_cast<long>(size), MADV_DONTNEED) == 0;
}

void name_mapping(void* addr, size_t size, const char* name) noexcept {
  if (naming_supported.load(std::memory_order_relaxed) == 0) return;
  if (sys(SYS_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, arg(addr), static_cast<long>(size),
          arg(name)) == -EINVAL) {
    naming_supported.store(0, std::memory_order_relaxed);  // kernel without CONFIG_ANON_VMA_NAME
  }
}

void advise_huge(void* addr, size_t size, bool huge) noexcept {
  count(n_madvise);
  sys(SYS_madvise, arg(addr), static_cast<long>(size), huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

void protect(void* addr, size_t size, bool read_write) noexcept {
  sys(SYS_mprotect, arg(addr), static_cast<long>(size),
      read_write ? PROT_READ | PROT_WRITE : PROT_NONE);
}

bool remap_fixed(void* from, size_t size, void* to, size_t new_size) noexcept {
  count(n_mremap);
  return !failed(sys(SYS_mremap, arg(from), static_cast<long>(size), static_cast<long>(new_size),
                     MREMAP_MAYMOVE | MREMAP_FIXED, arg(to)));
}

SyscallCounts syscall_counts() noexcept {
  return {n_mmap.load(std::memory_order_relaxed), n_munmap.load(std::memory_order_relaxed),
          n_madvise.load(std::memory_order_relaxed), n_mremap.load(std::memory_order_relaxed),
          n_brk.load(std::memory_order_relaxed)};
}

size_t page_size() noexcept {
#if defined(__x86_64__)
  return 4096;  // always, on x86-64 Linux; sysconf would map a part of libc (see sys above)
#else
  static std::atomic<size_t> cached{0};
  size_t s = cached.load(std::memory_order_relaxed);
  if (s == 0) {
    long v = sysconf(_SC_PAGESIZE);
    s = v > 0 ? static_cast<size_t>(v) : 4096;
    cached.store(s, std::memory_order_relaxed);
  }
  return s;
#endif
}

unsigned cpu_count() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);  // the kernel writes only as many bytes as it has CPUs for
  long bytes = sys(SYS_sched_getaffinity, 0, sizeof(set), arg(&set));
  if (bytes > 0) {
    const auto* words = reinterpret_cast<const unsigned long*>(&set);
    int n = 0;
    for (size_t i = 0; i < static_cast<size_t>(bytes) / sizeof(unsigned long); ++i)
      n += __builtin_popcountl(words[i]);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return 1;
}

namespace {

// clock_gettime straight from the vDSO, for the reason sys() exists: libc's wrapper lies in a
// 64 KiB stretch of libc's text that few programs touch, and the first page fault maps all of
// it (a program that mallocs and frees 1600 blocks of 512 B: +64 KiB of RSS at the first page
// given back to an arena, which reads the time). The vDSO's own symbol table is searched once,
// through its SysV hash table's symbol count, as the kernel's tools/testing/selftests/vDSO/
// parse_vdso.c does; without a vDSO (valgrind hides it) or that table, the system call.
using ClockGettime = int (*)(clockid_t, struct timespec*);

ClockGettime find_vdso_clock_gettime() {
  auto base = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  if (base == 0) return nullptr;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  uintptr_t load = 0;
  const Elf64_Dyn* dyn = nullptr;
  for (size_t i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD && load == 0) load = base + ph[i].p_offset - ph[i].p_vaddr;
    if (ph[i].p_type == PT_DYNAMIC) dyn = reinterpret_cast<const Elf64_Dyn*>(base + ph[i].p_offset);
  }
  if (load == 0 || dyn == nullptr) return nullptr;
  const Elf64_Sym* symtab = nullptr;
  const char* strtab = nullptr;
  const Elf64_Word* hash = nullptr;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    uintptr_t at = load + dyn->d_un.d_ptr;
    if (dyn->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const Elf64_Sym*>(at);
    if (dyn->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(at);
    if (dyn->d_tag == DT_HASH) hash = reinterpret_cast<const Elf64_Word*>(at);
  }
  if (symtab == nullptr || strtab == nullptr || hash == nullptr) return nullptr;
#if defined(__aarch64__)
  static const char kName[] = "__kernel_clock_gettime";
#else
  static const char kName[] = "__vdso_clock_gettime";
#endif
  for (Elf64_Word i = 0; i < hash[1]; ++i) {  // hash[1]: the number of symbols
    const Elf64_Sym& sym = symtab[i];
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF) continue;
    const char* name = strtab + sym.st_name;
    size_t k = 0;
    while (k < sizeof kName && name[k] == kName[k]) ++k;
    if (k == sizeof kName) return reinterpret_cast<ClockGettime>(load + sym.st_value);
  }
  return nullptr;
}

// 0: not looked up yet; 1: no vDSO function (use the system call).
std::atomic<uintptr_t> vdso_clock_gettime{0};

void monotonic_time(clockid_t clock, struct timespec* ts) {
  uintptr_t f = vdso_clock_gettime.load(std::memory_order_relaxed);
  if (f == 0) [[unlikely]] {
    ClockGettime found = find_vdso_clock_gettime();
    f = found != nullptr ? reinterpret_cast<uintptr_t>(found) : 1;
    vdso_clock_gettime.store(f, std::memory_order_relaxed);
  }
  if (f != 1 && reinterpret_cast<ClockGettime>(f)(clock, ts) == 0) return;
  sys(SYS_clock_gettime, clock, arg(ts));
}

}  // namespace

uint64_t now_ms() noexcept {
  struct timespec ts;
  monotonic_time(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

uint32_t thread_id() noexcept {
  return static_cast<uint32_t>(sys(SYS_gettid));
}

uint64_t random_seed() noexcept {
  uint64_t seed = 0;
  if (sys(SYS_getrandom, arg(&seed), sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
    struct timespec ts;
    monotonic_time(CLOCK_MONOTONIC, &ts);
    seed = static_cast<uint64_t>(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^
           reinterpret_cast<uintptr_t>(&seed);
  }
  return seed | 1;
}

const char* getenv(const char* name) noexcept {
  if (environ == nullptr) return nullptr;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* a = *e;
    const char* b = name;
    while (*b != '\0' && *a == *b) ++a, ++b;
    if (*b == '\0' && *a == '=') return a + 1;
  }
  return nullptr;
}

void write_stderr(const char* text, size_t len) noexcept {
  while (len > 0) {
    long n = sys(SYS_write, STDERR_FILENO, arg(text), static_cast<long>(len));
    if (n == -EINTR) continue;
    if (n <= 0) return;
    text += n;
    len -= static_cast<size_t>(n);
  }
}

namespace {

// A small file (from /proc) read whole into buf, NUL-terminated; false if it cannot be.
bool read_small_file(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

// The decimal number at p, after any blanks.
size_t parse_decimal(const char* p) {
  while (*p == ' ' || *p == '\t') ++p;
  size_t value = 0;
  while (*p >= '0' && *p <= '9') value = value * 10 + static_cast<size_t>(*p++ - '0');
  return value;
}

}  // namespace

size_t resident_bytes() noexcept {
  char buf[128];
  if (!read_small_file("/proc/self/statm", buf, sizeof(buf))) return 0;
  const char* p = buf;
  while (*p != ' ' && *p != '\0') ++p;  // skip total size
  return parse_decimal(p) * page_size();
}

size_t peak_resident_bytes() noexcept {
  char buf[4096];
  if (!read_small_file("/proc/self/status", buf, sizeof(buf))) return 0;
  const char key[] = "VmHWM:";
  for (const char* p = buf; *p != '\0'; ++p) {
    if (p != buf && p[-1] != '\n') continue;
    size_t i = 0;
    while (key[i] != '\0' && p[i] == key[i]) ++i;
    if (key[i] == '\0') return parse_decimal(p + i) * 1024;
  }
  return 0;
}

void futex_wait(uint32_t* addr, uint32_t expected) noexcept {
  sys(SYS_futex, arg(addr), FUTEX_WAIT_PRIVATE, expected, 0, 0, 0);
}

void futex_wake_one(uint32_t* addr) noexcept {
  sys(SYS_futex, arg(addr), FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

void yield() noexcept {
  sys(SYS_sched_yield);
}

}  // namespace arenalloc::os
