// libFuzzer target: the input is a program of allocation operations over a table of slots, run
// by two threads in lockstep (the main thread and a worker it hands single operations to), so
// that cross-thread frees, reallocations of the other thread's blocks, and frees after the
// allocating thread has exited all happen deterministically for a given input.
//
// The core is driven directly (arenalloc::alloc, alloc_zeroed, reallocate, alloc_aligned,
// dealloc, dealloc_sized, usable_size, resize_in_place, trim); libFuzzer and ASan keep their own
// malloc. Every live block is filled over its whole usable size with a pattern derived from
// (slot, generation) (all bytes up to 64 KiB, beyond that the first and last 4 KiB and one word
// per 64 KiB) and checked before it is freed or resized: a block that overlaps another, an
// overstated usable size, or contents lost by realloc show up as a damaged pattern. Alignment,
// zeroing and usable_size >= request are checked at allocation; sized frees pass the request.
// A failed check aborts (a crash for libFuzzer), as does any report of the allocator's.
//
// Input format (bytes are consumed as needed; a short input just ends the program):
//   op byte: bit 7 = run on the worker thread; bits 0-6 select the operation (see run_op)
//   then the operation's arguments: a slot byte, sizes (see draw_size), an alignment byte.
// Live memory is bounded (kMaxLiveBytes) so that RSS stays well under 1 GiB.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "core/alloc.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#define FUZZ_ASAN 1
#endif
#endif

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * KiB;
constexpr int kSlots = 64;
constexpr size_t kMaxLiveBytes = 512 * MiB;
constexpr size_t kFullFill = 64 * KiB;
constexpr size_t kEdge = 4 * KiB;
constexpr size_t kStride = 64 * KiB;
constexpr size_t kMaxBurst = 512;

// The harness's own loops are not what the fuzzer should explore: no coverage for them.
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

[[noreturn]] void die(const char* what, const void* p, size_t a, size_t b) {
  std::fprintf(stderr, "fuzz_ops: %s (block %p, %zu, %zu)\n", what, p, a, b);
  std::abort();
}

struct Input {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  bool empty() const { return pos >= size; }
  uint8_t u8() { return pos < size ? data[pos++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16() | (uint32_t{u16()} << 16)); }
};

// Mostly small, sometimes up to the largest class, occasionally large (> 128 KiB) or huge
// (>= 8 MiB, up to 32 MiB).
size_t draw_size(Input& in) {
  uint8_t k = in.u8();
  if (k < 150) return in.u8();
  if (k < 200) return in.u16() % (2 * KiB + 1);
  if (k < 230) return in.u32() % (128 * KiB + 1);
  if (k < 250) return 128 * KiB + in.u32() % (8 * MiB);
  return 8 * MiB + in.u32() % (24 * MiB);
}

uint64_t pattern_seed(int slot, uint32_t gen) {
  uint64_t x = (uint64_t(slot) << 32 | gen) * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}
NO_COVERAGE uint64_t word_at(uint64_t seed, size_t i) {
  uint64_t x = seed + i * 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 31);
}

// The filled words of an n-byte area: all of them up to kFullFill bytes, else those of the first
// and last kEdge bytes and one every kStride bytes (touching every page of a huge block would
// make page faults the bulk of the run time).
NO_COVERAGE size_t next_word(size_t n, size_t off) {
  off += 8;
  if (n <= kFullFill || off < kEdge || off + 8 + kEdge > n) return off;
  size_t next = (off + kStride - 1) / kStride * kStride;  // the next stride mark
  size_t tail = (n - kEdge - 8 + 7) & ~size_t{7};         // the first word of the last kEdge bytes
  return next < tail ? next : tail;
}

NO_COVERAGE void fill(uint8_t* p, size_t n, uint64_t seed) {
  for (size_t off = 0; off + 8 <= n; off = next_word(n, off)) {
    uint64_t w = word_at(seed, off);
    std::memcpy(p + off, &w, 8);
  }
  for (size_t i = n & ~size_t{7}; i < n; ++i) p[i] = static_cast<uint8_t>(seed >> (i % 8));
}

// Checks the first `upto` bytes of an area filled with fill(p, n, seed).
NO_COVERAGE void check(const uint8_t* p, size_t n, size_t upto, uint64_t seed, const char* when) {
  for (size_t off = 0; off + 8 <= n && off + 8 <= upto; off = next_word(n, off)) {
    uint64_t w;
    std::memcpy(&w, p + off, 8);
    if (w != word_at(seed, off)) die(when, p, n, off);
  }
  for (size_t i = n & ~size_t{7}; i < n && i < upto; ++i)
    if (p[i] != static_cast<uint8_t>(seed >> (i % 8))) die(when, p, n, i);
}

NO_COVERAGE void check_zero(const uint8_t* p, size_t n) {
  for (size_t off = 0; off < n; off = next_word(n, off))
    for (size_t i = off; i < off + 8 && i < n; ++i)
      if (p[i] != 0) die("calloc memory not zero", p, n, i);
}

struct Slot {
  uint8_t* p = nullptr;
  size_t size = 0;    // requested
  size_t align = 0;   // requested (0: none), for the sized free
  size_t usable = 0;  // filled
  uint32_t gen = 0;
};

