#!/usr/bin/env bash
# The main command: on a fresh Debian 12 (as root), install what is missing, build
# arenalloc, its command and the benchmark suite (Release, into build/), then compare
# arenalloc with glibc, jemalloc, tcmalloc and mimalloc over the whole suite:
#   build/report.html  self-contained HTML report (charts)
#   build/report.json  every raw run and the summaries
# The table is printed on stdout, progress on stderr. Extra arguments are passed to
# `arenalloc compare` (e.g. --runs 5, --only larson,peak_fall, --syscalls).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh >&2

# Build logs go to stderr: stdout carries only the comparison table.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j "$(nproc)" >&2

status=0
build/arenalloc compare --suite --runs 3 --html build/report.html --json build/report.json "$@" \
  || status=$?
echo "main.sh: report in build/report.html and build/report.json" >&2
exit "$status"
