// Geometry of arenalloc's address space. Everything else derives from these constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arenalloc {

// A segment is a 32 MiB region aligned to its size, so segment_of(p) is one mask. It is cut into
// 512 slices of 64 KiB; slices 0 and 1 hold the segment header, the others form pages.
inline constexpr size_t kSegmentShift = 25;
inline constexpr size_t kSegmentSize = size_t{1} << kSegmentShift;
inline constexpr size_t kSliceShift = 16;
inline constexpr size_t kSliceSize = size_t{1} << kSliceShift;
inline constexpr size_t kSlicesPerSegment = kSegmentSize / kSliceSize;
inline constexpr size_t kFirstUsableSlice = 2;
// Secure mode keeps these slices PROT_NONE (see segment_map_new).
inline constexpr size_t kGuardSliceLow = kFirstUsableSlice;
inline constexpr size_t kGuardSliceHigh = kSlicesPerSegment - 1;

// Blocks up to kMaxClassSize come from size-classed pages owned by a thread's heap; larger ones up
// to kLargeMax (a whole segment but its header) are single-block spans of slices; at or above the
// mmap threshold, blocks get their own mapping ("huge"), unmapped at free. The default threshold,
// 32 MiB, is where glibc's dynamic threshold stops: below it, freed large blocks are reused
// without page faults; options can lower it.
inline constexpr size_t kMaxClassSize = 128 * 1024;
inline constexpr size_t kLargeMax = kSegmentSize - kFirstUsableSlice * kSliceSize;
inline constexpr size_t kDefaultMmapThreshold = 32 * 1024 * 1024;

// Huge blocks start after a header of two OS pages (or later, for alignment).
inline constexpr size_t kHugeHeaderSize = 8192;
// The largest alignment arenalloc can honour: a block must start in the first chunk of its
// segment-aligned mapping, after the header.
inline constexpr size_t kMaxAlignment = kSegmentSize / 2;

// The largest request that is not an immediate ENOMEM: ptrdiff_t must be able to hold it.
inline constexpr size_t kMaxRequest = (size_t{1} << 62);

// Address bits covered by the segment map (x86-64 and aarch64 user space use 47-48 bits).
inline constexpr size_t kAddressBits = 48;

inline constexpr size_t kMaxArenas = 128;

// Built for ThreadSanitizer (gcc defines __SANITIZE_THREAD__, clang has the feature test).
#if defined(__SANITIZE_THREAD__)
#define ARENALLOC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ARENALLOC_TSAN 1
#endif
#endif

// The always-on checks of the fast paths (free-list encoding and link check, double-free mark,
// block-start check on free). Off only in a build made to measure what they cost.
#if defined(ARENALLOC_NO_CHECKS)
inline constexpr bool kFastPathChecks = false;
#else
inline constexpr bool kFastPathChecks = true;
#endif

// On the allocator's own globals: without it, -fvisibility=hidden hides only their definitions,
// and code in other files reaches them through the GOT (one more load on every fast path).
#define ARENALLOC_HIDDEN __attribute__((visibility("hidden")))

inline constexpr size_t align_up(size_t n, size_t a) {
  return (n + a - 1) & ~(a - 1);
}

// The slices a span of `bytes` needs (0 for 0).
inline constexpr size_t slices_for(size_t bytes) {
  return (bytes + kSliceSize - 1) >> kSliceShift;
}

// The slices of a large block of `bytes`: a span has at least one, even for 0 bytes.
inline constexpr size_t span_slices(size_t bytes) {
  return bytes == 0 ? 1 : slices_for(bytes);
}

}  // namespace arenalloc
