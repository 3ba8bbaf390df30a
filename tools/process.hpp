// Running programs: exec in place (`arenalloc run`), or fork/exec one measured child in
// its own process group with a timeout, its output captured, and wait4() resource usage.
#pragma once

#include <string>
#include <vector>

namespace arenalloc_cli {

// The current environment with LD_PRELOAD set to `preload` prepended to any existing
// LD_PRELOAD (unchanged when preload is empty), plus the `extra` NAME=VALUE entries.
std::vector<std::string> child_environment(const std::string& preload,
                                           const std::vector<std::string>& extra = {});

// execve()s argv (searched in PATH) with env; returns only on failure, with errno set.
void exec_program(const std::vector<std::string>& argv, const std::vector<std::string>& env);

struct ChildSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  double timeout_s = 0;             // <= 0: none
  bool capture = true;              // stdout+stderr to a temporary file (else inherited)
  std::size_t keep_output = 65536;  // bytes of captured output kept (the tail)
};

struct ChildResult {
  enum Kind { Exited, Signaled, TimedOut, ExecFailed } kind = Exited;
  int exit_code = 0;
  int signal = 0;
  int exec_errno = 0;
  double wall_s = 0, user_s = 0, sys_s = 0;
  long maxrss_kib = 0;
  std::string output;  // tail of stdout+stderr when captured
};

// Runs one child to completion (or kills its process group at the timeout).
ChildResult run_child(const ChildSpec& spec);

// Installs SIGINT/SIGTERM/SIGHUP handlers that kill the running child's process group
// before the tool dies (so an interrupted comparison leaves nothing behind).
void install_interrupt_handlers();

}  // namespace arenalloc_cli
