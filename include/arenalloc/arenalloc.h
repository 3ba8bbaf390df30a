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

/* C23 sized deallocation (glibc 2.36 headers lack them). The size (and alignment) must be those
 * the block was allocated or last reallocated with: a mismatch is reported (see on_error). */
void free_sized(void* p, size_t size);
void free_aligned_sized(void* p, size_t alignment, size_t size);

/* ---- Sized and aligned calls ----
 * `flags` combines ARENALLOC_ALIGN(a) and ARENALLOC_ZERO. `a` must be a non-zero power of two
 * (the macro takes its lowest set bit, so ARENALLOC_ALIGN(48) means 16); the default and minimum
 * is 16. Allocation failures return NULL with errno = ENOMEM; flags with unknown bits or an
 * alignment above 16 MiB return NULL with errno = EINVAL. */
#define ARENALLOC_ALIGN(a) ((int)__builtin_ctzll((unsigned long long)(a)))
#define ARENALLOC_ZERO 0x40

/* Allocate `size` bytes (a unique pointer for 0). */
void* arenalloc_alloc(size_t size, int flags);
/* Resize in place only: never moves the block. Returns the usable size afterwards, which is
 * >= size on success and the unchanged usable size if the block cannot grow; 0 (after a report)
 * for a pointer arenalloc did not allocate. Large blocks (over 128 KiB) grow into free space after
 * them and give back their tail when shrunk; huge blocks grow within their mapping. Returns 0
 * for NULL. */
size_t arenalloc_resize(void* p, size_t size, int flags);
/* The usable size a request would get (like jemalloc's nallocx); 0 if it cannot be satisfied.
 * A block may be larger: a class above 1 KiB with no free block takes one from a class up to
 * half as large again rather than new memory (arenalloc_usable_size tells). */
size_t arenalloc_good_size(size_t size, int flags);
/* Free with the size (and alignment flag) used at allocation; checked like free_sized. After
 * arenalloc_resize, pass the size the block was allocated with, or the new size if the block
 * is large (over 128 KiB) and the resize succeeded. */
void arenalloc_free_sized(void* p, size_t size, int flags);
/* The block's usable size (as malloc_usable_size); 0 for NULL. It does not read the block. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && !defined(ARENALLOC_BUILDING)
__attribute__((__access__(__none__, 1)))
#endif
size_t
arenalloc_usable_size(const void* p);

/* ---- Private heaps ----
 * A heap of your own: allocate from it, then free everything at once with
 * arenalloc_heap_reset (the heap stays usable) or arenalloc_heap_destroy. Destroy returns the
 * heap's memory to the system at once; reset keeps it for the heap's next blocks (no page
 * faults when it is refilled) and returns what stays unused after the purge delay, or at once
 * with malloc_trim(0). A heap may be used from any thread: calls on one heap are
 * serialised by its lock (use one heap per thread for speed). Its blocks may also be freed with
 * free(), from any thread, and realloc'ed (the new block then comes from the caller's thread
 * heap). After reset or destroy, every block of the heap is invalid; none is handed out twice.
 * A handle that is not a live heap is reported (see on_error) and the call does nothing
 * (allocation returns NULL with errno = EINVAL). */
typedef struct arenalloc_heap arenalloc_heap_t;

/* NULL with errno = ENOMEM if the heap's bookkeeping cannot be mapped. */
arenalloc_heap_t* arenalloc_heap_create(void);
/* NULL with errno = ENOMEM, or EINVAL (bad flags or handle). */
void* arenalloc_heap_alloc(arenalloc_heap_t* heap, size_t size, int flags);
void* arenalloc_heap_malloc(arenalloc_heap_t* heap, size_t size);
void* arenalloc_heap_calloc(arenalloc_heap_t* heap, size_t count, size_t size);
/* Free one block of this heap (free() works too; this one reuses the block sooner). */
void arenalloc_heap_free(arenalloc_heap_t* heap, void* p);
/* Free every block of the heap; the heap stays usable and reuses the memory. */
void arenalloc_heap_reset(arenalloc_heap_t* heap);
/* Free every block and the heap itself. */
void arenalloc_heap_destroy(arenalloc_heap_t* heap);

#ifdef __cplusplus
}
#endif

#endif /* ARENALLOC_ARENALLOC_H */
