// Size classes.
//
// Every multiple of 16 up to 128, then eight classes per power of two (144, 160, ..., 256, 288,
// ...) up to kMaxClassSize: neighbouring classes are at most 12.5% apart above 128 bytes. Above
// 4 KiB, packing classes join them, each just below a class of the series (see below).
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
// The classes of the geometric series (see above), before the packing classes join them.
inline constexpr size_t kSeriesClasses = kSmallClasses + 8 * (std::bit_width(kMaxClassSize) - 8);

constexpr size_t series_class_size(size_t b) {
  if (b < kSmallClasses) return (b + 1) * 16;
  size_t group = (b - kSmallClasses) / 8;  // 0 for (128, 256]
  size_t step = size_t{16} << group;       // an eighth of the group's lower bound
  return (size_t{128} << group) + step * ((b - kSmallClasses) % 8 + 1);
}

// The series class for a request of n bytes, n <= kMaxClassSize.
constexpr size_t series_class_of(size_t n) {
  if (n <= 16) return 0;
  if (n <= 128) return (n - 1) / 16;
  // With 2^b <= n - 1 < 2^(b+1) (b >= 7), the group's first class is kSmallClasses + 8 * (b - 7),
  // and (n - 1) >> (b - 3) is 8 plus the class's place in its group (the group's step is 2^(b-3)).
  size_t m = n - 1;
  size_t b = static_cast<size_t>(std::bit_width(m)) - 1;
  return kSmallClasses + 8 * (b - 7) - 8 + (m >> (b - 3));
}

// Slices in a page of blocks of `size`: one 64 KiB slice holds at least 8 blocks up to 8 KiB;
// larger sizes get spans of up to 8 slices so a page still holds several blocks.
constexpr size_t page_slices_for(size_t size) {
  size_t slices = (8 * size + kSliceSize - 1) / kSliceSize;
  return slices < 1 ? 1 : (slices > 8 ? 8 : slices);
}

// Packing classes. Above 4 KiB a page holds 4-16 blocks, and a request a little above the class
// below gets a block up to 12.5% larger, so one block fewer fits the page than would at the
// request's size: sqlite's page cache (4096-byte pages and a 272-byte header) filled pages of
// 4608-byte blocks 14 to a slice where 15 of 4368 bytes fit, 4.7 MiB of its 139.5 MiB peak
// (glibc's best fit 133.3). So below each series class above 4 KiB there is the largest class,
// a multiple of 16, whose pages (as many slices) hold one block more, where that lies above the
// class before: 4368 below 4608, 8736 below 9216, 36400 below 36864. A power of two plus a
// header (a buffer and its bookkeeping) is the common case. Such a class is not a multiple of
// 512 as the series classes above 4 KiB are: aligned requests skip it (aligned_class).
inline constexpr size_t kPackingMin = 4096;
constexpr size_t packing_class_size(size_t b) {
  size_t size = series_class_size(b);
  if (size <= kPackingMin) return 0;
  size_t slices = page_slices_for(size);
  size_t blocks = (slices << kSliceShift) / size;
  size_t packed = ((slices << kSliceShift) / (blocks + 1)) & ~size_t{15};
  bool fits = packed > series_class_size(b - 1) && page_slices_for(packed) == slices;
  return fits ? packed : 0;
}

// Where series class b is among all classes: each series class comes after its packing class,
// where it has one. The other tables below follow from this one.
inline constexpr std::array<uint8_t, kSeriesClasses> kSeriesIndex = [] {
  std::array<uint8_t, kSeriesClasses> t{};
  size_t c = 0;
  for (size_t b = 0; b < kSeriesClasses; ++b) {
    c += packing_class_size(b) != 0;
    t[b] = static_cast<uint8_t>(c++);
  }
  return t;
}();

inline constexpr size_t kClassCount = size_t{kSeriesIndex[kSeriesClasses - 1]} + 1;
static_assert(kClassCount <= 256, "Page::size_class is a byte");

