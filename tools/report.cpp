// Summaries and cross-allocator comparisons over the report model.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "report.hpp"
#include "util.hpp"

namespace arenalloc_cli {

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Ok:
      return "ok";
    case RunStatus::ExitNonZero:
      return "exit";
    case RunStatus::Crashed:
      return "crash";
    case RunStatus::Timeout:
      return "timeout";
    case RunStatus::ExecFailed:
      return "exec-failed";
    case RunStatus::PreloadFailed:
      return "preload-failed";
    case RunStatus::Unverified:
      return "unverified";
  }
  return "?";
}

namespace {

std::string run_label(const Run& r) {
  switch (r.status) {
    case RunStatus::Ok:
      return "ok";
    case RunStatus::ExitNonZero:
      return "EXIT " + std::to_string(r.exit_code);
    case RunStatus::Crashed:
      return "CRASH " + signal_name(r.signal);
    case RunStatus::Timeout:
      return "TIMEOUT";
    case RunStatus::ExecFailed:
      return "EXEC FAILED";
    case RunStatus::PreloadFailed:
      return "PRELOAD FAILED";
    case RunStatus::Unverified:
      return "UNVERIFIED";
  }
  return "?";
}

}  // namespace

void summarize(Cell& c) {
  std::vector<double> wall, user, sys, rss;
  std::map<std::string, std::vector<double>> metrics;
  c.measured = c.ok = 0;
  c.failure.clear();
  int failed = 0;
  for (const Run& r : c.runs) {
    if (r.status != RunStatus::Ok) {
      if (c.failure.empty()) c.failure = run_label(r);
      ++failed;
    }
    if (r.warmup) continue;
    ++c.measured;
    if (r.status != RunStatus::Ok) continue;
    ++c.ok;
    wall.push_back(r.wall_s);
    user.push_back(r.user_s);
    sys.push_back(r.sys_s);
    rss.push_back(static_cast<double>(r.maxrss_kib));
    for (const auto& [k, v] : r.metrics) {
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      if (!v.empty() && end && *end == 0 && std::isfinite(x)) metrics[k].push_back(x);
    }
  }
  if (failed > 1 || (failed == 1 && c.runs.size() > 1))
    c.failure += " (" + std::to_string(failed) + "/" + std::to_string(c.runs.size()) + ")";
  c.wall = compute_stat(wall);
  c.user = compute_stat(user);
  c.sys = compute_stat(sys);
  c.rss_kib = compute_stat(rss);
  c.metrics.clear();
  for (auto& [k, xs] : metrics) c.metrics[k] = compute_stat(xs);
}

const Stat& metric_of(const Cell& c, Metric m) {
  switch (m) {
    case Metric::Wall:
      return c.wall;
    case Metric::User:
      return c.user;
    case Metric::Sys:
      return c.sys;
    case Metric::Rss:
      return c.rss_kib;
  }
  return c.wall;
}

int best_index(const BenchResult& b, Metric m) {
  int best = -1;
  for (std::size_t i = 0; i < b.cells.size(); ++i) {
    if (!b.cells[i].good()) continue;
    if (best < 0 || metric_of(b.cells[i], m).median < metric_of(b.cells[best], m).median)
      best = static_cast<int>(i);
  }
  return best;
}

std::vector<double> geomeans(const Report& r, Metric m, int* used) {
  std::vector<std::vector<double>> per(r.allocators.size());
  int n = 0;
  for (const BenchResult& b : r.benches) {
    bool all = !b.cells.empty();
    for (const Cell& c : b.cells) all = all && c.good();
    if (!all) continue;
    ++n;
    for (std::size_t i = 0; i < b.cells.size(); ++i)
      per[i].push_back(metric_of(b.cells[i], m).median);
  }
  if (used) *used = n;
  if (n == 0) return {};
  std::vector<double> out;
  for (const auto& xs : per) out.push_back(geomean(xs));
  return out;
}

std::string failure_label(const Cell& c) {
  if (!c.failure.empty()) return c.failure;
  if (c.ok == 0) return "NO RUNS";
  return "";
}

}  // namespace arenalloc_cli
