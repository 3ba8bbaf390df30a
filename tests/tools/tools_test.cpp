// End-to-end tests of the `arenalloc` command: help, usage errors, `run`, and
// `compare` on a small program across two allocators (glibc and SECOND_ALLOCATOR:
// arenalloc once it is built), including a crashing and a hanging program, the JSON
// and HTML reports, strace counts and a quick suite run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "cli_runner.hpp"
#include "mini_json.hpp"

using tools_test::Result;
using tools_test::run;

namespace {

const std::string kExe = ARENALLOC_EXE;
const std::string kProg = TEST_PROG;
const std::string kNoop = NOOP_LIB;
const std::string kSecond = SECOND_ALLOCATOR;  // "arenalloc", "jemalloc" or "noop=/path"
const std::string kSecondName = kSecond.substr(0, kSecond.find('='));
const std::string kPair = "glibc," + kSecond;

// Every tool invocation gets --lib when arenalloc is built (so the tests do not depend
// on the tool finding it next to itself) and a clean LD_PRELOAD / ARENALLOC_LIB.
const std::vector<std::string> kEnv = {"LD_PRELOAD=", "ARENALLOC_LIB="};

Result tool(std::vector<std::string> args, std::vector<std::string> env = kEnv) {
  args.insert(args.begin(), kExe);
  return run(args, env);
}

mini_json::Value read_json(const std::string& path) {
  return mini_json::parse(tools_test::slurp(path));
}

const mini_json::Value& result_for(const mini_json::Value& bench, const std::string& name) {
  for (const auto& r : bench["results"].arr)
    if (r["allocator"].str == name) return r;
  throw std::runtime_error("no result for " + name);
}

void expect_one_line_error(const Result& r, const std::string& needle) {
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_EQ(r.err.rfind("arenalloc: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

bool process_gone(int pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(st, s);
  const std::size_t paren = s.rfind(')');
  return paren == std::string::npos ||
         (paren + 2 < s.size() && (s[paren + 2] == 'Z' || s[paren + 2] == 'X'));
}

}  // namespace

TEST(Help, OverviewAndCommands) {
  Result r = tool({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: arenalloc"), std::string::npos);
  r = tool({"help", "compare"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--allocators"), std::string::npos);
  r = tool({"compare", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--timeout"), std::string::npos);
  r = tool({"help", "run"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--stats"), std::string::npos);
  r = tool({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("arenalloc ", 0), 0u);
}

TEST(Errors, UnknownOptionsAndCommands) {
  expect_one_line_error(tool({"compare", "--bogus", "--", kProg}), "--bogus");
  expect_one_line_error(tool({"--bogus"}), "--bogus");
  expect_one_line_error(tool({"frobnicate"}), "frobnicate");
  expect_one_line_error(tool({"help", "frobnicate"}), "frobnicate");
  expect_one_line_error(tool({"compare", "--runs", "zero", "--", kProg}), "--runs");
  expect_one_line_error(tool({"compare", "--runs"}), "--runs");
  expect_one_line_error(tool({"compare", "--allocators", "glibc,nosuchalloc", "--", kProg}),
                        "nosuchalloc");
  expect_one_line_error(tool({"run", "--nope", "--", kProg}), "--nope");
}

TEST(Errors, MissingProgram) {
  expect_one_line_error(tool({"compare", "--allocators", "glibc", "--", "/nonexistent/prog"}),
                        "/nonexistent/prog");
  expect_one_line_error(tool({"compare", "--allocators", "glibc"}), "missing program");
  expect_one_line_error(tool({"run", "--lib", kNoop}), "missing program");
  Result r = tool({"run", "--lib", kNoop, "--", "/nonexistent/prog"});
  EXPECT_EQ(r.status, 127);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
}

TEST(Errors, UnreadableLibrary) {
  expect_one_line_error(tool({"run", "--lib", "/nonexistent/libx.so", "--", kProg}),
                        "/nonexistent/libx.so");
  expect_one_line_error(
      tool({"run", "--", kProg}, {"LD_PRELOAD=", "ARENALLOC_LIB=/nonexistent/liby.so"}),
      "/nonexistent/liby.so");
  const std::string text = tools_test::temp_path("notelf");
  std::ofstream(text) << "not a library\n";
  expect_one_line_error(tool({"run", "--lib", text, "--", kProg}), "not an ELF");
  expect_one_line_error(
      tool({"compare", "--allocators", "glibc,bad=/nonexistent/libz.so", "--", kProg}),
      "/nonexistent/libz.so");
  unlink(text.c_str());
}

TEST(Run, PreloadsKeepsExistingPreloadAndStats) {
  Result r = tool({"run", "--stats", "--lib", kNoop, "--", kProg, "print-env"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("LD_PRELOAD=" + kNoop + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ARENALLOC_STATS=1"), std::string::npos) << r.out;
  r = tool({"--lib", kNoop, "run", "--", kProg, "print-env"},
           {"LD_PRELOAD=" + kNoop, "ARENALLOC_LIB="});
  EXPECT_NE(r.out.find("LD_PRELOAD=" + kNoop + ":" + kNoop), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ARENALLOC_STATS=\n"), std::string::npos) << r.out;
  r = tool({"stats", "--lib", kNoop, "--", kProg, "print-env"});
  EXPECT_NE(r.out.find("ARENALLOC_STATS=1"), std::string::npos) << r.out;
}

TEST(Run, ExitStatusIsTheProgramsOwn) {
  EXPECT_EQ(tool({"run", "--lib", kNoop, "--", kProg, "exit3"}).status, 3);
  EXPECT_EQ(tool({"run", "--lib", kNoop, "--", kProg, "ok"}).status, 0);
#ifdef ARENALLOC_LIB_PATH
  // The real library, found next to the executable.
  Result r = tool({"run", "--", kProg, "ok"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("verified"), std::string::npos);
#endif
}

TEST(Compare, TwoAllocatorsJsonAndHtml) {
  const std::string json = tools_test::temp_path("json"), html = tools_test::temp_path("html");
  Result r = tool({"compare", "--allocators", kPair, "--runs", "3", "--warmup", "1", "--json", json,
                   "--html", html, "--", kProg, "ok"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("glibc"), std::string::npos);
  EXPECT_NE(r.out.find(kSecondName), std::string::npos);
  EXPECT_NE(r.out.find("peak RSS"), std::string::npos);
  const auto j = read_json(json);
  EXPECT_EQ(j["mode"].str, "command");
  EXPECT_EQ(j["runs"].num, 3);
  ASSERT_EQ(j["allocators"].size(), 2u);
  ASSERT_EQ(j["benchmarks"].size(), 1u);
  const auto& b = j["benchmarks"][0];
  EXPECT_EQ(b["command"][0].str, kProg);
  std::vector<double> starts[2];
  int k = 0;
  for (const std::string& name : {std::string("glibc"), kSecondName}) {
    const auto& res = result_for(b, name);
    EXPECT_EQ(res["status"].str, "ok");
    EXPECT_EQ(res["ok_runs"].num, 3);
    ASSERT_EQ(res["runs"].size(), 4u);  // 1 warmup + 3
    EXPECT_TRUE(res["runs"][0]["warmup"].b);
    for (const auto& run : res["runs"].arr) {
      EXPECT_EQ(run["status"].str, "ok");
      EXPECT_GT(run["wall_s"].num, 0);
      EXPECT_GT(run["maxrss_kib"].num, 0);
      EXPECT_EQ(run["metrics"]["total"].num, 1005000);
      starts[k].push_back(run["start_s"].num);
    }
    const auto& wall = res["wall_s"];
    EXPECT_LE(wall["min"].num, wall["median"].num);
    EXPECT_LE(wall["median"].num, wall["max"].num);
    EXPECT_GE(res["ratio_to_best"]["wall"].num, 1.0);
    ++k;
  }
  for (std::size_t i = 0; i < 4; ++i) {  // interleaved: g0 < s0 < g1 < s1 < ...
    EXPECT_LT(starts[0][i], starts[1][i]);
    if (i + 1 < 4) {
      EXPECT_LT(starts[1][i], starts[0][i + 1]);
    }
  }
  const std::string h = tools_test::slurp(html);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("<svg"), std::string::npos);
  EXPECT_EQ(h.find("<script src"), std::string::npos);
  EXPECT_EQ(h.find("href=\"http"), std::string::npos);
  unlink(json.c_str());
  unlink(html.c_str());
}

TEST(Compare, CrashUnderOneAllocatorIsReportedOthersMeasured) {
  const std::string json = tools_test::temp_path("json");
  Result r = tool({"compare", "--allocators", kPair, "--runs", "2", "--warmup", "0", "--json", json,
                   "--", kProg, "crash-preloaded"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("CRASH SIGSEGV"), std::string::npos) << r.out;
  const auto j = read_json(json);
  const auto& b = j["benchmarks"][0];
  EXPECT_EQ(result_for(b, "glibc")["status"].str, "ok");
  EXPECT_EQ(result_for(b, "glibc")["ok_runs"].num, 2);
  const auto& bad = result_for(b, kSecondName);
  EXPECT_EQ(bad["status"].str, "failed");
  EXPECT_EQ(bad["runs"][0]["status"].str, "crash");
  EXPECT_EQ(bad["runs"][0]["signal"].str, "SIGSEGV");
  unlink(json.c_str());
}

TEST(Compare, HangIsKilledAtTimeout) {
  const std::string pids = tools_test::temp_path("pids");
  const std::string json = tools_test::temp_path("json");
  Result r = tool({"compare", "--allocators", kPair, "--runs", "2", "--warmup", "0", "--timeout",
                   "2", "--json", json, "--", kProg, "hang-preloaded", pids});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_LT(r.seconds, 20);
  EXPECT_NE(r.out.find("TIMEOUT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("remaining runs skipped"), std::string::npos) << r.out;
  const auto j = read_json(json);
  EXPECT_EQ(result_for(j["benchmarks"][0], "glibc")["ok_runs"].num, 2);
  const auto& hung = result_for(j["benchmarks"][0], kSecondName);
  ASSERT_EQ(hung["runs"].size(), 1u);  // the second run was skipped after the timeout
  EXPECT_EQ(hung["runs"][0]["status"].str, "timeout");
  EXPECT_GE(hung["runs"][0]["wall_s"].num, 2.0);
  unlink(json.c_str());
  int parent = 0, child = 0;
  std::ifstream(pids) >> parent >> child;
  ASSERT_GT(parent, 0);
  ASSERT_GT(child, 0);
  for (int i = 0; i < 100 && !(process_gone(parent) && process_gone(child)); ++i) usleep(20000);
  EXPECT_TRUE(process_gone(parent)) << parent;
  EXPECT_TRUE(process_gone(child)) << child;
  unlink(pids.c_str());
}

TEST(Compare, NonZeroExitIsAFailure) {
  Result r = tool(
      {"compare", "--allocators", "glibc", "--runs", "1", "--warmup", "0", "--", kProg, "exit3"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("EXIT 3"), std::string::npos) << r.out;
}

TEST(Compare, CustomLibraryAndMissingPeersNote) {
  Result r = tool({"compare", "--allocators", "glibc,noop=" + kNoop, "--runs", "1", "--warmup", "0",
                   "--", kProg, "ok"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("noop"), std::string::npos);
}

TEST(Compare, SyscallCounts) {
  if (access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "strace not installed";
  if (run({"/usr/bin/strace", "-f", "-c", "-o", "/dev/null", "/bin/true"}).status != 0)
    GTEST_SKIP() << "strace cannot trace here (ptrace not permitted?)";
  const std::string json = tools_test::temp_path("json");
  Result r = tool({"compare", "--allocators", kPair, "--runs", "1", "--warmup", "0", "--syscalls",
                   "--json", json, "--", kProg, "ok"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("munmap"), std::string::npos) << r.out;
  const auto j = read_json(json);
  for (const std::string& name : {std::string("glibc"), kSecondName}) {
    const auto& res = result_for(j["benchmarks"][0], name);
    ASSERT_TRUE(res.has("syscalls")) << name;
    EXPECT_GT(res["syscalls"]["mmap"].num, 0) << name;
    EXPECT_TRUE(res["syscalls"].has("madvise"));
    EXPECT_TRUE(res["syscalls"].has("brk"));
  }
  unlink(json.c_str());
}

#ifdef BENCH_DIR
TEST(Suite, QuickRunWithGeomeansAndPeakFall) {
  const std::string json = tools_test::temp_path("json");
  Result r = tool({"compare", "--suite", "--quick", "--bench-dir", BENCH_DIR, "--only",
                   "larson,peak_fall", "--allocators", kPair, "--runs", "1", "--json", json});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("geometric mean"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak_fall RSS after fall"), std::string::npos) << r.out;
  const auto j = read_json(json);
  EXPECT_EQ(j["mode"].str, "suite");
  ASSERT_EQ(j["benchmarks"].size(), 2u);
  const auto& pf = result_for(j["benchmarks"][1], "glibc");
  EXPECT_GT(pf["metrics"]["rss_after_kib"]["median"].num, 0);
  EXPECT_EQ(j["geomean"]["benchmarks_used"].num, 2);
  EXPECT_GT(j["geomean"]["glibc"]["wall_s"].num, 0);
  unlink(json.c_str());
}

TEST(Suite, UnverifiedBenchmarkIsAFailure) {
  // A bench dir whose "larson" exits 0 without the marker.
  char dir[] = "/tmp/arenalloc-tools-test-bench-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fake = std::string(dir) + "/larson";
  std::ofstream(fake) << "#!/bin/sh\nexit 0\n";
  chmod(fake.c_str(), 0755);
  Result r = tool({"compare", "--suite", "--quick", "--bench-dir", dir, "--only", "larson",
                   "--allocators", "glibc", "--runs", "1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("UNVERIFIED"), std::string::npos) << r.out;
  unlink(fake.c_str());
  rmdir(dir);
}
#endif
