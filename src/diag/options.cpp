#include "diag/options.h"

#include <atomic>

#include "core/config.h"
#include "diag/format.h"
#include "os/os.h"

namespace arenalloc::options {
namespace {

constexpr size_t kCount = static_cast<size_t>(Id::kCount);

#ifndef ARENALLOC_SECURE_DEFAULT
#define ARENALLOC_SECURE_DEFAULT 0
#endif

const char* const kOnErrorNames[] = {"abort", "warn", "ignore", nullptr};
const char* const kPurgeNames[] = {"dontneed", "free", nullptr};
const char* const kHugeNames[] = {"default", "always", "never", "large", nullptr};
const char* const kBoolNames[] = {"0", "1", nullptr};

struct Entry {
  Info info;
  uint64_t default_value;
  uint64_t min, max;
  const char* const* names;  // enumerated values (index = value), or nullptr for numbers
};

constexpr uint64_t kMaxBytes = uint64_t{1} << 62;

const Entry kTable[kCount] = {
    {{"arena_max", "MALLOC_ARENA_MAX", "0..128",
      "arenas threads are spread over (0 = automatic: 8 x CPUs, at most 128)"},
     0,
     0,
     kMaxArenas,
     nullptr},
    {{"arena_test", "MALLOC_ARENA_TEST", "1..128",
      "with arena_max unset, create at least this many arenas"},
     1,
     1,
     kMaxArenas,
     nullptr},
    {{"mmap_threshold", "MALLOC_MMAP_THRESHOLD_", "0..33554432 bytes",
      "blocks at least this big (and over 1 KiB) get a mapping of their own; blocks over "
      "32 MiB - 64 KiB always do"},
     kDefaultMmapThreshold,
     0,
     32u << 20,
     nullptr},
    {{"mmap_max", "MALLOC_MMAP_MAX_", "0..2147483647",
      "most huge mappings at once; beyond, blocks up to 32 MiB - 64 KiB come from segments"},
     65536,
     0,
     2147483647,
     nullptr},
    {{"trim_threshold", "MALLOC_TRIM_THRESHOLD_", "0..2^62 bytes",
      "freed bytes kept resident at most before purging without waiting for purge_delay (or a "
      "quarter of the memory in use, or four of the largest large blocks freed, if more)"},
     kDefaultTrimThreshold,
     0,
     kMaxBytes,
     nullptr},
    {{"top_pad", "MALLOC_TOP_PAD_", "0..2^62 bytes",
      "freed bytes an arena keeps resident when it purges"},
     0,
     0,
     kMaxBytes,
     nullptr},
    {{"perturb", "MALLOC_PERTURB_", "0..255",
      "fill new blocks with the complement of this byte and freed blocks with it (0 = off)"},
     0,
     0,
     255,
     nullptr},
    {{"purge_delay", nullptr, "0..3600000 ms",
      "how long freed memory stays resident before it is returned to the OS"},
     500,
     0,
     3600000,
     nullptr},
    {{"purge_method", nullptr, "dontneed or free",
      "MADV_DONTNEED (RSS falls at once) or MADV_FREE (cheaper, RSS falls under pressure)"},
     0,
     0,
     1,
     kPurgeNames},
    {{"brk", nullptr, "0 or 1",
      "the first arena takes its segments from brk, as ptmalloc's main arena"},
     0,
     0,
     1,
     kBoolNames},
    {{"huge_pages", nullptr, "default, always, never or large",
      "transparent huge pages for segments and huge blocks (default: the kernel's policy; large: "
      "segments of a heap of 32 MiB or more for each arena holding 2 MiB, until a purge leaves "
      "holes in them, and huge blocks of 32 MiB or more not made by calloc)"},
     0,
     0,
     3,
     kHugeNames},
    {{"on_error", nullptr, "abort, warn or ignore", "what an invalid or double free does"},
     0,
     0,
     2,
     kOnErrorNames},
    {{"stats", nullptr, "0 or 1", "print statistics to stderr at exit"}, 0, 0, 1, kBoolNames},
    {{"debug", nullptr, "0 or 1",
      "canaries after blocks, fill patterns checked on reuse, guard pages after large blocks"},
     0,
     0,
     1,
     kBoolNames},
    {{"secure", nullptr, "0 or 1",
      "guard pages around segment metadata and between segments, randomised allocation order "
      "and segment placement"},
     ARENALLOC_SECURE_DEFAULT,
     0,
     1,
     kBoolNames},
    {{"background", nullptr, "0 or 1",
      "a background thread returns freed memory after purge_delay even when the program stops "
      "calling the allocator (started once 16 MiB waits to be purged)"},
     1,
     0,
     1,
     kBoolNames},
};

bool equal(const char* a, size_t a_len, const char* b) {
  for (size_t i = 0; i < a_len; ++i)
    if (b[i] == '\0' || a[i] != b[i]) return false;
  return b[a_len] == '\0';
}

size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

bool parse_number(const char* s, size_t len, uint64_t* out) {
  if (len == 0) return false;
  uint64_t v = 0;
  size_t i = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; ++i) {
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (i == 0) return false;
  if (i + 1 == len) {  // binary suffix: k, m, g
    unsigned shift = 0;
    switch (s[i] | 0x20) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      default:
        return false;
    }
    if (v > (UINT64_MAX >> shift)) return false;
    v <<= shift;
  } else if (i != len) {
    return false;
  }
  *out = v;
  return true;
}

bool parse_value(const Entry& e, const char* s, size_t len, uint64_t* out) {
  if (e.names != nullptr) {
    for (uint64_t i = 0; e.names[i] != nullptr; ++i)
      if (equal(s, len, e.names[i])) {
        *out = i;
        return true;
      }
    if (e.names == kBoolNames) {
      if (equal(s, len, "true") || equal(s, len, "yes") || equal(s, len, "on"))
        return *out = 1, true;
      if (equal(s, len, "false") || equal(s, len, "no") || equal(s, len, "off"))
        return *out = 0, true;
    }
    return false;
  }
  return parse_number(s, len, out);
}

void warn_value(const char* name, size_t name_len, const char* value, size_t value_len,
                const char* range) {
  diag::Line line;
  line.str("arenalloc: warning: ignoring ")
      .chars(name, name_len)
      .str("=\"")
      .chars(value, value_len < 64 ? value_len : 64)
      .str("\": expected ")
      .str(range)
      .str("; keeping the previous value\n");
  line.write_stderr();
}

// Apply text from the environment or a list; warns on error.
void apply_text(Id id, const char* shown, size_t shown_len, const char* value, size_t len) {
  const Entry& e = kTable[static_cast<size_t>(id)];
  uint64_t v;
  if (!parse_value(e, value, len, &v) || !set(id, v))
    warn_value(shown, shown_len, value, len, e.info.range);
}

// ARENALLOC_<NAME>: the upper-cased option name.
void env_name(const char* name, char* out, size_t cap) {
  const char prefix[] = "ARENALLOC_";
  size_t n = 0;
  for (const char* p = prefix; *p != '\0' && n + 1 < cap; ++p) out[n++] = *p;
  for (const char* p = name; *p != '\0' && n + 1 < cap; ++p)
    out[n++] = (*p >= 'a' && *p <= 'z') ? static_cast<char>(*p - 32) : *p;
  out[n] = '\0';
}

// GLIBC_TUNABLES=glibc.malloc.NAME=VALUE:...; names without an arenalloc concept (tcache_*,
// mxfast, check) are accepted and ignored, as glibc ignores tunables of other subsystems.
void apply_glibc_tunables(const char* list) {
  const char prefix[] = "glibc.malloc.";
  const size_t prefix_len = sizeof(prefix) - 1;
  const char* p = list;
  while (*p != '\0') {
    const char* item = p;
    while (*p != '\0' && *p != ':') ++p;
    const char* eq = item;
    while (eq < p && *eq != '=') ++eq;
    size_t item_len = static_cast<size_t>(eq - item);
    if (eq < p && item_len > prefix_len) {
      bool is_malloc = true;
      for (size_t i = 0; i < prefix_len; ++i) is_malloc = is_malloc && item[i] == prefix[i];
      if (is_malloc) {
        const char* name = item + prefix_len;
        size_t name_len = item_len - prefix_len;
        const char* value = eq + 1;
        size_t value_len = static_cast<size_t>(p - eq - 1);
        if (equal(name, name_len, "hugetlb")) {
          // glibc: 0 = default, 1 = madvise THP, 2 = hugetlbfs pages (arenalloc uses THP).
          uint64_t v;
          if (parse_number(value, value_len, &v) && v <= 2)
            set(Id::kHugePages, v == 0 ? 0 : 1);
          else
            warn_value(item, item_len, value, value_len, "0, 1 or 2");
        } else {
          Id id = find(name, name_len);
          if (id != Id::kCount && kTable[static_cast<size_t>(id)].info.glibc_env != nullptr)
            apply_text(id, item, item_len, value, value_len);
        }
      }
    }
    if (*p == ':') ++p;
  }
}

}  // namespace

