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

/* Print arenalloc's statistics to stderr (also at exit when ARENALLOC_STATS=1): memory in use,
 * committed, dirty (freed, not yet returned), RSS and peak RSS, per arena and per size class,
 * and the system calls arenalloc made. */
void arenalloc_stats_print(void);

/* The same as JSON in buf (NUL-terminated when len > 0). Returns the length the whole document
 * needs, excluding the NUL: if it is >= len, the output was cut; call again with more room. */
size_t arenalloc_stats_json(char* buf, size_t len);

/* Set an option at run time by its name (as in ARENALLOC_OPTIONS, e.g. "purge_delay", "100").
 * Returns 0, or -1 with errno = EINVAL for an unknown name or a malformed or out-of-range value
 * (after one warning line on stderr; the option keeps its value). Arena counts apply to threads
 * that allocate for the first time afterwards; perturb to the calling thread and later ones. */
int arenalloc_option_set(const char* name, const char* value);

/* The option's current value as text into buf. Returns 0, or -1 with errno = EINVAL (unknown
 * name) or ERANGE (buf too small). */
int arenalloc_option_get(const char* name, char* buf, size_t len);

/* C23 sized deallocation (glibc 2.36 headers lack them). */
void free_sized(void* p, size_t size);
void free_aligned_sized(void* p, size_t alignment, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ARENALLOC_ARENALLOC_H */
