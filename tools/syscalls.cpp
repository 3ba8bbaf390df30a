#include "syscalls.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "process.hpp"
#include "util.hpp"

namespace arenalloc_cli {

const std::vector<std::string>& counted_syscalls() {
  static const std::vector<std::string> names = {"mmap", "munmap", "brk", "madvise", "mremap"};
  return names;
}

std::string strace_path() {
  return find_in_path("strace");
}

SyscallCounts parse_strace_summary(const std::string& text) {
  SyscallCounts c;
  for (const std::string& name : counted_syscalls()) c.calls[name] = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    // "% time  seconds  usecs/call  calls  [errors]  syscall"
    if (tok.size() < 5 || tok[0] == "%" || tok[0][0] == '-' || tok.back() == "total") continue;
    double calls;
    if (!parse_number(tok[3], &calls)) continue;
    if (c.calls.count(tok.back())) c.calls[tok.back()] = static_cast<long>(calls);
  }
  return c;
}

bool count_syscalls(const std::string& strace, const std::vector<std::string>& argv,
                    const std::string& preload, double timeout_s, SyscallCounts* out,
                    std::string* err) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/arenalloc-strace-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    *err = "cannot create a temporary file for strace";
    return false;
  }
  close(fd);
  std::string trace = "trace=";
  for (const std::string& s : counted_syscalls()) trace += (trace.size() > 6 ? "," : "") + s;

  // strace itself runs without the allocator; the traced program gets it through -E.
  std::vector<std::string> env = child_environment("");
  std::string old_preload;
  for (auto it = env.begin(); it != env.end(); ++it)
    if (it->rfind("LD_PRELOAD=", 0) == 0) {
      old_preload = it->substr(11);
      env.erase(it);
      break;
    }
  std::string effective = preload;
  if (!old_preload.empty()) effective += (effective.empty() ? "" : ":") + old_preload;

  ChildSpec spec;
  spec.argv = {strace, "-f", "-c", "-e", trace, "-o", path};
  if (!effective.empty()) spec.argv.insert(spec.argv.end(), {"-E", "LD_PRELOAD=" + effective});
  spec.argv.push_back("--");
  spec.argv.insert(spec.argv.end(), argv.begin(), argv.end());
  spec.env = env;
  spec.timeout_s = timeout_s > 0 ? timeout_s * 3 : 0;  // tracing slows the program down
  const ChildResult r = run_child(spec);

  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path.c_str());
  if (r.kind == ChildResult::TimedOut) {
    *err = "timed out under strace";
    return false;
  }
  if (r.kind == ChildResult::ExecFailed) {
    *err = "cannot run strace";
    return false;
  }
  if (text.str().find("syscall") == std::string::npos) {
    *err = "strace wrote no summary";
    return false;
  }
  *out = parse_strace_summary(text.str());
  if (r.kind == ChildResult::Signaled)
    *err = "program crashed under strace (" + signal_name(r.signal) + ")";
  else if (r.exit_code != 0)
    *err = "program exited with status " + std::to_string(r.exit_code) + " under strace";
  return true;
}

}  // namespace arenalloc_cli
