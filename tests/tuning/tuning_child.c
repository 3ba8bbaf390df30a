/* Child program of the tuning tests (tests/tuning/tuning_test.cpp), linked to libarenalloc.so.
 *
 * The test runs it under a controlled environment (MALLOC_*, ARENALLOC_*, GLIBC_TUNABLES), often
 * under strace, and checks what it prints: one "key=value" line per fact on stdout, the
 * allocator's own messages on stderr. Around the operations whose system calls the test looks
 * for, it issues write(-1, "MARK <name>", ...) (fails with EBADF, changes nothing), so the strace
 * log can be cut at those points.
 *
 *   options NAME...               NAME=<arenalloc_option_get> for each
 *   huge SIZE                     malloc(SIZE), mallinfo2 before/after free (marks free-begin/end)
 *   arenas THREADS                THREADS threads allocate and wait; prints the stats JSON
 *   free-large COUNT SIZE KEEP SLEEP_MS [trim]
 *                                 keeps KEEP blocks of SIZE, then allocates COUNT more, frees
 *                                 them; RSS and stats before/after; after SLEEP_MS (if > 0) one
 *                                 1 MiB malloc/free (a slow path) and RSS again; with "trim",
 *                                 then malloc_trim(0) and RSS and stats again
 *   threads-free THREADS COUNT SIZE
 *                                 THREADS threads in turn allocate and free COUNT blocks of SIZE;
 *                                 RSS and the stats JSON after
 *   perturb env|mallopt           fill patterns of new and freed blocks
 *   brk                           the [heap] region and whether a block lies in it
 *   smaps                         THPeligible and VmFlags of a segment and a huge mapping
 *   thp-heap [THREADS [MIB [KIB]]]  VmFlags of segments (their part from 2 MiB on) while the
 *                                 heap is small, once MIB (80) MiB of 1 MiB blocks are live, and
 *                                 after malloc_trim purged a freed block's slices; meanwhile
 *                                 THREADS threads each hold a block of KIB (256) KiB and small
 *                                 ones (arenas in use; hold_arena_threads)
 *   thp-block                     VmFlags of huge blocks: malloc and calloc of 40 MiB, 8 MiB
 *                                 (run with MALLOC_MMAP_THRESHOLD_ below it), then realloc of the
 *                                 8 MiB block to 48 and of the calloc'd one to 80
 *   names                         the /proc/self/maps names of a segment and a huge mapping
 *   introspect MIB                mallinfo2/stats vs. what the process holds
 *   malloc-stats                  malloc_stats() on stderr after a known set of blocks
 *   malloc-info FILE              malloc_info(0) into FILE; malloc_info(1) return value
 *   exit [NAME VALUE]             (arenalloc_option_set(NAME, VALUE),) a few allocations, exit
 *   double-free                   frees a block twice (on_error) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arenalloc/arenalloc.h"

#define MIB ((size_t)1 << 20)

static void mark(const char* name) {
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "MARK %s", name);
  ssize_t r = write(-1, buf, (size_t)n); /* EBADF: only strace sees it */
  (void)r;
}

static void* check(void* p, const char* what) {
  if (p == NULL) {
    fprintf(stderr, "tuning_child: %s failed\n", what);
    exit(3);
  }
  return p;
}

/* Memory the child's bookkeeping needs, outside the allocator under test. */
static void* raw_alloc(size_t n) {
  void* p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return check(p == MAP_FAILED ? NULL : p, "mmap");
}

static size_t parse_size(const char* s) {
  char* end;
  unsigned long long v = strtoull(s, &end, 0);
  switch (*end) {
    case 'k':
    case 'K':
      v <<= 10;
      break;
    case 'm':
    case 'M':
      v <<= 20;
      break;
    case 'g':
    case 'G':
      v <<= 30;
      break;
    default:
      break;
  }
  return (size_t)v;
}

