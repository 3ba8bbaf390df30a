#include "diag/report.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unwind.h>

#include "diag/format.h"
#include "diag/options.h"
#include "os/os.h"

// The unwinder lives in libgcc_s, which C++ programs (and glibc, for thread cancellation) load;
// a weak reference finds it when it is there and costs nothing when it is not.
#pragma weak _Unwind_Backtrace
#pragma weak _Unwind_GetIP

namespace arenalloc::diag {
namespace {

struct Trace {
  int depth = 0;
  int skip = 2;  // this function and the report itself
};

_Unwind_Reason_Code print_frame(struct _Unwind_Context* context, void* arg) {
  auto* trace = static_cast<Trace*>(arg);
  uintptr_t ip = _Unwind_GetIP(context);
  if (ip == 0) return _URC_END_OF_STACK;
  if (trace->skip > 0) {
    --trace->skip;
    return _URC_NO_REASON;
  }
  Line line;
  line.str("    #").dec(static_cast<uint64_t>(trace->depth)).str(" ").hex(ip);
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(ip - 1), &info) != 0 && info.dli_fname != nullptr) {
    line.str(" (").str(info.dli_fname);
    if (info.dli_sname != nullptr) line.str(" ").str(info.dli_sname);
    line.str("+")
        .hex(ip - reinterpret_cast<uintptr_t>(info.dli_saddr != nullptr ? info.dli_saddr
                                                                        : info.dli_fbase))
        .str(")");
  }
  line.str("\n").write_stderr();
  return ++trace->depth < 32 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

// After a report: the stack that led to it, where the unwinder is available. It allocates
// nothing (the unwinder and dladdr work on the loaded objects' own tables).
void print_backtrace() {
  if (_Unwind_Backtrace == nullptr) return;
  Trace trace;
  _Unwind_Backtrace(print_frame, &trace);
}

// One report: the line, a backtrace, then the action on_error asks for. Returns true if the
// caller must leave the block alone (warn).
bool finish(Line& line, OnError action) {
  line.write_stderr();
  print_backtrace();
  if (action == OnError::kAbort) abort();
  return true;
}

}  // namespace

void report_invalid_free(const void* p, const char* why) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: invalid free of ")
      .ptr(p)
      .str(" (")
      .str(why)
      .str(") in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

void report_double_free(const void* p, size_t block_size) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: double free of ")
      .ptr(p)
      .str(" (")
      .dec(block_size)
      .str("-byte block) in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

bool report_size_mismatch(const void* p, size_t size, size_t block_size) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return false;
  Line line;
  line.str("arenalloc: size mismatch in sized free of ")
      .ptr(p)
      .str(" (freed as ")
      .dec(size)
      .str(" bytes, the block holds ")
      .dec(block_size)
      .str(") in thread ")
      .dec(os::thread_id())
      .str("\n");
  return finish(line, action);
}

bool report_overflow(const void* p, size_t size, size_t offset) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return false;
  Line line;
  line.str("arenalloc: heap overflow: ")
      .ptr(p)
      .str(" (")
      .dec(size)
      .str("-byte block) was written past its end, at byte ")
      .dec(offset)
      .str(", in thread ")
      .dec(os::thread_id())
      .str("\n");
  return finish(line, action);
}

void report_write_after_free(const void* p, size_t block_size, size_t offset) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: write after free: ")
      .ptr(p)
      .str(" (")
      .dec(block_size)
      .str("-byte block) was modified at byte ")
      .dec(offset)
      .str(" after it was freed; found when reusing it in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

void report_corruption(const void* p, size_t block_size, const char* what) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: heap corruption at ")
      .ptr(p)
      .str(" (")
      .dec(block_size)
      .str("-byte block): ")
      .str(what)
      .str(", in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

void report_bad_link(const void* link, size_t block_size) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: heap corruption: a free-list link of a ")
      .dec(block_size)
      .str("-byte block was overwritten after free (it leads to ")
      .ptr(link)
      .str(", outside its page), in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

void report_invalid_heap(const void* handle) noexcept {
  OnError action = options::on_error();
  if (action == OnError::kIgnore) return;
  Line line;
  line.str("arenalloc: invalid heap handle ")
      .ptr(handle)
      .str(" (not created by arenalloc_heap_create, or already destroyed) in thread ")
      .dec(os::thread_id())
      .str("\n");
  finish(line, action);
}

void warn(const char* message) noexcept {
  Line line;
  line.str("arenalloc: warning: ").str(message).str("\n");
  line.write_stderr();
}

}  // namespace arenalloc::diag
