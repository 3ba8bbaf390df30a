// Real programs run twice, with and without LD_PRELOAD=libarenalloc.so; the
// exit status and stdout must be the same (and the run must succeed).
// This harness itself is not linked to arenalloc.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#ifndef ARENALLOC_SO
#error "ARENALLOC_SO (path of libarenalloc.so) must be defined by the build"
#endif

extern char** environ;

namespace fs = std::filesystem;

namespace {

struct RunResult {
  int status = -1;
  bool timed_out = false;
  std::string out, err;
  double secs = 0;

  bool Ok() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string Describe() const {
    std::ostringstream s;
    if (timed_out)
      s << "timed out";
    else if (WIFEXITED(status))
      s << "exit " << WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      s << "signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status)) << ")";
    s << " after " << secs << " s";
    if (!err.empty()) s << "; stderr: " << err.substr(0, 2000);
    return s.str();
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out << data;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/arenalloc-preload-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    if (mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Finds an executable in PATH, skipping version-manager shims (pyenv, ...).
std::string FindTool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> dirs = {"/usr/bin", "/bin"};
  if (path != nullptr) {
    std::stringstream ss(path);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty() && d.find("shims") == std::string::npos) dirs.push_back(d);
  }
  for (const auto& d : dirs) {
    std::string full = d + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

constexpr int kTimeoutSeconds = 180;

// Runs argv in cwd with the given extra environment, stdout and stderr
// captured, optionally with LD_PRELOAD=libarenalloc.so. The child gets its own
// process group, killed as a whole on timeout.
RunResult RunProgram(const std::vector<std::string>& argv, bool preload, const fs::path& cwd,
                     const std::vector<std::string>& extra_env = {},
                     const std::string& stdin_path = "", int timeout_s = kTimeoutSeconds) {
  RunResult res;
  static int counter = 0;
  fs::path out_path = cwd / (".out" + std::to_string(++counter));
  fs::path err_path = cwd / (".err" + std::to_string(counter));

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("LD_PRELOAD=", 0) == 0 || kv.rfind("LC_ALL=", 0) == 0 ||
        kv.rfind("LANG=", 0) == 0 || kv.rfind("LANGUAGE=", 0) == 0)
      continue;
    bool overridden = false;
    for (const auto& x : extra_env)
      if (kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1)) overridden = true;
    if (!overridden) env.push_back(kv);
  }
  env.push_back("LC_ALL=C");
  for (const auto& x : extra_env) env.push_back(x);
  if (preload) env.push_back(std::string("LD_PRELOAD=") + ARENALLOC_SO);

  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(),
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    res.err = std::string("posix_spawn failed: ") + std::strerror(rc);
    return res;
  }
  auto deadline = start + std::chrono::seconds(timeout_s);
  for (;;) {
    pid_t w = waitpid(pid, &res.status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &res.status, 0);
      res.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(-pid, SIGKILL);  // stray grandchildren, if any
  res.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  res.out = ReadFile(out_path);
  res.err = ReadFile(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return res;
}

// The loader prints this (and runs the program without the library) when
// LD_PRELOAD cannot be honoured; that must not pass silently.
void ExpectPreloadHonoured(const RunResult& r) {
  EXPECT_EQ(r.err.find("cannot be preloaded"), std::string::npos) << r.err;
}

// Runs the command with and without the preload and compares.
void RunBoth(const std::string& what, const std::vector<std::string>& argv, const fs::path& dir,
             const std::vector<std::string>& env = {}, const std::string& stdin_path = "",
             RunResult* with_out = nullptr) {
  fs::path d0 = dir / "glibc", d1 = dir / "arenalloc";
  fs::create_directories(d0);
  fs::create_directories(d1);
  RunResult base = RunProgram(argv, false, d0, env, stdin_path);
  ASSERT_TRUE(base.Ok()) << what << " failed even without arenalloc: " << base.Describe();
  RunResult pre = RunProgram(argv, true, d1, env, stdin_path);
  ExpectPreloadHonoured(pre);
  ASSERT_TRUE(pre.Ok()) << what << " under LD_PRELOAD=libarenalloc.so: " << pre.Describe();
  EXPECT_EQ(pre.out.size(), base.out.size()) << what << ": stdout length differs";
  EXPECT_TRUE(pre.out == base.out)
      << what << ": stdout differs with arenalloc.\n--- glibc (first 1000 bytes):\n"
      << base.out.substr(0, 1000) << "\n--- arenalloc (first 1000 bytes):\n"
      << pre.out.substr(0, 1000);
  std::printf("%s: %.2f s without, %.2f s with arenalloc, %zu bytes of output\n", what.c_str(),
              base.secs, pre.secs, base.out.size());
  if (with_out != nullptr) *with_out = pre;
}

#define REQUIRE_TOOL(var, name)     \
  std::string var = FindTool(name); \
  if (var.empty()) GTEST_SKIP() << name " not found in PATH; test not run"

TEST(Preload, LibraryIsMappedInPreloadedProcess) {
  REQUIRE_TOOL(bash, "bash");
  REQUIRE_TOOL(grep, "grep");
  TempDir tmp;
  std::vector<std::string> argv = {bash, "-c", "grep -c libarenalloc /proc/$$/maps; true"};
  RunResult pre = RunProgram(argv, true, tmp.path());
  ExpectPreloadHonoured(pre);
  ASSERT_TRUE(pre.Ok()) << pre.Describe();
  EXPECT_GE(std::atoi(pre.out.c_str()), 1)
      << "libarenalloc.so not mapped under LD_PRELOAD: " << pre.out;
  RunResult base = RunProgram(argv, false, tmp.path());
  ASSERT_TRUE(base.Ok()) << base.Describe();
  EXPECT_EQ(std::atoi(base.out.c_str()), 0) << base.out;
}

// In the preloaded process, malloc/free/calloc/realloc/operator new resolve
// to the library (dlsym(RTLD_DEFAULT) through ctypes).
const char kWhichMalloc[] = R"PY(
import ctypes, os
libc = ctypes.CDLL(None)
maps = []
with open('/proc/self/maps') as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 6:
            lo, hi = (int(x, 16) for x in parts[0].split('-'))
            maps.append((lo, hi, os.path.basename(parts[5])))
exe = os.path.basename(os.readlink('/proc/self/exe'))
def owner(name):
    try:
        addr = ctypes.cast(getattr(libc, name), ctypes.c_void_p).value
    except AttributeError:
        return 'unresolved'
    for lo, hi, path in maps:
        if lo <= addr < hi:
            # A non-PIE executable that takes a function's address owns its
            # canonical (PLT) address; that says nothing about interposition.
            return 'EXE' if path == exe else path
    return 'unknown'
for name in ['malloc', 'free', 'calloc', 'realloc', 'posix_memalign', 'aligned_alloc',
             'malloc_usable_size', 'memalign', 'valloc', 'reallocarray']:
    print(name, owner(name))
)PY";

