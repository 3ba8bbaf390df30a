#!/bin/bash
# arenalloc against the peers on real programs rather than benchmarks (docs/PERFORMANCE.md,
# "Real programs"): the C++ compiler proper on a header-heavy file, sqlite building and indexing
# an in-memory table, perl and python filling and sorting hashes, GNU sort. Each runs under
# `arenalloc compare` (interleaved, median of RUNS). A program that is not installed is reported
# and skipped.
#   bash scripts/real_programs.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target arenalloc arenalloc_cli > /dev/null

compare() {  # name, then the command
  local name=$1
  shift
  if ! command -v "$1" > /dev/null; then
    echo "== $name: skipped ($1 is not installed)"
    return
  fi
  echo "== $name"
  build/arenalloc compare -q --runs "$runs" -- "$@" | sed -n '/^allocator/,/^$/p'
}

cc1plus=$(g++ -print-prog-name=cc1plus)
printf '#include <bits/stdc++.h>\n#include <regex>\nint main() { std::regex r("a+b"); }\n' \
  > "$work/big.cpp"
g++ -std=c++20 -E "$work/big.cpp" -o "$work/big.ii"
compare "cc1plus -O1 (bits/stdc++.h + regex)" \
  "$cc1plus" -quiet -fpreprocessed "$work/big.ii" -O1 -std=c++20 -o "$work/big.s"

cat > "$work/db.sql" << 'EOF'
PRAGMA cache_size=-200000;
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x<400000)
INSERT INTO t SELECT x, hex(randomblob(20+x%50)), x*1.5 FROM n;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)) FROM t WHERE b LIKE '%AB%';
SELECT b, count(*) FROM t GROUP BY substr(b,1,3) ORDER BY 2 DESC LIMIT 3;
EOF
compare "sqlite3 :memory: (400k rows, index)" sqlite3 -init "$work/db.sql" :memory: .quit

compare "perl (1.5M hash updates, sort)" perl -e \
  'srand(1); my %h; for my $i (1..1500000) { $h{"k".int(rand(400000))} = "v" x (1+int(rand(100)));
   delete $h{"k".int(rand(400000))} if $i % 5 == 0 } my @k = sort keys %h; print scalar(@k), "\n"'

compare "python3 (600k dict updates, sort)" python3 -c '
import random
random.seed(1)
d = {}
for i in range(600000):
    d["k%d" % random.randrange(300000)] = [i] * random.randrange(1, 40)
    if i % 7 == 0:
        d.pop("k%d" % random.randrange(300000), None)
print(len(sorted(d.items(), key=lambda kv: len(kv[1]))))'

awk 'BEGIN { srand(1); for (i = 0; i < 400000; i++) print "line", int(rand() * 32768), i }' \
  > "$work/lines.txt"
compare "sort -S 50M (400k lines)" sort -S 50M "$work/lines.txt" -o "$work/sorted.txt"
