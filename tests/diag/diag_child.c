/* Buggy programs for the diagnostics tests: `diag_child SCENARIO`.
 *
 * Built twice from this file: diag_child_linked (linked to libarenalloc.so) and diag_child_plain
 * (linked to nothing: the tests run it with LD_PRELOAD=libarenalloc.so). arenalloc's own calls
 * (free_sized, arenalloc_heap_*) are found with dlsym so both builds work.
 *
 * Before its bug, a scenario writes `key=value` lines to stdout with write(2) (unbuffered, so
 * they survive an abort): `ptr` the pointer the report must name, `tid` the thread that must be
 * named. After the bug (when on_error lets it go on) it writes `continued=1` and whatever it
 * checks afterwards (`dups`: blocks handed out twice among many allocations of the class).
 * Exit status 0 unless said otherwise; 2 for an unknown scenario. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- output without malloc or stdio buffers ---- */

static void emit(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(1, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static void kv_u(const char* key, unsigned long long v) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s=%llu\n", key, v);
  emit(buf);
}

/* The pointer as the reports print it: 0x and lower-case hex without leading zeros. */
static void kv_p(const char* key, const void* p) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s=0x%llx\n", key, (unsigned long long)(uintptr_t)p);
  emit(buf);
}

static unsigned long long gettid_(void) {
  return (unsigned long long)syscall(SYS_gettid);
}
static void kv_tid(const char* key) {
  kv_u(key, gettid_());
}

/* Hides a pointer's origin from the optimiser (no -Wfree-nonheap-object, no elided calls). */
static void* hide(void* p) {
  __asm__ volatile("" : "+r"(p) : : "memory");
  return p;
}

static int all_equal(const unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != v) return 0;
  return 1;
}

/* ---- arenalloc's extensions, looked up at run time ---- */

typedef void (*free_sized_fn)(void*, size_t);
typedef void (*free_aligned_sized_fn)(void*, size_t, size_t);
typedef void* (*heap_create_fn)(void);
typedef void* (*heap_malloc_fn)(void*, size_t);
typedef void (*heap_void_fn)(void*);
typedef void (*heap_free_fn)(void*, void*);
typedef size_t (*resize_fn)(void*, size_t, int);
typedef size_t (*usable_fn)(const void*);

static void* need(const char* name) {
  void* f = dlsym(RTLD_DEFAULT, name);
  if (f == NULL) {
    emit("missing symbol: ");
    emit(name);
    emit(" (is arenalloc loaded?)\n");
    exit(4);
  }
  return f;
}
#define FREE_SIZED ((free_sized_fn)need("free_sized"))
#define FREE_ALIGNED_SIZED ((free_aligned_sized_fn)need("free_aligned_sized"))
#define HEAP_CREATE ((heap_create_fn)need("arenalloc_heap_create"))
#define HEAP_MALLOC ((heap_malloc_fn)need("arenalloc_heap_malloc"))
#define HEAP_DESTROY ((heap_void_fn)need("arenalloc_heap_destroy"))
#define HEAP_RESET ((heap_void_fn)need("arenalloc_heap_reset"))
#define HEAP_FREE ((heap_free_fn)need("arenalloc_heap_free"))
#define RESIZE ((resize_fn)need("arenalloc_resize"))
#define USABLE ((usable_fn)need("arenalloc_usable_size"))

/* ---- checks after the bug ---- */

static int cmp_ptr(const void* a, const void* b) {
  uintptr_t x = *(const uintptr_t*)a, y = *(const uintptr_t*)b;
  return x < y ? -1 : x > y;
}

/* Allocates n blocks of `size`, counts addresses handed out twice, frees them. The array is an
 * mmap of its own so it takes nothing from the heap under test. */