TEST(Preload, MallocResolvesToArenallocInPreloadedPython) {
  REQUIRE_TOOL(python, "python3");
  TempDir tmp;
  WriteFile(tmp.path() / "which.py", kWhichMalloc);
  std::vector<std::string> argv = {python, (tmp.path() / "which.py").string()};
  RunResult pre = RunProgram(argv, true, tmp.path());
  ExpectPreloadHonoured(pre);
  ASSERT_TRUE(pre.Ok()) << pre.Describe();
  std::istringstream lines(pre.out);
  std::string name, lib;
  int n = 0, checked = 0;
  while (lines >> name >> lib) {
    ++n;
    if (lib == "EXE") continue;
    ++checked;
    EXPECT_EQ(lib.rfind("libarenalloc.so", 0), 0u) << name << " resolves to " << lib;
  }
  EXPECT_EQ(n, 10) << pre.out;
  EXPECT_GE(checked, 5) << "too few functions could be checked:\n" << pre.out;
  RunResult base = RunProgram(argv, false, tmp.path());
  ASSERT_TRUE(base.Ok()) << base.Describe();
  EXPECT_EQ(base.out.find("libarenalloc"), std::string::npos) << base.out;
}

const char kPythonWorkload[] = R"PY(
import hashlib, json, random, sys, threading

