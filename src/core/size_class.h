// Size classes.
//
// Every multiple of 16 up to 128, then eight classes per power of two (144, 160, ..., 256, 288,
// ...) up to kMaxClassSize: neighbouring classes are at most 12.5% apart above 128 bytes.
// A block is aligned to the largest power of two dividing its size, up to the 64 KiB slice
// alignment of its page, so every block is 16-aligned as glibc's are. (Classes of 8, 24, 40, ...
// bytes would save memory, but real programs assume 16: clang 14 crashes with 8-aligned 24-byte
// blocks; and a free block needs two words, see page.h.) Requests that need more alignment pick a
// class that is a multiple of it.
//
// Requests up to kDirectMax bytes are mapped to a class by one table lookup on (n + 7) / 8; that
// same index selects the heap's direct page pointer on the malloc fast path.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace arenalloc {

inline constexpr size_t kDirectMax = 1024;
inline constexpr size_t kDirectCount = kDirectMax / 8 + 1;  // indices 0..128

inline constexpr size_t kSmallClasses = 8;  // 16, 32, ..., 128
inline constexpr size_t kClassCount =
    kSmallClasses + 8 * (std::bit_width(kMaxClassSize) - 8);  // 88

constexpr size_t compute_class_size(size_t c) {
  if (c < kSmallClasses) return (c + 1) * 16;
  size_t group = (c - kSmallClasses) / 8;  // 0 for (128, 256]
  size_t step = size_t{16} << group;       // an eighth of the group's lower bound
  return (size_t{128} << group) + step * ((c - kSmallClasses) % 8 + 1);
}

inline constexpr std::array<uint32_t, kClassCount> kClassSize = [] {
  std::array<uint32_t, kClassCount> t{};
  for (size_t c = 0; c < kClassCount; ++c) t[c] = static_cast<uint32_t>(compute_class_size(c));
  return t;
}();

// The class for a request of n bytes, n <= kMaxClassSize.
constexpr size_t class_of_computed(size_t n) {
  if (n <= 16) return 0;
  if (n <= 128) return (n - 1) / 16;
  // With 2^b <= n - 1 < 2^(b+1) (b >= 7), the group's first class is kSmallClasses + 8 * (b - 7),
  // and (n - 1) >> (b - 3) is 8 plus the class's place in its group (the group's step is 2^(b-3)).
  size_t m = n - 1;
  size_t b = static_cast<size_t>(std::bit_width(m)) - 1;
  return kSmallClasses + 8 * (b - 7) - 8 + (m >> (b - 3));
}

inline constexpr std::array<uint8_t, kDirectCount> kDirectClass = [] {
  std::array<uint8_t, kDirectCount> t{};
  for (size_t i = 0; i < kDirectCount; ++i) t[i] = static_cast<uint8_t>(class_of_computed(i * 8));
  return t;
}();

inline constexpr size_t direct_index(size_t n) {
  return (n + 7) >> 3;
}

inline size_t class_of(size_t n) {
  if (n <= kDirectMax) return kDirectClass[direct_index(n)];
  return class_of_computed(n);
}

inline constexpr size_t class_size(size_t c) {
  return kClassSize[c];
}

// The request that gives `size` bytes at `align` (a power of two up to kSliceSize), for sizes up
// to kMaxClassSize: the smallest multiple of `align` that holds `size` (`align` for 0). Its class
// is the smallest class that is a multiple of `align`, so its blocks are aligned (pages start on
// slice boundaries): where a group's step is below `align`, the request is a multiple of the step
// and so a class itself; where it is not, every class of the group is a multiple of `align`, and
// the request is at most the class of `size`.
constexpr size_t aligned_request(size_t size, size_t align) {
  if (align <= 16) return size;  // every class is a multiple of 16
  return size == 0 ? align : align_up(size, align);
}

// Whether a free block of class `lender` may serve a request of class c: the classes above the
// direct sizes take one from a class up to half as large again before carving new memory (see
// lending_page in heap.cpp). Sized free accepts the request's size for such a block.
inline constexpr size_t kLendMinSize = kDirectMax + 1;
constexpr bool class_may_lend(size_t lender, size_t c) {
  return lender == c || (lender > c && class_size(c) >= kLendMinSize &&
                         class_size(lender) <= class_size(c) + class_size(c) / 2);
}

// Slices in a page of class c: one 64 KiB slice holds at least 8 blocks up to 8 KiB; larger
// classes get spans of up to 8 slices so a page still holds several blocks.
constexpr size_t class_page_slices(size_t c) {
  size_t s = class_size(c);
  size_t slices = (8 * s + kSliceSize - 1) / kSliceSize;
  return slices < 1 ? 1 : (slices > 8 ? 8 : slices);
}

// The most blocks a page of any class holds: thread_free's count (page.h) has 16 bits for them.
constexpr size_t max_page_blocks() {
  size_t most = 0;
  for (size_t c = 0; c < kClassCount; ++c) {
    size_t n = (class_page_slices(c) * kSliceSize) / class_size(c);
    if (n > most) most = n;
  }
  return most;
}
static_assert(max_page_blocks() < (size_t{1} << 16));

// The direct-table indices that map to class c (empty range for classes above kDirectMax).
constexpr size_t class_direct_first(size_t c) {
  return c == 0 ? 0 : class_size(c - 1) / 8 + 1;
}
constexpr size_t class_direct_last(size_t c) {
  return class_size(c) > kDirectMax ? kDirectCount - 1 : class_size(c) / 8;
}

}  // namespace arenalloc
