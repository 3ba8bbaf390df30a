// Every C++ operator new and delete.
//
// The library does not link the C++ runtime (a C program that preloads arenalloc must not load
// libstdc++). The two runtime functions operator new needs, std::get_new_handler and the throw
// of std::bad_alloc, are weak references: any program that calls operator new has the runtime
// loaded, so they resolve; if they do not, failure aborts with a message.
#include <dlfcn.h>
#include <stdlib.h>

#include <new>

#include "core/alloc.h"
#include "diag/format.h"
#include "diag/valgrind.h"

using namespace arenalloc;

extern "C" std::new_handler arenalloc_runtime_get_new_handler() noexcept
    __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
extern "C" [[noreturn]] void arenalloc_runtime_throw_bad_alloc() __asm__("_ZSt17__throw_bad_allocv")
    __attribute__((weak));

#define ARENALLOC_EXPORT __attribute__((visibility("default")))

namespace {

std::new_handler current_new_handler() {
  return arenalloc_runtime_get_new_handler != nullptr ? arenalloc_runtime_get_new_handler()
                                                      : nullptr;
}

// A nothrow operator new must return nullptr when the new-handler throws. Catching needs the C++
// runtime, which this library does not link; the runtime's own nothrow operator new (next in
// symbol order) is exactly "try { return ::operator new(size); } catch (...) { return nullptr; }",
// and its ::operator new is ours. Only reached when allocation failed and a handler is set.
using NothrowNew = void* (*)(size_t, const std::nothrow_t&) noexcept;
using NothrowAlignedNew = void* (*)(size_t, std::align_val_t, const std::nothrow_t&) noexcept;

void* runtime_nothrow_new(size_t size, size_t align) {
  const std::nothrow_t tag{};  // not std::nothrow: that object lives in the C++ runtime
  if (align > 16) {
    auto next =
        reinterpret_cast<NothrowAlignedNew>(dlsym(RTLD_NEXT, "_ZnwmSt11align_val_tRKSt9nothrow_t"));
    if (next != nullptr) return next(size, std::align_val_t{align}, tag);
  } else {
    auto next = reinterpret_cast<NothrowNew>(dlsym(RTLD_NEXT, "_ZnwmRKSt9nothrow_t"));
    if (next != nullptr) return next(size, tag);
  }
  return nullptr;
}

// Out of memory in operator new: call the new-handler until it frees enough or gives up.
[[gnu::noinline]] void* new_failed(size_t size, size_t align, bool nothrow) {
  if (nothrow && current_new_handler() != nullptr) return runtime_nothrow_new(size, align);
  for (;;) {
    std::new_handler handler = current_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      if (arenalloc_runtime_throw_bad_alloc != nullptr) arenalloc_runtime_throw_bad_alloc();
      diag::Line line;
      line.str("arenalloc: operator new(").dec(size).str(") failed: out of memory\n");
      line.write_stderr();
      abort();
    }
    handler();
    void* p = align > 16 ? alloc_aligned(size, align) : alloc(size);
    if (p != nullptr) return p;
  }
}

inline void* new_impl(size_t size) {
  vg::Scope scope;
  void* p = alloc(size);
  if (p == nullptr) [[unlikely]]
    p = new_failed(size, 0, false);
  return vg::allocated(p, size, false);
}
inline void* new_nothrow(size_t size) noexcept {
  vg::Scope scope;
  void* p = alloc(size);
  if (p == nullptr) [[unlikely]]
    p = new_failed(size, 0, true);
  return vg::allocated(p, size, false);
}
inline void* new_aligned(size_t size, std::align_val_t al, bool nothrow) {
  vg::Scope scope;
  size_t align = static_cast<size_t>(al);
  void* p = alloc_aligned(size, align);
  if (p == nullptr) [[unlikely]]
    p = new_failed(size, align, nothrow);
  return vg::allocated(p, size, false);
}
inline void delete_impl(void* p) noexcept {
  vg::Scope scope;
  vg::freeing(p);
  dealloc(p);
}
inline void delete_sized(void* p, size_t size, size_t align) noexcept {
  vg::Scope scope;
  vg::freeing(p);
  dealloc_sized(p, size, align);
}

}  // namespace

ARENALLOC_EXPORT void* operator new(size_t size) {
  return new_impl(size);
}
ARENALLOC_EXPORT void* operator new[](size_t size) {
  return new_impl(size);
}
ARENALLOC_EXPORT void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return new_nothrow(size);
}
ARENALLOC_EXPORT void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return new_nothrow(size);
}
ARENALLOC_EXPORT void* operator new(size_t size, std::align_val_t al) {
  return new_aligned(size, al, false);
}
ARENALLOC_EXPORT void* operator new[](size_t size, std::align_val_t al) {
  return new_aligned(size, al, false);
}
ARENALLOC_EXPORT void* operator new(size_t size, std::align_val_t al,
                                    const std::nothrow_t&) noexcept {
  return new_aligned(size, al, true);
}
ARENALLOC_EXPORT void* operator new[](size_t size, std::align_val_t al,
                                      const std::nothrow_t&) noexcept {
  return new_aligned(size, al, true);
}

ARENALLOC_EXPORT void operator delete(void* p) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete[](void* p) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete(void* p, size_t size) noexcept {
  delete_sized(p, size, 0);
}
ARENALLOC_EXPORT void operator delete[](void* p, size_t size) noexcept {
  delete_sized(p, size, 0);
}
ARENALLOC_EXPORT void operator delete(void* p, std::align_val_t) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete[](void* p, std::align_val_t) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  delete_impl(p);
}
ARENALLOC_EXPORT void operator delete(void* p, size_t size, std::align_val_t al) noexcept {
  delete_sized(p, size, static_cast<size_t>(al));
}
ARENALLOC_EXPORT void operator delete[](void* p, size_t size, std::align_val_t al) noexcept {
  delete_sized(p, size, static_cast<size_t>(al));
}
