// GoogleTest death tests, in a process linked to libarenalloc.so: each bad call runs in a forked
// child and must end it with SIGABRT and exactly one report line on stderr, naming the pointer.
// (The thread id is the child's, unknown here: any number.) on_error can also be changed at run
// time (arenalloc_option_set), which the last tests use inside the child.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "arenalloc/arenalloc.h"

namespace {

template <class T>
T* Hide(T* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}

std::string Hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(p)));
  return buf;
}

// The whole of stderr: one report line.
// The report line, then the backtrace frames that follow it where the unwinder is loaded.
std::string Only(const std::string& line) {
  return "^" + line + " in thread [0-9]+\n(    #[0-9]+ [^\n]*\n)*$";
}

void Sink(void* p) {
  asm volatile("" : : "r"(p) : "memory");
}

void NoCore() {
  struct rlimit r = {0, 0};
  setrlimit(RLIMIT_CORE, &r);
}

class DiagDeath : public ::testing::Test {
 protected:
  // The default "fast" style forks: the child sees the same addresses as the test.
  void SetUp() override { NoCore(); }
};

TEST_F(DiagDeath, DoubleFree) {
  void* p = std::malloc(48);
  EXPECT_EXIT(
      {
        std::free(p);
        std::free(Hide(p));
      },
      ::testing::KilledBySignal(SIGABRT),
      Only("arenalloc: double free of " + Hex(p) + " \\(48-byte block\\)"));
  std::free(p);
}

TEST_F(DiagDeath, DoubleDelete) {
  auto* p = new long[6];
  EXPECT_EXIT(
      {
        delete[] p;
        delete[] Hide(p);
      },
      ::testing::KilledBySignal(SIGABRT),
      Only("arenalloc: double free of " + Hex(p) + " \\(48-byte block\\)"));
  delete[] p;
}

TEST_F(DiagDeath, FreeOfStackAddress) {
  char buf[32];
  EXPECT_EXIT(std::free(Hide(buf)), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: invalid free of " + Hex(buf) + " \\(not allocated by arenalloc\\)"));
}

TEST_F(DiagDeath, FreeOfInteriorPointer) {
  char* p = static_cast<char*>(std::malloc(64));
  EXPECT_EXIT(
      std::free(Hide(p + 16)), ::testing::KilledBySignal(SIGABRT),
      Only("arenalloc: invalid free of " + Hex(p + 16) + " \\(not the start of a block\\)"));
  std::free(p);
}

TEST_F(DiagDeath, ReallocOfInteriorPointer) {
  char* p = static_cast<char*>(std::malloc(64));
  EXPECT_EXIT(Sink(std::realloc(Hide(p + 1), 10)), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: invalid free of " + Hex(p + 1) +
                   " \\(realloc of a pointer not allocated, or already freed\\)"));
  std::free(p);
}

TEST_F(DiagDeath, UsableSizeOfStackAddress) {
  char buf[32];
  EXPECT_EXIT(malloc_usable_size(Hide(buf)), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: invalid free of " + Hex(buf) +
                   " \\(malloc_usable_size of a pointer not allocated, or already freed\\)"));
}

TEST_F(DiagDeath, SizedFreeWithWrongSize) {
  void* p = std::malloc(48);
  EXPECT_EXIT(free_sized(Hide(p), 200), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: size mismatch in sized free of " + Hex(p) +
                   " \\(freed as 200 bytes, the block holds 48\\)"));
  std::free(p);
}

TEST_F(DiagDeath, SizedDeleteWithWrongSize) {
  void* p = ::operator new(100);
  EXPECT_EXIT(::operator delete(Hide(p), 8), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: size mismatch in sized free of " + Hex(p) +
                   " \\(freed as 8 bytes, the block holds 112\\)"));
  ::operator delete(p, 100);
}

TEST_F(DiagDeath, InvalidHeapHandle) {
  static char fake[256];
  auto* h = reinterpret_cast<arenalloc_heap_t*>(fake);
  EXPECT_EXIT(arenalloc_heap_malloc(Hide(h), 10), ::testing::KilledBySignal(SIGABRT),
              Only("arenalloc: invalid heap handle " + Hex(fake) +
                   " \\(not created by arenalloc_heap_create, or already destroyed\\)"));
}

// on_error=warn set at run time: the report, then the program goes on.
TEST_F(DiagDeath, WarnAtRunTimeContinues) {
  void* p = std::malloc(48);
  EXPECT_EXIT(
      {
        if (arenalloc_option_set("on_error", "warn") != 0) std::_Exit(3);
        std::free(p);
        std::free(Hide(p));
        void* a = std::malloc(48);
        void* b = std::malloc(48);
        std::_Exit(a != b ? 0 : 4);
      },
      ::testing::ExitedWithCode(0),
      Only("arenalloc: double free of " + Hex(p) + " \\(48-byte block\\)"));
  std::free(p);
}

TEST_F(DiagDeath, IgnoreAtRunTimeIsSilent) {
  void* p = std::malloc(48);
  EXPECT_EXIT(
      {
        if (arenalloc_option_set("on_error", "ignore") != 0) std::_Exit(3);
        std::free(p);
        std::free(Hide(p));
        char buf[16];
        std::free(Hide(buf));
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "^$");
  std::free(p);
}

}  // namespace
