#!/bin/bash
# What the always-on checks cost on the benchmark suite (issue: under 3%): builds arenalloc a
# second time with them compiled out (-DARENALLOC_CHECKS=OFF, never shipped) and compares the
# two on the suite, interleaved.
#   bash scripts/checks_cost.sh [RUNS] [extra compare options...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target arenalloc arenalloc_cli bench_all > /dev/null
cmake -S . -B build-nochecks -DCMAKE_BUILD_TYPE=Release -DARENALLOC_CHECKS=OFF > /dev/null
cmake --build build-nochecks -j"$(nproc)" --target arenalloc > /dev/null
exec build/arenalloc compare --suite --runs "$runs" \
  --allocators "arenalloc,unchecked=$PWD/build-nochecks/libarenalloc.so" "$@"
