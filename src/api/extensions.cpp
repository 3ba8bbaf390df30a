// arenalloc's own C API (include/arenalloc/arenalloc.h): version, statistics, options.
#include "arenalloc/arenalloc.h"

#include <errno.h>

#include "core/arena.h"
#include "core/checked.h"
#include "core/heap.h"
#include "diag/options.h"
#include "diag/report.h"
#include "diag/stats.h"

using namespace arenalloc;

#define ARENALLOC_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}
}  // namespace

ARENALLOC_EXPORT const char* arenalloc_version(void) {
  return ARENALLOC_VERSION_STRING;
}

ARENALLOC_EXPORT void arenalloc_stats_print(void) {
  stats::print();
}

ARENALLOC_EXPORT size_t arenalloc_stats_json(char* buf, size_t len) {
  return stats::to_json(buf, len);
}

ARENALLOC_EXPORT int arenalloc_option_set(const char* name, const char* value) {
  if (name == nullptr || value == nullptr) {
    errno = EINVAL;
    return -1;
  }
  options::Id which = options::find(name, length(name));
  uint64_t before = which == options::Id::kCount ? 0 : options::get(which);
  if (!options::set(name, length(name), value, length(value))) {
    errno = EINVAL;
    return -1;
  }
  if ((which == options::Id::kDebug || which == options::Id::kSecure) &&
      options::get(which) != before) {
    // These change the layout of every block and segment: only at start-up.
    options::set(which, before);
    diag::warn("debug and secure can only be set at start-up (ARENALLOC_DEBUG, ARENALLOC_SECURE)");
    errno = EINVAL;
    return -1;
  }
  // Options whose effect needs more than the new value: applied for what comes next.
  options::Id id = options::find(name, length(name));
  if (id == options::Id::kArenaMax || id == options::Id::kArenaTest)
    arenas_set_count(options::arena_count());
  if (id == options::Id::kPerturb) heap_set_checked(tls_heap, checking_wanted());
  return 0;
}

ARENALLOC_EXPORT int arenalloc_option_get(const char* name, char* buf, size_t len) {
  options::Id id = name == nullptr ? options::Id::kCount : options::find(name, length(name));
  if (id == options::Id::kCount || buf == nullptr) {
    errno = EINVAL;
    return -1;
  }
  char value[32];
  size_t n = options::format(id, value, sizeof(value));
  if (len == 0 || n + 1 > len) {
    errno = ERANGE;
    return -1;
  }
  for (size_t i = 0; i <= n; ++i) buf[i] = value[i];
  return 0;
}
