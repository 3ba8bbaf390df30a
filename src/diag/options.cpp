#include "diag/options.h"

#include "core/config.h"
#include "diag/format.h"
#include "diag/report.h"
#include "os/os.h"

namespace arenalloc::options {
namespace {

Options g_options = {
    .arena_max = 0,
    .mmap_threshold = kDefaultMmapThreshold,
    .purge_delay_ms = 10,
    .purge_lazy = false,
    .on_error = OnError::kAbort,
    .stats_at_exit = false,
};

enum class Type : uint8_t { kSize, kMillis, kBool, kOnError };

struct Entry {
  const char* name;        // as in ARENALLOC_OPTIONS; the environment name is ARENALLOC_<NAME>
  const char* glibc_env;   // glibc's environment name, or nullptr
  Type type;
  uint64_t min, max;
  const char* range;       // for messages
  void (*apply)(uint64_t);
};

const Entry kTable[] = {
    {"arena_max", "MALLOC_ARENA_MAX", Type::kSize, 1, kMaxArenas, "1..128",
     [](uint64_t v) { g_options.arena_max = v; }},
    {"mmap_threshold", "MALLOC_MMAP_THRESHOLD_", Type::kSize, 0, kLargeMax, "0..16777216 bytes",
     [](uint64_t v) { g_options.mmap_threshold = v; }},
    {"purge_delay", nullptr, Type::kMillis, 0, 3600000, "0..3600000 ms",
     [](uint64_t v) { g_options.purge_delay_ms = static_cast<uint32_t>(v); }},
    {"purge_lazy", nullptr, Type::kBool, 0, 1, "0 or 1",
     [](uint64_t v) { g_options.purge_lazy = v != 0; }},
    {"on_error", nullptr, Type::kOnError, 0, 2, "abort, warn or ignore",
     [](uint64_t v) { g_options.on_error = static_cast<OnError>(v); }},
    {"stats", nullptr, Type::kBool, 0, 1, "0 or 1",
     [](uint64_t v) { g_options.stats_at_exit = v != 0; }},
};

bool equal(const char* a, size_t a_len, const char* b) {
  for (size_t i = 0; i < a_len; ++i)
    if (b[i] == '\0' || a[i] != b[i]) return false;
  return b[a_len] == '\0';
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
  // Optional binary suffix for sizes: k, m, g (KiB, MiB, GiB).
  if (i + 1 == len) {
    unsigned shift = 0;
    switch (s[i] | 0x20) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      default: return false;
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
  switch (e.type) {
    case Type::kOnError:
      if (equal(s, len, "abort")) *out = 0;
      else if (equal(s, len, "warn")) *out = 1;
      else if (equal(s, len, "ignore")) *out = 2;
      else return false;
      return true;
    case Type::kBool:
      if (equal(s, len, "true") || equal(s, len, "yes") || equal(s, len, "on")) *out = 1;
      else if (equal(s, len, "false") || equal(s, len, "no") || equal(s, len, "off")) *out = 0;
      else return parse_number(s, len, out);
      return true;
    case Type::kSize:
    case Type::kMillis:
      return parse_number(s, len, out);
  }
  return false;
}

void warn_value(const char* name, size_t name_len, const char* value, size_t value_len,
                const char* range) {
  diag::Line line;
  line.str("arenalloc: warning: ignoring ");
  line.chars(name, name_len).str("=\"").chars(value, value_len < 64 ? value_len : 64);
  line.str("\": expected ").str(range).str("; keeping the default\n");
  line.write_stderr();
}

// ARENALLOC_<NAME>: upper-cased option name into a fixed buffer.
void env_name(const char* name, char* out, size_t cap) {
  const char prefix[] = "ARENALLOC_";
  size_t n = 0;
  for (const char* p = prefix; *p != '\0' && n + 1 < cap; ++p) out[n++] = *p;
  for (const char* p = name; *p != '\0' && n + 1 < cap; ++p)
    out[n++] = (*p >= 'a' && *p <= 'z') ? static_cast<char>(*p - 32) : *p;
  out[n] = '\0';
}

size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

}  // namespace

bool set(const char* name, size_t name_len, const char* value, size_t value_len) noexcept {
  for (const Entry& e : kTable) {
    if (!equal(name, name_len, e.name)) continue;
    uint64_t v;
    if (!parse_value(e, value, value_len, &v) || v < e.min || v > e.max) {
      warn_value(name, name_len, value, value_len, e.range);
      return false;
    }
    e.apply(v);
    return true;
  }
  diag::Line line;
  line.str("arenalloc: warning: unknown option \"");
  line.chars(name, name_len < 64 ? name_len : 64);
  line.str("\"; ignored\n");
  line.write_stderr();
  return false;
}

void init() noexcept {
  for (const Entry& e : kTable) {
    char env[64];
    env_name(e.name, env, sizeof(env));
    const char* v = os::getenv(env);
    const char* shown = env;
    if (v == nullptr && e.glibc_env != nullptr) {
      v = os::getenv(e.glibc_env);
      shown = e.glibc_env;
    }
    if (v == nullptr) continue;
    uint64_t parsed;
    size_t len = length(v);
    if (!parse_value(e, v, len, &parsed) || parsed < e.min || parsed > e.max) {
      warn_value(shown, length(shown), v, len, e.range);
      continue;
    }
    e.apply(parsed);
  }
  // ARENALLOC_OPTIONS="name=value,name=value" (applied after, so it wins).
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

const Options& get() noexcept { return g_options; }

size_t arena_count() noexcept {
  if (g_options.arena_max != 0) return g_options.arena_max;
  size_t n = size_t{8} * os::cpu_count();
  return n > kMaxArenas ? kMaxArenas : n;
}

}  // namespace arenalloc::options
