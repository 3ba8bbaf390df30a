// Segments: mapping them, their slice bitmaps, the segment map, and huge blocks.
#include "core/segment.h"

#include <bit>
#include <cstring>

#include "core/arena.h"
#include "core/huge_pages.h"
#include "core/page_map.h"
#include "core/recent_sizes.h"
#include "diag/options.h"
#include "diag/stats.h"
#include "diag/valgrind.h"
#include "os/os.h"

namespace arenalloc {

namespace segmap {
alignas(4096) uint8_t table[kEntries];
void add(const Segment* seg) noexcept {
  page_map::add(seg);
  __atomic_store_n(&table[reinterpret_cast<uintptr_t>(seg) >> kSegmentShift], 1, __ATOMIC_RELEASE);
}
void remove(const Segment* seg) noexcept {
  page_map::remove(seg);
  __atomic_store_n(&table[reinterpret_cast<uintptr_t>(seg) >> kSegmentShift], 0, __ATOMIC_RELEASE);
}
}  // namespace segmap

namespace {

// Calls fn(word index, bits) for the words that slices [first, first + count) cover, `bits`
// selecting the slices of the range in that word; stops early when fn returns true.
template <typename Fn>
[[gnu::always_inline]] inline bool for_each_word(size_t first, size_t count, Fn fn) {
  while (count > 0) {
    size_t word = first / 64, bit = first % 64;
    size_t n = 64 - bit < count ? 64 - bit : count;
    uint64_t bits = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << bit;
    if (fn(word, bits)) return true;
    first += n;
    count -= n;
  }
  return false;
}

}  // namespace

void mark_slices(uint64_t* mask, size_t first, size_t count, bool set) {
  for_each_word(first, count, [&](size_t word, uint64_t bits) {
    mask[word] = set ? mask[word] | bits : mask[word] & ~bits;
    return false;
  });
}

bool any_slice_set(const uint64_t* mask, size_t first, size_t count) {
  return for_each_word(first, count,
                       [&](size_t word, uint64_t bits) { return (mask[word] & bits) != 0; });
}

size_t count_slices(const uint64_t* mask, size_t first, size_t count) {
  size_t n = 0;
  for_each_word(first, count, [&](size_t word, uint64_t bits) {
    n += static_cast<size_t>(std::popcount(mask[word] & bits));
    return false;
  });
  return n;
}

size_t next_slice(const uint64_t* mask, size_t from, bool set) {
  if (from >= kSlicesPerSegment) return kSlicesPerSegment;
  size_t word = from / 64;
  uint64_t bits = (set ? mask[word] : ~mask[word]) & (~uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++word == kSliceWords) return kSlicesPerSegment;
    bits = set ? mask[word] : ~mask[word];
  }
  return word * 64 + static_cast<size_t>(std::countr_zero(bits));
}

int find_free_run(const Segment* seg, size_t count, size_t align) {
  if (seg->free_slices < count) return -1;
  size_t i = kFirstUsableSlice;
  while (i + count <= kSlicesPerSegment) {
    // Skip to the next free slice a word at a time.
    uint64_t word = seg->free_mask[i / 64] >> (i % 64);
    if (word == 0) {
      i = align_up(i + 1, 64);
      continue;
    }
    i += std::countr_zero(word);
    if (align > 1) i = align_up(i, align);
    if (i + count > kSlicesPerSegment) break;
    size_t run = 0;
    while (run < count && slice_is_free(seg, i + run)) ++run;
    if (run == count) return static_cast<int>(i);
    i += run + 1;
  }
  return -1;
}

// huge_pages=always or never: every segment and huge block, as it is mapped (large:
// huge_pages.h; default: no advice, the kernel's policy).
void advise_huge_pages(void* addr, size_t size) {
  auto policy = static_cast<HugePages>(options::get(options::Id::kHugePages));
  if (policy == HugePages::kAlways || policy == HugePages::kNever)
    os::advise_huge(addr, size, policy == HugePages::kAlways);
}

