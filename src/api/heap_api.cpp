// arenalloc's sized/aligned calls and private heaps (include/arenalloc/arenalloc.h).
#include <errno.h>

#include "arenalloc/arenalloc.h"
#include "core/alloc.h"
#include "core/private_heap.h"
#include "diag/valgrind.h"

using namespace arenalloc;

#define ARENALLOC_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kAlignMask = 0x3f;
constexpr int kKnownFlags = kAlignMask | ARENALLOC_ZERO;

// The alignment a flags word asks for, or 0 if the flags are invalid.
size_t flag_alignment(int flags) {
  if ((flags & ~kKnownFlags) != 0) return 0;
  size_t align = size_t{1} << (flags & kAlignMask);
  if (align > kMaxAlignment) return 0;
  return align < 16 ? 16 : align;
}

void* invalid() {
  errno = EINVAL;
  return nullptr;
}

}  // namespace

ARENALLOC_EXPORT void* arenalloc_alloc(size_t size, int flags) {
  size_t align = flag_alignment(flags);
  if (align == 0) return invalid();
  vg::Scope scope;
  bool zero = (flags & ARENALLOC_ZERO) != 0;
  return vg::allocated(flags == 0 ? alloc(size) : heap_alloc(tls_heap, size, align, zero), size,
                       zero);
}

ARENALLOC_EXPORT size_t arenalloc_resize(void* p, size_t size, int /*flags*/) {
  vg::Scope scope;
  return p == nullptr ? 0 : resize_in_place(p, size);
}

ARENALLOC_EXPORT size_t arenalloc_good_size(size_t size, int flags) {
  size_t align = flag_alignment(flags);
  return align == 0 ? 0 : good_size(size, align);
}

ARENALLOC_EXPORT void arenalloc_free_sized(void* p, size_t size, int flags) {
  if (p == nullptr) return;
  size_t align = flag_alignment(flags);
  vg::Scope scope;
  vg::freeing(p);
  dealloc_sized(p, size, align == 0 ? 16 : align);
}

ARENALLOC_EXPORT size_t arenalloc_usable_size(const void* p) {
  vg::Scope scope;
  return usable_size(p);
}

ARENALLOC_EXPORT arenalloc_heap_t* arenalloc_heap_create(void) {
  PrivateHeap* h = private_heap_create();
  if (h == nullptr)
    errno = ENOMEM;
  else
    vg::pool_create(h);
  return reinterpret_cast<arenalloc_heap_t*>(h);
}

ARENALLOC_EXPORT void* arenalloc_heap_alloc(arenalloc_heap_t* heap, size_t size, int flags) {
  PrivateHeap* h = private_heap_check(heap);
  size_t align = flag_alignment(flags);
  if (h == nullptr || align == 0) return invalid();
  vg::Scope scope;
  void* p = private_heap_alloc(h, size, align, (flags & ARENALLOC_ZERO) != 0);
  vg::pool_alloc(h, p, size);
  return p;
}

ARENALLOC_EXPORT void* arenalloc_heap_malloc(arenalloc_heap_t* heap, size_t size) {
  return arenalloc_heap_alloc(heap, size, 0);
}

ARENALLOC_EXPORT void* arenalloc_heap_calloc(arenalloc_heap_t* heap, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return arenalloc_heap_alloc(heap, total, ARENALLOC_ZERO);
}

ARENALLOC_EXPORT void arenalloc_heap_free(arenalloc_heap_t* heap, void* p) {
  if (PrivateHeap* h = private_heap_check(heap)) {
    vg::Scope scope;
    vg::pool_free(h, p);
    private_heap_free(h, p);
  }
}

ARENALLOC_EXPORT void arenalloc_heap_reset(arenalloc_heap_t* heap) {
  if (PrivateHeap* h = private_heap_check(heap)) {
    vg::Scope scope;
    vg::pool_discard_all(h);
    private_heap_reset(h);
  }
}

ARENALLOC_EXPORT void arenalloc_heap_destroy(arenalloc_heap_t* heap) {
  if (PrivateHeap* h = private_heap_check(heap)) {
    vg::Scope scope;
    vg::pool_destroy(h);
    private_heap_destroy(h);
  }
}