static size_t statm_rss(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long long total = 0, res = 0;
  if (f != NULL) {
    if (fscanf(f, "%llu %llu", &total, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* A "Vm...:" field of /proc/self/status, in bytes. Read with open/read into a static buffer: no
 * allocation, no new page touched, so the reading does not move what it measures. */
static size_t status_field(const char* key) {
  static char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  size_t klen = strlen(key);
  for (const char* p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, key, klen) == 0 && p[klen] == ':')
      return (size_t)strtoull(p + klen + 1, NULL, 10) * 1024;
  return 0;
}

static void print_json(const char* key) {
  size_t need = arenalloc_stats_json(NULL, 0);
  size_t cap = need + 4096;
  char* buf = raw_alloc(cap);
  arenalloc_stats_json(buf, cap);
  printf("%s=%s\n", key, buf);
  munmap(buf, cap);
}

static void print_mallinfo(const char* prefix) {
  struct mallinfo2 mi = mallinfo2();
  printf("%sarena=%zu\n%suordblks=%zu\n%sfordblks=%zu\n%shblks=%zu\n%shblkhd=%zu\n%skeepcost=%zu\n",
         prefix, mi.arena, prefix, mi.uordblks, prefix, mi.fordblks, prefix, mi.hblks, prefix,
         mi.hblkhd, prefix, mi.keepcost);
}

static void touch(void* p, size_t n) {
  memset(p, 0x5C, n);
}

static int cmd_options(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    char value[64];
    if (arenalloc_option_get(argv[i], value, sizeof(value)) == 0)
      printf("%s=%s\n", argv[i], value);
    else
      printf("%s=<error %d>\n", argv[i], errno);
  }
  return 0;
}

static int cmd_huge(size_t size) {
  print_mallinfo("before_");
  void* p = check(malloc(size), "malloc");
  touch(p, size);
  print_mallinfo("");
  printf("usable=%zu\n", malloc_usable_size(p));
  printf("addr=%p\n", p);
  fflush(stdout);
  mark("free-begin");
  free(p);
  mark("free-end");
  print_mallinfo("after_");
  return 0;
}

/* ---- arenas ---- */

static pthread_barrier_t g_ready, g_done;
static size_t g_held_block = 256 * 1024; /* the block each arena_thread holds */

static void* arena_thread(void* arg) {
  (void)arg;
  void* small[100];
  for (int i = 0; i < 100; ++i) touch(small[i] = check(malloc(64), "malloc"), 64);
  void* large = check(malloc(g_held_block), "malloc");
  touch(large, g_held_block);
  pthread_barrier_wait(&g_ready);
  pthread_barrier_wait(&g_done);
  for (int i = 0; i < 100; ++i) free(small[i]);
  free(large);
  return NULL;
}

/* Start `threads` arena_threads (at most 256) and return once each holds its blocks. */
static int hold_arena_threads(pthread_t* t, int threads) {
  if (threads > 256) threads = 256;
  pthread_barrier_init(&g_ready, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&g_done, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, arena_thread, NULL);
  pthread_barrier_wait(&g_ready);
  return threads;
}

static void release_arena_threads(pthread_t* t, int threads) {
  pthread_barrier_wait(&g_done);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&g_ready);
  pthread_barrier_destroy(&g_done);
}

static int cmd_arenas(int threads) {
  pthread_t t[256];
  threads = hold_arena_threads(t, threads);
  print_json("json");
  release_arena_threads(t, threads);
  char v[64];
  arenalloc_option_get("arena_max", v, sizeof(v));
  printf("arena_max=%s\n", v);
  return 0;
}

/* ---- freeing large blocks: trim threshold, top pad, purge delay and method ---- */

static int cmd_free_large(size_t count, size_t size, size_t keep, long sleep_ms, int trim) {
  void** kept = raw_alloc((keep + 1) * sizeof(void*));
  void** blocks = raw_alloc((count + 1) * sizeof(void*));
  free(check(malloc(64), "malloc")); /* the thread's heap exists before the baseline */
  printf("rss_start=%zu\n", statm_rss());
  for (size_t i = 0; i < keep; ++i) touch(kept[i] = check(malloc(size), "malloc"), size);
  size_t base = statm_rss();
  for (size_t i = 0; i < count; ++i) touch(blocks[i] = check(malloc(size), "malloc"), size);
  size_t peak = statm_rss();
  fflush(stdout);
  mark("free-begin");
  for (size_t i = 0; i < count; ++i) free(blocks[i]);
  mark("free-end");
  size_t freed = statm_rss();
  printf("rss_base=%zu\nrss_peak=%zu\nrss_freed=%zu\n", base, peak, freed);
  print_json("json_freed");
  if (sleep_ms > 0) {
    struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    void* p = check(malloc(MIB), "malloc");
    touch(p, MIB);
    free(p);
    printf("rss_later=%zu\n", statm_rss());
    print_json("json_later");
  }
  if (trim) {
    printf("trim=%d\n", malloc_trim(0));
    printf("rss_trimmed=%zu\n", statm_rss());
    print_json("json_trimmed");
  }
  for (size_t i = 0; i < keep; ++i) free(kept[i]);
  return 0;
}

/* THREADS threads, one after the other (each with its own heap, so arenas 1, 2, ...), each
 * allocating COUNT blocks of SIZE, touching them and freeing them all. */
static size_t g_count, g_size;

static void* alloc_free_thread(void* arg) {
  (void)arg;
  void** blocks = raw_alloc((g_count + 1) * sizeof(void*));
  for (size_t i = 0; i < g_count; ++i) touch(blocks[i] = check(malloc(g_size), "malloc"), g_size);
  for (size_t i = 0; i < g_count; ++i) free(blocks[i]);
  munmap(blocks, (g_count + 1) * sizeof(void*));
  return NULL;
}

static int cmd_threads_free(int threads, size_t count, size_t size) {
  g_count = count;
  g_size = size;
  free(check(malloc(64), "malloc"));
  size_t base = statm_rss();
  for (int i = 0; i < threads; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, alloc_free_thread, NULL);
    pthread_join(t, NULL);
  }
  printf("rss_base=%zu\nrss_end=%zu\n", base, statm_rss());
  print_json("json");
  return 0;
}

