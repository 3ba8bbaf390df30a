#include "compare.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "allocators.hpp"
#include "process.hpp"
#include "report.hpp"
#include "suite.hpp"
#include "syscalls.hpp"
#include "util.hpp"

namespace arenalloc_cli {

namespace {

// key=value tokens of the benchmark summary lines ("name: k=v ... verified").
void parse_metrics(const std::string& out, Run& run, bool* marker) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 9 || line.compare(line.size() - 9, 9, " verified") != 0) continue;
    *marker = true;
    std::istringstream ls(line);
    for (std::string tok; ls >> tok;) {
      const std::size_t eq = tok.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      run.metrics[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
  }
}

std::string last_lines(const std::string& out, int n) {
  std::size_t end = out.size();
  while (end > 0 && out[end - 1] == '\n') --end;
  std::size_t pos = end;
  for (int k = 0; k < n && pos > 0; ++k) {
    pos = out.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  std::string s = out.substr(pos, end - pos);
  if (!s.empty() && s[0] == '\n') s.erase(0, 1);
  return s;
}

Run measure(const std::vector<std::string>& argv, const Allocator& a, const CompareOptions& o,
            bool need_marker) {
  ChildSpec spec;
  spec.argv = argv;
  spec.env = child_environment(a.lib);
  spec.timeout_s = o.timeout_s;
  const ChildResult c = run_child(spec);
  Run r;
  r.wall_s = c.wall_s;
  r.user_s = c.user_s;
  r.sys_s = c.sys_s;
  r.maxrss_kib = c.maxrss_kib;
  r.exit_code = c.exit_code;
  r.signal = c.signal;
  bool marker = false;
  parse_metrics(c.output, r, &marker);
  switch (c.kind) {
    case ChildResult::ExecFailed:
      r.status = RunStatus::ExecFailed;
      r.detail = "cannot execute " + argv[0] + ": " + std::strerror(c.exec_errno);
      break;
    case ChildResult::TimedOut:
      r.status = RunStatus::Timeout;
      r.detail = fmt("killed after %g s", o.timeout_s);
      break;
    case ChildResult::Signaled:
      r.status = RunStatus::Crashed;
      r.detail = "killed by " + signal_name(c.signal);
      break;
    case ChildResult::Exited:
      if (c.exit_code != 0) {
        r.status = RunStatus::ExitNonZero;
        r.detail = "exit status " + std::to_string(c.exit_code);
      } else if (need_marker && !marker) {
        r.status = RunStatus::Unverified;
        r.detail = "no 'verified' marker in the output";
      }
      break;
  }
  if (c.output.find("cannot be preloaded") != std::string::npos && !a.lib.empty()) {
    r.status = RunStatus::PreloadFailed;
    r.detail = "the dynamic loader could not preload " + a.lib;
  }
  if (r.status != RunStatus::Ok && !c.output.empty())
    r.detail += "; output: " + last_lines(c.output, 4);
  if (o.show_output && !c.output.empty()) {
    std::fprintf(stderr, "---- output (%s) ----\n%s", a.name.c_str(), c.output.c_str());
    if (c.output.back() != '\n') std::fputc('\n', stderr);
  }
  return r;
}

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(isatty(2) != 0) {}
  // A run starting: shown on a terminal only (overwritten by the next line).
  void start(const std::string& line) {
    if (quiet_ || !tty_) return;
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }
  // A run's result: overwrites the line on a terminal, one line per run otherwise.
  void result(const std::string& line) {
    if (quiet_) return;
    if (tty_)
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    else
      std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
  void done() {
    if (!quiet_ && tty_) std::fprintf(stderr, "\r\033[K");
  }
  void note(const std::string& line) {
    done();
    std::fprintf(stderr, "%s\n", line.c_str());
  }

 private:
  bool quiet_, tty_;
};

void check_output_path(const std::string& path, const char* opt) {
  if (path.empty()) return;
  const std::size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (access(dir.c_str(), W_OK) != 0)
    throw CliError(std::string("cannot write ") + opt + " file '" + path + "': directory '" + dir +
                   "' is not writable or does not exist");
}

}  // namespace

int run_compare(const CompareOptions& o) {
  Report rep;
  const AllocatorSet set = resolve_allocators(o.allocators, o.lib);
  rep.allocators = set.found;
  rep.missing = set.missing;
  rep.mode = o.suite ? "suite" : "command";
  rep.runs = o.runs;
  rep.warmup = o.warmup;
  rep.timeout_s = o.timeout_s;
  rep.syscalls = o.syscalls;
  rep.started_at = now_iso8601();
  rep.host = host_description();
  check_output_path(o.json, "--json");
  check_output_path(o.html, "--html");

  Progress progress(o.quiet);
  for (const MissingAllocator& m : set.missing)
    progress.note("arenalloc: note: " + m.name + " not found (" + m.looked_for + "): " + m.hint);

  if (o.suite) {
    const std::string dir = find_bench_dir(o.bench_dir);
    for (const SuiteEntry& e : select_entries(o.only)) {
      const std::string prog = dir + "/" + e.program;
      if (access(prog.c_str(), X_OK) != 0) {
        progress.note("arenalloc: note: benchmark " + prog + " not found, skipped");
        continue;
      }
      BenchResult b;
      b.name = e.name;
      b.argv = {prog};
      const auto& args = o.quick ? e.quick_args : e.args;
      b.argv.insert(b.argv.end(), args.begin(), args.end());
      rep.benches.push_back(b);
    }
    if (rep.benches.empty()) throw CliError("no benchmark programs found in " + dir);
  } else {
    if (find_in_path(o.argv[0]).empty())
      throw CliError("program '" + o.argv[0] + "' not found or not executable");
    BenchResult b;
    b.name = basename_of(o.argv[0]);
    b.argv = o.argv;
    rep.benches.push_back(b);
  }

  std::string strace;
  if (o.syscalls) {
    strace = strace_path();
    if (strace.empty()) {
      rep.syscalls_note = "strace not found: syscall counts skipped (apt-get install strace)";
      progress.note("arenalloc: note: " + rep.syscalls_note);
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  const int rounds = o.warmup + o.runs;
  const std::size_t nalloc = rep.allocators.size();
  for (std::size_t bi = 0; bi < rep.benches.size(); ++bi) {
    BenchResult& b = rep.benches[bi];
    b.cells.assign(nalloc, Cell{});
    std::vector<bool> timed_out(nalloc, false);  // skip an allocator's runs after a timeout
    const std::string where = rep.benches.size() > 1
                                  ? fmt("[%zu/%zu %s]", bi + 1, rep.benches.size(), b.name.c_str())
                                  : "[" + b.name + "]";
    for (int round = 0; round < rounds; ++round) {
      const bool warm = round < o.warmup;
      for (std::size_t ai = 0; ai < nalloc; ++ai) {  // interleaved: round-robin
        const Allocator& a = rep.allocators[ai];
        if (timed_out[ai]) continue;
        const std::string what = warm ? fmt("warmup %d/%d", round + 1, o.warmup)
                                      : fmt("run %d/%d", round - o.warmup + 1, o.runs);
        progress.start(where + " " + a.name + " " + what + " ...");
        const double start =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        Run r = measure(b.argv, a, o, o.suite);
        r.start_s = start;
        r.index = round;
        r.warmup = warm;
        std::string res =
            r.status == RunStatus::Ok
                ? format_seconds(r.wall_s) + ", " + format_kib(static_cast<double>(r.maxrss_kib))
                : std::string(status_name(r.status)) + ": " + r.detail;
        if (r.status == RunStatus::Timeout && round + 1 < rounds) {
          timed_out[ai] = true;
          r.detail += " (its remaining runs skipped)";
        }
        if (r.status != RunStatus::Ok)
          progress.note(where + " " + a.name + " " + what + ": " + res);
        else
          progress.result(where + " " + a.name + " " + what + ": " + res);
        b.cells[ai].runs.push_back(r);
      }
    }
    if (!strace.empty())
      for (std::size_t ai = 0; ai < nalloc; ++ai) {
        if (timed_out[ai]) {
          b.cells[ai].syscalls_error = "skipped (timed out)";
          continue;
        }
        progress.start(where + " " + rep.allocators[ai].name + " under strace ...");
        SyscallCounts counts;
        std::string err;
        if (count_syscalls(strace, b.argv, rep.allocators[ai].lib, o.timeout_s, &counts, &err))
          b.cells[ai].syscalls = counts;
        b.cells[ai].syscalls_error = err;
      }
    for (Cell& c : b.cells) summarize(c);
  }
  progress.done();
  rep.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string text = render_text(rep);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  std::string err;
  if (!o.json.empty() && !write_file(o.json, render_json(rep), &err)) throw CliError(err, 1);
  if (!o.html.empty() && !write_file(o.html, render_html(rep), &err)) throw CliError(err, 1);
  if (!o.json.empty() && !o.quiet) std::fprintf(stderr, "arenalloc: wrote %s\n", o.json.c_str());
  if (!o.html.empty() && !o.quiet) std::fprintf(stderr, "arenalloc: wrote %s\n", o.html.c_str());

  for (const BenchResult& b : rep.benches)
    for (const Cell& c : b.cells)
      if (!c.good()) return 1;
  return 0;
}

}  // namespace arenalloc_cli
