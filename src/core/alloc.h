// The allocation operations behind the public API, above the heap fast paths: alignment,
// zeroing, resizing, sizes, trimming. Failures set errno to ENOMEM and return nullptr.
#pragma once

#include <cstddef>

#include "core/heap.h"

namespace arenalloc {

void* alloc_aligned(size_t size, size_t align) noexcept;  // align: a power of two
void* alloc_zeroed(size_t count, size_t size) noexcept;   // calloc, overflow-checked
void* reallocate(void* p, size_t size) noexcept;          // realloc, glibc semantics
size_t usable_size(const void* p) noexcept;               // 0 for nullptr
bool trim() noexcept;                                      // purge what can be purged now

inline void* alloc(size_t size) noexcept { return heap_malloc(tls_heap, size); }
inline void dealloc(void* p) noexcept { heap_free(p); }

}  // namespace arenalloc