def work(seed, out):
    rnd = random.Random(seed)
    d = {}
    lst = []
    for i in range(60000):
        k = ''.join(rnd.choice('abcdefghijklmnop') for _ in range(rnd.randint(1, 10)))
        d[k] = d.get(k, 0) + i
        lst.append((k * rnd.randint(1, 8), i, [i] * (i % 7)))
        if i % 2000 == 0:
            lst = lst[-3000:]
            blob = bytearray(rnd.randint(1, 1 << 20))
            blob[0:4] = b'abcd'
            d['blob%d' % i] = len(blob)
    h = hashlib.sha256()
    for k, v in sorted(d.items()):
        h.update(('%s=%d;' % (k, v)).encode())
    big = [str(x) * 3 for x in range(40000)]
    h.update(''.join(big).encode())
    h.update(json.dumps(sorted(lst, key=lambda t: (t[0], t[1]))[:2000]).encode())
    s = set(x[0] for x in lst)
    out[seed] = (len(d), len(s), h.hexdigest())

out = {}
threads = [threading.Thread(target=work, args=(s, out)) for s in range(4)]
for t in threads: t.start()
for t in threads: t.join()
for s in sorted(out):
    print(s, *out[s])
)PY";

TEST(Preload, PythonThreadedWorkload) {
  REQUIRE_TOOL(python, "python3");
  TempDir tmp;
  WriteFile(tmp.path() / "work.py", kPythonWorkload);
  // PYTHONMALLOC=malloc: every Python allocation goes through malloc.
  RunBoth("python3 (4 threads, PYTHONMALLOC=malloc)", {python, (tmp.path() / "work.py").string()},
          tmp.path(), {"PYTHONMALLOC=malloc", "PYTHONHASHSEED=0"});
  RunBoth("python3 (4 threads, pymalloc)", {python, (tmp.path() / "work.py").string()}, tmp.path(),
          {"PYTHONHASHSEED=0"});
}

TEST(Preload, SortLargeFile) {
  REQUIRE_TOOL(sort, "sort");
  TempDir tmp;
  // 500k deterministic lines.
  std::vector<std::string> lines;
  uint64_t x = 88172645463325252ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::string data;
  for (int i = 0; i < 500000; ++i) {
    std::string line;
    int words = 1 + int(next() % 6);
    for (int w = 0; w < words; ++w) {
      if (w) line += ' ';
      int len = 1 + int(next() % 12);
      for (int c = 0; c < len; ++c) line += char('a' + next() % 26);
    }
    line += ' ' + std::to_string(next() % 1000000);
    lines.push_back(line);
    data += line + '\n';
  }
  fs::path input = tmp.path() / "input.txt";
  WriteFile(input, data);
  std::sort(lines.begin(), lines.end());
  std::string expected;
  for (auto& l : lines) expected += l + '\n';

  RunResult pre;
  RunBoth("sort (in memory, 2 threads)", {sort, "--parallel=2", "-S", "200M", input.string()},
          tmp.path(), {}, "", &pre);
  EXPECT_TRUE(pre.out == expected) << "sort output under arenalloc is not the sorted input";
  RunBoth("sort (1 MiB buffer, temp files)",
          {sort, "-S", "1M", "-T", tmp.path().string(), input.string()}, tmp.path(), {}, "", &pre);
  EXPECT_TRUE(pre.out == expected) << "sort output under arenalloc is not the sorted input";
  RunBoth("sort -u -k2,2 -k1,1r (keys)", {sort, "-u", "-k2,2", "-k1,1r", input.string()},
          tmp.path());
}

