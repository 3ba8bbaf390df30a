// Running a child program under a controlled environment and reading what it said.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "child.h"

namespace diagtest {

using testcommon::Lines;
using testcommon::ReadFile;

struct Result {
  int exit_code = -1;  // when the child exited
  int signal = 0;      // when a signal killed it
  bool timed_out = false;
  std::string out, err;
  std::multimap<std::string, std::string> kv;  // "key=value" lines of stdout
  int backtrace_frames = 0;                    // backtrace lines that followed reports

  bool Exited(int code) const { return signal == 0 && !timed_out && exit_code == code; }
  bool Killed(int sig) const { return signal == sig; }
  bool Has(const std::string& k) const { return kv.count(k) != 0; }
  // The first value of k.
  std::string Str(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? "<no " + k + ">" : it->second;
  }
  uint64_t Num(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? ~uint64_t{0} : std::strtoull(it->second.c_str(), nullptr, 0);
  }
  std::string Describe() const {
    std::string status = timed_out     ? "timed out"
                         : signal != 0 ? "killed by signal " + std::to_string(signal) + " (" +
                                             strsignal(signal) + ")"
                                       : "exit status " + std::to_string(exit_code);
    return status + "\n--- stdout ---\n" + out.substr(0, 3000) + "\n--- stderr ---\n" +
           err.substr(0, 3000);
  }
};

using testcommon::Env;

// Variables that change the allocator's behaviour: never inherited by a child.
inline const std::vector<std::string> kAllocatorVariables = {
    "MALLOC_", "ARENALLOC_", "GLIBC_TUNABLES=", "LD_PRELOAD=", "VALGRIND_OPTS="};

// Runs argv with the test's environment minus the allocator variables, plus env. stdout and
// stderr go to files (so nothing is lost when the child aborts); no core dumps. Killed after
// timeout_s.
inline Result Run(const std::vector<std::string>& argv, const Env& env, int timeout_s = 60) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // inherited: an aborting child writes no core file
  testcommon::ChildRun run = testcommon::RunCaptured(argv, kAllocatorVariables, env, timeout_s);
  Result r;
  if (!run.started) {
    r.err = run.error;
    return r;
  }
  r.timed_out = run.timed_out;
  if (!r.timed_out) {
    if (WIFEXITED(run.wait_status)) r.exit_code = WEXITSTATUS(run.wait_status);
    if (WIFSIGNALED(run.wait_status)) r.signal = WTERMSIG(run.wait_status);
  }
  r.out = run.out;
  // A report is one line, followed by a backtrace ("    #N 0x... (object+offset)") where the
  // unwinder is loaded: keep the report lines in `err`, count the frames apart.
  size_t pos = 0;
  while (pos < run.err.size()) {
    size_t end = run.err.find('\n', pos);
    end = end == std::string::npos ? run.err.size() : end + 1;
    std::string line = run.err.substr(pos, end - pos);
    if (line.rfind("    #", 0) == 0)
      ++r.backtrace_frames;
    else
      r.err += line;
    pos = end;
  }
  for (const std::string& line : Lines(r.out)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) r.kv.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return r;
}

// The program on the PATH, or "" if there is none.
inline std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace diagtest