static unsigned long long dups_after(size_t size, size_t n) {
  uintptr_t* v =
      mmap(NULL, n * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (v == MAP_FAILED) return 9999;
  for (size_t i = 0; i < n; ++i) v[i] = (uintptr_t)malloc(size);
  unsigned long long dups = 0;
  uintptr_t* sorted =
      mmap(NULL, n * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memcpy(sorted, v, n * sizeof *v);
  qsort(sorted, n, sizeof *sorted, cmp_ptr);
  for (size_t i = 1; i < n; ++i) dups += sorted[i] == sorted[i - 1] && sorted[i] != 0;
  /* Free each distinct block once (a duplicate would be a double free of our own). */
  for (size_t i = 0; i < n; ++i)
    if (i == 0 || sorted[i] != sorted[i - 1]) free((void*)sorted[i]);
  munmap(sorted, n * sizeof *v);
  munmap(v, n * sizeof *v);
  return dups;
}

static void after(size_t size) {
  emit("continued=1\n");
  kv_u("dups", dups_after(size, 4000));
}

/* ---- double frees ---- */

static int double_free(void) {
  void* keep = malloc(48);
  void* p = malloc(48);
  kv_p("ptr", p);
  kv_tid("tid");
  free(p);
  free(hide(p));
  after(48);
  free(keep);
  return 0;
}

static void* free_in_thread(void* p) {
  kv_tid("tid");
  free(p);
  return NULL;
}

static void* free_twice_in_thread(void* p) {
  kv_tid("tid");
  free(p);
  free(hide(p));
  emit("continued=1\n");
  return NULL;
}

static void run_thread(void* (*fn)(void*), void* arg) {
  pthread_t t;
  if (pthread_create(&t, NULL, fn, arg) != 0) exit(5);
  pthread_join(t, NULL);
}

/* Owner frees, then another thread frees again. */
static int double_free_remote(void) {
  void* keep = malloc(48);
  void* p = malloc(48);
  kv_p("ptr", p);
  free(p);
  run_thread(free_in_thread, hide(p));
  after(48);
  free(keep);
  return 0;
}

/* Another thread frees (correctly), then the owner frees again. */
static int double_free_owner_after_remote(void) {
  void* keep = malloc(48);
  void* p = malloc(48);
  kv_p("ptr", p);
  emit("main_");
  kv_tid("tid");
  run_thread(free_in_thread, p);
  free(hide(p));
  after(48);
  free(keep);
  return 0;
}

/* Another thread frees twice. */
static int double_free_remote_twice(void) {
  void* keep = malloc(48);
  void* p = malloc(48);
  kv_p("ptr", p);
  run_thread(free_twice_in_thread, p);
  after(48);
  free(keep);
  return 0;
}

/* Many blocks freed (their page goes back to the arena), then one freed again. */
static int double_free_page_returned(void) {
  enum { kBlocks = 6000 };
  static void* v[kBlocks];
  for (int i = 0; i < kBlocks; ++i) v[i] = malloc(48);
  kv_p("ptr", v[0]);
  kv_tid("tid");
  for (int i = 0; i < kBlocks; ++i) free(v[i]);
  free(hide(v[0]));
  after(48);
  return 0;
}

static int double_free_large(void) {
  void* p = malloc(200 * 1024);
  kv_p("ptr", p);
  kv_tid("tid");
  free(p);
  free(hide(p));
  after(200 * 1024);
  return 0;
}

static int double_free_huge(void) {
  void* p = malloc(40u << 20);
  kv_p("ptr", p);
  kv_tid("tid");
  free(p);
  free(hide(p));
  emit("continued=1\n");
  return 0;
}

/* ---- invalid pointers ---- */

static char g_global[256] __attribute__((aligned(64)));

static void bad_free(void* p, size_t size_after) {
  kv_p("ptr", p);
  kv_tid("tid");
  free(hide(p));
  after(size_after);
}

static int free_stack(void) {
  char buf[64];
  memset(buf, 1, sizeof buf);
  bad_free(buf, 48);
  return buf[3] == 1 ? 0 : 1;
}

static int free_global(void) {
  bad_free(g_global, 48);
  return 0;
}

static int free_interior(void) {
  char* p = malloc(64);
  bad_free(p + 16, 64);
  free(p);
  return 0;
}

static int free_misaligned(void) {
  char* p = malloc(64);
  bad_free(p + 1, 64);
  free(p);
  return 0;
}

static int free_mmap(void) {
  void* m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 6;
  bad_free(m, 48);
  munmap(m, 65536);
  return 0;
}

static int free_large_interior(void) {
  char* p = malloc(200 * 1024);
  bad_free(p + 4096, 200 * 1024);
  free(p);
  return 0;
}

static int free_huge_interior(void) {
  char* p = malloc(40u << 20);
  bad_free(p + 4096, 48);
  free(p);
  return 0;
}

/* A pointer into a segment arenalloc owns, where no block is (its free slices). */
static int free_wild_in_segment(void) {
  char* p = malloc(48);
  uintptr_t seg = (uintptr_t)p & ~(((uintptr_t)1 << 25) - 1);
  bad_free((void*)(seg + (30u << 20)), 48);
  free(p);
  return 0;
}

/* A block's address with bit 63 set: the page map folds it onto the block (page_map.h), and the
 * block-start test must still reject it rather than free the block. */
static int free_high_alias(void) {
  char* p = malloc(48);
  bad_free((void*)((uintptr_t)p ^ ((uintptr_t)1 << 63)), 48);
  free(p);
  return 0;
}

/* A pointer arenalloc never returned, handed to a call that must report it: the pointer and the
 * thread first, then (under warn and ignore) that the program went on and what it returned. */
static int probe_invalid(void* p, void (*call)(void*)) {
  kv_p("ptr", p);
  kv_tid("tid");
  call(p);
  return 0;
}

static void call_realloc(void* p) {
  void* q = realloc(hide(p), 100);
  emit("continued=1\n");
  kv_p("result", q);
}

static void call_usable(void* p) {
  size_t n = malloc_usable_size(hide(p));
  emit("continued=1\n");
  kv_u("result", n);
}

/* arenalloc_resize and arenalloc_usable_size. */
static void call_resize(void* p) {
  size_t n = RESIZE(hide(p), 100, 0);
  emit("continued=1\n");
  kv_u("result", n);
}

static void call_ext_usable(void* p) {
  size_t n = USABLE(hide(p));
  emit("continued=1\n");
  kv_u("result", n);
}

static int on_stack(void (*call)(void*)) {
  char buf[64];
  memset(buf, 1, sizeof buf);
  return probe_invalid(buf, call);
}

static int interior(void (*call)(void*)) {
  char* p = malloc(64);
  int rc = probe_invalid(p + 16, call);
  free(p);
  return rc;
}

static int already_freed(void (*call)(void*)) {
  void* p = malloc(300 * 1024);
  free(p);
  return probe_invalid(p, call);
}

/* A small block freed by its owner, its page still in use: realloc's and malloc_usable_size's
 * fast paths must find its free mark rather than answer for it. */
static int already_freed_small(void (*call)(void*)) {
  void* keep = malloc(48);
  void* p = malloc(48);
  free(p);
  int rc = probe_invalid(p, call);
  free(keep);
  return rc;
}

static int realloc_stack(void) {
  return on_stack(call_realloc);
}
static int realloc_interior(void) {
  return interior(call_realloc);
}
static int realloc_freed(void) {
  return already_freed(call_realloc);
}
static int usable_stack(void) {
  return on_stack(call_usable);
}
static int usable_interior(void) {
  return interior(call_usable);
}
static int realloc_freed_small(void) {
  return already_freed_small(call_realloc);
}
static int usable_freed_small(void) {
  return already_freed_small(call_usable);
}
static int usable_freed(void) {
  return already_freed(call_usable);
}
static int resize_stack(void) {
  return on_stack(call_resize);
}
static int ext_usable_stack(void) {
  return on_stack(call_ext_usable);
}

/* ---- sized frees ---- */

static int sized_wrong(size_t alloc_size, size_t freed_size) {
  void* p = malloc(alloc_size);
  kv_p("ptr", p);
  kv_tid("tid");
  FREE_SIZED(hide(p), freed_size);
  after(alloc_size);
  return 0;
}
static int sized_wrong_big(void) {
  return sized_wrong(48, 200);
}
static int sized_wrong_small(void) {
  return sized_wrong(100, 8);
}
static int sized_wrong_large(void) {
  return sized_wrong(300000, 100000);
}

/* Every right size is accepted silently. */
static int sized_right(void) {
  free_sized_fn fs = FREE_SIZED;
  for (size_t n = 0; n <= 4200; ++n) {
    void* p = malloc(n);
    fs(p, n);
    p = calloc(1, n);
    fs(p, n);
  }
  static const size_t big[] = {8193,   16384,  65536,    65537,    131072,
                               131073, 200000, 1u << 20, 5u << 20, 40u << 20};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; ++i) {
    void* p = malloc(big[i]);
    fs(p, big[i]);
  }
  /* realloc shrinking in place: the block may then be freed with the new size. */
  void* p = malloc(100);
  void* q = realloc(p, 60);
  kv_u("small_shrink_in_place", p == q);
  fs(q, 60);
  p = malloc(300000);
  q = realloc(p, 170000);
  kv_u("large_shrink_in_place", p == q);
  fs(q, 170000);
  p = malloc(200000);
  q = realloc(p, 400000);
  fs(q, 400000);
  p = malloc(300000);
  q = realloc(p, 100000);
  fs(q, 100000);
  emit("continued=1\n");
  return 0;
}

static int aligned_sized_right(void) {
  free_aligned_sized_fn fas = FREE_ALIGNED_SIZED;
  static const size_t sizes[] = {1, 16, 100, 1000, 5000, 70000, 200000};
  for (size_t a = 16; a <= (1u << 21); a *= 2) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
      void* p = aligned_alloc(a, sizes[i]);
      if (p == NULL || (uintptr_t)p % a != 0) return 7;
      fas(p, a, sizes[i]);
      if (posix_memalign(&p, a, sizes[i]) != 0) return 7;
      fas(p, a, sizes[i]);
      p = memalign(a, sizes[i]);
      fas(p, a, sizes[i]);
    }
  }
  emit("continued=1\n");
  return 0;
}

