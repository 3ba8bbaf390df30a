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

packages=(cmake make g++ libgtest-dev libbenchmark-dev libjemalloc2 libtcmalloc-minimal4
          libmimalloc2.0 strace)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "main.sh: installing ${missing[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${missing[@]}" >&2
fi

# Build logs go to stderr: stdout carries only the comparison table.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j "$(nproc)" >&2

status=0
build/arenalloc compare --suite --runs 3 --html build/report.html --json build/report.json "$@" \
  || status=$?
echo "main.sh: report in build/report.html and build/report.json" >&2
exit "$status"
