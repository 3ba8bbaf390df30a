// Running a child program under a controlled environment and reading what it said.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace diagtest {

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

struct Result {
  int exit_code = -1;  // when the child exited
  int signal = 0;      // when a signal killed it
  bool timed_out = false;
  std::string out, err;
  std::multimap<std::string, std::string> kv;  // "key=value" lines of stdout
  int backtrace_frames = 0;                     // backtrace lines that followed reports

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
    std::string status = timed_out ? "timed out"
                         : signal != 0 ? "killed by signal " + std::to_string(signal) + " (" +
                                             strsignal(signal) + ")"
                                       : "exit status " + std::to_string(exit_code);
    return status + "\n--- stdout ---\n" + out.substr(0, 3000) + "\n--- stderr ---\n" +
           err.substr(0, 3000);
  }
};

using Env = std::vector<std::pair<std::string, std::string>>;

// Variables that change the allocator's behaviour: never inherited by a child.
inline bool IsAllocatorVariable(const char* entry) {
  static const char* const kPrefixes[] = {"MALLOC_", "ARENALLOC_", "GLIBC_TUNABLES=",
                                          "LD_PRELOAD=", "VALGRIND_OPTS="};
  for (const char* p : kPrefixes)
    if (std::strncmp(entry, p, std::strlen(p)) == 0) return true;
  return false;
}

// Runs argv with the test's environment minus the allocator variables, plus env. stdout and
// stderr go to files (so nothing is lost when the child aborts); no core dumps. Killed after
// timeout_s.
inline Result Run(const std::vector<std::string>& argv, const Env& env, int timeout_s = 60) {
  Result r;
  char dir_template[] = "/tmp/arenalloc-diag-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    r.err = "mkdtemp failed";
    return r;
  }
  std::string out_path = std::string(dir) + "/stdout", err_path = std::string(dir) + "/stderr";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    if (!IsAllocatorVariable(*e)) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // inherited: an aborting child writes no core file

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
    rmdir(dir);
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);  // our own child, by its pid
      waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!r.timed_out) {
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  }
  r.out = ReadFile(out_path);
  // A report is one line, followed by a backtrace ("    #N 0x... (object+offset)") where the
  // unwinder is loaded: keep the report lines in `err`, count the frames apart.
  r.err.clear();
  std::string all = ReadFile(err_path);
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    end = end == std::string::npos ? all.size() : end + 1;
    std::string line = all.substr(pos, end - pos);
    if (line.rfind("    #", 0) == 0) ++r.backtrace_frames;
    else r.err += line;
    pos = end;
  }
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  rmdir(dir);
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