std::atomic<uint64_t> g_values[kCount] = {
    kTable[0].default_value,  kTable[1].default_value,  kTable[2].default_value,
    kTable[3].default_value,  kTable[4].default_value,  kTable[5].default_value,
    kTable[6].default_value,  kTable[7].default_value,  kTable[8].default_value,
    kTable[9].default_value,  kTable[10].default_value, kTable[11].default_value,
    kTable[12].default_value, kTable[13].default_value, kTable[14].default_value,
    kTable[15].default_value,
};
static_assert(kCount == 16, "g_values lists every option");

const Info& info(Id id) noexcept {
  return kTable[static_cast<size_t>(id)].info;
}

bool set(Id id, uint64_t value) noexcept {
  const Entry& e = kTable[static_cast<size_t>(id)];
  if (value < e.min || value > e.max) return false;
  g_values[static_cast<size_t>(id)].store(value, std::memory_order_relaxed);
  return true;
}

Id find(const char* name, size_t name_len) noexcept {
  for (size_t i = 0; i < kCount; ++i)
    if (equal(name, name_len, kTable[i].info.name)) return static_cast<Id>(i);
  return Id::kCount;
}

bool set(const char* name, size_t name_len, const char* value, size_t value_len) noexcept {
  Id id = find(name, name_len);
  if (id == Id::kCount) {
    diag::Line line;
    line.str("arenalloc: warning: unknown option \"")
        .chars(name, name_len < 64 ? name_len : 64)
        .str("\"; ignored\n");
    line.write_stderr();
    return false;
  }
  const Entry& e = kTable[static_cast<size_t>(id)];
  uint64_t v;
  if (!parse_value(e, value, value_len, &v) || !set(id, v)) {
    warn_value(name, name_len, value, value_len, e.info.range);
    return false;
  }
  return true;
}

