/* Workloads for the measured examples in docs/TUNING.md. Not linked to arenalloc: run them with
 * LD_PRELOAD=libarenalloc.so (or without, for glibc) and vary the environment.
 *
 *   threads T ITERS   T threads, each ITERS malloc/free pairs over a ring of 256 blocks: mostly
 *                     16..1024 bytes, one in 16 from 128 KiB to 1 MiB (these take the arena's
 *                     lock in arenalloc). Prints the wall time.
 *   buffers ITERS     one thread allocates a buffer of 256 KiB..4 MiB, fills it, frees it, ITERS
 *                     times (a program that keeps re-creating large buffers). Prints the time.
 *   release MIB       allocates MIB MiB in blocks of 64 B..1 MiB, fills them, frees them all, then
 *                     prints RSS: at the peak, right after the frees, after 1.1 s idle (past
 *                     arenalloc's default purge delay), then after a malloc/free of 32 bytes,
 *                     then after one of 1 MiB.
 * Output: "key=value" lines. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long long total = 0, res = 0;
  if (f != NULL) {
    if (fscanf(f, "%llu %llu", &total, &res) != 2) res = 0;
    fclose(f);
  }
  return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static uint64_t next(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Keeps the compiler from eliding a malloc/fill/free sequence. */
static void escape(void* p) {
  __asm__ volatile("" : : "g"(p) : "memory");
}

static void* must(void* p) {
  if (p == NULL) {
    fprintf(stderr, "tuning_workload: out of memory\n");
    exit(3);
  }
  return p;
}

/* One byte per 4 KiB page, and the first and last bytes: the memory becomes resident. */
static void touch_pages(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)i;
  p[n - 1] = 1;
  escape(p);
}

/* ---- threads ---- */

static long g_iters;

static void* thread_main(void* arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 1;
  enum { kRing = 256 };
  void* ring[kRing] = {0};
  for (long i = 0; i < g_iters; ++i) {
    uint64_t r = next(&seed);
    size_t slot = r % kRing;
    size_t n = (r >> 16) % 16 == 0 ? (128u << 10) + (size_t)((r >> 24) % (896u << 10))
                                   : 16 + (size_t)((r >> 24) % 1009);
    free(ring[slot]);
    ring[slot] = must(malloc(n));
    touch_pages(ring[slot], n);
  }
  for (int i = 0; i < kRing; ++i) free(ring[i]);
  return NULL;
}

static int run_threads(int threads, long iters) {
  pthread_t t[256];
  if (threads > 256) threads = 256;
  g_iters = iters;
  double t0 = now_s();
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, thread_main, (void*)(uintptr_t)i);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  printf("threads=%d\niters=%ld\nseconds=%.3f\nrss_mib=%.1f\n", threads, iters, now_s() - t0,
         rss_mib());
  return 0;
}

/* ---- buffers ---- */

static int run_buffers(long iters) {
  uint64_t seed = 42;
  double t0 = now_s();
  for (long i = 0; i < iters; ++i) {
    size_t n = (256u << 10) + (size_t)(next(&seed) % (3840u << 10));
    unsigned char* p = must(malloc(n));
    memset(p, (int)i, n);
    escape(p);
    free(p);
  }
  printf("iters=%ld\nseconds=%.3f\nrss_mib=%.1f\n", iters, now_s() - t0, rss_mib());
  return 0;
}

/* ---- release ---- */

static int run_release(long mib) {
  size_t target = (size_t)mib << 20, cap = target / 64 + 1, count = 0, total = 0;
  void** blocks =
      mmap(NULL, cap * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (blocks == MAP_FAILED) return 3;
  uint64_t seed = 7;
  double start = rss_mib();
  while (total < target && count < cap) {
    uint64_t r = next(&seed);
    /* Log-uniform over 64 B..1 MiB. */
    unsigned bits = 6 + (unsigned)(r % 15);
    size_t n = ((size_t)1 << bits) + (size_t)((r >> 8) % ((size_t)1 << bits));
    if (n > (1u << 20)) n = 1u << 20;
    blocks[count] = must(malloc(n));
    memset(blocks[count], 0x3C, n);
    escape(blocks[count]);
    total += n;
    ++count;
  }
  double peak = rss_mib();
  double t0 = now_s();
  for (size_t i = 0; i < count; ++i) free(blocks[i]);
  double free_s = now_s() - t0;
  double after = rss_mib();
  struct timespec ts = {1, 100 * 1000000L};
  nanosleep(&ts, NULL);
  double idle = rss_mib();
  void* p = must(malloc(32));
  escape(p);
  free(p);
  double small = rss_mib();
  p = must(malloc(1u << 20));
  escape(p);
  free(p);
  double large = rss_mib();
  printf(
      "blocks=%zu\nmib=%.1f\nrss_start=%.1f\nrss_peak=%.1f\nrss_after_free=%.1f\n"
      "rss_after_1100ms_idle=%.1f\nrss_then_malloc_32=%.1f\nrss_then_malloc_1m=%.1f\n"
      "free_seconds=%.4f\n",
      count, (double)total / 1048576.0, start, peak, after, idle, small, large, free_s);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "threads") == 0)
    return run_threads(atoi(argv[2]), atol(argv[3]));
  if (argc == 3 && strcmp(argv[1], "buffers") == 0) return run_buffers(atol(argv[2]));
  if (argc == 3 && strcmp(argv[1], "release") == 0) return run_release(atol(argv[2]));
  fprintf(stderr, "usage: tuning_workload threads T ITERS | buffers ITERS | release MIB\n");
  return 2;
}
