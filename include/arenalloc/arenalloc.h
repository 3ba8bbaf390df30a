/* arenalloc: a fast, scalable malloc for Linux.
 *
 * Linking libarenalloc (or preloading it) replaces the whole malloc family and every C++
 * operator new/delete. This header declares what arenalloc offers beyond those. */
#ifndef ARENALLOC_ARENALLOC_H
#define ARENALLOC_ARENALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". Also a cheap way to check arenalloc is linked. */
const char* arenalloc_version(void);

/* Print arenalloc's statistics to stderr (also at exit when ARENALLOC_STATS=1). */
void arenalloc_stats_print(void);

/* C23 sized deallocation (glibc 2.36 headers lack them). */
void free_sized(void* p, size_t size);
void free_aligned_sized(void* p, size_t alignment, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ARENALLOC_ARENALLOC_H */
