#include "util.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>

namespace arenalloc_cli {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string fmt(const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  char buf[512];
  const int n = std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  if (n < static_cast<int>(sizeof buf)) return buf;
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  va_start(ap, f);
  std::vsnprintf(s.data(), s.size(), f, ap);
  va_end(ap);
  s.resize(static_cast<std::size_t>(n));
  return s;
}

std::string format_seconds(double s) {
  if (s >= 100) return fmt("%.1f s", s);
  if (s >= 1) return fmt("%.3f s", s);
  if (s >= 1e-3) return fmt("%.1f ms", s * 1e3);
  return fmt("%.0f us", s * 1e6);
}

std::string format_kib(double kib) {
  if (kib >= 1024.0 * 1024.0) return fmt("%.2f GiB", kib / (1024.0 * 1024.0));
  if (kib >= 10 * 1024.0) return fmt("%.1f MiB", kib / 1024.0);
  if (kib >= 1024.0) return fmt("%.2f MiB", kib / 1024.0);
  return fmt("%.0f KiB", kib);
}

namespace {

std::string range_in_unit(double lo, double hi, double ref,
                          const std::vector<std::pair<double, const char*>>& units) {
  std::size_t k = 0;
  while (k + 1 < units.size() && ref < units[k].first) ++k;
  const double s = units[k].first;
  const int digits = ref / s >= 100 ? 0 : (ref / s >= 10 ? 1 : 2);
  return fmt("%.*f..%.*f %s", digits, lo / s, digits, hi / s, units[k].second);
}

}  // namespace

std::string format_seconds_range(double lo, double hi, double ref) {
  return range_in_unit(lo, hi, ref, {{1.0, "s"}, {1e-3, "ms"}, {1e-6, "us"}});
}

std::string format_kib_range(double lo, double hi, double ref) {
  return range_in_unit(lo, hi, ref, {{1024.0 * 1024.0, "GiB"}, {1024.0, "MiB"}, {1.0, "KiB"}});
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain =
        !a.empty() &&
        a.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") ==
            std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(s.c_str(), &end);
  if (errno || !end || *end || !std::isfinite(x)) return false;
  *out = x;
  return true;
}

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  const std::size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
}

bool is_readable_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), R_OK) == 0;
}

std::string find_in_path(const std::string& prog) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (prog.find('/') != std::string::npos) return executable(prog) ? prog : "";
  const char* path = std::getenv("PATH");
  for (const std::string& dir : split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    const std::string cand = (dir.empty() ? "." : dir) + "/" + prog;
    if (executable(cand)) return cand;
  }
  return "";
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_description() {
  struct utsname u {};
  uname(&u);
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) cpu = line.substr(colon + 2);
      break;
    }
  return fmt("%s %s %s, %ld CPUs%s%s", u.sysname, u.release, u.machine,
             sysconf(_SC_NPROCESSORS_ONLN), cpu.empty() ? "" : ", ", cpu.c_str());
}

bool write_file(const std::string& path, const std::string& data, std::string* err) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    *err = fmt("cannot write '%s': %s", path.c_str(), std::strerror(errno));
    return false;
  }
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !ok) {
    *err = fmt("cannot write '%s': %s", path.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

std::string basename_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace arenalloc_cli
