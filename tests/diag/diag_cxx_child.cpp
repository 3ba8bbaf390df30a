// C++ buggy programs for the diagnostics tests (linked to libarenalloc.so): `diag_cxx_child
// SCENARIO`. Same conventions as diag_child.c: `key=value` lines written with write(2) before the
// bug (`ptr`, `tid`), `continued=1` after it.
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace {

void Emit(const std::string& s) {
  const char* p = s.data();
  size_t n = s.size();
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Ptr(const char* key, const void* p) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s=0x%llx\n", key,
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(p)));
  Emit(buf);
}

void Tid() {
  Emit("tid=" + std::to_string(syscall(SYS_gettid)) + "\n");
}

template <class T>
T* Hide(T* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}

struct Block48 {
  char bytes[48];
};

// Not polymorphic: `delete base` of a Derived calls operator delete(p, sizeof(Base)).
struct Base {
  long a = 1;
};
struct Derived : Base {
  char more[200] = {};
};

struct alignas(64) Aligned {
  char bytes[100];
};

struct WithDtor {
  std::string s = "a string long enough to live on the heap, not in the SSO buffer";
  ~WithDtor() { s.clear(); }
};

int DeleteTwice() {
  auto* p = new Block48;
  Ptr("ptr", p);
  Tid();
  delete p;
  delete Hide(p);
  Emit("continued=1\n");
  return 0;
}

int DeleteArrayTwice() {
  auto* p = new int[12];
  Ptr("ptr", p);
  Tid();
  delete[] p;
  delete[] Hide(p);
  Emit("continued=1\n");
  return 0;
}

int SizedDeleteWrong() {
  Base* b = new Derived;
  Ptr("ptr", b);
  Tid();
  delete Hide(b);  // operator delete(b, sizeof(Base)): the block holds a Derived
  Emit("continued=1\n");
  return 0;
}

int SizedDeleteExplicitWrong() {
  void* p = ::operator new(48);
  Ptr("ptr", p);
  Tid();
  ::operator delete(Hide(p), 400);
  Emit("continued=1\n");
  return 0;
}

// Every sized and aligned delete the compiler emits for correct code: no report.
int SizedDeleteRight() {
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<Derived>> d;
    for (int i = 0; i < 1000; ++i) d.push_back(std::make_unique<Derived>());
    std::vector<std::unique_ptr<Aligned>> a;
    for (int i = 0; i < 1000; ++i) a.push_back(std::make_unique<Aligned>());
    for (size_t n : {size_t(1), size_t(7), size_t(100), size_t(5000), size_t(300000)}) {
      auto* w = new WithDtor[n];  // array cookie: operator delete[](p, n * size + cookie)
      delete[] w;
      auto* c = new char[n];
      delete[] c;
      auto* al = new Aligned[n];
      delete[] al;
    }
    for (size_t n = 1; n < 5000; n += 7) {
      void* p = ::operator new(n);
      ::operator delete(p, n);
      p = ::operator new (n, std::align_val_t{256});
      ::operator delete (p, n, std::align_val_t{256});
    }
    std::string s;
    for (int i = 0; i < 100000; ++i) s += static_cast<char>('a' + i % 26);
    std::vector<int> v;
    for (int i = 0; i < 1000000; ++i) v.push_back(i);
  }
  Emit("continued=1\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string s = argc >= 2 ? argv[1] : "";
  if (s == "delete_twice") return DeleteTwice();
  if (s == "delete_array_twice") return DeleteArrayTwice();
  if (s == "sized_delete_wrong") return SizedDeleteWrong();
  if (s == "sized_delete_explicit_wrong") return SizedDeleteExplicitWrong();
  if (s == "sized_delete_right") return SizedDeleteRight();
  Emit(
      "usage: diag_cxx_child delete_twice | delete_array_twice | sized_delete_wrong | "
      "sized_delete_explicit_wrong | sized_delete_right\n");
  return 2;
}