/* ---- perturb ---- */

static size_t count_bytes(const volatile unsigned char* p, size_t from, size_t to,
                          unsigned char b) {
  size_t n = 0;
  for (size_t i = from; i < to; ++i) n += p[i] == b;
  return n;
}

static int cmd_perturb(const char* mode) {
  const unsigned char b = 165, nb = (unsigned char)~165;
  if (strcmp(mode, "mallopt") == 0) printf("mallopt=%d\n", mallopt(M_PERTURB, 165));
  char v[64];
  arenalloc_option_get("perturb", v, sizeof(v));
  printf("perturb=%s\n", v);

  unsigned char* p = check(malloc(64), "malloc");
  printf("new_small=%zu/64\n", count_bytes(p, 0, 64, nb));
  /* Remember the address as a number: reading a freed block is what this test is about. */
  uintptr_t addr = (uintptr_t)p;
  free(p);
  const volatile unsigned char* freed = (const volatile unsigned char*)addr;
  printf("freed_small=%zu/48\n", count_bytes(freed, 16, 64, b));
  unsigned char* again = check(malloc(64), "malloc");
  printf("reused=%d\nreused_small=%zu/64\n", (uintptr_t)again == addr,
         count_bytes(again, 0, 64, nb));
  free(again);

  size_t big = 300 * 1024;
  unsigned char* q = check(malloc(big), "malloc");
  printf("new_large=%zu/%zu\n", count_bytes(q, 0, big, nb), big);
  free(q);

  unsigned char* z = check(calloc(1, 64), "calloc");
  printf("calloc_zero=%zu/64\n", count_bytes(z, 0, 64, 0));
  free(z);
  return 0;
}

/* ---- /proc/self/maps and smaps ---- */

/* The maps line of the mapping containing addr (without the trailing newline). */
static int maps_line(const void* addr, char* out, size_t cap) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  if (f == NULL) return 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
      line[strcspn(line, "\n")] = '\0';
      snprintf(out, cap, "%s", line);
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

static int cmd_brk(void) {
  void* p = check(malloc(1000), "malloc");
  touch(p, 1000);
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  size_t heap = 0;
  int in_heap = 0;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    if (strstr(line, "[heap]") != NULL && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
      heap += hi - lo;
      if ((uintptr_t)p >= lo && (uintptr_t)p < hi) in_heap = 1;
    }
  }
  if (f != NULL) fclose(f);
  printf("heap_bytes=%zu\nin_heap=%d\n", heap, in_heap);
  char v[64];
  arenalloc_option_get("brk", v, sizeof(v));
  printf("brk=%s\n", v);
  print_json("json");
  free(p);
  return 0;
}

/* THPeligible and VmFlags of the mapping containing addr. */
static void smaps_of(const char* key, const void* addr) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    char c;
    /* A mapping's header line is "lo-hi perms ..."; field lines ("Name:   value") never
     * parse as two hex numbers joined by '-'. */
    if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3) {
      in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
      if (in) printf("%s_range=%lx-%lx\n", key, lo, hi);
      continue;
    }
    if (!in) continue;
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "THPeligible:", 12) == 0) {
      const char* v = line + 12;
      while (*v == ' ' || *v == '\t') ++v;
      printf("%s_thp=%s\n", key, v);
    } else if (strncmp(line, "VmFlags:", 8) == 0) {
      printf("%s_flags=%s \n", key, line + 8);
    }
  }
  if (f != NULL) fclose(f);
}