int find_dirty_run(const Segment* seg, size_t count, size_t align) {
  if (seg->free_slices < count) return -1;
  for (size_t w = 0; w < kSliceWords; ++w) {
    uint64_t bits = seg->dirty_mask[w];
    while (bits != 0) {
      size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      bits &= bits - 1;
      if (i % align != 0 || i + count > kSlicesPerSegment) continue;
      size_t run = 1;
      while (run < count && slice_is_free(seg, i + run)) ++run;
      if (run == count) return static_cast<int>(i);
    }
  }
  return -1;
}

int find_most_dirty_run(const Segment* seg, size_t count, size_t align, size_t* dirty,
                        size_t* hole) {
  *dirty = 0;
  *hole = SIZE_MAX;
  if (seg->free_slices < count || count == 0 || count > kSlicesPerSegment) return -1;
  int best = -1;
  // Each hole (maximal free run) in turn, and in it the windows that start on a multiple of
  // `align`. From one window to the next only a window that takes in a dirty slice can hold more,
  // so only the first window and those are counted: a pass over every window cost a large
  // malloc about 40,000 instructions in a segment with long holes (bench/large).
  for (size_t end = 0; end < kSlicesPerSegment;) {
    size_t begin = next_slice(seg->free_mask, end, true);
    end = next_slice(seg->free_mask, begin, false);
    size_t length = end - begin;
    size_t first = align_up(begin, align);
    if (first + count > end) continue;
    // No window holds more dirty slices than the hole or the span: skip holes that cannot win.
    size_t most = count_slices(seg->dirty_mask, begin, length);
    if (most > count) most = count;
    if (most < *dirty || (most == *dirty && (most == 0 || length >= *hole))) continue;
    for (size_t w = first;;) {
      size_t d = count_slices(seg->dirty_mask, w, count);
      if (dirtier_or_tighter(d, length, *dirty, *hole)) {
        *dirty = d;
        *hole = length;
        best = static_cast<int>(w);
        if (d == count && length == count) return best;  // a perfect fit
      }
      if (d == most) break;  // no window of this hole holds more
      // The next dirty slice past this window, and the first window that takes it in.
      size_t e = next_slice(seg->dirty_mask, w + count, true);
      if (e >= end) break;
      w = first + align_up(e + 1 - count - first, align);
      if (w + count > end) break;
    }
  }
  return best;
}

bool secure_mode() {
  return options::get(options::Id::kSecure) != 0;
}

size_t segment_usable_slices() {
  return kSlicesPerSegment - kFirstUsableSlice - (secure_mode() ? 2 : 0);
}

void segment_reset_slices(Segment* seg) {
  for (size_t w = 0; w < kSliceWords; ++w) seg->dirty_mask[w] = 0;
  mark_slices(seg->free_mask, kFirstUsableSlice, kSlicesPerSegment - kFirstUsableSlice, true);
  if (secure_mode()) {
    mark_slices(seg->free_mask, kGuardSliceLow, 1, false);
    mark_slices(seg->free_mask, kGuardSliceHigh, 1, false);
  }
  seg->free_slices = static_cast<uint32_t>(segment_usable_slices());
  seg->purge_at_ms = 0;
}

// Secure mode places segments at random addresses (the kernel takes the hint when it is free).
void* segment_address_hint() {
  if (!secure_mode()) return nullptr;
  static std::atomic<uint64_t> state{0};
  uint64_t x = state.load(std::memory_order_relaxed);
  if (x == 0) x = os::random_seed();
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  state.store(x, std::memory_order_relaxed);
  // Somewhere in [16 TiB, 112 TiB), segment-aligned.
  uint64_t span = (uint64_t{96} << 40) >> kSegmentShift;
  return reinterpret_cast<void*>((uint64_t{16} << 40) + ((x % span) << kSegmentShift));
}

