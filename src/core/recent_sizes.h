// Sizes seen lately: for each power of two of slices, the last block of that range noted, with
// when (the millisecond clock, kept to 32 bits) and its slices. Asked whether a block at least as
// large as a given one was noted within a window, it looks at that range and the ones above. Used
// to tell a program that cycles blocks of a size (and reuses their memory within the purge delay)
// from one that grows a buffer once. Lock-free: a race loses a note, which only makes an answer
// "no".
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "core/config.h"

namespace arenalloc {

class RecentSizes {
 public:
  // Whether a block of at least `slices` was noted within `window_ms` of `now_ms`.
  bool seen(size_t slices, uint64_t now_ms, uint32_t window_ms) const {
    const auto now = static_cast<uint32_t>(now_ms);
    for (size_t i = bucket(slices); i < std::size(last_); ++i) {
      uint64_t last = last_[i].load(std::memory_order_relaxed);
      if (last != 0 && now - static_cast<uint32_t>(last >> 32) < window_ms &&
          static_cast<uint32_t>(last) >= slices)
        return true;
    }
    return false;
  }
  // A block larger than the last range is noted there, as the largest size it can hold.
  void note(size_t slices, uint64_t now_ms) {
    if (slices > kMostSlices) slices = kMostSlices;
    last_[bucket(slices)].store(now_ms << 32 | static_cast<uint32_t>(slices),
                                std::memory_order_relaxed);
  }

 private:
  static size_t bucket(size_t slices) {
    return slices == 0 ? 0 : static_cast<size_t>(std::bit_width(slices)) - 1;
  }
  static constexpr size_t kRanges = std::bit_width(kSlicesPerSegment) + 1;
  static constexpr size_t kMostSlices = (size_t{1} << kRanges) - 1;
  std::atomic<uint64_t> last_[kRanges]{};
};

}  // namespace arenalloc