size_t format(Id id, char* buf, size_t cap) noexcept {
  const Entry& e = kTable[static_cast<size_t>(id)];
  uint64_t v = get(id);
  diag::Line line;
  if (e.names != nullptr)
    line.str(e.names[v]);
  else
    line.dec(v);
  size_t n = line.size() < cap ? line.size() : (cap == 0 ? 0 : cap - 1);
  for (size_t i = 0; i < n; ++i) buf[i] = line.data()[i];
  if (cap != 0) buf[n] = '\0';
  return n;
}

void init() noexcept {
  for (size_t i = 0; i < kCount; ++i)
    if (const char* env = kTable[i].info.glibc_env)
      if (const char* v = os::getenv(env))
        apply_text(static_cast<Id>(i), env, length(env), v, length(v));
  if (const char* tunables = os::getenv("GLIBC_TUNABLES")) apply_glibc_tunables(tunables);
  for (size_t i = 0; i < kCount; ++i) {
    char env[64];
    env_name(kTable[i].info.name, env, sizeof(env));
    if (const char* v = os::getenv(env))
      apply_text(static_cast<Id>(i), env, length(env), v, length(v));
  }
  if (const char* list = os::getenv("ARENALLOC_OPTIONS")) {
    const char* p = list;
    while (*p != '\0') {
      const char* item = p;
      while (*p != '\0' && *p != ',') ++p;
      const char* eq = item;
      while (eq < p && *eq != '=') ++eq;
      if (eq < p) {
        set(item, static_cast<size_t>(eq - item), eq + 1, static_cast<size_t>(p - eq - 1));
      } else if (p > item) {
        warn_value(item, static_cast<size_t>(p - item), "", 0, "name=value");
      }
      if (*p == ',') ++p;
    }
  }
}

size_t arena_count() noexcept {
  if (uint64_t n = get(Id::kArenaMax)) return n;
  size_t n = size_t{8} * os::cpu_count();
  if (n > kMaxArenas) n = kMaxArenas;
  size_t test = get(Id::kArenaTest);
  return n < test ? test : n;
}

}  // namespace arenalloc::options
