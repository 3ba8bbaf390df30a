#!/usr/bin/env bash
# Measures what each diagnostic mode costs (docs/DIAGNOSTICS.md): four benchmark programs under
# LD_PRELOAD=libarenalloc.so with default options and with each mode, RUNS rounds; each round runs
# every mode once, in turn, so that a change of machine load hits them alike. Prints the median
# wall time, CPU time (user + sys) and peak RSS, and the median of the per-round ratios to the
# default. `warn` (on_error=warn) costs nothing: its ratio shows the noise. Then callgrind's
# instruction count per malloc(32) + free pair in each mode (the difference of two loop lengths,
# so start-up cancels).
#   bash tests/diag/measure.sh BUILD_DIR [RUNS]
# BUILD_DIR holds libarenalloc.so, bench/ and tests/diag/diag_child_plain. Needs /usr/bin/time;
# valgrind for the callgrind part (left out without it).
set -euo pipefail
build=${1:?usage: measure.sh BUILD_DIR [RUNS]}
runs=${2:-3}
so=$(realpath "$build/libarenalloc.so")
bench=$(realpath "$build/bench")
child=$(realpath "$build/tests/diag/diag_child_plain")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

modes=("default:" "debug:ARENALLOC_DEBUG=1" "secure:ARENALLOC_SECURE=1"
       "perturb:MALLOC_PERTURB_=165" "warn:ARENALLOC_ON_ERROR=warn")
# Program and arguments: about half a second each by default (bench/README.md).
programs=("larson 4m 2" "random_sizes 2m" "glibc_simple 1m" "realloc_growth 100k")

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# library: $so; $runs runs each, the modes interleaved run by run; medians;"
echo "# ratio = median of the per-round ratios mode / default (load drifts cancel within a round)"
printf '%-22s %-8s %7s %7s %8s %10s %9s\n' program mode wall_s cpu_s rss_mib wall_ratio cpu_ratio
for entry in "${programs[@]}"; do
  read -r -a cmd <<< "$entry"
  rm -f "$tmp"/wall.* "$tmp"/cpu.* "$tmp"/rss.* "$tmp"/rw.* "$tmp"/rc.*
  for ((i = 0; i < runs; i++)); do
    base_wall="" base_cpu=""
    for m in "${modes[@]}"; do
      name=${m%%:*} vars=${m#*:}
      env $vars LD_PRELOAD="$so" /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" \
        "$bench/${cmd[0]}" "${cmd[@]:1}" > "$tmp/out" 2> "$tmp/err" ||
        { echo "$entry ($name) failed:"; cat "$tmp/err"; exit 1; }
      grep -q ' verified' "$tmp/out" || { echo "$entry ($name) did not verify"; exit 1; }
      read -r wall user sys rss < "$tmp/time"
      cpu=$(echo "$user + $sys" | bc -l)
      [[ -z $base_wall ]] && base_wall=$wall base_cpu=$cpu
      echo "$wall" >> "$tmp/wall.$name"
      echo "$cpu" >> "$tmp/cpu.$name"
      echo "$rss" >> "$tmp/rss.$name"
      echo "$wall / $base_wall" | bc -l >> "$tmp/rw.$name"
      echo "$cpu / $base_cpu" | bc -l >> "$tmp/rc.$name"
    done
  done
  for m in "${modes[@]}"; do
    name=${m%%:*}
    printf '%-22s %-8s %7.2f %7.2f %8.1f %10.2f %9.2f\n' "$entry" "$name" \
      "$(median < "$tmp/wall.$name")" "$(median < "$tmp/cpu.$name")" \
      "$(echo "$(median < "$tmp/rss.$name") / 1024" | bc -l)" \
      "$(median < "$tmp/rw.$name")" "$(median < "$tmp/rc.$name")"
  done
done

if command -v valgrind > /dev/null; then
  echo
  echo "# callgrind: instructions per malloc(32) + free pair (loop of 2M minus loop of 1M, / 1M)"
  for m in "${modes[@]}"; do
    name=${m%%:*} vars=${m#*:}
    count() {
      env $vars LD_PRELOAD="$so" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        "$child" loop "$1" 2> "$tmp/cg.err" > /dev/null
      awk '/^summary:/ { print $2 }' "$tmp/cg.out"
    }
    a=$(count 1000000)
    b=$(count 2000000)
    printf '%-8s %8.1f\n' "$name" "$(echo "($b - $a) / 1000000" | bc -l)"
  done
fi
