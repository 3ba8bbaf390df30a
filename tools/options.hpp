// Command-line parsing for the arenalloc command and its usage texts.
#pragma once

#include <string>
#include <vector>

namespace arenalloc_cli {

struct RunOptions {
  bool stats = false;
  std::string lib;
  std::vector<std::string> argv;
};

struct CompareOptions {
  std::string allocators;  // comma-separated; empty = defaults
  int runs = -1;           // -1: default (5, or 3 with --suite)
  int warmup = -1;         // -1: default (1, or 0 with --suite)
  bool syscalls = false;
  double timeout_s = 120;  // per run; 0 = none
  std::string json, html;
  bool suite = false;
  std::string bench_dir;
  std::string only;    // comma-separated benchmark names (suite)
  bool quick = false;  // tiny suite arguments (smoke test)
  std::string lib;
  bool show_output = false;
  bool quiet = false;
  std::vector<std::string> argv;
};

struct Command {
  enum Kind { Help, Version, Run, Compare } kind = Help;
  std::string help_topic;  // for Help: "", "run", "stats", "compare"
  RunOptions run;
  CompareOptions compare;
};

// Throws CliError (exit status 2) with a one-line message on bad usage.
Command parse_command_line(int argc, char** argv);

// Usage text for a topic ("" = overview); throws CliError for an unknown topic.
std::string usage_text(const std::string& topic);

}  // namespace arenalloc_cli
