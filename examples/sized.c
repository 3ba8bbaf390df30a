/* Sized and aligned allocation with arenalloc's C API (include/arenalloc/arenalloc.h).
 *
 *   cc sized.c $(pkg-config --cflags --libs arenalloc) -o sized && ./sized
 *
 * Prints what each call returned and ends with "sized: ok" (exit status 0) when every result is
 * as documented. */
#include <arenalloc/arenalloc.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "sized: FAILED: %s\n", what);
    ++failures;
  }
}

static int all_zero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return 0;
  return 1;
}

int main(void) {
  printf("arenalloc %s\n", arenalloc_version());

  /* 1. Zeroed memory: ARENALLOC_ZERO is calloc without the multiplication. */
  unsigned char* z = arenalloc_alloc(1000, ARENALLOC_ZERO);
  check(z != NULL && all_zero(z, 1000), "ARENALLOC_ZERO gives zeroed memory");
  printf("alloc(1000, ZERO): usable %zu, zeroed %s\n", arenalloc_usable_size(z),
         all_zero(z, 1000) ? "yes" : "no");

  /* 2. Alignment: ARENALLOC_ALIGN(a), a power of two up to 16 MiB; combine with |. */
  size_t aligns[] = {64, 4096, (size_t)2 << 20};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; ++i) {
    size_t a = aligns[i];
    int flags = ARENALLOC_ALIGN(a) | ARENALLOC_ZERO;
    void* p = arenalloc_alloc(300, flags);
    check(p != NULL && ((uintptr_t)p & (a - 1)) == 0, "ARENALLOC_ALIGN aligns");
    printf("alloc(300, ALIGN(%zu)|ZERO): aligned %s, usable %zu\n", a,
           ((uintptr_t)p & (a - 1)) == 0 ? "yes" : "no", arenalloc_usable_size(p));
    /* Free with the same size and flags it was allocated with. */
    arenalloc_free_sized(p, 300, flags);
  }

  /* 3. Errors: a bad alignment is EINVAL, an impossible size ENOMEM. */
  errno = 0;
  void* bad = arenalloc_alloc(64, ARENALLOC_ALIGN((size_t)32 << 20)); /* 32 MiB: too much */
  check(bad == NULL && errno == EINVAL, "alignment above 16 MiB is EINVAL");
  printf("alloc(64, ALIGN(32 MiB)): %s, errno %s\n", bad ? "a block" : "NULL",
         errno == EINVAL ? "EINVAL" : "?");
  errno = 0;
  void* huge = arenalloc_alloc(SIZE_MAX / 2, 0);
  check(huge == NULL && errno == ENOMEM, "impossible size is ENOMEM");
  printf("alloc(SIZE_MAX / 2, 0): %s, errno %s\n", huge ? "a block" : "NULL",
         errno == ENOMEM ? "ENOMEM" : "?");

  /* 4. Good sizes: ask for what you will get anyway (like jemalloc's nallocx). */
  size_t wanted[] = {1, 100, 1000, 5000, 300000};
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; ++i) {
    size_t good = arenalloc_good_size(wanted[i], 0);
    void* p = arenalloc_alloc(good, 0);
    check(arenalloc_usable_size(p) == good, "good_size is the usable size");
    printf("good_size(%zu) = %zu\n", wanted[i], good);
    arenalloc_free_sized(p, good, 0);
  }

  /* 5. Resizing in place: a buffer that never moves. Large blocks (over 128 KiB) grow into free
   * space after them and give their tail back when they shrink; small blocks keep their size. */
  size_t n = 256 * 1024;
  char* buf = arenalloc_alloc(n, 0);
  memset(buf, 'x', n);
  size_t shrunk = arenalloc_resize(buf, 150 * 1024, 0);
  check(shrunk >= 150 * 1024 && shrunk < n, "a large block shrinks in place");
  size_t grown = arenalloc_resize(buf, 1 << 20, 0);
  check(grown == shrunk || grown >= (1 << 20), "resize grows or keeps the size");
  check(buf[0] == 'x' && buf[150 * 1024 - 1] == 'x', "resize keeps the contents");
  printf("resize 256 KiB -> 150 KiB: usable %zu; -> 1 MiB: usable %zu (%s)\n", shrunk, grown,
         grown >= (1 << 20) ? "grew in place" : "no room after it: unchanged");
  size_t final_size = grown >= (1 << 20) ? (size_t)1 << 20 : (size_t)150 * 1024;
  arenalloc_free_sized(buf, final_size, 0);

  char* small = arenalloc_alloc(40, 0);
  size_t before = arenalloc_usable_size(small);
  size_t after = arenalloc_resize(small, 4000, 0);
  check(after == before, "a small block keeps its size");
  printf("resize small 40 -> 4000: usable %zu -> %zu\n", before, after);
  arenalloc_free_sized(small, 40, 0);

  /* 6. C23 free_sized: the size the block was allocated with. */
  void* q = arenalloc_alloc(777, 0);
  free_sized(q, 777);
  arenalloc_free_sized(z, 1000, ARENALLOC_ZERO);

  if (failures != 0) {
    printf("sized: %d check(s) failed\n", failures);
    return 1;
  }
  printf("sized: ok\n");
  return 0;
}
