/* A program that knows nothing of arenalloc: it uses plain malloc/free and reports which
 * allocator serves them. Run it as is, with LD_PRELOAD=libarenalloc.so, or with `arenalloc run`
 * (see preload.sh). Not linked to arenalloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  /* Some allocation work, checked. */
  enum { kBlocks = 10000 };
  static char* blocks[kBlocks];
  unsigned long sum = 0;
  for (int i = 0; i < kBlocks; ++i) {
    size_t n = 16 + (size_t)(i * 37) % 2000;
    blocks[i] = malloc(n);
    if (blocks[i] == NULL) return 3;
    memset(blocks[i], i & 0xff, n);
  }
  for (int i = 0; i < kBlocks; ++i) {
    sum += (unsigned char)blocks[i][0];
    free(blocks[i]);
  }

  /* Which library defines the malloc this program calls? */
  Dl_info info;
  const char* where = "?";
  if (dladdr((void*)&malloc, &info) != 0 && info.dli_fname != NULL) where = info.dli_fname;
  const char* (*version)(void) = (const char* (*)(void))dlsym(RTLD_DEFAULT, "arenalloc_version");
  if (version != NULL)
    printf("preload_demo: malloc is arenalloc %s (%s), checksum %lu\n", version(), where, sum);
  else
    printf("preload_demo: malloc is the system's (%s), checksum %lu\n", where, sum);
  return 0;
}