const char kCxxSource[] = R"CXX(
#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

template <int N> struct Fib { static constexpr long v = Fib<N - 1>::v + Fib<N - 2>::v; };
template <> struct Fib<1> { static constexpr long v = 1; };
template <> struct Fib<0> { static constexpr long v = 0; };

template <class... Ts> struct Overload : Ts... { using Ts::operator()...; };
template <class... Ts> Overload(Ts...) -> Overload<Ts...>;

template <class K, class V>
std::map<V, std::vector<K>> Invert(const std::unordered_map<K, V>& m) {
  std::map<V, std::vector<K>> out;
  for (const auto& [k, v] : m) out[v].push_back(k);
  for (auto& [v, ks] : out) std::sort(ks.begin(), ks.end());
  return out;
}

int main() {
  std::ostringstream text;
  for (int i = 0; i < 3000; ++i)
    text << "user" << i % 97 << "@host" << i % 13 << ".com some words " << i * 7 << ";\n";
  std::regex re(R"((\w+)@(\w+)\.com)");
  std::unordered_map<std::string, int> per_user;
  std::string s = text.str();
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    per_user[(*it)[1].str()] += int((*it)[2].str().size());
  auto inv = Invert(per_user);
  for (const auto& [v, ks] : inv) std::cout << v << ":" << ks.size() << ":" << ks.front() << "\n";
  std::vector<std::variant<int, std::string, double>> vs;
  for (int i = 0; i < 1000; ++i) {
    if (i % 3 == 0) vs.emplace_back(i);
    else if (i % 3 == 1) vs.emplace_back(std::to_string(i) + "x");
    else vs.emplace_back(i / 4.0);
  }
  double total = 0;
  for (auto& v : vs)
    std::visit(Overload{[&](int x) { total += x; }, [&](const std::string& x) { total += x.size(); },
                        [&](double x) { total += x; }},
               v);
  std::set<std::tuple<int, std::string>> st;
  for (int i = 0; i < 2000; ++i) st.emplace(i % 50, std::string(size_t(i % 17), 'z'));
  std::cout << Fib<40>::v << " " << total << " " << st.size() << " "
            << std::regex_replace(std::string("a1b22c333"), std::regex("[0-9]+"), "#") << "\n";
  return 0;
}
)CXX";

TEST(Preload, GxxCompilesAndProgramRuns) {
  REQUIRE_TOOL(gxx, "g++");
  TempDir tmp;
  fs::path src = tmp.path() / "prog.cpp";
  WriteFile(src, kCxxSource);
  fs::path d0 = tmp.path() / "glibc", d1 = tmp.path() / "arenalloc";
  fs::create_directories(d0);
  fs::create_directories(d1);
  std::vector<std::string> compile = {gxx,  "-std=c++20", "-O2", "-frandom-seed=arenalloc",
                                      "-c", src.string(), "-o",  "prog.o"};
  RunResult c0 = RunProgram(compile, false, d0);
  ASSERT_TRUE(c0.Ok()) << "g++ without arenalloc: " << c0.Describe();
  RunResult c1 = RunProgram(compile, true, d1);
  ExpectPreloadHonoured(c1);
  ASSERT_TRUE(c1.Ok()) << "g++ under LD_PRELOAD=libarenalloc.so: " << c1.Describe();
  std::printf("g++ -c: %.2f s without, %.2f s with arenalloc\n", c0.secs, c1.secs);
  EXPECT_TRUE(ReadFile(d0 / "prog.o") == ReadFile(d1 / "prog.o"))
      << "g++ produced a different object file under arenalloc";
  std::vector<std::string> link = {gxx, "prog.o", "-o", "prog"};
  RunResult l0 = RunProgram(link, false, d0);
  ASSERT_TRUE(l0.Ok()) << l0.Describe();
  RunResult l1 = RunProgram(link, true, d1);
  ExpectPreloadHonoured(l1);
  ASSERT_TRUE(l1.Ok()) << "link under arenalloc: " << l1.Describe();
  // The program built under arenalloc and the one built without: same output,
  // with and without the preload.
  RunResult p00 = RunProgram({(d0 / "prog").string()}, false, d0);
  ASSERT_TRUE(p00.Ok()) << p00.Describe();
  for (const fs::path& d : {d0, d1}) {
    for (bool pre : {false, true}) {
      RunResult p = RunProgram({(d / "prog").string()}, pre, d);
      ASSERT_TRUE(p.Ok()) << d << " preload=" << pre << ": " << p.Describe();
      EXPECT_TRUE(p.out == p00.out) << d << " preload=" << pre << " output differs:\n" << p.out;
    }
  }
  EXPECT_GT(p00.out.size(), 50u);
}

