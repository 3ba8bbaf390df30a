// Plain-text rendering of a report: the per-allocator table for one command, or the
// benchmark x allocator table for the suite, then syscall counts, failures and notes.
#include <algorithm>

#include "report.hpp"
#include "syscalls.hpp"
#include "util.hpp"

namespace arenalloc_cli {

namespace {

// Column-aligned table: first column left-aligned, the others right-aligned.
std::string layout(const std::vector<std::vector<std::string>>& rows, int gap = 2) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      if (i) line += std::string(static_cast<std::size_t>(gap), ' ');
      line += i == 0 ? r[i] + pad : pad + r[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string ratio(double x, double best) {
  return best > 0 ? fmt("%.2fx", x / best) : "-";
}

// Relative standard deviation, "±3%" (empty for a single run).
std::string pct(const Stat& s) {
  return s.median > 0 && s.n > 1 ? fmt(" ±%.0f%%", 100 * s.stddev / s.median) : "";
}

std::string header(const Report& r) {
  std::string s = fmt("%d run%s per allocator", r.runs, r.runs == 1 ? "" : "s");
  if (r.warmup) s += fmt(" after %d warmup%s", r.warmup, r.warmup == 1 ? "" : "s");
  s += r.allocators.size() > 1 ? ", interleaved" : "";
  s += r.timeout_s > 0 ? fmt("; timeout %g s", r.timeout_s) : "; no timeout";
  return s + "\nhost: " + r.host + "\n\n";
}

void command_table(const Report& r, const BenchResult& b, std::string& out) {
  std::vector<std::vector<std::string>> rows = {{"allocator", "wall", "min..max", "ratio", "user",
                                                 "ratio", "sys", "ratio", "peak RSS", "min..max",
                                                 "ratio", "status"}};
  double best[4] = {0, 0, 0, 0};
  const Metric ms[4] = {Metric::Wall, Metric::User, Metric::Sys, Metric::Rss};
  for (int m = 0; m < 4; ++m) {
    const int bi = best_index(b, ms[m]);
    if (bi >= 0) best[m] = metric_of(b.cells[bi], ms[m]).median;
  }
  for (std::size_t i = 0; i < b.cells.size(); ++i) {
    const Cell& c = b.cells[i];
    std::vector<std::string> row = {r.allocators[i].name};
    if (c.ok > 0) {
      row.insert(row.end(),
                 {format_seconds(c.wall.median),
                  format_seconds_range(c.wall.min, c.wall.max, c.wall.median),
                  ratio(c.wall.median, best[0]), format_seconds(c.user.median) + pct(c.user),
                  ratio(c.user.median, best[1]), format_seconds(c.sys.median) + pct(c.sys),
                  ratio(c.sys.median, best[2]), format_kib(c.rss_kib.median),
                  format_kib_range(c.rss_kib.min, c.rss_kib.max, c.rss_kib.median),
                  ratio(c.rss_kib.median, best[3])});
    } else {
      row.insert(row.end(), 10, "-");
    }
    row.push_back(c.good() ? "ok" : failure_label(c));
    rows.push_back(row);
  }
  out += layout(rows);
  out +=
      "\nmedians; min..max: range over the runs; ±: relative standard deviation; ratio: median "
      "over the best allocator's median\n";
}

void suite_table(const Report& r, std::string& out) {
  std::vector<std::vector<std::string>> rows(2);
  rows[0].push_back("");
  rows[1].push_back("benchmark");
  for (const Allocator& a : r.allocators) {
    rows[0].insert(rows[0].end(), {a.name, ""});
    rows[1].insert(rows[1].end(), {"time s", "RSS MiB"});
  }
  bool spread_note = false;
  for (const BenchResult& b : r.benches) {
    std::vector<std::string> row = {b.name};
    const int bt = best_index(b, Metric::Wall), br = best_index(b, Metric::Rss);
    for (std::size_t i = 0; i < b.cells.size(); ++i) {
      const Cell& c = b.cells[i];
      if (!c.good()) {
        row.insert(row.end(), {failure_label(c), ""});
        continue;
      }
      const bool noisy = c.wall.median > 0 && (c.wall.max - c.wall.min) / c.wall.median > 0.10;
      spread_note |= noisy;
      row.push_back(fmt("%.3f%s%s", c.wall.median, noisy ? "~" : "",
                        static_cast<int>(i) == bt && b.cells.size() > 1 ? "*" : " "));
      row.push_back(fmt("%.1f%s", c.rss_kib.median / 1024.0,
                        static_cast<int>(i) == br && b.cells.size() > 1 ? "*" : " "));
    }
    rows.push_back(row);
    bool any_after = false;
    std::vector<std::string> after = {"  " + b.name + " RSS after fall"};
    for (const Cell& c : b.cells) {
      auto it = c.metrics.find("rss_after_kib");
      any_after |= it != c.metrics.end();
      after.insert(
          after.end(),
          {"", it != c.metrics.end() && c.good() ? fmt("%.1f ", it->second.median / 1024.0) : "-"});
    }
    if (any_after) rows.push_back(after);
  }
  int used = 0;
  const auto gt = geomeans(r, Metric::Wall, &used), gr = geomeans(r, Metric::Rss);
  if (!gt.empty()) {
    const double bt = *std::min_element(gt.begin(), gt.end());
    const double br = *std::min_element(gr.begin(), gr.end());
    std::vector<std::string> g = {"geometric mean"}, q = {"ratio to best"};
    for (std::size_t i = 0; i < gt.size(); ++i) {
      g.insert(g.end(), {fmt("%.3f ", gt[i]), fmt("%.1f ", gr[i] / 1024.0)});
      q.insert(q.end(), {fmt("%.2fx ", gt[i] / bt), fmt("%.2fx ", gr[i] / br)});
    }
    rows.push_back(std::vector<std::string>(1 + 2 * gt.size(), ""));
    rows.push_back(g);
    rows.push_back(q);
  }
  out += layout(rows);
  out += "\ntime = median wall time, RSS = median peak RSS; * = best in the row";
  if (spread_note) out += ", ~ = runs spread over more than 10%";
  out += "\n";
  if (!gt.empty() && used < static_cast<int>(r.benches.size()))
    out += fmt("geometric means over the %d of %zu benchmarks where every allocator succeeded\n",
               used, r.benches.size());
}

}  // namespace

std::string render_text(const Report& r) {
  std::string out;
  if (r.mode == "suite") {
    out += "arenalloc compare --suite: " + std::to_string(r.benches.size()) + " benchmarks\n";
    out += header(r);
    suite_table(r, out);
  } else {
    out += "arenalloc compare: " + shell_quote(r.benches.at(0).argv) + "\n";
    out += header(r);
    command_table(r, r.benches.at(0), out);
  }
  if (r.syscalls && r.syscalls_note.empty()) {
    out += "\nsystem calls (one extra run per allocator under strace -f -c):\n";
    for (const BenchResult& b : r.benches) {
      std::vector<std::vector<std::string>> rows;
      std::vector<std::string> head = {r.mode == "suite" ? b.name : "allocator"};
      for (const std::string& s : counted_syscalls()) head.push_back(s);
      head.push_back("");
      rows.push_back(head);
      for (std::size_t i = 0; i < b.cells.size(); ++i) {
        const Cell& c = b.cells[i];
        std::vector<std::string> row = {"  " + r.allocators[i].name};
        for (const std::string& s : counted_syscalls())
          row.push_back(c.syscalls ? std::to_string(c.syscalls->calls.at(s)) : "-");
        row.push_back(c.syscalls_error);
        rows.push_back(row);
      }
      out += layout(rows);
    }
  } else if (r.syscalls) {
    out += "\n" + r.syscalls_note + "\n";
  }
  std::string failures;
  for (const BenchResult& b : r.benches)
    for (std::size_t i = 0; i < b.cells.size(); ++i)
      for (const Run& run : b.cells[i].runs)
        if (run.status != RunStatus::Ok) {
          failures += "  " + (r.mode == "suite" ? b.name + " / " : std::string()) +
                      r.allocators[i].name + ": " + failure_label(b.cells[i]) + ": " + run.detail +
                      "\n";
          break;  // the first failing run of each cell
        }
  if (!failures.empty()) out += "\nfailures:\n" + failures;
  if (!r.missing.empty()) {
    out += "\nnot measured (not found):\n";
    for (const MissingAllocator& m : r.missing)
      out += "  " + m.name + " (" + m.looked_for + "): " + m.hint + "\n";
  }
  return out;
}

}  // namespace arenalloc_cli
