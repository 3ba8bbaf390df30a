#!/usr/bin/env bash
# arenalloc without rebuilding anything: LD_PRELOAD, or the `arenalloc run` command.
#
#   bash examples/preload.sh [BUILD_DIR]            (default: build)
#   bash examples/preload.sh --lib L --cli C --demo D
#
# Runs build/examples/preload_demo (plain malloc, not linked to arenalloc) three ways and checks
# which allocator served it each time. Prints "preload: ok" and exits 0 when all three are right.
set -euo pipefail

build=build
lib= cli= demo=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lib) lib=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --demo) demo=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) build=$1; shift ;;
  esac
done
lib=${lib:-$build/libarenalloc.so}
cli=${cli:-$build/arenalloc}
demo=${demo:-$build/examples/preload_demo}
for f in "$lib" "$demo"; do
  [[ -e $f ]] || { echo "preload: $f not found (build first: cmake --build $build)" >&2; exit 2; }
done
lib=$(realpath "$lib")

expect() {  # expect WHAT OUTPUT
  echo "  $2"
  if [[ $2 != *"malloc is $1"* ]]; then
    echo "preload: FAILED: expected malloc to be $1" >&2
    exit 1
  fi
}

echo "1. the program as it is:"
expect "the system's" "$("$demo")"

echo "2. LD_PRELOAD=$lib program:"
expect arenalloc "$(LD_PRELOAD=$lib "$demo")"

# Options are environment variables read at start-up, e.g. statistics at exit on stderr.
echo "   with ARENALLOC_STATS=1 (statistics on stderr at exit; first lines):"
stats=$(LD_PRELOAD=$lib ARENALLOC_STATS=1 "$demo" 2>&1 >/dev/null)
printf '%s\n' "$stats" | sed -n '1,3s/^/    /p'
[[ $stats == *"arenalloc statistics"* ]] || { echo "preload: FAILED: no statistics" >&2; exit 1; }

if [[ -x $cli ]]; then
  echo "3. $cli run -- program:"
  expect arenalloc "$("$cli" run --lib "$lib" -- "$demo")"
else
  echo "3. (the arenalloc command is not built: skipped)"
fi
echo "preload: ok"
