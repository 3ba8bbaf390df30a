// Helpers for the tuning tests: run a child under a controlled environment (optionally under
// strace) and capture its output; parse its "key=value" lines; a small JSON parser that also
// validates; /proc readers.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "child.h"

namespace tuning {

constexpr size_t kMiB = size_t(1) << 20;
constexpr size_t kKiB = size_t(1) << 10;

using testcommon::Lines;
using testcommon::ReadFile;

inline bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A scratch directory, removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/arenalloc-tuning-XXXXXX";
    const char* d = mkdtemp(tmpl);
    path_ = d != nullptr ? d : "/tmp";
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string File(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

struct Result {
  int status = -1;  // exit status, or 128 + signal, or -1 if it could not start / timed out
  bool timed_out = false;
  std::string out, err;
  std::map<std::string, std::string> kv;  // "key=value" lines of stdout (first '=' splits)

  bool Has(const std::string& k) const { return kv.count(k) != 0; }
  std::string Str(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? std::string("<missing " + k + ">") : it->second;
  }
  uint64_t Num(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 0);
  }
  // "N/M" values: N.
  uint64_t Count(const std::string& k) const { return Num(k); }
  std::string Describe() const {
    return "exit status " + std::to_string(status) + (timed_out ? " (timed out)" : "") +
           "\n--- stdout ---\n" + out.substr(0, 4000) + "\n--- stderr ---\n" + err.substr(0, 4000);
  }
};

// Variables that select allocator behaviour: never inherited by a child.
inline const std::vector<std::string> kTuningVariables = {"MALLOC_", "ARENALLOC_",
                                                          "GLIBC_TUNABLES=", "LD_PRELOAD="};

using testcommon::Env;

// Runs argv with the test's environment minus every tuning variable, plus `env`; stdout and
// stderr go to files and are read back. Killed after `timeout_s`.
inline Result RunProgram(const std::vector<std::string>& argv, const Env& env, int timeout_s = 60) {
  testcommon::ChildRun run = testcommon::RunCaptured(argv, kTuningVariables, env, timeout_s);
  Result r;
  if (!run.started) {
    r.err = run.error;
    return r;
  }
  r.timed_out = run.timed_out;
  if (!r.timed_out)
    r.status =
        WIFEXITED(run.wait_status) ? WEXITSTATUS(run.wait_status) : 128 + WTERMSIG(run.wait_status);
  r.out = run.out;
  r.err = run.err;
  for (const std::string& line : Lines(r.out)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) r.kv.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return r;
}

inline Result RunChild(const std::vector<std::string>& args, const Env& env = {},
                       int timeout_s = 60) {
  std::vector<std::string> argv{TUNING_CHILD};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, env, timeout_s);
}

// ---- strace ----

