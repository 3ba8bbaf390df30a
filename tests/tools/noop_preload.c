/* A shared object that overrides nothing: a stand-in "allocator" library for the
   arenalloc command's tests (custom NAME=/path entries, `run --lib`). */
int arenalloc_tools_test_noop(void) {
  return 42;
}