/* smaps_of for the part of p's segment that huge_pages=large advises (from 2 MiB on). */
static void smaps_of_segment(const char* key, const void* p) {
  uintptr_t seg = (uintptr_t)p & ~((uintptr_t)32 * MIB - 1);
  smaps_of(key, (const void*)(seg + 2 * MIB + 4096));
}

static int cmd_thp_heap(int threads, int mib, int held_kib) {
  pthread_t t[256];
  if (held_kib > 0) g_held_block = (size_t)held_kib * 1024;
  /* all hold a heap at once, each its own arena, until the end */
  if (threads > 0) threads = hold_arena_threads(t, threads);
  void* small = check(malloc(100), "malloc");
  touch(small, 100);
  smaps_of_segment("small", small);
  enum { kMaxBlocks = 128 };
  const int nblocks = mib < 0 ? 0 : (mib > kMaxBlocks ? kMaxBlocks : mib);
  void* blocks[kMaxBlocks];
  for (int i = 0; i < nblocks; ++i) {
    blocks[i] = check(malloc(MIB), "malloc");
    touch(blocks[i], MIB);
  }
  /* Two blocks taken from one segment now that the heap is large. */
  void* a = NULL;
  void* b = NULL;
  for (int tries = 0; tries < 4; ++tries) {
    a = check(malloc(MIB), "malloc");
    b = check(malloc(MIB), "malloc");
    touch(a, MIB);
    touch(b, MIB);
    if (((uintptr_t)a ^ (uintptr_t)b) < 32 * MIB) break;
  }
  printf("same_segment=%d\n", ((uintptr_t)a ^ (uintptr_t)b) < 32 * MIB);
  smaps_of_segment("large", b);
  free(a);
  printf("trimmed=%d\n", malloc_trim(0));
  smaps_of_segment("purged", b);
  for (int i = 0; i < nblocks; ++i) free(blocks[i]);
  free(b);
  free(small);
  if (threads > 0) release_arena_threads(t, threads);
  return 0;
}

static int cmd_thp_block(void) {
  unsigned char* m = check(malloc(40 * MIB), "malloc");
  void* c = check(calloc(1, 40 * MIB), "calloc");
  unsigned char* g = check(malloc(8 * MIB), "malloc");
  touch(m, 4096);
  memset(g, 0x5a, 8 * MIB);
  smaps_of("malloc", m);
  smaps_of("calloc", c);
  smaps_of("small", g);
  g = check(realloc(g, 48 * MIB), "realloc");
  printf("kept=%d\n", g[0] == 0x5a && g[8 * MIB - 1] == 0x5a);
  smaps_of("grown", g);
  c = check(realloc(c, 80 * MIB), "realloc");
  smaps_of("grown_calloc", c);
  free(g);
  free(c);
  free(m);
  return 0;
}

static int cmd_smaps(void) {
  void* p = check(malloc(100), "malloc");
  void* q = check(malloc(16 * MIB), "malloc");
  touch(p, 100);
  smaps_of("segment", p);
  smaps_of("huge", q);
  char v[64];
  arenalloc_option_get("huge_pages", v, sizeof(v));
  printf("huge_pages=%s\n", v);
  free(q);
  free(p);
  return 0;
}

static int cmd_names(void) {
  void* p = check(malloc(100), "malloc");
  void* q = check(malloc(16 * MIB), "malloc");
  char line[512];
  if (maps_line(p, line, sizeof(line))) printf("segment_line=%s\n", line);
  if (maps_line(q, line, sizeof(line))) printf("huge_line=%s\n", line);
  free(q);
  free(p);
  return 0;
}

/* ---- introspection ---- */

static int cmd_introspect(size_t mib) {
  /* Sizes that are size classes, so requested bytes == usable bytes. */
  static const size_t kSizes[] = {16, 48, 64, 96, 128, 256, 1024, 4096};
  const size_t nsizes = sizeof(kSizes) / sizeof(kSizes[0]);
  size_t target = mib * MIB, max_blocks = target / 16 + 1;
  void** blocks = raw_alloc(max_blocks * sizeof(void*));
  free(check(malloc(64), "malloc"));
  print_mallinfo("start_");
  size_t total = 0, usable = 0, n = 0;
  while (total < target) {
    size_t s = kSizes[n % nsizes];
    blocks[n] = check(malloc(s), "malloc");
    touch(blocks[n], s);
    usable += malloc_usable_size(blocks[n]);
    total += s;
    ++n;
  }
  printf("requested=%zu\nusable_sum=%zu\nblocks=%zu\n", total, usable, n);
  void* huge[3];
  for (int i = 0; i < 3; ++i) touch(huge[i] = check(malloc(10 * MIB), "malloc"), 10 * MIB);
  print_mallinfo("");
  /* The stats JSON between two readings of VmRSS/VmHWM, into a buffer already resident. */
  size_t cap = arenalloc_stats_json(NULL, 0) + 4096;
  char* json = raw_alloc(cap);
  memset(json, 0, cap);
  size_t rss0 = status_field("VmRSS"), hwm0 = status_field("VmHWM");
  arenalloc_stats_json(json, cap);
  size_t rss1 = status_field("VmRSS"), hwm1 = status_field("VmHWM");
  printf("json=%s\n", json);
  printf("vmrss_before=%zu\nvmrss_after=%zu\nvmhwm_before=%zu\nvmhwm_after=%zu\n", rss0, rss1, hwm0,
         hwm1);
  for (int i = 0; i < 3; ++i) free(huge[i]);
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  printf("trim=%d\n", malloc_trim(0));
  print_mallinfo("end_");
  print_json("json_end");
  return 0;
}

