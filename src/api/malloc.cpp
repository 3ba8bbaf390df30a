// The C allocation symbols, with glibc's names and semantics. Each is a thin shell over core/.
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>

#include "core/alloc.h"
#include "diag/valgrind.h"
#include "os/os.h"

using namespace arenalloc;

#define ARENALLOC_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

bool valid_alignment(size_t align) {
  return align != 0 && (align & (align - 1)) == 0;
}

}  // namespace

// Under memcheck (valgrind builds only): realloc always moves, so memcheck sees one block freed
// and one allocated, with the contents' definedness copied along.
[[maybe_unused]] void* valgrind_realloc(void* p, size_t size) {
  vg::Scope scope;
  if (size == 0) {
    vg::freeing(p);
    dealloc(p);
    return nullptr;
  }
  size_t old = usable_size(p);
  void* q = vg::allocated(alloc(size), size, false);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old < size ? old : size);
  vg::freeing(p);
  dealloc(p);
  return q;
}

ARENALLOC_EXPORT void* malloc(size_t size) noexcept {
  vg::Scope scope;
  return vg::allocated(alloc(size), size, false);
}

ARENALLOC_EXPORT void free(void* p) noexcept {
  // free() must not change errno, even when it returns memory to the OS.
  vg::Scope scope;
  vg::freeing(p);
  dealloc(p);
}

ARENALLOC_EXPORT void* calloc(size_t count, size_t size) noexcept {
  vg::Scope scope;
  return vg::allocated(alloc_zeroed(count, size), count * size, true);
}

ARENALLOC_EXPORT void* realloc(void* p, size_t size) noexcept {
  if (vg::running() && p != nullptr) return valgrind_realloc(p, size);
  vg::Scope scope;
  return vg::allocated(reallocate(p, size), size, false);
}

ARENALLOC_EXPORT void* reallocarray(void* p, size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

ARENALLOC_EXPORT void* memalign(size_t align, size_t size) noexcept {
  if (!valid_alignment(align)) {  // glibc rounds a bad alignment up to a power of two
    if (align > kMaxAlignment) {
      errno = EINVAL;
      return nullptr;
    }
    size_t a = 1;
    while (a < align) a <<= 1;
    align = a;
  }
  vg::Scope scope;
  return vg::allocated(alloc_aligned(size, align), size, false);
}

ARENALLOC_EXPORT int posix_memalign(void** out, size_t align, size_t size) noexcept {
  if (!valid_alignment(align) || align % sizeof(void*) != 0) return EINVAL;
  vg::Scope scope;
  void* p = alloc_aligned_direct(size, align);
  if (p == nullptr) [[unlikely]] {
    int saved = errno;  // posix_memalign leaves errno alone, as glibc's does
    p = alloc_aligned(size, align);
    errno = saved;
    if (p == nullptr) return ENOMEM;
  }
  *out = vg::allocated(p, size, false);
  return 0;
}

ARENALLOC_EXPORT void* aligned_alloc(size_t align, size_t size) noexcept {
  if (!valid_alignment(align)) {  // C17 and glibc 2.38: an invalid alignment fails
    errno = EINVAL;
    return nullptr;
  }
  return memalign(align, size);
}

ARENALLOC_EXPORT void* valloc(size_t size) noexcept {
  return memalign(os::page_size(), size);
}

ARENALLOC_EXPORT void* pvalloc(size_t size) noexcept {
  size_t page = os::page_size();
  size_t rounded = (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return memalign(page, rounded == 0 ? page : rounded);
}

ARENALLOC_EXPORT size_t malloc_usable_size(void* p) noexcept {
  vg::Scope scope;
  return usable_size(p);
}

// C23: the size (and alignment) are those given at allocation; arenalloc checks them.
ARENALLOC_EXPORT void free_sized(void* p, size_t size) noexcept {
  vg::Scope scope;
  vg::freeing(p);
  dealloc_sized(p, size, 0);
}
ARENALLOC_EXPORT void free_aligned_sized(void* p, size_t align, size_t size) noexcept {
  vg::Scope scope;
  vg::freeing(p);
  dealloc_sized(p, size, align);
}

ARENALLOC_EXPORT int malloc_trim(size_t pad) noexcept {
  return trim(pad) ? 1 : 0;
}

// glibc's internal entry points, which some programs and libraries call directly.
ARENALLOC_EXPORT void* __libc_malloc(size_t size) noexcept {
  return malloc(size);
}
ARENALLOC_EXPORT void __libc_free(void* p) noexcept {
  free(p);
}
ARENALLOC_EXPORT void* __libc_calloc(size_t count, size_t size) noexcept {
  return calloc(count, size);
}
ARENALLOC_EXPORT void* __libc_realloc(void* p, size_t size) noexcept {
  return realloc(p, size);
}
ARENALLOC_EXPORT void* __libc_memalign(size_t align, size_t size) noexcept {
  return memalign(align, size);
}
ARENALLOC_EXPORT void* __libc_valloc(size_t size) noexcept {
  return valloc(size);
}
ARENALLOC_EXPORT void* __libc_pvalloc(size_t size) noexcept {
  return pvalloc(size);
}
ARENALLOC_EXPORT void* __libc_reallocarray(void* p, size_t count, size_t size) noexcept {
  return reallocarray(p, count, size);
}
ARENALLOC_EXPORT int __posix_memalign(void** out, size_t align, size_t size) noexcept {
  return posix_memalign(out, align, size);
}