const char kBashScript[] = R"SH(
set -u
declare -a arr
declare -A assoc
for ((i = 0; i < 4000; i++)); do
  arr+=("item_$i")
  assoc["k$((i % 97))"]+="${i:0:2}"
done
echo "count ${#arr[@]} ${arr[1234]} ${#assoc[@]}"
s=""
for ((i = 0; i < 3000; i++)); do s+="$((i * i % 1000)),"; done
echo "len ${#s} ${s:100:20}"
up=${s//,/;}; echo "${up:0:30}"
keys=$(for k in "${!assoc[@]}"; do echo "$k ${#assoc[$k]}"; done | sort)
echo "$keys" | head -5
total=0
while read -r k n; do total=$((total + n)); done <<< "$keys"
echo "total $total"
sub=$( (for i in {1..200}; do echo "$i"; done) | tr '\n' '+' )
echo "sum $(( ${sub%+} ))"
f() { local x="$1"; [[ $x -le 1 ]] && { echo 1; return; }; echo $(( x * $(f $((x - 1))) )); }
echo "fact $(f 12)"
words=( $(printf 'w%d ' {1..500}) )
echo "words ${#words[@]} ${words[-1]}"
out=""
for i in {1..50}; do out+=$(echo "$i" | sed 's/0/zero/'); done
echo "${out:0:60}"
(
  inner=( "${arr[@]:10:5}" )
  echo "subshell ${inner[*]}"
)
mapfile -t lines < <(seq 1 1000 | awk '{print $1 * 3}')
echo "mapfile ${#lines[@]} ${lines[999]}"
printf '%s\n' "${arr[@]}" | sort -r | head -3
)SH";

TEST(Preload, BashScript) {
  REQUIRE_TOOL(bash, "bash");
  TempDir tmp;
  WriteFile(tmp.path() / "script.sh", kBashScript);
  RunBoth("bash script", {bash, (tmp.path() / "script.sh").string()}, tmp.path());
}

TEST(Preload, PerlWorkload) {
  REQUIRE_TOOL(perl, "perl");
  TempDir tmp;
  RunBoth("perl hashes/strings",
          {perl, "-e",
           "my %h; for my $i (1..300000) { $h{'k'.($i*7919 % 100003)} .= 'x' x ($i % 13); } "
           "my $t = 0; $t += length($h{$_}) for keys %h; my @s = sort keys %h; "
           "my @big = map { [$_, 'y' x ($_ % 100)] } 1..100000; "
           "my $j = join(',', map { $_->[0] } grep { length($_->[1]) > 50 } @big); "
           "print scalar(@s), \" $t $s[0] $s[-1] \", length($j), \"\\n\";"},
          tmp.path());
}

TEST(Preload, AwkWorkload) {
  REQUIRE_TOOL(awk, "awk");
  TempDir tmp;
  std::string data;
  uint64_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    char line[96];
    std::snprintf(line, sizeof line, "w%llu v%llu %d\n",
                  static_cast<unsigned long long>((x >> 33) % 5000),
                  static_cast<unsigned long long>((x >> 20) % 300), i);
    data += line;
  }
  WriteFile(tmp.path() / "data.txt", data);
  RunBoth(
      "awk associative arrays",
      {awk,
       "{ c[$1]++; s[$2] = s[$2] $3 \",\" } END { n = 0; t = 0; for (k in c) { n++; t += c[k] } "
       "m = 0; for (k in s) m += length(s[k]); print n, t, m }",
       (tmp.path() / "data.txt").string()},
      tmp.path());
}