static int aligned_sized_wrong(void) {
  void* p = aligned_alloc(4096, 100);
  kv_p("ptr", p);
  kv_tid("tid");
  FREE_ALIGNED_SIZED(hide(p), 16, 100);
  after(100);
  return 0;
}

/* ---- private heaps ---- */

static struct { char bytes[4096]; } g_fake_heap;

static int heap_handle(void* h) {
  kv_p("ptr", h);
  kv_tid("tid");
  errno = 0;
  void* p = HEAP_MALLOC(hide(h), 10);
  emit("continued=1\n");
  kv_p("result", p);
  kv_u("errno_einval", errno == EINVAL);
  return 0;
}

static int bad_heap(void) {
  return heap_handle(&g_fake_heap);
}

static int destroyed_heap(void) {
  void* h = HEAP_CREATE();
  void* p = HEAP_MALLOC(h, 100);
  if (p == NULL) return 8;
  HEAP_DESTROY(h);
  return heap_handle(h);
}

/* Every private-heap call with a bad handle is reported once. */
static int bad_heap_all_calls(void) {
  void* h = hide(&g_fake_heap);
  kv_p("ptr", h);
  kv_tid("tid");
  HEAP_MALLOC(h, 10);
  HEAP_FREE(h, NULL);
  HEAP_RESET(h);
  HEAP_DESTROY(h);
  emit("continued=1\n");
  return 0;
}

