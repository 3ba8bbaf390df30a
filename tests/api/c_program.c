/* A plain C program linked to libarenalloc.so that exercises the malloc
 * family; exits 0 on success, 1 with a message on the first failure. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<arenalloc/arenalloc.h>)
#include <arenalloc/arenalloc.h>
#define HAVE_ARENALLOC_H 1
#endif
#endif
#ifndef HAVE_ARENALLOC_H
const char* arenalloc_version(void);
#endif

void free_sized(void* ptr, size_t size);
void free_aligned_sized(void* ptr, size_t alignment, size_t size);

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static size_t opaque(size_t v) {
  __asm__ volatile("" : "+r"(v));
  return v;
}

int main(void) {
  const char* v = arenalloc_version();
  CHECK(v != NULL && v[0] != '\0');

  /* malloc / free */
  char* p = malloc(opaque(100));
  CHECK(p != NULL);
  if (p) {
    memset(p, 'x', 100);
    CHECK(((uintptr_t)p & 7) == 0);
    CHECK(malloc_usable_size(p) >= 100);
  }
  /* realloc keeps contents */
  p = realloc(p, 100000);
  CHECK(p != NULL);
  if (p) {
    for (int i = 0; i < 100; i++) CHECK(p[i] == 'x');
    free(p);
  }
  /* calloc zeroes recycled memory */
  for (int i = 0; i < 100; i++) {
    unsigned char* d = malloc(3000);
    CHECK(d != NULL);
    if (!d) break;
    memset(d, 0xAA, 3000);
    free(d);
    unsigned char* c = calloc(100, 30);
    CHECK(c != NULL);
    if (!c) break;
    for (int k = 0; k < 3000; k++)
      if (c[k] != 0) {
        CHECK(c[k] == 0);
        break;
      }
    free_sized(c, 3000);
  }
  /* errors */
  errno = 0;
  CHECK(malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(opaque(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM);
  /* aligned */
  void* a = aligned_alloc(4096, 5000);
  CHECK(a != NULL && ((uintptr_t)a & 4095) == 0);
  free_aligned_sized(a, 4096, 5000);
  void* m = NULL;
  CHECK(posix_memalign(&m, 64, 10) == 0 && ((uintptr_t)m & 63) == 0);
  free(m);
  CHECK(posix_memalign(&m, 24, 10) == EINVAL);
  m = memalign(1 << 20, 10);
  CHECK(m != NULL && ((uintptr_t)m & ((1 << 20) - 1)) == 0);
  free(m);
  m = valloc(10);
  CHECK(m != NULL && ((uintptr_t)m & (uintptr_t)(sysconf(_SC_PAGESIZE) - 1)) == 0);
  free(m);
  m = pvalloc(10);
  CHECK(m != NULL && malloc_usable_size(m) >= (size_t)sysconf(_SC_PAGESIZE));
  free(m);
  /* huge */
  char* h = malloc((size_t)32 << 20);
  CHECK(h != NULL);
  if (h) {
    memset(h, 1, (size_t)32 << 20);
    free(h);
  }
  free(NULL);
  int t = malloc_trim(0);
  CHECK(t == 0 || t == 1);

  if (failures) {
    fprintf(stderr, "c_program: %d check(s) failed\n", failures);
    return 1;
  }
  printf("c_program: ok (arenalloc %s)\n", v);
  return 0;
}
