// Shared by the test folders: run a child program under a controlled environment and capture
// what it printed. stdout and stderr go through files, so nothing is lost when the child aborts;
// the child is killed (by its pid) when it runs past its time limit.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace testcommon {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

using Env = std::vector<std::pair<std::string, std::string>>;

struct ChildRun {
  bool started = false;    // false: `error` says why
  bool timed_out = false;  // killed at the time limit
  int wait_status = 0;     // from waitpid, when it ended by itself
  std::string out, err, error;
};

// Runs argv (searched on PATH without a '/') with this process's environment minus the entries
// that start with one of `drop_prefixes`, plus `env`; stdin is /dev/null.
inline ChildRun RunCaptured(const std::vector<std::string>& argv,
                            const std::vector<std::string>& drop_prefixes, const Env& env,
                            int timeout_s) {
  ChildRun r;
  char dir_template[] = "/tmp/arenalloc-child-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    r.error = "mkdtemp failed";
    return r;
  }
  std::string out_path = std::string(dir) + "/stdout", err_path = std::string(dir) + "/stderr";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    bool drop = false;
    for (const std::string& p : drop_prefixes)
      drop = drop || std::strncmp(*e, p.c_str(), p.size()) == 0;
    if (!drop) env_strings.emplace_back(*e);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0) {
    r.started = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      pid_t w = waitpid(pid, &r.wait_status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);  // our own child, by its pid
        waitpid(pid, &r.wait_status, 0);
        r.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    r.out = ReadFile(out_path);
    r.err = ReadFile(err_path);
  } else {
    r.error = std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
  }
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  rmdir(dir);
  return r;
}

}  // namespace testcommon
