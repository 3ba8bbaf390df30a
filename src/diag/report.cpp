#include "diag/report.h"

#include <stdlib.h>

#include "diag/format.h"
#include "diag/options.h"
#include "os/os.h"

namespace arenalloc::diag {

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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
  return true;
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
  return true;
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
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
  line.write_stderr();
  if (action == OnError::kAbort) abort();
}

void warn(const char* message) noexcept {
  Line line;
  line.str("arenalloc: warning: ").str(message).str("\n");
  line.write_stderr();
}

}  // namespace arenalloc::diag