/* ---- use after free: an attacker-chosen free-list link ---- */

static char g_target[1024] __attribute__((aligned(64)));

/* Allocates the class many times; exit 3 with hijacked=1 if malloc ever returns memory within
 * `span` bytes of `target`. Then frees `keep` (8 blocks). */
static int alloc_until_hijacked(size_t size, void* target, size_t span, void** keep) {
  for (int i = 0; i < 5000; ++i) {
    char* q = malloc(size);
    if (q == NULL) break;
    if ((uintptr_t)q - (uintptr_t)target < span) {
      emit("hijacked=1\n");
      return 3;
    }
  }
  emit("hijacked=0\n");
  emit("continued=1\n");
  for (int i = 0; i < 8; ++i) free(keep[i]);
  return 0;
}

/* The first `words` words of a freed block are overwritten with `target`; then the class is
 * allocated many times. Exit 3 with hijacked=1 if malloc ever returns the target (or, for
 * `span` > 1, anything in the `span` bytes from it: memory that is not the heap's). */
static int uaf_link(size_t size, int words, void* target, size_t span) {
  void* keep[8];
  for (int i = 0; i < 8; ++i) keep[i] = malloc(size);
  uintptr_t* p = malloc(size);
  kv_p("ptr", p);
  kv_p("target", target);
  kv_tid("tid");
  free(p);
  for (int i = 0; i < words; ++i) ((volatile uintptr_t*)p)[i] = (uintptr_t)target;
  return alloc_until_hijacked(size, target, span, keep);
}

static int uaf_link_global(void) {
  return uaf_link(48, 2, g_target, sizeof g_target);
}
static int uaf_link_one_word(void) {
  return uaf_link(48, 1, g_target, sizeof g_target);
}
/* Two blocks freed by another thread (onto the page's remote list, the second linking to the
 * first); then the second's link is overwritten. The owner must not follow it when it collects
 * the remote frees. */
static void* free_pair_in_thread(void* v) {
  void** pair = v;
  free(pair[0]);
  free(pair[1]);
  return NULL;
}
static int uaf_link_remote(void) {
  void* keep[8];
  for (int i = 0; i < 8; ++i) keep[i] = malloc(48);
  void* pair[2] = {malloc(48), malloc(48)};
  kv_p("target", g_target);
  kv_tid("tid");
  run_thread(free_pair_in_thread, pair);
  ((volatile uintptr_t*)pair[1])[0] = (uintptr_t)g_target;
  return alloc_until_hijacked(48, g_target, sizeof g_target, keep);
}

/* The fake link points at a live block: malloc must not hand it out a second time. */
static int uaf_link_live_block(void) {
  void* live = malloc(48);
  return uaf_link(48, 2, live, 1);
}

/* ---- debug mode ---- */

static int overflow_small(void) {
  unsigned char* p = hide(malloc(40));
  kv_p("ptr", p);
  kv_tid("tid");
  ((volatile unsigned char*)p)[40] = 0x11;
  free(p);
  after(40);
  return 0;
}

/* A thread's first requests above the direct sizes (3000 and 40000 bytes) are checked blocks in
   debug mode like any other: each is filled exactly and freed without a report, then the next one
   is overrun by a byte. (Its heap is made by that first request: the path for those sizes must
   not serve it before knowing the new heap is a checked one.) */
static void* first_medium_in_thread(void* arg) {
  (void)arg;
  size_t sizes[2] = {3000, 40000};
  for (int i = 0; i < 2; ++i) {
    unsigned char* q = hide(malloc(sizes[i]));
    memset(q, 0x5a, sizes[i]);
    free(q);
  }
  emit("exact=1\n");
  unsigned char* p = hide(malloc(3000));
  kv_p("ptr", p);
  kv_tid("tid");
  ((volatile unsigned char*)p)[3000] = 0x11;
  free(p);
  return NULL;
}

static int debug_first_medium(void) {
  run_thread(first_medium_in_thread, NULL);
  after(3000);
  return 0;
}

static int overflow_large(void) {
  size_t n = 200 * 1024;
  unsigned char* p = hide(malloc(n));
  kv_p("ptr", p);
  kv_tid("tid");
  ((volatile unsigned char*)p)[n + 100] = 0x11;
  free(p);
  after(n);
  return 0;
}

/* Writes byte after byte past the end of the block until something stops it. */
static int run_past_end(size_t n) {
  unsigned char* p = hide(malloc(n));
  kv_p("ptr", p);
  kv_u("usable", malloc_usable_size(p));
  volatile unsigned char* v = p;
  for (size_t i = n; i < n + (8u << 20); ++i) v[i] = 0x11;
  emit("survived=1\n");
  return 0;
}
static int overflow_large_guard(void) {
  return run_past_end(200 * 1024);
}
static int overflow_huge_guard(void) {
  return run_past_end(40u << 20);
}

