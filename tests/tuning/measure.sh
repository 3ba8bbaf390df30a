#!/usr/bin/env bash
# Measures the examples of docs/TUNING.md: runs tuning_workload under arenalloc (LD_PRELOAD) and
# glibc with several settings, RUNS times each, and prints the median of each figure.
#   bash tests/tuning/measure.sh BUILD_DIR [RUNS]
# BUILD_DIR holds libarenalloc.so and tests/tuning/tuning_workload. Needs /usr/bin/time and
# strace (the system-call counts are left out without it).
set -euo pipefail
build=${1:?usage: measure.sh BUILD_DIR [RUNS]}
runs=${2:-5}
so=$(realpath "$build/libarenalloc.so")
workload=$(realpath "$build/tests/tuning/tuning_workload")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

# measure LABEL ALLOCATOR(arenalloc|glibc) "VAR=VALUE ..." WORKLOAD-ARGS...
# Prints: label, then the median of: wall s, user s, sys s, max RSS MiB, minor faults, then the
# workload's own key=value figures (median), then madvise/munmap/mmap/brk/futex counts (one run).
measure() {
  local label=$1 alloc=$2 vars=$3
  shift 3
  local preload=()
  [[ $alloc == arenalloc ]] && preload=("LD_PRELOAD=$so")
  : > "$tmp/all"
  for ((i = 0; i < runs; i++)); do
    env $vars "${preload[@]}" /usr/bin/time -v -o "$tmp/time" "$workload" "$@" > "$tmp/out"
    awk -F': ' '
      /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print "wall_s=" s }
      /User time/ { print "user_s=" $2 }
      /System time/ { print "sys_s=" $2 }
      /Maximum resident set size/ { printf "maxrss_mib=%.1f\n", $2 / 1024 }
      /Minor \(reclaiming/ { print "minor_faults=" $2 }' "$tmp/time" >> "$tmp/all"
    grep -E '^[a-z_0-9]+=[0-9.]+$' "$tmp/out" | grep -vE '^(threads|iters|blocks)=' >> "$tmp/all" || true
  done
  printf '%-44s' "$label"
  for key in $(cut -d= -f1 "$tmp/all" | awk '!seen[$0]++'); do
    printf ' %s=%s' "$key" "$(grep "^$key=" "$tmp/all" | cut -d= -f2 | median)"
  done
  if command -v strace > /dev/null; then
    env $vars "${preload[@]}" strace -f -c -o "$tmp/strace" \
      -e trace=madvise,munmap,mmap,brk,futex "$workload" "$@" > /dev/null
    printf ' |'
    for sc in madvise munmap mmap brk futex; do
      printf ' %s=%s' "$sc" "$(awk -v s="$sc" '$NF == s { print $4 }' "$tmp/strace" | head -1)"
    done
  fi
  echo
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# library: $so"
echo
echo "## 1. threads 8 100000: 8 threads, malloc/free mostly small, 1 in 16 of 128 KiB..1 MiB"
measure "arenalloc (default arenas)" arenalloc "" threads 8 100000
measure "arenalloc MALLOC_ARENA_MAX=1" arenalloc "MALLOC_ARENA_MAX=1" threads 8 100000
measure "arenalloc MALLOC_ARENA_MAX=2" arenalloc "MALLOC_ARENA_MAX=2" threads 8 100000
measure "glibc (default arenas)" glibc "" threads 8 100000
measure "glibc MALLOC_ARENA_MAX=1" glibc "MALLOC_ARENA_MAX=1" threads 8 100000
echo
echo "## 2. buffers 3000: one thread re-creates a 256 KiB..4 MiB buffer 3000 times"
measure "arenalloc (default)" arenalloc "" buffers 3000
measure "arenalloc ARENALLOC_PURGE_DELAY=0" arenalloc "ARENALLOC_PURGE_DELAY=0" buffers 3000
measure "arenalloc PURGE_DELAY=0 PURGE_METHOD=free" arenalloc "ARENALLOC_PURGE_DELAY=0 ARENALLOC_PURGE_METHOD=free" buffers 3000
measure "arenalloc MALLOC_MMAP_THRESHOLD_=131072" arenalloc "MALLOC_MMAP_THRESHOLD_=131072" buffers 3000
measure "glibc (default)" glibc "" buffers 3000
measure "glibc MALLOC_MMAP_THRESHOLD_=131072" glibc "MALLOC_MMAP_THRESHOLD_=131072" buffers 3000
echo
echo "## 3. release 256: 256 MiB in blocks of 64 B..1 MiB, all freed; RSS in MiB"
measure "arenalloc (default)" arenalloc "" release 256
measure "arenalloc ARENALLOC_PURGE_DELAY=0" arenalloc "ARENALLOC_PURGE_DELAY=0" release 256
measure "arenalloc ARENALLOC_TRIM_THRESHOLD=1g" arenalloc "ARENALLOC_TRIM_THRESHOLD=1g" release 256
measure "glibc (default)" glibc "" release 256
