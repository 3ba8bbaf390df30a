/* Built with `cc main.c $(pkg-config --cflags --libs arenalloc)`: a C program on the installed
 * library. Prints "pkgconfig: ... OK" and exits 0 when every check passes. */
#include <arenalloc/arenalloc.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  int ok = 1;
  char* p = malloc(100);
  if (p) memset(p, 1, 100);
  ok &= arenalloc_usable_size(p) == arenalloc_good_size(100, 0); /* malloc is arenalloc's */
  free_sized(p, 100);
  unsigned char* z = arenalloc_alloc(4096, ARENALLOC_ALIGN(4096) | ARENALLOC_ZERO);
  ok &= z != NULL && ((uintptr_t)z & 4095) == 0 && z[0] == 0 && z[4095] == 0;
  arenalloc_free_sized(z, 4096, ARENALLOC_ALIGN(4096));
  arenalloc_heap_t* h = arenalloc_heap_create();
  for (int i = 0; i < 10000; ++i) {
    char* s = arenalloc_heap_malloc(h, 32);
    ok &= s != NULL;
    if (s) strcpy(s, "private heap");
  }
  arenalloc_heap_destroy(h);
  errno = 0;
  ok &= arenalloc_alloc(SIZE_MAX / 2, 0) == NULL && errno == ENOMEM;
  printf("pkgconfig: arenalloc %s %s\n", arenalloc_version(), ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