struct State {
  Slot slots[kSlots];
  size_t live_bytes = 0;
  uint32_t next_gen = 1;
};

// A new block in slot s: checks what the allocator returned and fills it.
void adopt(State& st, int s, void* raw, size_t size, size_t align, bool zeroed) {
  auto* p = static_cast<uint8_t*>(raw);
  if (p == nullptr) die("allocation failed", nullptr, size, align);
  size_t want = align > 16 ? align : (size >= 16 ? 16 : 8);
  if (reinterpret_cast<uintptr_t>(p) % want != 0) die("misaligned block", p, size, want);
  size_t usable = arenalloc::usable_size(p);
  if (usable < size) die("usable_size below the request", p, size, usable);
  if (zeroed) check_zero(p, size);
  Slot& slot = st.slots[s];
  slot = Slot{p, size, align, usable, st.next_gen++};
  fill(p, usable, pattern_seed(s, slot.gen));
  st.live_bytes += usable;
}

// ASan reads a block's shadow at every checked access, and on some kernels (this project's CI
// machine among them) reading an untouched anonymous page allocates it: the shadow of every
// address a block ever had stayed resident. Huge blocks are mapped, and moved by realloc, to ever
// new addresses, so over one fuzzing run the shadow grew past libFuzzer's RSS limit (2161 MB
// after 4205 inputs, 1678 MB of it shadow). Nothing here poisons memory, so a block's shadow
// reads as zero: the pages of it that the block covers alone are given back when the harness
// lets go of the block (they read as zero again).
NO_COVERAGE void forget_shadow(const uint8_t* p, size_t n) {
#if FUZZ_ASAN
  if (n < 256 * KiB) return;
  size_t scale = 0, offset = 0;
  __asan_get_shadow_mapping(&scale, &offset);
  auto beg = (reinterpret_cast<uintptr_t>(p) >> scale) + offset;
  auto end = ((reinterpret_cast<uintptr_t>(p) + n) >> scale) + offset;
  beg = (beg + 4095) & ~uintptr_t{4095};
  end &= ~uintptr_t{4095};
  if (beg < end) madvise(reinterpret_cast<void*>(beg), end - beg, MADV_DONTNEED);
#else
  (void)p, (void)n;
#endif
}

// Checks slot s's block and forgets it (the caller frees or resizes it).
uint8_t* release(State& st, int s, const char* when) {
  Slot& slot = st.slots[s];
  uint8_t* p = slot.p;
  if (p == nullptr) return nullptr;
  if (arenalloc::usable_size(p) != slot.usable) die("usable_size changed", p, slot.usable, 0);
  check(p, slot.usable, slot.usable, pattern_seed(s, slot.gen), when);
  forget_shadow(p, slot.usable);
  st.live_bytes -= slot.usable;
  slot = Slot{};
  return p;
}

// free(), or the sized free (free_sized, free_aligned_sized, sized delete) with the request.
void free_slot(State& st, int s, bool sized = false) {
  size_t size = st.slots[s].size, align = st.slots[s].align;
  if (uint8_t* p = release(st, s, "pattern damaged before free")) {
    if (sized)
      arenalloc::dealloc_sized(p, size, align);
    else
      arenalloc::dealloc(p);
  }
}

bool fits(const State& st, size_t size) {
  return st.live_bytes + size <= kMaxLiveBytes;
}

// ---- the worker thread: runs one operation at a time for the main thread ----

class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();  // the thread's heap is abandoned on exit, with whatever it still owns
  }
  template <class F>
  void run(F&& f) {
    std::unique_lock<std::mutex> lk(mu_);
    fn_ = [](void* ctx) { (*static_cast<F*>(ctx))(); };
    ctx_ = &f;
    pending_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return !pending_; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return pending_ || quit_; });
      if (pending_) {
        fn_(ctx_);
        pending_ = false;
        cv_.notify_all();
        continue;
      }
      return;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  void (*fn_)(void*) = nullptr;
  void* ctx_ = nullptr;
  bool pending_ = false;
  bool quit_ = false;
  std::thread thread_;
};

