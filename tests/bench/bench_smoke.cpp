// Smoke-test runner for the benchmark programs: runs `PROG ARGS...` with the inherited
// environment (the test's ENVIRONMENT property sets LD_PRELOAD for the arenalloc
// variant), echoes its output, and passes only if it exits 0, prints its "verified"
// summary line, and the dynamic loader did not refuse the preload.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_smoke PROG [ARGS...]\n");
    return 2;
  }
  int fds[2];
  if (pipe(fds) != 0) return 2;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execv(argv[1], argv + 1);
    std::fprintf(stderr, "bench_smoke: cannot execute %s: %s\n", argv[1], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  std::fwrite(out.data(), 1, out.size(), stdout);
  const char* preload = std::getenv("LD_PRELOAD");
  std::printf("bench_smoke: LD_PRELOAD=%s\n", preload && *preload ? preload : "(none)");
  if (WIFSIGNALED(st)) {
    std::printf("bench_smoke: FAILED: killed by signal %d (%s)\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
    return 1;
  }
  if (WEXITSTATUS(st) != 0) {
    std::printf("bench_smoke: FAILED: exit status %d\n", WEXITSTATUS(st));
    return 1;
  }
  if (out.find("cannot be preloaded") != std::string::npos) {
    std::printf("bench_smoke: FAILED: the preload was refused\n");
    return 1;
  }
  if (out.find(" verified\n") == std::string::npos) {
    std::printf("bench_smoke: FAILED: no verified summary line\n");
    return 1;
  }
  std::printf("bench_smoke: ok\n");
  return 0;
}