// Every class in order of size.
inline constexpr std::array<uint32_t, kClassCount> kClassSize = [] {
  std::array<uint32_t, kClassCount> t{};
  for (size_t b = 0; b < kSeriesClasses; ++b) {
    t[kSeriesIndex[b]] = static_cast<uint32_t>(series_class_size(b));
    if (size_t packed = packing_class_size(b))
      t[kSeriesIndex[b] - 1] = static_cast<uint32_t>(packed);
  }
  return t;
}();

// Whether class c is a packing class (the class above it is then its series class).
inline constexpr std::array<bool, kClassCount> kIsPacking = [] {
  std::array<bool, kClassCount> t{};
  for (size_t b = 0; b < kSeriesClasses; ++b)
    if (packing_class_size(b) != 0) t[kSeriesIndex[b] - 1] = true;
  return t;
}();
constexpr bool is_packing_class(size_t c) {
  return kIsPacking[c];
}

// The class for a request of n bytes, n <= kMaxClassSize: its series class, or the packing class
// just below it if n fits there (the class before a series class without one is smaller than n).
constexpr size_t class_of_computed(size_t n) {
  size_t c = kSeriesIndex[series_class_of(n)];
  return c > 0 && n <= kClassSize[c - 1] ? c - 1 : c;
}

inline constexpr std::array<uint8_t, kDirectCount> kDirectClass = [] {
  std::array<uint8_t, kDirectCount> t{};
  for (size_t i = 0; i < kDirectCount; ++i) t[i] = static_cast<uint8_t>(class_of_computed(i * 8));
  return t;
}();

inline constexpr size_t direct_index(size_t n) {
  return (n + 7) >> 3;
}

// Above the direct sizes: a table by steps of 128 bytes gives the class of a step's smallest
// request, and one comparison the next class where a class boundary falls inside the step (one
// at most: SizeClass.ClassOfLeavesPackingClassesOutUntilTheyComeIntoUse checks every request).
//
// The table starts with every packing class left out (its steps lead to the class above it):
// a packing class comes into use, process-wide, once a thread fills a page of the class above
// it (use_packing_class). Below a page's worth of such blocks, its pages would only add their
// own slack to the other class's (bench/glibc_thread, a few blocks of each class per thread:
// peak RSS +4% with every packing class in use from the start). A request of a step a thread
// reads before the change gets a block of the class above: large enough either way.
inline constexpr size_t kStepShift = 7;
inline constexpr size_t kSteps = kMaxClassSize >> kStepShift;
// The steps with every class in use.
inline constexpr std::array<uint8_t, kSteps> kStepClass = [] {
  std::array<uint8_t, kSteps> t{};
  for (size_t i = 0; i < kSteps; ++i)
    t[i] = static_cast<uint8_t>(class_of_computed((i << kStepShift) + 1));
  return t;
}();
// The table in use: kStepClass with the packing classes not yet in use left out (size_class.cpp).
extern std::array<uint8_t, kSteps> g_step_class ARENALLOC_HIDDEN;
inline constexpr std::array<uint8_t, kSteps> kStepClassAtStart = [] {
  std::array<uint8_t, kSteps> t = kStepClass;
  for (auto& c : t)
    if (kIsPacking[c]) ++c;
  return t;
}();
// For kDirectMax < n <= kMaxClassSize.
[[gnu::always_inline]] inline size_t class_above_direct(size_t n) {
  size_t c = __atomic_load_n(&g_step_class[(n - 1) >> kStepShift], __ATOMIC_RELAXED);
  return c + (n > kClassSize[c]);
}
// Packing class c comes into use (every thread's requests of its sizes).
void use_packing_class(size_t c) noexcept;

inline size_t class_of(size_t n) {
  if (n <= kDirectMax) return kDirectClass[direct_index(n)];
  return class_above_direct(n);
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

// Slices in a page of class c.
constexpr size_t class_page_slices(size_t c) {
  return page_slices_for(class_size(c));
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