// One operation. Everything it does runs on the calling thread.
void run_op(State& st, Input& in, uint8_t code, void** burst, size_t* burst_count) {
  int s = in.u8() % kSlots;
  switch (code % 16) {
    case 0:
    case 1:
    case 2: {  // malloc
      size_t n = draw_size(in);
      free_slot(st, s);
      if (!fits(st, n)) return;
      adopt(st, s, arenalloc::alloc(n), n, 0, false);
      return;
    }
    case 3: {  // calloc: count x size
      size_t size = draw_size(in);
      size_t count = 1 + in.u8() % 8;
      if (size > kMaxLiveBytes / count) size = kMaxLiveBytes / count;
      free_slot(st, s);
      if (!fits(st, count * size)) return;
      adopt(st, s, arenalloc::alloc_zeroed(count, size), count * size, 0, true);
      return;
    }
    case 4:
    case 5: {  // realloc (also of blocks the other thread allocated)
      size_t n = draw_size(in);
      Slot old = st.slots[s];
      if (old.p == nullptr) {
        if (!fits(st, n)) return;
        adopt(st, s, arenalloc::reallocate(nullptr, n), n, 0, false);
        return;
      }
      if (!fits(st, n)) return;
      uint8_t* p = release(st, s, "pattern damaged before realloc");
      if (n == 0) {
        if (arenalloc::reallocate(p, 0) != nullptr) die("realloc(p, 0) returned a block", p, 0, 0);
        return;
      }
      auto* q = static_cast<uint8_t*>(arenalloc::reallocate(p, n));
      if (q == nullptr) die("realloc failed", p, old.size, n);
      // The old request's bytes that fit survive the move.
      size_t keep = old.size < n ? old.size : n;
      check(q, old.usable, keep, pattern_seed(s, old.gen), "realloc lost contents");
      adopt(st, s, q, n, 0, false);
      return;
    }
    case 6: {  // memalign / aligned_alloc: alignments 1 .. 1 MiB
      size_t align = size_t{1} << (in.u8() % 21);
      size_t n = draw_size(in);
      free_slot(st, s);
      if (!fits(st, n + align)) return;
      adopt(st, s, arenalloc::alloc_aligned(n, align), n, align, false);
      return;
    }
    case 7:
    case 8:  // free
      free_slot(st, s);
      return;
    case 9:  // sized free, with the size (and alignment) of the last request
      free_slot(st, s, true);
      return;
    case 10: {  // check a block without freeing it
      const Slot& slot = st.slots[s];
      if (slot.p != nullptr)
        check(slot.p, slot.usable, slot.usable, pattern_seed(s, slot.gen), "pattern damaged");
      return;
    }
    case 11:
      arenalloc::trim(0);
      return;
    case 12: {  // burst: many blocks of one size, parked for the other thread to free (full pages)
      size_t n = 16 + in.u16() % (16 * KiB);
      size_t count = 1 + in.u8() * 2;
      for (size_t i = 0; i < count && *burst_count < kMaxBurst; ++i) {
        auto* p = static_cast<uint8_t*>(arenalloc::alloc(n));
        if (p == nullptr) die("burst allocation failed", nullptr, n, i);
        std::memset(p, 0xB5, 16);
        std::memcpy(p, &n, sizeof n);
        burst[(*burst_count)++] = p;
      }
      return;
    }
    case 13: {  // free the parked burst blocks (usually on the other thread)
      for (size_t i = *burst_count; i-- > 0;) {
        auto* p = static_cast<uint8_t*>(burst[i]);
        size_t n;
        std::memcpy(&n, p, sizeof n);
        if (arenalloc::usable_size(p) < n) die("burst block usable_size", p, n, 0);
        for (size_t k = sizeof n; k < 16; ++k)
          if (p[k] != 0xB5) die("burst block damaged", p, n, k);
        arenalloc::dealloc(p);
      }
      *burst_count = 0;
      return;
    }
    case 14:  // free a run of slots
      for (int k = 0; k < 8; ++k) free_slot(st, (s + k) % kSlots);
      return;
    default: {  // 15: resize in place (large and huge blocks grow or shrink without moving)
      size_t n = draw_size(in);
      Slot old = st.slots[s];
      if (old.p == nullptr || !fits(st, n)) return;
      uint8_t* p = release(st, s, "pattern damaged before resize");
      size_t got = arenalloc::resize_in_place(p, n);
      if (got != arenalloc::usable_size(p))
        die("resize_in_place result is not the usable size", p, got, n);
      // The request the block now stands for (what a sized free must pass): unchanged if the
      // block is (a small block never changes, nor a span already of the right length), the new
      // one if it was grown or shrunk as asked, the old one if it could not grow.
      size_t size = got == old.usable || got < n ? old.size : n;
      if (got < size) die("resize_in_place lost the block's size", p, got, size);
      check(p, old.usable, size < old.size ? size : old.size, pattern_seed(s, old.gen),
            "resize_in_place lost contents");
      adopt(st, s, p, size, old.align, false);
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  State st;
  Input in{data, size};
  void* burst[kMaxBurst];
  size_t burst_count = 0;
  std::optional<Worker> worker;
  worker.emplace();
  for (size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    uint8_t op = in.u8();
    uint8_t code = op & 0x7f;
    if (code == 0x7f) {  // the worker exits (its heap is abandoned with its blocks) and restarts
      worker.reset();
      worker.emplace();
      continue;
    }
    if (op & 0x80)
      worker->run([&] { run_op(st, in, code, burst, &burst_count); });
    else
      run_op(st, in, code, burst, &burst_count);
  }
  // Free everything: the even slots and the burst on the worker, the rest on this thread after
  // the worker has exited.
  worker->run([&] {
    for (int s = 0; s < kSlots; s += 2) free_slot(st, s);
    Input none{nullptr, 0};
    run_op(st, none, 13, burst, &burst_count);
  });
  worker.reset();
  for (int s = 0; s < kSlots; ++s) free_slot(st, s);
  if (st.live_bytes != 0) die("live byte count", nullptr, st.live_bytes, 0);
  return 0;
}
