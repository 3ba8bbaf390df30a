#!/usr/bin/env bash
# Build everything and run the whole test suite (the README's second command): the main build's
# tests (ctest), then the sanitizer and fuzzing runs (scripts/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh valgrind bash perl pkg-config
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600 "$@"
bash scripts/sanitize.sh