Segment* segment_map_new(Arena* arena) {
  Segment* seg = nullptr;
  if (arena != nullptr && arena_index(arena) == 0 && options::get(options::Id::kBrk) != 0)
    seg = static_cast<Segment*>(os::brk_reserve_aligned(kSegmentSize, kSegmentSize));
  if (seg == nullptr) {
    seg = static_cast<Segment*>(
        os::reserve_aligned(kSegmentSize, kSegmentSize, segment_address_hint()));
    if (seg == nullptr) return nullptr;
    os::name_mapping(seg, kSegmentSize, "arenalloc-segment");
  }
  advise_huge_pages(seg, kSegmentSize);
  // Memcheck: nothing past the header is accessible until handed out, and the header itself is
  // hidden from the leak checker (its page descriptors point at blocks).
  vg::no_access(seg, kSegmentSize);
  // Fresh anonymous memory reads as zero: only the non-zero fields need writing.
  seg->cookie = kSegmentCookie;
  seg->kind = SegmentKind::kNormal;
  seg->arena = arena;
  seg->mapping_size = kSegmentSize;
  // Every slice maps to a page descriptor, a free one (pages[0]) until a page covers it, so a
  // wild pointer into the segment finds a descriptor that says "free" rather than garbage.
  for (auto& entry : seg->slice_page) entry = &seg->pages[0];
  segment_reset_slices(seg);
  if (secure_mode()) {
    // Guard slices: after the header (an underflow from the first page cannot reach the
    // metadata) and at the end (an overflow cannot run into the next segment's header).
    auto* base = reinterpret_cast<uint8_t*>(seg);
    os::protect(base + kGuardSliceLow * kSliceSize, kSliceSize, false);
    os::protect(base + kGuardSliceHigh * kSliceSize, kSliceSize, false);
  }
  segmap::add(seg);
  stats::global().segments_mapped.fetch_add(1, std::memory_order_relaxed);
  return seg;
}

Page* segment_make_page(Segment* seg, size_t first, size_t count) {
  Page* page = &seg->pages[first];
  for (size_t i = first; i < first + count; ++i) seg->slice_page[i] = page;
  page_map::update(seg, first, count);
  page->first_slice = static_cast<uint16_t>(first);
  page->slice_count = static_cast<uint16_t>(count);
  page->start = reinterpret_cast<uint8_t*>(seg) + (first << kSliceShift);
  return page;
}

// ---- huge blocks ----

// Where a huge block starts: after the header (and, in secure mode, a guard page).
static size_t huge_offset(size_t align) {
  size_t header = kHugeHeaderSize + (secure_mode() ? os::page_size() : 0);
  return align_up(header, align > os::page_size() ? align : os::page_size());
}

// A huge block's mapping, new or moved by realloc: its name, and its huge pages by the policy.
static void label_huge_mapping(Segment* seg, size_t mapping, size_t size) {
  os::name_mapping(seg, mapping, "arenalloc-huge");
  advise_huge_pages(seg, mapping);
  huge_block_use_huge_pages(seg, mapping, size);
}

