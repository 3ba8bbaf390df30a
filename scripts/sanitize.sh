#!/usr/bin/env bash
# Sanitizer and fuzzing runs of the allocator core, each in a build directory of its own, with
# clang (the core is compiled again with the sanitizer and driven through core/alloc.h):
#   tsan  build-tsan/  ThreadSanitizer, tests/sanitize (ctest label tsan)
#   asan  build-asan/  AddressSanitizer + UBSan, tests/sanitize (label asan)
#   fuzz  build-fuzz/  libFuzzer + ASan + UBSan, tests/fuzz (label fuzz): a bounded fuzzing run
# Usage: scripts/sanitize.sh [tsan] [asan] [fuzz]      (default: all three)
# Environment: FUZZ_SECONDS (default 60): length of the fuzzing run (a second one, under other
# run-time options, takes half as long).
# Exits non-zero if any configuration, build or test fails; every stage runs regardless.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stages=("$@")
((${#stages[@]})) || stages=(tsan asan fuzz)
for s in "${stages[@]}"; do
  case "$s" in
    tsan | asan | fuzz) ;;
    *) echo "sanitize.sh: unknown stage '$s' (tsan, asan, fuzz)" >&2; exit 2 ;;
  esac
done

bash scripts/deps.sh clang libclang-rt-14-dev || exit 1
CXX_SAN=$(command -v clang++-14 || command -v clang++) || {
  echo "sanitize.sh: no clang++" >&2
  exit 1
}
CC_SAN=$(command -v clang-14 || command -v clang) || { echo "sanitize.sh: no clang" >&2; exit 1; }
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}

declare -A option=([tsan]="-DARENALLOC_SANITIZE=thread" [asan]="-DARENALLOC_SANITIZE=address"
                   [fuzz]="-DARENALLOC_FUZZ=ON -DARENALLOC_FUZZ_SECONDS=$fuzz_seconds")
declare -A target=([tsan]=sanitize_tests [asan]=sanitize_tests [fuzz]=fuzz_tests)
declare -A folder=([tsan]=sanitize [asan]=sanitize [fuzz]=fuzz)

status=0
summary=()
for s in "${stages[@]}"; do
  dir=build-$s
  start=$SECONDS
  echo "==== sanitize.sh: $s in $dir" >&2
  result=passed
  mkdir -p "$dir"
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER="$CC_SAN" -DCMAKE_CXX_COMPILER="$CXX_SAN" \
      -DARENALLOC_BUILD_BENCH=OFF -DARENALLOC_BUILD_TOOLS=OFF -DARENALLOC_BUILD_EXAMPLES=OFF \
      ${option[$s]} >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    result="configure failed"
  elif [[ ! -f $dir/tests/${folder[$s]}/CTestTestfile.cmake ]]; then
    echo "sanitize.sh: tests/${folder[$s]} is not part of the build: add it to the folder list" \
         "in tests/CMakeLists.txt" >&2
    result="not configured"
  elif ! cmake --build "$dir" --target "${target[$s]}" -j"$jobs"; then
    result="build failed"
  elif ! ctest --test-dir "$dir" -L "^$s\$" --no-tests=error --output-on-failure; then
    result="tests failed"
  fi
  [[ $result == passed ]] || status=1
  summary+=("$(printf '%-5s %-18s %4ds' "$s" "$result" $((SECONDS - start)))")
done

echo "==== sanitize.sh summary" >&2
printf '%s\n' "${summary[@]}" >&2
exit "$status"
