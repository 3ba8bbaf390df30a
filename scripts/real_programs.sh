#!/bin/bash
# arenalloc against the peers on real programs rather than benchmarks (docs/PERFORMANCE.md,
# "Real programs"): the C++ compiler proper on a header-heavy file, sqlite building and indexing
# an in-memory table, perl and python filling and sorting hashes, GNU sort, redis, ruby, lua, node
# and clang, ghostscript, rocksdb and z3. Each runs under `arenalloc compare` (interleaved, median
# of RUNS). A program that is not installed is reported and skipped.
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

# A server: redis-server runs under the allocator, the client (redis-benchmark, with
# mimalloc-bench's load: pushes of 10 elements onto one list, and reads) does not.
cat > "$work/redis.sh" << 'EOF2'
#!/bin/bash
set -u
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
redis-server --port "$port" --save '' --appendonly no --dir "$dir" > "$dir/log" 2>&1 &
server=$!
unset LD_PRELOAD
for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
timeout 300 redis-benchmark -p "$port" -r 1000000 -n 1000000 -P 8 -q \
  lpush a 1 2 3 4 5 6 7 8 9 10 lrange a 1 10 | tr '\r' '\n' | tail -1
status=${PIPESTATUS[0]}
redis-cli -p "$port" info memory | grep '^used_memory:'
redis-cli -p "$port" shutdown nosave > /dev/null 2>&1
wait "$server"
rm -rf "$dir"
exit "$status"
EOF2
if command -v redis-benchmark > /dev/null; then
  compare "redis-server (1M pipelined list pushes and reads)" bash "$work/redis.sh"
else
  echo "== redis-server: skipped (redis-benchmark is not installed)"
fi

# Strings kept and dropped by a garbage-collected interpreter: a third of the small strings are
# kept, the rest pile up in an array dropped every 50,000, with a 100 KB string now and then.
compare "ruby (5M short strings, a third kept)" ruby -e '
r = Random.new(3); kept = []; pile = []
5_000_000.times do |i|
  s = "x" * (8 * r.rand(7))
  if i % 3 == 0 then kept << s else pile << s end
  pile = ["y" * 100_000] if pile.size >= 50_000
end
puts kept.size'

# A table-and-string interpreter: small tables and strings, a third dropped, then 300k formatted
# strings joined into one.
compare "lua5.4 (2M small tables, 300k strings joined)" lua5.4 -e '
local t = {}
for i = 1, 2000000 do
  t[i] = { x = i, s = "k" .. i }
  if i % 3 == 0 then t[i - 1] = nil end
end
local parts = {}
for i = 1, 300000 do parts[#parts + 1] = string.format("%d:%s", i, string.rep("a", i % 50)) end
print(#table.concat(parts, ","))'

# JavaScript: V8 keeps its own heap, so malloc carries less of the memory here.
compare "node (300k objects to JSON and back)" node -e '
const a = [];
for (let i = 0; i < 300000; i++) a.push({id: i, name: "n" + i, tags: ["x" + (i % 10), "y"]});
const m = new Map();
for (const o of JSON.parse(JSON.stringify(a))) m.set(o.name, o);
console.log(m.size);'

# The other C++ compiler, its driver running the compile in-process.
compare "clang++ -O1 (bits/stdc++.h + regex)" clang++ -O1 -std=c++20 -c "$work/big.cpp" \
  -o "$work/big.o"

# Three of mimalloc-bench's real programs, with loads made here rather than its input files.
# ghostscript: 12 pages of text in eight fonts and a circle each, rendered at 200 dpi.
awk 'BEGIN {
  split("Times-Roman Helvetica Courier Times-Bold Helvetica-Oblique Palatino-Roman " \
        "Bookman-Light NewCenturySchlbk-Roman", font, " ")
  split("alloc malloc free arena page segment thread heap purge slice", word, " ")
  srand(5); print "%!PS"
  for (pg = 0; pg < 12; pg++) {
    for (line = 0; line < 60; line++) {
      text = ""
      for (w = 0; w < 10; w++) text = text " " word[1 + int(rand() * 10)]
      printf "/%s findfont %d scalefont setfont 20 %d moveto (%s) show\n",
        font[1 + (pg + line) % 8], 8 + line % 5, 780 - line * 12, text
    }
    print "newpath 300 400 moveto 0 1 359 { dup cos 200 mul 300 add exch sin 200 mul 400 add lineto } for closepath stroke"
    print "showpage"
  }
}' > "$work/pages.ps"
compare "gs (12 pages of text rendered at 200 dpi)" gs -q -dBATCH -dNOPAUSE -dSAFER \
  -sDEVICE=png16m -r200 -sOutputFile=/dev/null "$work/pages.ps"

# rocksdb's db_bench: 200k random writes then 400k random reads, two threads (a fresh database
# each run).
if command -v db_bench > /dev/null; then
  compare "rocksdb db_bench (fillrandom, readrandom; 2 threads)" bash -c \
    'rm -rf "$1"; exec db_bench --benchmarks=fillrandom,readrandom --num=200000 --threads=2 \
       --db="$1" > /dev/null' _ "$work/rocksdb"
else
  echo "== rocksdb db_bench: skipped (db_bench is not installed)"
fi

# z3 on random 3-SAT clauses mixed with linear integer constraints. The solver's search depends
# on where its objects are (one input took 0.8 s under glibc and 1.1 s under arenalloc, with
# the allocators' own instructions at 0.2-2% of the run), so one run solves three inputs.
for seed in 101 202 606; do
  awk -v seed="$seed" 'BEGIN {
  srand(seed); n = 200; print "(set-logic QF_LIA)"
  for (i = 0; i < n; i++) printf "(declare-const b%d Bool)\n", i
  for (i = 0; i < 40; i++) printf "(declare-const x%d Int)\n", i
  for (c = 0; c < int(n * 4.2); c++) {
    clause = ""
    for (k = 0; k < 3; k++) {
      v = int(rand() * n)
      clause = clause (rand() < 0.5 ? " b" v : " (not b" v ")")
    }
    print "(assert (or" clause "))"
  }
  for (i = 0; i < 120; i++)
    printf "(assert (=> b%d (<= (+ (* %d x%d) (* %d x%d)) (+ x%d %d))))\n", int(rand() * n),
      1 + int(rand() * 9), int(rand() * 40), int(rand() * 19) - 9, int(rand() * 40),
      int(rand() * 40), int(rand() * 101) - 50
  for (i = 0; i < 40; i++) printf "(assert (and (>= x%d -100) (<= x%d 100)))\n", i, i
  print "(check-sat)"
}' > "$work/sat$seed.smt2"
done
if command -v z3 > /dev/null; then
  compare "z3 (three random 3-SAT problems with integer constraints)" bash -c \
    'for f; do z3 -smt2 "$f" > /dev/null || exit 1; done' _ "$work"/sat*.smt2
else
  echo "== z3: skipped (z3 is not installed)"
fi
