// arenalloc's own C API (include/arenalloc/arenalloc.h).
#include "arenalloc/arenalloc.h"

#include "diag/stats.h"

#define ARENALLOC_EXPORT extern "C" __attribute__((visibility("default")))

ARENALLOC_EXPORT const char* arenalloc_version(void) { return ARENALLOC_VERSION_STRING; }

ARENALLOC_EXPORT void arenalloc_stats_print(void) { arenalloc::stats::print(); }
