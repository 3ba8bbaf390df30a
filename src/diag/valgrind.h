// Valgrind (memcheck) integration, compiled in with -DARENALLOC_VALGRIND=1 (the CMake option of
// the same name, or the libarenalloc-valgrind.so the build makes when valgrind's headers exist).
//
// Memcheck learns about every block through client requests: the exported entry points announce
// each block handed out (MALLOCLIKE) and each block given back (FREELIKE), so leaks, reads of
// freed memory and of uninitialised memory are reported as with glibc. The allocator's own
// accesses to freed blocks (free-list links, marks) would look like errors to memcheck: they run
// with error reporting switched off for the thread (ValgrindScope). Segments start NOACCESS past
// their header. Private heaps are memcheck memory pools, so reset and destroy discard their
// blocks. In a normal build everything here compiles to nothing.
#pragma once

#include <cstddef>

#if defined(ARENALLOC_VALGRIND) && ARENALLOC_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

namespace arenalloc::vg {

#if defined(ARENALLOC_VALGRIND) && ARENALLOC_VALGRIND
struct Scope {
  Scope() { VALGRIND_DISABLE_ERROR_REPORTING; }
  ~Scope() { VALGRIND_ENABLE_ERROR_REPORTING; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};
inline bool running() {
  return RUNNING_ON_VALGRIND != 0;
}
inline void* allocated(void* p, size_t size, bool zeroed) {
  if (p != nullptr) VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed);
  return p;
}
inline void freeing(void* p) {
  if (p != nullptr) VALGRIND_FREELIKE_BLOCK(p, 0);
}
inline void no_access(void* p, size_t size) {
  VALGRIND_MAKE_MEM_NOACCESS(p, size);
}
inline void pool_create(void* pool) {
  VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
}
inline void pool_alloc(void* pool, void* p, size_t size) {
  if (p != nullptr) VALGRIND_MEMPOOL_ALLOC(pool, p, size);
}
inline void pool_free(void* pool, void* p) {
  if (p != nullptr) VALGRIND_MEMPOOL_FREE(pool, p);
}
inline void pool_discard_all(void* pool) {
  VALGRIND_MEMPOOL_TRIM(pool, 0, 0);
}
inline void pool_destroy(void* pool) {
  VALGRIND_DESTROY_MEMPOOL(pool);
}
#else
struct [[gnu::unused]] Scope {};
inline bool running() {
  return false;
}
inline void* allocated(void* p, size_t, bool) {
  return p;
}
inline void freeing(void*) {}
inline void no_access(void*, size_t) {}
inline void pool_create(void*) {}
inline void pool_alloc(void*, void*, size_t) {}
inline void pool_free(void*, void*) {}
inline void pool_discard_all(void*) {}
inline void pool_destroy(void*) {}
#endif

}  // namespace arenalloc::vg