const char kGitScript[] = R"SH(
set -e
export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE="2020-01-01T00:00:00 +0000" GIT_COMMITTER_DATE="2020-01-01T00:00:00 +0000"
git init -q -b main repo
cd repo
for i in $(seq 1 30); do
  for j in $(seq 1 5); do seq $i $((i * j * 20)) > "file_$j.txt"; done
  mkdir -p "dir$((i % 4))" && echo "entry $i" >> "dir$((i % 4))/log.txt"
  git add -A
  git commit -q -m "commit $i"
  if [ $((i % 10)) = 0 ]; then git branch "b$i"; fi
done
git log --format='%H %s' | head -5
git rev-list --count HEAD
git diff --stat HEAD~10 HEAD | tail -1
git gc -q
git fsck --no-progress 2>&1
git count-objects -v | grep -E '^(count|in-pack|packs)'
git log --format='%H' -n 1 b20
)SH";

TEST(Preload, GitCommits) {
  REQUIRE_TOOL(git, "git");
  REQUIRE_TOOL(bash, "bash");
  TempDir tmp;
  WriteFile(tmp.path() / "git.sh", kGitScript);
  RunBoth("git init/commit/gc/fsck", {bash, (tmp.path() / "git.sh").string()}, tmp.path());
}

}  // namespace

// The page map (src/core/page_map.h) is a 16 GiB read-only reservation (split where segments
// made parts writable); under a tight address
// space limit it cannot be made, and every free must then find its page through the segment map.
// Runs a threaded Python workload (objects made in one thread, dropped in another) both ways and
// checks that the map was really there, or really absent.
constexpr const char* kPageMapWorkload = R"PY(
import hashlib, queue, threading
q = queue.Queue(maxsize=64)
def make(seed):
    for i in range(3000):
        q.put({('k%d' % j): [seed, i, j] * 8 for j in range(20)})
    q.put(None)
def drop(out):
    h, done = hashlib.sha256(), 0
    while done < 2:
        d = q.get()
        if d is None:
            done += 1
            continue
        h.update(repr(sorted(d.items())[:3]).encode())
    out.append(h.hexdigest())
out = []
ts = [threading.Thread(target=make, args=(s,)) for s in range(2)] + [threading.Thread(target=drop, args=(out,))]
for t in ts: t.start()
for t in ts: t.join()
print(len(out), len(out[0]))
big = 0
for line in open('/proc/self/maps'):
    lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
    if hi - lo >= 8 << 30 and line.split()[1].startswith('r--'):
        big += 1
print('page map' if big else 'no page map')
)PY";

TEST(Preload, FreesWorkWithAndWithoutThePageMap) {
  REQUIRE_TOOL(python, "python3");
  REQUIRE_TOOL(bash, "bash");
  TempDir tmp;
  WriteFile(tmp.path() / "work.py", kPageMapWorkload);
  const std::string script = (tmp.path() / "work.py").string();
  const std::vector<std::string> env = {"PYTHONMALLOC=malloc"};
  RunResult plain = RunProgram({python, script}, true, tmp.path(), env);
  ASSERT_TRUE(plain.Ok()) << plain.Describe();
  EXPECT_EQ(plain.out, "1 64\npage map\n");
  // 4 GiB of address space: enough for Python and arenalloc's segments, not for the map.
  RunResult limited =
      RunProgram({bash, "-c", "ulimit -v 4194304 && exec \"$0\" \"$1\"", python, script}, true,
                 tmp.path(), env);
  ASSERT_TRUE(limited.Ok()) << limited.Describe();
  EXPECT_EQ(limited.out, "1 64\nno page map\n");
}
