#include "options.hpp"

#include <cmath>
#include <cstdlib>

#include "util.hpp"

namespace arenalloc_cli {

namespace {

const char* kOverview =
    "usage: arenalloc [--lib PATH] COMMAND [OPTIONS] [--] [PROGRAM ARGS...]\n"
    "\n"
    "Run programs with the arenalloc allocator, and compare it with other allocators.\n"
    "\n"
    "commands:\n"
    "  run [--stats] -- CMD ARGS...   run CMD with libarenalloc.so preloaded\n"
    "  stats -- CMD ARGS...           same as run --stats (statistics printed at exit)\n"
    "  compare [OPTIONS] -- CMD ARGS  time CMD under each allocator (wall, user, sys, peak RSS)\n"
    "  compare --suite [OPTIONS]      the same over the benchmark suite (build/bench)\n"
    "  help [COMMAND]                 this text, or the options of COMMAND\n"
    "\n"
    "global options:\n"
    "  --lib PATH     libarenalloc.so to use (default: next to this executable, or ../lib;\n"
    "                 the environment variable ARENALLOC_LIB does the same)\n"
    "  -h, --help     show help;  --version  show the version\n";

const char* kRun =
    "usage: arenalloc run [--stats] [--lib PATH] [--] CMD ARGS...\n"
    "       arenalloc stats [--lib PATH] [--] CMD ARGS...\n"
    "\n"
    "Executes CMD with libarenalloc.so prepended to LD_PRELOAD (an existing LD_PRELOAD is\n"
    "kept after it). The exit status is CMD's own; 127 if CMD cannot be found, 126 if it\n"
    "cannot be executed, 2 for a usage error or an unusable library.\n"
    "\n"
    "  --stats       set ARENALLOC_STATS=1: the allocator prints its statistics at exit\n"
    "  --lib PATH    library to preload instead of the one next to this executable\n";

const char* kCompare =
    "usage: arenalloc compare [OPTIONS] [--] CMD ARGS...\n"
    "       arenalloc compare --suite [OPTIONS]\n"
    "\n"
    "Runs CMD (or each benchmark of the suite) under each allocator, round-robin over the\n"
    "allocators, and reports per allocator the median and min..max of wall time (steady\n"
    "clock), user and sys CPU time and peak RSS (wait4 rusage), with ratios to the best.\n"
    "Program output is captured (see --show-output). Progress goes to stderr, the table to\n"
    "stdout.\n"
    "\n"
    "options:\n"
    "  --allocators LIST  comma-separated: arenalloc, glibc, jemalloc, tcmalloc, mimalloc,\n"
    "                     and NAME=/path/lib.so for any other (default: all available)\n"
    "  --runs N           measured runs per allocator (default 5; 3 with --suite)\n"
    "  --warmup N         unmeasured runs first, per allocator (default 1; 0 with --suite)\n"
    "  --timeout SEC      kill a run (its whole process group) after SEC seconds\n"
    "                     (default 120; 0 = never)\n"
    "  --syscalls         one extra run per allocator under strace -f -c counting mmap,\n"
    "                     munmap, brk, madvise, mremap\n"
    "  --json FILE        write all raw runs and summaries as JSON\n"
    "  --html FILE        write a self-contained HTML report with charts\n"
    "  --show-output      copy each run's output to stderr\n"
    "  -q, --quiet        no progress on stderr\n"
    "  --lib PATH         libarenalloc.so to use for 'arenalloc'\n"
    "suite options:\n"
    "  --suite            run the benchmark suite instead of CMD\n"
    "  --bench-dir DIR    where the benchmark programs are (default: bench/ next to this\n"
    "                     executable)\n"
    "  --only LIST        only these benchmarks (comma-separated names)\n"
    "  --quick            tiny arguments for every benchmark (a smoke test, not a measurement)\n"
    "\n"
    "A run that exits non-zero, is killed by a signal, or times out is reported as a failure\n"
    "for that allocator and the others are still measured; suite benchmarks must also print\n"
    "their 'verified' marker. Exit status: 0 if every run succeeded, 1 if any failed, 2 for\n"
    "a usage error.\n";

struct Args {
  std::vector<std::string> v;
  std::size_t i = 0;
  bool more() const { return i < v.size(); }
  const std::string& peek() const { return v[i]; }
};

// Splits "--opt=value"; returns true and the value when `a` is `name` or `name=...`.
bool take_value(Args& args, const std::string& name, std::string* value) {
  const std::string& a = args.peek();
  if (a == name) {
    if (args.i + 1 >= args.v.size()) throw CliError("option " + name + " needs a value");
    *value = args.v[args.i + 1];
    args.i += 2;
    return true;
  }
  if (a.rfind(name + "=", 0) == 0) {
    *value = a.substr(name.size() + 1);
    ++args.i;
    return true;
  }
  return false;
}

int to_int(const std::string& opt, const std::string& s, int min) {
  double x;
  if (!parse_number(s, &x) || x != std::floor(x) || x < min || x > 1e6)
    throw CliError("invalid value '" + s + "' for " + opt +
                   " (expected an integer >= " + std::to_string(min) + ")");
  return static_cast<int>(x);
}

void parse_run(Args& args, RunOptions& o, const std::string& cmd) {
  while (args.more()) {
    const std::string a = args.peek();
    std::string val;
    if (a == "--") {
      ++args.i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (a == "--stats")
      o.stats = true, ++args.i;
    else if (take_value(args, "--lib", &val))
      o.lib = val;
    else
      throw CliError("unknown option '" + a + "' for '" + cmd + "' (see: arenalloc help run)");
  }
  o.argv.assign(args.v.begin() + static_cast<long>(args.i), args.v.end());
  if (o.argv.empty())
    throw CliError("missing program to run (usage: arenalloc " + cmd + " -- CMD ARGS...)");
}

void parse_compare(Args& args, CompareOptions& o) {
  while (args.more()) {
    const std::string a = args.peek();
    std::string v;
    if (a == "--") {
      ++args.i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (take_value(args, "--allocators", &v))
      o.allocators = v;
    else if (take_value(args, "--runs", &v))
      o.runs = to_int("--runs", v, 1);
    else if (take_value(args, "--warmup", &v))
      o.warmup = to_int("--warmup", v, 0);
    else if (take_value(args, "--timeout", &v)) {
      double t;
      if (!parse_number(v, &t) || t < 0)
        throw CliError("invalid value '" + v + "' for --timeout (expected seconds >= 0)");
      o.timeout_s = t;
    } else if (take_value(args, "--json", &v))
      o.json = v;
    else if (take_value(args, "--html", &v))
      o.html = v;
    else if (take_value(args, "--bench-dir", &v))
      o.bench_dir = v;
    else if (take_value(args, "--only", &v))
      o.only = v;
    else if (take_value(args, "--lib", &v))
      o.lib = v;
    else if (a == "--syscalls")
      o.syscalls = true, ++args.i;
    else if (a == "--suite")
      o.suite = true, ++args.i;
    else if (a == "--quick")
      o.quick = true, ++args.i;
    else if (a == "--show-output")
      o.show_output = true, ++args.i;
    else if (a == "-q" || a == "--quiet")
      o.quiet = true, ++args.i;
    else
      throw CliError("unknown option '" + a + "' for 'compare' (see: arenalloc help compare)");
  }
  o.argv.assign(args.v.begin() + static_cast<long>(args.i), args.v.end());
  if (o.suite && !o.argv.empty())
    throw CliError("--suite takes no program (got '" + o.argv[0] + "')");
  if (!o.suite && o.argv.empty())
    throw CliError(
        "missing program to compare (usage: arenalloc compare [OPTIONS] -- CMD "
        "ARGS..., or --suite)");
  if (!o.suite && (o.quick || !o.only.empty() || !o.bench_dir.empty()))
    throw CliError("--quick, --only and --bench-dir need --suite");
  if (o.runs < 0) o.runs = o.suite ? 3 : 5;
  if (o.warmup < 0) o.warmup = o.suite ? 0 : 1;
}

// -h/--help among the subcommand's own options (not in the program's arguments).
bool wants_help(const Args& args) {
  static const char* with_value[] = {"--allocators", "--runs", "--warmup",
                                     "--timeout",    "--json", "--html",
                                     "--bench-dir",  "--only", "--lib"};
  for (std::size_t j = args.i; j < args.v.size(); ++j) {
    const std::string& a = args.v[j];
    if (a == "--" || a.empty() || a[0] != '-') return false;
    if (a == "-h" || a == "--help") return true;
    for (const char* w : with_value)
      if (a == w) ++j;  // skip its value
  }
  return false;
}

}  // namespace

std::string usage_text(const std::string& topic) {
  if (topic.empty()) return kOverview;
  if (topic == "run" || topic == "stats") return kRun;
  if (topic == "compare") return kCompare;
  throw CliError("no help for unknown command '" + topic + "' (commands: run, stats, compare)");
}

Command parse_command_line(int argc, char** argv) {
  Args args;
  for (int k = 1; k < argc; ++k) args.v.emplace_back(argv[k]);
  Command c;
  std::string lib;
  while (args.more()) {  // global options
    std::string v;
    const std::string a = args.peek();
    if (a == "-h" || a == "--help") return c;
    if (a == "--version") {
      c.kind = Command::Version;
      return c;
    }
    if (take_value(args, "--lib", &v))
      lib = v;
    else if (!a.empty() && a[0] == '-')
      throw CliError("unknown option '" + a + "' (see: arenalloc --help)");
    else
      break;
  }
  if (!args.more()) return c;  // no command: overview
  const std::string cmd = args.peek();
  ++args.i;
  if (cmd == "help") {
    c.help_topic = args.more() ? args.peek() : "";
    usage_text(c.help_topic);  // validates the topic
    return c;
  }
  if (cmd != "run" && cmd != "stats" && cmd != "compare")
    throw CliError("unknown command '" + cmd + "' (commands: run, stats, compare, help)");
  if (wants_help(args)) {
    c.help_topic = cmd;
    return c;
  }
  if (cmd == "compare") {
    c.kind = Command::Compare;
    c.compare.lib = lib;
    parse_compare(args, c.compare);
  } else {
    c.kind = Command::Run;
    c.run.lib = lib;
    c.run.stats = cmd == "stats";
    parse_run(args, c.run, cmd);
  }
  return c;
}

}  // namespace arenalloc_cli