static int overflow_huge(void) {
  size_t n = (40u << 20) + 3;
  unsigned char* p = hide(malloc(n));
  kv_p("ptr", p);
  kv_tid("tid");
  ((volatile unsigned char*)p)[n] = 0x11;
  free(p);
  emit("continued=1\n");
  return 0;
}

static int write_after_free(void) {
  unsigned char* p = malloc(40);
  kv_p("ptr", p);
  kv_tid("tid");
  free(p);
  ((volatile unsigned char*)p)[20] = 0x11;
  for (int i = 0; i < 5000; ++i) malloc(40);
  emit("continued=1\n");
  return 0;
}

/* A write after free into bytes 8-15 of a freed block (its free mark): `at` is the first byte the
 * write changes (the old bytes are read first, to know which). */
static void overwrite_mark(unsigned char* p) {
  uint64_t old, now = 7;
  memcpy(&old, (const unsigned char*)hide(p) + 8, sizeof old);
  unsigned at = 8;
  while (at < 16 && ((old >> (8 * (at - 8))) & 0xff) == ((now >> (8 * (at - 8))) & 0xff)) ++at;
  kv_u("at", at);
  ((volatile uint64_t*)p)[1] = now;
}

static int write_after_free_mark(void) {
  unsigned char* p = malloc(48);
  kv_p("ptr", p);
  kv_tid("tid");
  free(p);
  overwrite_mark(p);
  for (int i = 0; i < 5000; ++i) malloc(48);
  emit("continued=1\n");
  return 0;
}

static void* free_quietly(void* p) {
  free(p);
  return NULL;
}

/* The same into a block that another thread freed (it comes back through the page's remote
 * list), one byte only: byte 13 is flipped. */
static int write_after_free_mark_remote(void) {
  unsigned char* p = malloc(48);
  kv_p("ptr", p);
  kv_tid("tid");
  run_thread(free_quietly, p);
  kv_u("at", 13);
  ((volatile unsigned char*)hide(p))[13] ^= 0x5a;
  for (int i = 0; i < 5000; ++i) malloc(48);
  emit("continued=1\n");
  return 0;
}

/* ---- debug mode: no false reports ---- */

/* Two threads allocate blocks of a few classes over many pages, fill them with the program's
 * data (0xDF patterns, words that look like addresses), and free them, half each, so that half
 * of the frees are cross-thread; whole pages empty and go back to the arena. Each round uses
 * other classes, so the next round's pages are carved (with new keys) out of the stale memory
 * of the last: old fills, old free marks. A last batch is left by a thread that exits (its pages
 * are abandoned) and freed by the main thread, which then adopts those pages; a private heap is
 * filled, reset and filled again. Nothing may be reported. `reused` counts blocks placed in a
 * 64 KiB slice that the round before used (for other classes): the memory really was reused;
 * `adopted` the last allocations placed where the exited thread's blocks were. */
enum { kChurnThreads = 2, kChurnRounds = 8, kChurnBlocks = 5000 };
static const size_t kChurnSizes[] = {8,   24,  40,  56,   72,   100,  136,  200,
                                     328, 500, 760, 1000, 1500, 2000, 3000, 4000};
enum { kChurnSizeCount = sizeof kChurnSizes / sizeof kChurnSizes[0] };

struct churn {
  pthread_barrier_t barrier;
  void** blocks[kChurnThreads]; /* kChurnBlocks each */
  int round;
};

static size_t churn_size(int round, int t, int i) {
  /* Three sizes per round and thread, none of them used in the round before. */
  return kChurnSizes[(size_t)(round * 6 + t * 3 + i % 3) % kChurnSizeCount];
}

static void churn_fill(unsigned char* p, size_t n, int i) {
  if (i % 2 == 0) {
    memset(p, 0xdf, n);
  } else {
    for (size_t k = 0; k < n; ++k) p[k] = (unsigned char)(k * 131 + (size_t)i);
  }
  if (n >= 16) { /* words that look like a free-list link and a free mark */
    uintptr_t w[2] = {(uintptr_t)p, (uintptr_t)p ^ 0xdfdfdfdfdfdfdfdfull};
    memcpy(p, w, sizeof w);
  }
}

static void churn_alloc(struct churn* c, int t) {
  for (int i = 0; i < kChurnBlocks; ++i) {
    size_t n = churn_size(c->round, t, i);
    unsigned char* p = malloc(n);
    if (p == NULL) exit(6);
    churn_fill(p, n, i);
    c->blocks[t][i] = p;
  }
}

/* Thread t frees its own even blocks and the other thread's odd ones. */
static void churn_free(struct churn* c, int t) {
  for (int u = 0; u < kChurnThreads; ++u)
    for (int i = u == t ? 0 : 1; i < kChurnBlocks; i += 2) {
      free(c->blocks[u][i]);
      c->blocks[u][i] = NULL;
    }
}