inline std::string StracePath() {
  for (const char* p : {"/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// Empty if strace is usable here, else why not (not installed, ptrace not permitted).
inline std::string StraceUnavailable() {
  static std::string reason = [] {
    std::string strace = StracePath();
    if (strace.empty()) return std::string("strace is not installed");
    Result r =
        RunProgram({strace, "-f", "-o", "/dev/null", "-e", "trace=brk", "/bin/true"}, {}, 30);
    if (r.status != 0) return "strace does not work here (ptrace not permitted?): " + r.err;
    return std::string();
  }();
  return reason;
}

struct Traced {
  Result result;
  std::vector<std::string> trace;  // strace log lines (without the "PID " prefix)

  // Lines between "MARK begin" and "MARK end" writes (the whole log if a mark is empty).
  std::vector<std::string> Between(const std::string& begin, const std::string& end) const {
    std::vector<std::string> out;
    bool in = begin.empty();
    for (const std::string& l : trace) {
      if (!begin.empty() && l.find("\"MARK " + begin + "\"") != std::string::npos) {
        in = true;
        continue;
      }
      if (!end.empty() && l.find("\"MARK " + end + "\"") != std::string::npos) break;
      if (in) out.push_back(l);
    }
    return out;
  }
  static size_t CountWith(const std::vector<std::string>& lines, const std::string& needle) {
    size_t n = 0;
    for (const std::string& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::string Excerpt(size_t max_lines = 60) const {
    std::string s;
    for (size_t i = 0; i < trace.size() && i < max_lines; ++i) s += trace[i] + "\n";
    if (trace.size() > max_lines) s += "... (" + std::to_string(trace.size()) + " lines)\n";
    return s;
  }
};

// Runs the child under `strace -f -e trace=mmap,munmap,madvise,brk,write`.
inline Traced RunChildTraced(const std::vector<std::string>& args, const Env& env = {}) {
  Traced t;
  TempDir dir;
  std::string log = dir.File("strace.log");
  std::vector<std::string> argv{
      StracePath(), "-f", "-qq", "-s", "64", "-o", log, "-e", "trace=mmap,munmap,madvise,brk,write",
      TUNING_CHILD};
  argv.insert(argv.end(), args.begin(), args.end());
  t.result = RunProgram(argv, env, 120);
  for (std::string line : Lines(ReadFile(log))) {
    size_t sp = line.find(' ');
    if (sp != std::string::npos && sp > 0 && std::isdigit(static_cast<unsigned char>(line[0])))
      line = line.substr(sp + 1);
    while (!line.empty() && line[0] == ' ') line.erase(0, 1);
    t.trace.push_back(line);
  }
  return t;
}

// ---- JSON: a strict recursive-descent parser (RFC 8259 subset: no \u surrogate checks) ----

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  double number = 0;
  std::string text;  // a number's text, or a string's value
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* Get(const std::string& key) const {
    for (const auto& [k, v] : members)
      if (k == key) return &v;
    return nullptr;
  }
  uint64_t U64(const std::string& key) const {
    const Json* v = Get(key);
    return v != nullptr && v->type == kNumber ? std::strtoull(v->text.c_str(), nullptr, 10) : 0;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  // False with error() set if the whole text is not exactly one JSON value.
  bool Parse(Json* out) {
    Ws();
    if (!Value(out, 0)) return false;
    Ws();
    if (i_ != s_.size()) return Fail("trailing characters");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& what) {
    if (error_.empty())
      error_ = what + " at offset " + std::to_string(i_) + ": \"" + s_.substr(i_, 40) + "\"";
    return false;
  }
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool Lit(const char* w) {
    size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return Fail(std::string("expected ") + w);
    i_ += n;
    return true;
  }
  bool Value(Json* v, int depth) {
    if (depth > 64) return Fail("nesting too deep");
    if (i_ >= s_.size()) return Fail("unexpected end");
    char c = s_[i_];
    if (c == '{') return Object(v, depth);
    if (c == '[') return Array(v, depth);
    if (c == '"') {
      v->type = Json::kString;
      return String(&v->text);
    }
    if (c == 't') return v->type = Json::kBool, v->b = true, Lit("true");
    if (c == 'f') return v->type = Json::kBool, v->b = false, Lit("false");
    if (c == 'n') return v->type = Json::kNull, Lit("null");
    return Number(v);
  }
  bool Object(Json* v, int depth) {
    v->type = Json::kObject;
    ++i_;
    Ws();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    for (;;) {
      Ws();
      std::string key;
      if (i_ >= s_.size() || s_[i_] != '"') return Fail("expected a key");
      if (!String(&key)) return false;
      for (const auto& m : v->members)
        if (m.first == key) return Fail("duplicate key " + key);
      Ws();
      if (i_ >= s_.size() || s_[i_] != ':') return Fail("expected ':'");
      ++i_;
      Ws();
      Json member;
      if (!Value(&member, depth + 1)) return false;
      v->members.emplace_back(key, std::move(member));
      Ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      return Fail("expected ',' or '}'");
    }
  }
  bool Array(Json* v, int depth) {
    v->type = Json::kArray;
    ++i_;
    Ws();
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
    for (;;) {
      Ws();
      Json item;
      if (!Value(&item, depth + 1)) return false;
      v->items.push_back(std::move(item));
      Ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      return Fail("expected ',' or ']'");
    }
  }
  bool String(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in a string");
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        char e = s_[i_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u':
            for (int k = 0; k < 4; ++k)
              if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_++])))
                return Fail("bad \\u escape");
            out->push_back('?');
            break;
          default:
            return Fail("bad escape");
        }
      } else {
        out->push_back(c);
      }
    }
    return Fail("unterminated string");
  }
  bool Number(Json* v) {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_])))
      return Fail("bad value");
    if (s_[i_] == '0')
      ++i_;
    else
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_])))
        return Fail("bad fraction");
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_])))
        return Fail("bad exponent");
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    v->type = Json::kNumber;
    v->text = s_.substr(start, i_ - start);
    v->number = std::strtod(v->text.c_str(), nullptr);
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string error_;
};

// ---- /proc ----

inline size_t StatusField(const char* key) {  // bytes
  for (const std::string& l : Lines(ReadFile("/proc/self/status")))
    if (StartsWith(l, std::string(key) + ":"))
      return std::strtoull(l.c_str() + std::strlen(key) + 1, nullptr, 10) * 1024;
  return 0;
}

}  // namespace tuning
