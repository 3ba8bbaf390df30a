#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace arenalloc_cli {

namespace {

volatile sig_atomic_t g_child_pgid = 0;

void on_interrupt(int sig) {
  const pid_t pg = g_child_pgid;
  if (pg > 0) kill(-pg, SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

double timeval_s(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

std::string read_tail(int fd, std::size_t keep) {
  const off_t size = lseek(fd, 0, SEEK_END);
  if (size <= 0) return "";
  const off_t start = size > static_cast<off_t>(keep) ? size - static_cast<off_t>(keep) : 0;
  std::string out(static_cast<std::size_t>(size - start), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n =
        pread(fd, out.data() + got, out.size() - got, start + static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

// Waits for pid up to timeout_s (<= 0: forever). Returns false on timeout.
bool wait_exit(pid_t pid, double timeout_s, int* status, rusage* ru) {
  if (timeout_s > 0) {
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      const pid_t r = wait4(pid, status, WNOHANG, ru);
      if (r == pid) break;
      if (r < 0 && errno != EINTR) break;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        if (pidfd >= 0) close(pidfd);
        return false;
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        poll(&p, 1, static_cast<int>(ms > 1000 ? 1000 : ms));
      } else {  // no pidfd (old kernel): poll every millisecond
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (pidfd >= 0) close(pidfd);
    return true;
  }
  while (wait4(pid, status, 0, ru) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

std::vector<std::string> child_environment(const std::string& preload,
                                           const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  std::string old_preload;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    if (name == "LD_PRELOAD" && !preload.empty()) {
      old_preload = kv.substr(kv.find('=') + 1);
      continue;
    }
    bool overridden = false;
    for (const std::string& x : extra) overridden |= x.substr(0, x.find('=')) == name;
    if (!overridden) env.push_back(kv);
  }
  if (!preload.empty())
    env.push_back("LD_PRELOAD=" + preload + (old_preload.empty() ? "" : ":" + old_preload));
  for (const std::string& x : extra) env.push_back(x);
  return env;
}

void exec_program(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto a = c_strings(argv);
  auto e = c_strings(env);
  execvpe(a[0], a.data(), e.data());
}

ChildResult run_child(const ChildSpec& spec) {
  ChildResult res;
  FILE* out = spec.capture ? std::tmpfile() : nullptr;
  const int out_fd = out ? fileno(out) : -1;
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    res.kind = ChildResult::ExecFailed;
    res.exec_errno = errno;
    if (out) std::fclose(out);
    return res;
  }
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  std::fflush(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (out_fd >= 0) {
      dup2(out_fd, 1);
      dup2(out_fd, 2);
    }
    execvpe(argv[0], argv.data(), envp.data());
    const int e = errno;
    ssize_t ignored = write(errpipe[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  close(errpipe[1]);
  if (pid < 0) {
    res.kind = ChildResult::ExecFailed;
    res.exec_errno = errno;
    close(errpipe[0]);
    if (out) std::fclose(out);
    return res;
  }
  setpgid(pid, pid);  // also from here, so the group exists before any kill
  g_child_pgid = pid;
  int exec_err = 0;
  ssize_t n;
  while ((n = read(errpipe[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR) {
  }
  close(errpipe[0]);

  int status = 0;
  rusage ru{};
  const bool exited = wait_exit(pid, spec.timeout_s, &status, &ru);
  if (!exited) {  // the child is not reaped yet, so its process group id is still ours
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  g_child_pgid = 0;

  res.wall_s = std::chrono::duration<double>(t1 - t0).count();
  res.user_s = timeval_s(ru.ru_utime);
  res.sys_s = timeval_s(ru.ru_stime);
  res.maxrss_kib = ru.ru_maxrss;
  if (n == static_cast<ssize_t>(sizeof exec_err)) {
    res.kind = ChildResult::ExecFailed;
    res.exec_errno = exec_err;
  } else if (!exited) {
    res.kind = ChildResult::TimedOut;
  } else if (WIFSIGNALED(status)) {
    res.kind = ChildResult::Signaled;
    res.signal = WTERMSIG(status);
  } else {
    res.kind = ChildResult::Exited;
    res.exit_code = WEXITSTATUS(status);
  }
  if (out) {
    res.output = read_tail(out_fd, spec.keep_output);
    std::fclose(out);
  }
  return res;
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace arenalloc_cli
