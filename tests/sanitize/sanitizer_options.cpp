// Default options of the sanitizer runtimes, compiled into the test executables so that they
// apply however the tests are run (ctest, by hand, under a debugger). ASAN_OPTIONS, TSAN_OPTIONS
// and UBSAN_OPTIONS in the environment still override them.
//   - The first report ends the process with a failure (halt_on_error; abort for a core file).
//   - TSan keeps more history so that reports show both stacks, and does not sleep a second at
//     exit waiting for other threads (the core's background purger never exits).
extern "C" {
__attribute__((used)) const char* __tsan_default_options() {
  return "halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:history_size=4:atexit_sleep_ms="
         "0";
}
// Statistics read page descriptors that their owner threads update without a lock (a moment's
// estimate, read once per field, see core/introspect.cpp); every other race is a failure.
__attribute__((used)) const char* __tsan_default_suppressions() {
  return "race:arenalloc::stats::*add_segment*\n";
}
__attribute__((used)) const char* __asan_default_options() {
  return "abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1";
}
__attribute__((used)) const char* __ubsan_default_options() {
  return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}
}
