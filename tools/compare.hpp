// `arenalloc compare`: runs a command (or the suite) under each allocator, interleaved,
// and produces the report (text on stdout, optional JSON and HTML files).
#pragma once

#include "options.hpp"

namespace arenalloc_cli {

// Returns the exit status: 0 all runs succeeded, 1 some run failed. Throws CliError
// for usage/configuration errors.
int run_compare(const CompareOptions& o);

}  // namespace arenalloc_cli