Page* huge_alloc(size_t size, size_t align, bool zeroed) {
  if (align > kMaxAlignment || size > kMaxRequest) return nullptr;
  if (size == 0) size = 1;  // a unique block with a usable size, as for every request
  size_t offset = huge_offset(align);
  size_t total = align_up(offset + size, os::page_size());
  // Reserve at least a whole segment so no foreign mapping can share the segment-map entry.
  size_t mapping = total < kSegmentSize ? kSegmentSize : total;
  if (secure_mode() && mapping < total + os::page_size()) mapping = total + os::page_size();
  auto* seg = static_cast<Segment*>(os::reserve_aligned(mapping, kSegmentSize));
  if (seg == nullptr) return nullptr;
  seg->huge_declined = zeroed;
  label_huge_mapping(seg, mapping, size);
  if (secure_mode()) {  // guard pages around the block: after the header, after the block
    auto* base = reinterpret_cast<uint8_t*>(seg);
    os::protect(base + offset - os::page_size(), os::page_size(), false);
    if (mapping >= total + os::page_size()) os::protect(base + total, os::page_size(), false);
  }
  seg->cookie = kSegmentCookie;
  seg->kind = SegmentKind::kHuge;
  seg->mapping_size = mapping;
  Page* page = &seg->pages[0];
  for (auto& entry : seg->slice_page) entry = page;
  page->kind = PageKind::kHuge;
  page->start = reinterpret_cast<uint8_t*>(seg) + offset;
  page_set_block_size(page, total - offset);
  page->reserved = 1;
  page->used = 1;
  page->is_zero = 1;
  page->slice_count = 1;
  vg::no_access(seg, offset);
  segmap::add(seg);
  stats::huge_allocated(total);
  return page;
}

namespace {
// Huge blocks freed lately (see huge_freed_lately).
RecentSizes g_huge_freed;
}  // namespace

bool huge_freed_lately(size_t size) {
  return g_huge_freed.seen(slices_for(size), os::now_ms(), options::purge_delay_ms());
}

void huge_free(Page* page) {
  Segment* seg = segment_of_page(page);
  size_t total =
      static_cast<size_t>(page->start - reinterpret_cast<uint8_t*>(seg)) + page->block_size;
  g_huge_freed.note(slices_for(total), os::now_ms());
  stats::huge_freed(total);
  page->kind = PageKind::kFree;
  segmap::remove(seg);
  os::release(seg, seg->mapping_size);
}

bool huge_resize_in_place(Page* page, size_t size) {
  Segment* seg = segment_of_page(page);
  size_t offset = static_cast<size_t>(page->start - reinterpret_cast<uint8_t*>(seg));
  size_t total = align_up(offset + size, os::page_size());
  if (size > kMaxRequest || total > seg->mapping_size) return false;
  if (secure_mode() && size > page->block_size) return false;  // a guard page follows it
  size_t old_total = offset + page->block_size;
  if (total < old_total)
    os::purge(reinterpret_cast<uint8_t*>(seg) + total, old_total - total, false);
  stats::huge_freed(old_total);
  stats::huge_allocated(total);
  page_set_block_size(page, total - offset);
  return true;
}

Page* huge_move(Page* page, size_t size) {
  if (size > kMaxRequest || secure_mode()) return nullptr;  // secure: guard pages inside
  Segment* seg = segment_of_page(page);
  size_t offset = static_cast<size_t>(page->start - reinterpret_cast<uint8_t*>(seg));
  size_t old_total = offset + page->block_size;
  size_t total = align_up(offset + size, os::page_size());
  size_t mapping = total < kSegmentSize ? kSegmentSize : total;
  if (mapping <= seg->mapping_size) return nullptr;  // huge_resize_in_place's case
  auto* dest = static_cast<Segment*>(os::reserve_aligned(mapping, kSegmentSize));
  if (dest == nullptr) return nullptr;
  size_t old_mapping = seg->mapping_size;
  segmap::remove(seg);
  if (!os::remap_fixed(seg, old_mapping, dest, mapping)) {
    segmap::add(seg);
    os::release(dest, mapping);
    return nullptr;
  }
  // The header moved with the block: every pointer into it is rebuilt.
  dest->mapping_size = mapping;
  Page* moved = &dest->pages[0];
  for (auto& entry : dest->slice_page) entry = moved;
  moved->start = reinterpret_cast<uint8_t*>(dest) + offset;
  page_set_block_size(moved, total - offset);
  label_huge_mapping(dest, mapping, size);
  segmap::add(dest);
  stats::huge_freed(old_total);
  stats::huge_allocated(total);
  return moved;
}

}  // namespace arenalloc
