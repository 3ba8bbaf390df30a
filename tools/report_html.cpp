// Self-contained HTML rendering of a report: tables plus inline-SVG bar charts (median
// bar, min..max error bar) of wall time and peak RSS per allocator. No scripts, no
// external resources.
#include <algorithm>
#include <functional>

#include "report.hpp"
#include "syscalls.hpp"
#include "util.hpp"

namespace arenalloc_cli {

namespace {

const char* kColors[] = {"#d9480f", "#1971c2", "#2f9e44", "#9c36b5",
                         "#e67700", "#0c8599", "#c2255c", "#5c940d"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

struct Bar {
  std::string label;
  bool ok = false;
  Stat s;
  std::string failure;
};

// Horizontal bars: median as the bar, min..max as a whisker; failures as text.
std::string chart(const std::string& title, const std::vector<Bar>& bars,
                  const std::function<std::string(double)>& show) {
  const int label_w = 100, plot_w = 260, text_w = 110, row_h = 24, top = 26;
  const int width = label_w + plot_w + text_w,
            height = top + row_h * static_cast<int>(bars.size()) + 8;
  double maxv = 0;
  for (const Bar& b : bars)
    if (b.ok) maxv = std::max(maxv, b.s.max);
  if (maxv <= 0) maxv = 1;
  auto x = [&](double v) { return label_w + v / maxv * plot_w; };
  std::string o =
      fmt("<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">",
          width, height, width, height);
  o += fmt("<text x=\"0\" y=\"16\" class=\"title\">%s</text>", esc(title).c_str());
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = top + row_h * static_cast<int>(i);
    o += fmt("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", label_w - 6, y + 15,
             esc(b.label).c_str());
    if (!b.ok) {
      o += fmt("<text x=\"%d\" y=\"%d\" class=\"fail\">%s</text>", label_w + 4, y + 15,
               esc(b.failure).c_str());
      continue;
    }
    o +=
        fmt("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\" opacity=\"0.8\">"
            "<title>%s: median %s, min %s, max %s, n=%d</title></rect>",
            label_w, y + 3, x(b.s.median) - label_w, kColors[i % 8], esc(b.label).c_str(),
            show(b.s.median).c_str(), show(b.s.min).c_str(), show(b.s.max).c_str(), b.s.n);
    const double x0 = x(b.s.min), x1 = x(b.s.max);
    if (b.s.n > 1)
      o +=
          fmt("<path d=\"M%.1f %d V%d M%.1f %d H%.1f M%.1f %d V%d\" stroke=\"#222\" "
              "stroke-width=\"1.5\" fill=\"none\"/>",
              x0, y + 6, y + 16, x0, y + 11, x1, x1, y + 6, y + 16);
    o += fmt("<text x=\"%.1f\" y=\"%d\">%s</text>", std::max(x1, x(b.s.median)) + 6, y + 15,
             show(b.s.median).c_str());
  }
  return o + "</svg>";
}

std::vector<Bar> bars_for(const Report& r, const BenchResult& b, Metric m) {
  std::vector<Bar> bars;
  for (std::size_t i = 0; i < b.cells.size(); ++i) {
    Bar bar;
    bar.label = r.allocators[i].name;
    bar.ok = b.cells[i].good();
    bar.s = metric_of(b.cells[i], m);
    bar.failure = failure_label(b.cells[i]);
    bars.push_back(bar);
  }
  return bars;
}

// Bars of a program metric (e.g. rss_after_kib); empty when no allocator reported it.
std::vector<Bar> metric_bars(const Report& r, const BenchResult& b, const std::string& key) {
  std::vector<Bar> bars;
  bool any = false;
  for (std::size_t i = 0; i < b.cells.size(); ++i) {
    Bar bar;
    bar.label = r.allocators[i].name;
    auto it = b.cells[i].metrics.find(key);
    bar.ok = b.cells[i].good() && it != b.cells[i].metrics.end();
    if (bar.ok) bar.s = it->second, any = true;
    bar.failure = b.cells[i].good() ? "-" : failure_label(b.cells[i]);
    bars.push_back(bar);
  }
  return any ? bars : std::vector<Bar>{};
}

std::string secs(double s) {
  return format_seconds(s);
}
std::string kib(double k) {
  return format_kib(k);
}

std::string summary_table(const Report& r) {
  std::string o = "<table><tr><th>benchmark</th>";
  for (const Allocator& a : r.allocators) o += "<th colspan=\"2\">" + esc(a.name) + "</th>";
  o += "</tr><tr><th></th>";
  for (std::size_t i = 0; i < r.allocators.size(); ++i) o += "<th>time</th><th>peak RSS</th>";
  o += "</tr>";
  for (const BenchResult& b : r.benches) {
    const int bt = best_index(b, Metric::Wall), br = best_index(b, Metric::Rss);
    o += "<tr><td><a href=\"#b-" + esc(b.name) + "\">" + esc(b.name) + "</a></td>";
    for (std::size_t i = 0; i < b.cells.size(); ++i) {
      const Cell& c = b.cells[i];
      if (!c.good()) {
        o += "<td colspan=\"2\" class=\"fail\">" + esc(failure_label(c)) + "</td>";
        continue;
      }
      o += std::string("<td") + (static_cast<int>(i) == bt ? " class=\"best\"" : "") + ">" +
           esc(secs(c.wall.median)) + "</td><td" +
           (static_cast<int>(i) == br ? " class=\"best\"" : "") + ">" + esc(kib(c.rss_kib.median));
      auto it = c.metrics.find("rss_after_kib");
      if (it != c.metrics.end())
        o += "<br><small>after fall " + esc(kib(it->second.median)) + "</small>";
      o += "</td>";
    }
    o += "</tr>";
  }
  int used = 0;
  const auto gt = geomeans(r, Metric::Wall, &used), gr = geomeans(r, Metric::Rss);
  if (!gt.empty() && r.benches.size() > 1) {
    const double bt = *std::min_element(gt.begin(), gt.end());
    const double br = *std::min_element(gr.begin(), gr.end());
    o += "<tr class=\"geo\"><td>geometric mean<br><small>" + std::to_string(used) + " of " +
         std::to_string(r.benches.size()) + " benchmarks</small></td>";
    for (std::size_t i = 0; i < gt.size(); ++i)
      o += "<td>" + esc(secs(gt[i])) + fmt("<br><small>%.2fx</small></td><td>", gt[i] / bt) +
           esc(kib(gr[i])) + fmt("<br><small>%.2fx</small></td>", gr[i] / br);
    o += "</tr>";
  }
  return o + "</table>";
}

}  // namespace

std::string render_html(const Report& r) {
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>arenalloc compare</title><style>"
      "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
      "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f1f3f5}"
      ".best{font-weight:bold;background:#ebfbee}.fail{color:#c92a2a;font-weight:bold}"
      ".geo td{background:#f8f9fa}.charts{display:flex;flex-wrap:wrap;gap:2em}"
      "svg.chart text{font-size:12px}svg.chart text.title{font-weight:bold}"
      "svg.chart text.fail{fill:#c92a2a;font-weight:bold}code{background:#f1f3f5;padding:1px 4px}"
      "</style></head><body>\n";
  o += "<h1>arenalloc compare" + std::string(r.mode == "suite" ? " &mdash; benchmark suite" : "") +
       "</h1>\n";
  o += "<p>" + esc(r.started_at) + " &middot; " + esc(r.host) + "<br>" +
       fmt("%d measured run(s) per allocator after %d warmup(s), interleaved round-robin", r.runs,
           r.warmup) +
       (r.timeout_s > 0 ? fmt("; timeout %g s", r.timeout_s) : std::string()) +
       fmt("; total %.0f s", r.total_s) + "</p>\n";
  o += "<p>Allocators: ";
  for (std::size_t i = 0; i < r.allocators.size(); ++i)
    o += (i ? ", " : "") + std::string("<b>") + esc(r.allocators[i].name) + "</b> (" +
         esc(r.allocators[i].lib.empty() ? "system malloc" : r.allocators[i].lib) + ")";
  o += "</p>\n";
  if (!r.missing.empty()) {
    o += "<p>Not found: ";
    for (const MissingAllocator& m : r.missing)
      o += esc(m.name) + " (" + esc(m.looked_for) + ": " + esc(m.hint) + ") ";
    o += "</p>\n";
  }
  o += "<h2>Summary</h2>\n" + summary_table(r) +
       "<p><small>time: median wall time; peak RSS: median of ru_maxrss; bold: best in the "
       "row; bars below show the median and whiskers the min..max of the runs.</small></p>\n";
  if (r.mode == "suite") {
    int used = 0;
    const auto gt = geomeans(r, Metric::Wall, &used), gr = geomeans(r, Metric::Rss);
    if (!gt.empty()) {
      std::vector<Bar> bt, br;
      for (std::size_t i = 0; i < gt.size(); ++i) {
        bt.push_back({r.allocators[i].name, true, Stat{1, gt[i], gt[i], gt[i], gt[i], 0}, ""});
        br.push_back({r.allocators[i].name, true, Stat{1, gr[i], gr[i], gr[i], gr[i], 0}, ""});
      }
      o += "<div class=\"charts\">" + chart("geometric mean of wall time", bt, secs) +
           chart("geometric mean of peak RSS", br, kib) + "</div>\n";
    }
  }
  for (const BenchResult& b : r.benches) {
    o += "<h2 id=\"b-" + esc(b.name) + "\">" + esc(b.name) + "</h2>\n<p><code>" +
         esc(shell_quote(b.argv)) + "</code></p>\n<div class=\"charts\">" +
         chart("wall time", bars_for(r, b, Metric::Wall), secs) +
         chart("peak RSS", bars_for(r, b, Metric::Rss), kib) +
         chart("user CPU time", bars_for(r, b, Metric::User), secs) +
         chart("system CPU time", bars_for(r, b, Metric::Sys), secs);
    if (auto after = metric_bars(r, b, "rss_after_kib"); !after.empty())
      o += chart("RSS after the fall (rss_after_kib)", after, kib);
    o += "</div>\n";
    bool any_sys = false;
    for (const Cell& c : b.cells) any_sys |= c.syscalls.has_value() || !c.syscalls_error.empty();
    if (any_sys) {
      o += "<table><tr><th>allocator</th>";
      for (const std::string& s : counted_syscalls()) o += "<th>" + s + "</th>";
      o += "<th>note</th></tr>";
      for (std::size_t i = 0; i < b.cells.size(); ++i) {
        const Cell& c = b.cells[i];
        o += "<tr><td>" + esc(r.allocators[i].name) + "</td>";
        for (const std::string& s : counted_syscalls())
          o += "<td>" + (c.syscalls ? std::to_string(c.syscalls->calls.at(s)) : "-") + "</td>";
        o += "<td>" + esc(c.syscalls_error) + "</td></tr>";
      }
      o += "</table>\n";
    }
    for (std::size_t i = 0; i < b.cells.size(); ++i)
      for (const Run& run : b.cells[i].runs)
        if (run.status != RunStatus::Ok) {
          o += "<p class=\"fail\">" + esc(r.allocators[i].name) + ": " +
               esc(failure_label(b.cells[i])) + "</p><pre>" + esc(run.detail) + "</pre>\n";
          break;
        }
  }
  if (r.syscalls && !r.syscalls_note.empty()) o += "<p>" + esc(r.syscalls_note) + "</p>\n";
  return o + "</body></html>\n";
}

}  // namespace arenalloc_cli
