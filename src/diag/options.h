// Run-time options: one table (options.cpp), read once at start-up without malloc.
//
// Sources, later ones winning: defaults; glibc's environment names (MALLOC_ARENA_MAX, ...);
// GLIBC_TUNABLES' glibc.malloc.* entries; ARENALLOC_<NAME>; ARENALLOC_OPTIONS="name=value,...".
// At run time: mallopt() and arenalloc_option_set(). A value that does not parse or is out of
// range produces one warning line naming the option and the accepted range; the old value stays.
//
// Values are atomics read relaxed: the slow paths that read them see a change soon, which is
// all a tuning knob needs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace arenalloc {

enum class OnError : uint8_t { kAbort = 0, kWarn = 1, kIgnore = 2 };
enum class PurgeMethod : uint8_t { kDontNeed = 0, kFree = 1 };
// kDefault leaves huge pages to the kernel's policy; kLarge advises large heaps (huge_pages.h).
enum class HugePages : uint8_t { kDefault = 0, kAlways = 1, kNever = 2, kLarge = 3 };

namespace options {

enum class Id : uint8_t {
  kArenaMax,       // arenas; 0 = automatic (8 x CPUs, capped)
  kArenaTest,      // with arena_max automatic, at least this many arenas
  kMmapThreshold,  // bytes; blocks at or above get their own mapping
  kMmapMax,        // most huge mappings at once; beyond, blocks up to 16 MiB come from segments
  kTrimThreshold,  // dirty bytes an arena may hold before it purges without waiting
  kTopPad,         // dirty bytes an arena keeps resident when it purges
  kPerturb,        // fill byte: new blocks get ~b, freed blocks b (0 = off)
  kPurgeDelay,     // ms freed memory stays resident before it is purged
  kPurgeMethod,    // PurgeMethod
  kBrk,            // the first arena takes its segments from brk
  kHugePages,      // HugePages, for segments and huge blocks
  kOnError,        // OnError
  kStats,          // print statistics at exit
  kDebug,          // canaries, fill patterns, guard pages (core/checked.h); start-up only
  kSecure,         // guard slices, randomised block order and segment placement; start-up only
  kBackground,     // a background thread purges freed memory after purge_delay
  kCount
};

struct Info {
  const char* name;       // ARENALLOC_<NAME upper-cased>, and in ARENALLOC_OPTIONS
  const char* glibc_env;  // glibc's environment name, or nullptr
  const char* range;      // accepted values, for messages and docs
  const char* description;
};

// The default trim threshold. Only at this value do purges forced by it back off when they
// repeat (core/arena.cpp); a threshold the program or user sets is applied at every free.
inline constexpr uint64_t kDefaultTrimThreshold = uint64_t{256} << 20;

void init() noexcept;

// The current values, indexed by Id (options.cpp). Read inline: slow paths read options often.
extern std::atomic<uint64_t> g_values[static_cast<size_t>(Id::kCount)]
    __attribute__((visibility("hidden")));
inline uint64_t get(Id id) noexcept {
  return g_values[static_cast<size_t>(id)].load(std::memory_order_relaxed);
}
const Info& info(Id id) noexcept;
// Set a value (range-checked, no message). False if out of range.
bool set(Id id, uint64_t value) noexcept;
// Parse and set by name; warns (one line) and returns false if the name is unknown or the value
// malformed or out of range.
bool set(const char* name, size_t name_len, const char* value, size_t value_len) noexcept;
// The option with this name, or Id::kCount.
Id find(const char* name, size_t name_len) noexcept;
// The value as text (a number, or the name of an enumerated value) into buf; returns length.
size_t format(Id id, char* buf, size_t cap) noexcept;

// Effective arena count for the current options and CPU count.
size_t arena_count() noexcept;

inline size_t mmap_threshold() {
  return get(Id::kMmapThreshold);
}
inline uint32_t purge_delay_ms() {
  return static_cast<uint32_t>(get(Id::kPurgeDelay));
}
inline OnError on_error() {
  return static_cast<OnError>(get(Id::kOnError));
}

}  // namespace options
}  // namespace arenalloc