static void* churn_thread(void* arg) {
  struct churn* c = arg;
  for (int r = 0; r < kChurnRounds; ++r) {
    pthread_barrier_wait(&c->barrier); /* round set */
    churn_alloc(c, 1);
    pthread_barrier_wait(&c->barrier); /* all allocated */
    churn_free(c, 1);
    pthread_barrier_wait(&c->barrier); /* all freed */
  }
  /* A last batch, left behind: this thread's heap is abandoned with these pages in use. */
  c->round = kChurnRounds;
  churn_alloc(c, 1);
  return NULL;
}

/* The 64 KiB slices of the blocks of threads [first, first + count), sorted; returns how many. */
static size_t churn_slices(struct churn* c, int first, int count, uintptr_t* out) {
  size_t n = 0;
  for (int t = first; t < first + count; ++t)
    for (int i = 0; i < kChurnBlocks; ++i) out[n++] = (uintptr_t)c->blocks[t][i] >> 16;
  qsort(out, n, sizeof *out, cmp_ptr);
  return n;
}

static int churn_seen(const uintptr_t* sorted, size_t n, uintptr_t slice) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < slice)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && sorted[lo] == slice;
}

static int debug_churn(void) {
  const size_t total = (size_t)kChurnThreads * kChurnBlocks;
  void** arrays = mmap(NULL, 3 * total * sizeof(void*), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (arrays == MAP_FAILED) return 7;
  static struct churn c;
  c.blocks[0] = arrays;
  c.blocks[1] = arrays + kChurnBlocks;
  uintptr_t* before = (uintptr_t*)(arrays + total);
  uintptr_t* now = (uintptr_t*)(arrays + 2 * total);
  pthread_barrier_init(&c.barrier, NULL, kChurnThreads);
  pthread_t t;
  if (pthread_create(&t, NULL, churn_thread, &c) != 0) return 5;
  unsigned long long reused = 0;
  for (int r = 0; r < kChurnRounds; ++r) {
    c.round = r;
    pthread_barrier_wait(&c.barrier);
    churn_alloc(&c, 0);
    pthread_barrier_wait(&c.barrier);
    churn_slices(&c, 0, kChurnThreads, now);
    if (r > 0)
      for (size_t i = 0; i < total; ++i) reused += churn_seen(before, total, now[i]);
    memcpy(before, now, total * sizeof *now);
    churn_free(&c, 0);
    pthread_barrier_wait(&c.barrier);
    if (r == kChurnRounds / 2) malloc_trim(0); /* emptied pages with remote frees go back too */
  }
  pthread_join(t, NULL);
  /* The exited thread's blocks: freed here (remote frees into abandoned pages), then the same
   * classes again (adopting those pages). */
  size_t left = churn_slices(&c, 1, 1, before);
  for (int i = 0; i < kChurnBlocks; ++i) free(c.blocks[1][i]);
  unsigned long long adopted = 0;
  for (int i = 0; i < kChurnBlocks; ++i) {
    size_t n = churn_size(kChurnRounds, 1, i);
    c.blocks[1][i] = malloc(n);
    if (c.blocks[1][i] == NULL) return 6;
    churn_fill(c.blocks[1][i], n, i);
    adopted += churn_seen(before, left, (uintptr_t)c.blocks[1][i] >> 16);
  }
  for (int i = 0; i < kChurnBlocks; ++i) free(c.blocks[1][i]);
  /* A private heap: pages handed back whole by reset, then carved again. */
  void* h = HEAP_CREATE();
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < kChurnBlocks; ++i) {
      size_t n = churn_size(pass, 0, i);
      c.blocks[0][i] = HEAP_MALLOC(h, n);
      if (c.blocks[0][i] == NULL) return 6;
      churn_fill(c.blocks[0][i], n, i);
    }
    for (int i = 0; i < kChurnBlocks; i += 2) HEAP_FREE(h, c.blocks[0][i]);
    for (int i = 0; i < kChurnBlocks / 2; ++i) {
      void* p = HEAP_MALLOC(h, churn_size(pass, 0, i));
      if (p == NULL) return 6;
    }
    HEAP_RESET(h);
  }
  HEAP_DESTROY(h);
  pthread_barrier_destroy(&c.barrier);
  munmap(arrays, 3 * total * sizeof(void*));
  emit("continued=1\n");
  kv_u("reused", reused);
  kv_u("adopted", adopted);
  return 0;
}