static void known_blocks(void** small, void** huge) {
  *small = check(malloc(1000), "malloc");
  *huge = check(malloc(10 * MIB), "malloc");
  touch(*small, 1000);
  touch(*huge, 10 * MIB);
}

static int cmd_malloc_stats(void) {
  void *small, *huge;
  known_blocks(&small, &huge);
  print_mallinfo("");
  fflush(stdout);
  malloc_stats();
  free(huge);
  free(small);
  return 0;
}

static int cmd_malloc_info(const char* path) {
  void *small, *huge;
  known_blocks(&small, &huge);
  FILE* f = fopen(path, "w");
  check(f, "fopen");
  printf("info0=%d\n", malloc_info(0, f));
  fclose(f);
  print_mallinfo("");
  FILE* g = fopen("/dev/null", "w");
  printf("info1=%d\n", malloc_info(1, g));
  fclose(g);
  free(huge);
  free(small);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: tuning_child COMMAND ARGS... (see the source)\n");
    return 2;
  }
  const char* cmd = argv[1];
  if (strcmp(cmd, "options") == 0) return cmd_options(argc - 2, argv + 2);
  if (strcmp(cmd, "huge") == 0 && argc == 3) return cmd_huge(parse_size(argv[2]));
  if (strcmp(cmd, "arenas") == 0 && argc == 3) return cmd_arenas(atoi(argv[2]));
  if (strcmp(cmd, "free-large") == 0 && (argc == 6 || argc == 7))
    return cmd_free_large(parse_size(argv[2]), parse_size(argv[3]), parse_size(argv[4]),
                          atol(argv[5]), argc == 7 && strcmp(argv[6], "trim") == 0);
  if (strcmp(cmd, "threads-free") == 0 && argc == 5)
    return cmd_threads_free(atoi(argv[2]), parse_size(argv[3]), parse_size(argv[4]));
  if (strcmp(cmd, "perturb") == 0 && argc == 3) return cmd_perturb(argv[2]);
  if (strcmp(cmd, "brk") == 0) return cmd_brk();
  if (strcmp(cmd, "smaps") == 0) return cmd_smaps();
  if (strcmp(cmd, "thp-heap") == 0 && argc <= 5)
    return cmd_thp_heap(argc >= 3 ? atoi(argv[2]) : 0, argc >= 4 ? atoi(argv[3]) : 80,
                        argc == 5 ? atoi(argv[4]) : 0);
  if (strcmp(cmd, "thp-block") == 0) return cmd_thp_block();
  if (strcmp(cmd, "names") == 0) return cmd_names();
  if (strcmp(cmd, "introspect") == 0 && argc == 3) return cmd_introspect(parse_size(argv[2]));
  if (strcmp(cmd, "malloc-stats") == 0) return cmd_malloc_stats();
  if (strcmp(cmd, "malloc-info") == 0 && argc == 3) return cmd_malloc_info(argv[2]);
  if (strcmp(cmd, "exit") == 0 && (argc == 2 || argc == 4)) {
    if (argc == 4) printf("set=%d\n", arenalloc_option_set(argv[2], argv[3]));
    void* p = check(malloc(100), "malloc");
    touch(p, 100);
    free(p);
    return 0;
  }
  if (strcmp(cmd, "double-free") == 0) {
    void* volatile p = check(malloc(64), "malloc");
    free(p);
    free(p); /* reported (on_error) */
    printf("survived=1\n");
    return 0;
  }
  fprintf(stderr, "tuning_child: unknown command or wrong arguments: %s\n", cmd);
  return 2;
}
