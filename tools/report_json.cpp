// JSON rendering of a report: settings, allocators, and for every benchmark and
// allocator the summary statistics, ratios to the best, syscall counts and all raw runs.
#include <algorithm>
#include <cmath>

#include "report.hpp"
#include "util.hpp"

namespace arenalloc_cli {

namespace {

std::string str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\r':
        o += "\\r";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (c < 0x20)
          o += fmt("\\u%04x", c);
        else
          o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

std::string num(double x) {
  if (!std::isfinite(x)) return "null";
  return fmt("%.9g", x);
}

std::string stat(const Stat& s) {
  return fmt("{\"n\": %d, \"median\": %s, \"min\": %s, \"max\": %s, \"mean\": %s, \"stddev\": %s}",
             s.n, num(s.median).c_str(), num(s.min).c_str(), num(s.max).c_str(),
             num(s.mean).c_str(), num(s.stddev).c_str());
}

std::string strings(const std::vector<std::string>& v) {
  std::string o = "[";
  for (std::size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + str(v[i]);
  return o + "]";
}

std::string run_json(const Run& r) {
  std::string o = fmt("{\"index\": %d, \"warmup\": %s, \"status\": %s, ", r.index,
                      r.warmup ? "true" : "false", str(status_name(r.status)).c_str());
  o += "\"exit_code\": " + (r.status == RunStatus::Crashed || r.status == RunStatus::Timeout
                                ? std::string("null")
                                : std::to_string(r.exit_code));
  o += ", \"signal\": " + (r.signal ? str(signal_name(r.signal)) : std::string("null"));
  o += ", \"start_s\": " + num(r.start_s) + ", \"wall_s\": " + num(r.wall_s) +
       ", \"user_s\": " + num(r.user_s) + ", \"sys_s\": " + num(r.sys_s) +
       ", \"maxrss_kib\": " + std::to_string(r.maxrss_kib);
  o += ", \"metrics\": {";
  bool first = true;
  for (const auto& [k, v] : r.metrics) {
    double x;
    o += (first ? "" : ", ") + str(k) + ": " + (parse_number(v, &x) ? num(x) : str(v));
    first = false;
  }
  o += "}";
  if (!r.detail.empty()) o += ", \"detail\": " + str(r.detail);
  return o + "}";
}

}  // namespace

std::string render_json(const Report& r) {
  std::string o = "{\n";
  o += "  \"tool\": \"arenalloc compare\",\n";
  o += "  \"mode\": " + str(r.mode) + ",\n";
  o += "  \"started_at\": " + str(r.started_at) + ",\n";
  o += "  \"host\": " + str(r.host) + ",\n";
  o += fmt("  \"runs\": %d,\n  \"warmup\": %d,\n", r.runs, r.warmup);
  o += "  \"timeout_s\": " + num(r.timeout_s) + ",\n";
  o += "  \"total_s\": " + num(r.total_s) + ",\n";
  o += "  \"syscalls\": " + std::string(r.syscalls ? "true" : "false") + ",\n";
  if (!r.syscalls_note.empty()) o += "  \"syscalls_note\": " + str(r.syscalls_note) + ",\n";
  o += "  \"allocators\": [";
  for (std::size_t i = 0; i < r.allocators.size(); ++i)
    o += (i ? ", " : "") + std::string("{\"name\": ") + str(r.allocators[i].name) +
         ", \"library\": " + (r.allocators[i].lib.empty() ? "null" : str(r.allocators[i].lib)) +
         "}";
  o += "],\n  \"missing\": [";
  for (std::size_t i = 0; i < r.missing.size(); ++i)
    o += (i ? ", " : "") + std::string("{\"name\": ") + str(r.missing[i].name) +
         ", \"looked_for\": " + str(r.missing[i].looked_for) +
         ", \"hint\": " + str(r.missing[i].hint) + "}";
  o += "],\n  \"benchmarks\": [\n";
  for (std::size_t bi = 0; bi < r.benches.size(); ++bi) {
    const BenchResult& b = r.benches[bi];
    const int best_wall = best_index(b, Metric::Wall), best_rss = best_index(b, Metric::Rss);
    o += "    {\"name\": " + str(b.name) + ", \"command\": " + strings(b.argv) + ",\n";
    o += "     \"best\": {\"wall\": " +
         (best_wall >= 0 ? str(r.allocators[best_wall].name) : std::string("null")) +
         ", \"maxrss\": " +
         (best_rss >= 0 ? str(r.allocators[best_rss].name) : std::string("null")) +
         "},\n     \"results\": [\n";
    for (std::size_t i = 0; i < b.cells.size(); ++i) {
      const Cell& c = b.cells[i];
      o += "      {\"allocator\": " + str(r.allocators[i].name);
      o += ", \"status\": " + str(c.good() ? "ok" : "failed");
      if (!c.good()) o += ", \"failure\": " + str(failure_label(c));
      o += fmt(", \"measured_runs\": %d, \"ok_runs\": %d,\n", c.measured, c.ok);
      o += "       \"wall_s\": " + stat(c.wall) + ",\n";
      o += "       \"user_s\": " + stat(c.user) + ",\n";
      o += "       \"sys_s\": " + stat(c.sys) + ",\n";
      o += "       \"maxrss_kib\": " + stat(c.rss_kib) + ",\n";
      o += "       \"ratio_to_best\": {";
      const char* names[4] = {"wall", "user", "sys", "maxrss"};
      const Metric ms[4] = {Metric::Wall, Metric::User, Metric::Sys, Metric::Rss};
      for (int m = 0; m < 4; ++m) {
        const int bidx = best_index(b, ms[m]);
        const double best = bidx >= 0 ? metric_of(b.cells[bidx], ms[m]).median : 0;
        o += std::string(m ? ", " : "") + "\"" + names[m] +
             "\": " + (c.good() && best > 0 ? num(metric_of(c, ms[m]).median / best) : "null");
      }
      o += "},\n       \"metrics\": {";
      bool first = true;
      for (const auto& [k, s] : c.metrics) {
        o += (first ? "" : ", ") + str(k) + ": " + stat(s);
        first = false;
      }
      o += "},\n";
      if (c.syscalls) {
        o += "       \"syscalls\": {";
        bool f = true;
        for (const auto& [k, v] : c.syscalls->calls) {
          o += (f ? "" : ", ") + str(k) + ": " + std::to_string(v);
          f = false;
        }
        o += "},\n";
      }
      if (!c.syscalls_error.empty())
        o += "       \"syscalls_error\": " + str(c.syscalls_error) + ",\n";
      o += "       \"runs\": [\n";
      for (std::size_t k = 0; k < c.runs.size(); ++k)
        o += "         " + run_json(c.runs[k]) + (k + 1 < c.runs.size() ? ",\n" : "\n");
      o += "       ]}" + std::string(i + 1 < b.cells.size() ? ",\n" : "\n");
    }
    o += "     ]}" + std::string(bi + 1 < r.benches.size() ? ",\n" : "\n");
  }
  o += "  ],\n  \"geomean\": {";
  int used = 0;
  const auto gt = geomeans(r, Metric::Wall, &used), gr = geomeans(r, Metric::Rss);
  o += fmt("\"benchmarks_used\": %d", used);
  if (!gt.empty()) {
    double bt = gt[0], br = gr[0];
    for (std::size_t i = 0; i < gt.size(); ++i) bt = std::min(bt, gt[i]), br = std::min(br, gr[i]);
    for (std::size_t i = 0; i < gt.size(); ++i)
      o += ", " + str(r.allocators[i].name) + ": {\"wall_s\": " + num(gt[i]) +
           ", \"maxrss_kib\": " + num(gr[i]) + ", \"ratio_wall\": " + num(gt[i] / bt) +
           ", \"ratio_maxrss\": " + num(gr[i] / br) + "}";
  }
  o += "}\n}\n";
  return o;
}

}  // namespace arenalloc_cli