/* What blocks contain: reports the bytes of new, zeroed and freed blocks. */
static int fill(void) {
  unsigned char* a = malloc(64);
  kv_u("new_first", a[0]);
  kv_u("new_uniform", all_equal(a, 64, a[0]));
  unsigned char* l = malloc(200000);
  kv_u("large_new_first", l[199999]);
  kv_u("large_new_uniform", all_equal(l, 200000, l[0]));
  unsigned char* c = calloc(1, 64);
  kv_u("calloc_zero", all_equal(c, 64, 0));
  unsigned char* lc = calloc(1, 200000);
  kv_u("large_calloc_zero", all_equal(lc, 200000, 0));
  unsigned char* f = malloc(64);
  memset(f, 0x11, 64);
  free(f);
  volatile unsigned char* vf = f;
  kv_u("freed_16", vf[16]);
  kv_u("freed_uniform", all_equal((const unsigned char*)f + 16, 48, vf[16]));
  unsigned char* u = malloc(37);
  kv_u("usable_37", malloc_usable_size(u));
  unsigned char* r = malloc(40);
  for (int i = 0; i < 40; ++i) r[i] = (unsigned char)i;
  unsigned char* r2 = realloc(r, 30);
  int ok = r2 != NULL;
  for (int i = 0; ok && i < 30; ++i) ok = r2[i] == i;
  kv_u("realloc_shrink_moved", r2 != r);
  unsigned char* r3 = realloc(r2, 100);
  for (int i = 0; ok && i < 30; ++i) ok = r3[i] == i;
  kv_u("realloc_grow_moved", r3 != r2);
  kv_u("realloc_content", ok);
  free(a);
  free(l);
  free(c);
  free(lc);
  free(u);
  free(r3);
  return 0;
}

/* ---- secure mode ---- */

static const uintptr_t kSegMask = ((uintptr_t)1 << 25) - 1;

/* Whether /proc/self/maps has a PROT_NONE mapping exactly [lo, hi). */
static int has_guard(uintptr_t lo, uintptr_t hi) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == NULL) return -1;
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long long a, b;
    char perms[8];
    if (sscanf(line, "%llx-%llx %7s", &a, &b, perms) == 3 && a == lo && b == hi &&
        strcmp(perms, "---p") == 0)
      found = 1;
  }
  fclose(f);
  return found;
}

/* The lowest address of the mapping of libc. */
static uintptr_t libc_address(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == NULL) return 0;
  char line[512];
  uintptr_t addr = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long long a, b;
    if (strstr(line, "/libc.so") != NULL && sscanf(line, "%llx-%llx", &a, &b) == 2) {
      addr = (uintptr_t)a;
      break;
    }
  }
  fclose(f);
  return addr;
}

static int secure_info(void) {
  unsigned char* p = malloc(32);
  uintptr_t seg = (uintptr_t)p & ~kSegMask;
  kv_p("segment", (void*)seg);
  kv_p("libc", (void*)libc_address());
  /* The header takes slices 0 and 1; the guard is slice 2. */
  kv_u("guard_low", has_guard(seg + 0x20000, seg + 0x30000));
  kv_u("guard_high", has_guard(seg + (32u << 20) - 0x10000, seg + (32u << 20)));
  /* Consecutive blocks of a class the program has not used yet. */
  enum { kN = 16 };
  uintptr_t v[kN];
  for (int i = 0; i < kN; ++i) v[i] = (uintptr_t)malloc(208);
  int sequential = 1;
  for (int i = 1; i < kN; ++i) sequential = sequential && v[i] == v[i - 1] + 208;
  kv_u("sequential", sequential);
  /* The first block of a fresh segment (a private heap's). */
  void* h = HEAP_CREATE();
  uintptr_t q = (uintptr_t)HEAP_MALLOC(h, 32);
  kv_u("fresh_offset", q & kSegMask);
  HEAP_DESTROY(h);
  for (int i = 0; i < kN; ++i) free((void*)v[i]);
  free(p);
  return 0;
}

/* An underflow from the first page of a fresh segment runs into the guard slice. */
static int secure_underflow(void) {
  void* h = HEAP_CREATE();
  volatile unsigned char* q = HEAP_MALLOC(h, 32);
  kv_p("ptr", (void*)q);
  kv_u("fresh_offset", (uintptr_t)q & kSegMask);
  for (size_t i = 1; i <= (1u << 20); ++i) q[-(ptrdiff_t)i] = 0x11;
  emit("survived=1\n");
  return 0;
}

static int huge_underflow(void) {
  volatile unsigned char* p = hide(malloc(40u << 20));
  kv_p("ptr", (void*)p);
  p[-1] = 0x11;
  emit("survived=1\n");
  return 0;
}

/* One byte past the usable end of a huge block. */
static int huge_overflow(size_t n) {
  volatile unsigned char* p = malloc(n);
  size_t usable = malloc_usable_size((void*)p);
  kv_p("ptr", (void*)p);
  kv_u("usable", usable);
  p[usable] = 0x11;
  emit("survived=1\n");
  return 0;
}
static int huge_overflow_40m(void) {
  return huge_overflow(40u << 20);
}

/* A huge block, then small mappings until one lands right after it (where the kernel puts the
 * next mapping below the previous ones), then one byte past the block's usable end. With a guard
 * page after the block no mapping can land there, and the write faults. */
static int huge_overflow_neighbour(void) {
  volatile unsigned char* p = malloc(40u << 20);
  size_t usable = malloc_usable_size((void*)p);
  uintptr_t end = (uintptr_t)p + usable;
  kv_p("ptr", (void*)p);
  kv_u("usable", usable);
  int adjacent = 0;
  for (int i = 0; i < 20000 && !adjacent; ++i) {
    void* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) break;
    adjacent = (uintptr_t)m == end;
  }
  kv_u("neighbour_mapped", adjacent);
  p[usable] = 0x11;
  emit("survived=1\n");
  return 0;
}
static int huge_overflow_1m(void) {
  return huge_overflow(1u << 20);
} /* with mmap_threshold */

