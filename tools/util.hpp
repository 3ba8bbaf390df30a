// Small helpers: formatting, strings, paths, host description.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace arenalloc_cli {

// A usage or configuration error: main() prints "arenalloc: <what>" on one line and
// exits with `code`.
struct CliError : std::runtime_error {
  explicit CliError(const std::string& what, int code_ = 2)
      : std::runtime_error(what), code(code_) {}
  int code;
};

std::string signal_name(int sig);  // "SIGSEGV" (or "signal 42")
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string format_seconds(double s);  // "1.234 s", "12.3 ms"
std::string format_kib(double kib);    // "12.3 MiB", "1.20 GiB", "800 KiB"
// "208.8..213.1 ms": both ends in the unit format_seconds/format_kib picks for `ref`.
std::string format_seconds_range(double lo, double hi, double ref);
std::string format_kib_range(double lo, double hi, double ref);
std::string shell_quote(const std::vector<std::string>& argv);
std::vector<std::string> split(const std::string& s, char sep);
bool parse_number(const std::string& s, double* out);  // whole string, finite
std::string exe_dir();                                 // directory of /proc/self/exe
bool is_readable_file(const std::string& path);
std::string find_in_path(const std::string& prog);  // "" if not found / executable
std::string now_iso8601();
std::string host_description();
bool write_file(const std::string& path, const std::string& data, std::string* err);
std::string basename_of(const std::string& path);

}  // namespace arenalloc_cli
