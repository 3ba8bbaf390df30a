// arenalloc's C++ interface: a standard allocator, private heaps with RAII, and a
// std::pmr::memory_resource over a private heap.
//
// Everything here deallocates with the size it allocated, so arenalloc can check it and never
// needs to look it up.
#ifndef ARENALLOC_ARENALLOC_HPP
#define ARENALLOC_ARENALLOC_HPP

#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>
#include <utility>

#include "arenalloc/arenalloc.h"

namespace arenalloc {

namespace detail {
// Flags for an allocation of this alignment (arenalloc aligns every block to 16 anyway).
constexpr int align_flags(std::size_t align) noexcept {
  return align > 16 ? ARENALLOC_ALIGN(align) : 0;
}
}  // namespace detail

// A standard allocator over arenalloc's process heap, usable with every standard container.
// Stateless: all instances compare equal.
template <class T>
class allocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;

  constexpr allocator() noexcept = default;
  template <class U>
  constexpr allocator(const allocator<U>&) noexcept {}

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    void* p = arenalloc_alloc(n * sizeof(T), detail::align_flags(alignof(T)));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    arenalloc_free_sized(p, n * sizeof(T), detail::align_flags(alignof(T)));
  }

  template <class U>
  friend constexpr bool operator==(const allocator&, const allocator<U>&) noexcept {
    return true;
  }
};

// A private heap, destroyed (with every block still in it) when the object goes. A moved-from
// Heap may only be destroyed or assigned to.
class Heap {
 public:
  Heap() : heap_(arenalloc_heap_create()) {
    if (heap_ == nullptr) throw std::bad_alloc();
  }
  ~Heap() {
    if (heap_ != nullptr) arenalloc_heap_destroy(heap_);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;
  Heap(Heap&& other) noexcept : heap_(std::exchange(other.heap_, nullptr)) {}
  Heap& operator=(Heap&& other) noexcept {
    if (this != &other) {
      if (heap_ != nullptr) arenalloc_heap_destroy(heap_);
      heap_ = std::exchange(other.heap_, nullptr);
    }
    return *this;
  }

  // Throws std::bad_alloc on failure.
  [[nodiscard]] void* allocate(std::size_t bytes, std::size_t align = alignof(std::max_align_t)) {
    void* p = arenalloc_heap_alloc(heap_, bytes, detail::align_flags(align));
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p) noexcept { arenalloc_heap_free(heap_, p); }
  // Free every block; the heap stays usable.
  void reset() noexcept { arenalloc_heap_reset(heap_); }
  arenalloc_heap_t* get() const noexcept { return heap_; }

 private:
  arenalloc_heap_t* heap_;
};

// A std::pmr::memory_resource over a private heap: std::pmr containers allocate from the heap,
// and std::pmr::monotonic_buffer_resource or unsynchronized_pool_resource can sit on top of it.
// Owns its heap: destroying the resource frees everything allocated through it.
class heap_resource : public std::pmr::memory_resource {
 public:
  heap_resource() = default;
  // Free every block allocated through this resource (containers using it must be gone); the
  // memory is reused, and returned after the purge delay if it stays unused.
  void release() noexcept { heap_.reset(); }
  Heap& heap() noexcept { return heap_; }

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    return heap_.allocate(bytes, align);
  }
  void do_deallocate(void* p, std::size_t, std::size_t) override { heap_.deallocate(p); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  Heap heap_;
};

}  // namespace arenalloc

#endif  // ARENALLOC_ARENALLOC_HPP
