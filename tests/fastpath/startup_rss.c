/* Start-up footprint: prints the process's RSS (VmRSS) at the start of main, and again after
 * starting 64 threads that never allocate. Run plain and with LD_PRELOAD=libarenalloc.so; the
 * differences are arenalloc's start-up cost and its cost per idle thread (docs/PERFORMANCE.md,
 * tests/fastpath/footprint_test.cpp). Not linked to any allocator. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* line = strstr(buf, "VmRSS:");
  return line ? strtol(line + 6, NULL, 10) : -1;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started, done;

static void* idle(void* arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  ++started;
  pthread_cond_broadcast(&cond);
  while (!done) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  return NULL;
}

int main(void) {
  long at_main = rss_kib();
  enum { kThreads = 64 };
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; ++i)
    if (pthread_create(&t[i], NULL, idle, NULL) != 0) return 1;
  pthread_mutex_lock(&lock);
  while (started < kThreads) pthread_cond_wait(&cond, &lock);
  long with_threads = rss_kib();
  done = 1;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < kThreads; ++i) pthread_join(t[i], NULL);
  printf("rss_kib=%ld threads_rss_kib=%ld\n", at_main, with_threads);
  return 0;
}