/* ---- reports with the address space exhausted ---- */

static int oom_reports(void) {
  void* keep = malloc(48);
  void* p = malloc(48);
  void* s = malloc(100);
  char buf[16];
  kv_p("ptr", p);
  kv_p("stack_ptr", buf);
  kv_p("sized_ptr", s);
  kv_p("heap_ptr", &g_fake_heap);
  kv_tid("tid");
  free_sized_fn fs = FREE_SIZED;
  heap_malloc_fn hm = HEAP_MALLOC;
  /* The address space as it is now becomes the limit. */
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (f == NULL || fscanf(f, "%llu", &pages) != 1) return 9;
  fclose(f);
  struct rlimit rl = {(rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 8192, RLIM_INFINITY};
  if (setrlimit(RLIMIT_AS, &rl) != 0) return 9;
  void* big = malloc(64u << 20);
  void* m = mmap(NULL, 1u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  kv_u("exhausted", big == NULL && m == MAP_FAILED);
  free(p);
  free(hide(p));
  free(hide(buf));
  fs(s, 1000);
  hm(&g_fake_heap, 10);
  emit("continued=1\n");
  free(keep);
  return 0;
}

/* ---- the callgrind loop: malloc(32) + free, n times ---- */

static int loop(long n) {
  for (long i = 0; i < n; ++i) {
    void* p = malloc(32);
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
  return 0;
}

struct scenario {
  const char* name;
  int (*fn)(void);
};

static const struct scenario kScenarios[] = {
    {"double_free", double_free},
    {"double_free_remote", double_free_remote},
    {"double_free_owner_after_remote", double_free_owner_after_remote},
    {"double_free_remote_twice", double_free_remote_twice},
    {"double_free_page_returned", double_free_page_returned},
    {"double_free_large", double_free_large},
    {"double_free_huge", double_free_huge},
    {"free_stack", free_stack},
    {"free_global", free_global},
    {"free_interior", free_interior},
    {"free_misaligned", free_misaligned},
    {"free_mmap", free_mmap},
    {"free_large_interior", free_large_interior},
    {"free_huge_interior", free_huge_interior},
    {"free_wild_in_segment", free_wild_in_segment},
    {"free_high_alias", free_high_alias},
    {"realloc_stack", realloc_stack},
    {"realloc_interior", realloc_interior},
    {"realloc_freed", realloc_freed},
    {"usable_stack", usable_stack},
    {"usable_interior", usable_interior},
    {"usable_freed", usable_freed},
    {"usable_freed_small", usable_freed_small},
    {"realloc_freed_small", realloc_freed_small},
    {"resize_stack", resize_stack},
    {"ext_usable_stack", ext_usable_stack},
    {"sized_wrong_big", sized_wrong_big},
    {"sized_wrong_small", sized_wrong_small},
    {"sized_wrong_large", sized_wrong_large},
    {"sized_right", sized_right},
    {"aligned_sized_right", aligned_sized_right},
    {"aligned_sized_wrong", aligned_sized_wrong},
    {"bad_heap", bad_heap},
    {"destroyed_heap", destroyed_heap},
    {"bad_heap_all_calls", bad_heap_all_calls},
    {"uaf_link_global", uaf_link_global},
    {"uaf_link_one_word", uaf_link_one_word},
    {"uaf_link_live_block", uaf_link_live_block},
    {"uaf_link_remote", uaf_link_remote},
    {"overflow_small", overflow_small},
    {"overflow_large", overflow_large},
    {"debug_first_medium", debug_first_medium},
    {"overflow_large_guard", overflow_large_guard},
    {"overflow_huge_guard", overflow_huge_guard},
    {"overflow_huge", overflow_huge},
    {"write_after_free", write_after_free},
    {"write_after_free_mark", write_after_free_mark},
    {"write_after_free_mark_remote", write_after_free_mark_remote},
    {"debug_churn", debug_churn},
    {"fill", fill},
    {"secure_info", secure_info},
    {"secure_underflow", secure_underflow},
    {"huge_underflow", huge_underflow},
    {"huge_overflow_40m", huge_overflow_40m},
    {"huge_overflow_1m", huge_overflow_1m},
    {"huge_overflow_neighbour", huge_overflow_neighbour},
    {"oom_reports", oom_reports},
};

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "loop") == 0) return loop(atol(argv[2]));
  if (argc >= 2) {
    for (size_t i = 0; i < sizeof kScenarios / sizeof kScenarios[0]; ++i)
      if (strcmp(argv[1], kScenarios[i].name) == 0) return kScenarios[i].fn();
  }
  emit("usage: diag_child SCENARIO | loop N\nscenarios:");
  for (size_t i = 0; i < sizeof kScenarios / sizeof kScenarios[0]; ++i) {
    emit(" ");
    emit(kScenarios[i].name);
  }
  emit("\n");
  return 2;
}
