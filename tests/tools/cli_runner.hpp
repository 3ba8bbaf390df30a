// Runs the arenalloc command (or any program) for the tests and captures its exit
// status, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tools_test {

struct Result {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
  double seconds = 0;
  int err_lines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string temp_path(const std::string& tag) {
  const char* d = std::getenv("TMPDIR");
  std::string p = std::string(d && *d ? d : "/tmp") + "/arenalloc-tools-test-" + tag + "-XXXXXX";
  const int fd = mkstemp(p.data());
  if (fd >= 0) close(fd);
  return p;
}

// env: extra NAME=VALUE entries ("NAME=" alone unsets NAME).
inline Result run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  Result r;
  const std::string out = temp_path("out"), err = temp_path("err");
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_TRUNC);
    const int e = open(err.c_str(), O_WRONLY | O_TRUNC);
    dup2(o, 1);
    dup2(e, 2);
    for (const std::string& kv : env) {
      const std::size_t eq = kv.find('=');
      const std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
      if (value.empty())
        unsetenv(name.c_str());
      else
        setenv(name.c_str(), value.c_str(), 1);
    }
    std::vector<char*> a;
    for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(126);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(out);
  r.err = slurp(err);
  unlink(out.c_str());
  unlink(err.c_str());
  return r;
}

}  // namespace tools_test
