// Formatting into a fixed buffer, for messages written from inside the allocator (no malloc,
// no stdio). Output that does not fit is truncated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "os/os.h"

namespace arenalloc::diag {

class Line {
 public:
  Line& str(const char* s) {
    while (*s != '\0') put(*s++);
    return *this;
  }
  Line& chars(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) put(s[i]);
    return *this;
  }
  Line& dec(uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0) put(tmp[--n]);
    return *this;
  }
  Line& hex(uint64_t v) {
    str("0x");
    char tmp[16];
    int n = 0;
    do tmp[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    while (n > 0) put(tmp[--n]);
    return *this;
  }
  Line& ptr(const void* p) { return hex(reinterpret_cast<uintptr_t>(p)); }
  const char* data() const { return buf_; }
  size_t size() const { return len_; }
  void write_stderr() const { os::write_stderr(buf_, len_); }

 private:
  void put(char c) {
    if (len_ < sizeof(buf_)) buf_[len_++] = c;
  }
  char buf_[512];
  size_t len_ = 0;
};

}  // namespace arenalloc::diag
