// The test process really uses arenalloc, and libarenalloc.so has the
// properties the design requires (no libstdc++ dependency).
#include <dlfcn.h>
#include <elf.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#if __has_include(<arenalloc/arenalloc.h>)
#include <arenalloc/arenalloc.h>
#else
extern "C" const char* arenalloc_version(void);
#endif

#include "api_util.h"

#ifndef ARENALLOC_SO
#error "ARENALLOC_SO (path of libarenalloc.so) must be defined by the build"
#endif

namespace {

std::string LibraryOf(const char* symbol) {
  void* addr = ::dlsym(RTLD_DEFAULT, symbol);
  if (addr == nullptr) return std::string("<unresolved: ") + symbol + ">";
  Dl_info info{};
  if (::dladdr(addr, &info) == 0 || info.dli_fname == nullptr) return "<no dladdr>";
  return info.dli_fname;
}

bool IsArenalloc(const std::string& path) {
  return path.find("libarenalloc.so") != std::string::npos;
}

TEST(Library, VersionIsExported) {
  const char* v = arenalloc_version();
  ASSERT_NE(v, nullptr);
  EXPECT_GT(std::strlen(v), 0u);
  EXPECT_TRUE(IsArenalloc(LibraryOf("arenalloc_version")));
}

TEST(Library, CMallocFamilyResolvesToArenalloc) {
  const char* names[] = {
      "malloc",
      "free",
      "calloc",
      "realloc",
      "reallocarray",
      "memalign",
      "posix_memalign",
      "aligned_alloc",
      "valloc",
      "pvalloc",
      "malloc_usable_size",
      "malloc_trim",
      "free_sized",
      "free_aligned_sized",
      "__libc_malloc",
      "__libc_free",
      "__libc_calloc",
      "__libc_realloc",
      "__libc_memalign",
  };
  for (const char* n : names) {
    std::string lib = LibraryOf(n);
    EXPECT_TRUE(IsArenalloc(lib)) << n << " resolves to " << lib;
  }
}

TEST(Library, OperatorNewDeleteResolveToArenalloc) {
  const char* names[] = {
      "_Znwm",                                // new(size_t)
      "_Znam",                                // new[](size_t)
      "_ZnwmRKSt9nothrow_t",                  // new(size_t, nothrow)
      "_ZnamRKSt9nothrow_t",                  // new[](size_t, nothrow)
      "_ZnwmSt11align_val_t",                 // new(size_t, align)
      "_ZnamSt11align_val_t",                 // new[](size_t, align)
      "_ZnwmSt11align_val_tRKSt9nothrow_t",   // new(size_t, align, nothrow)
      "_ZnamSt11align_val_tRKSt9nothrow_t",   // new[](size_t, align, nothrow)
      "_ZdlPv",                               // delete(void*)
      "_ZdaPv",                               // delete[](void*)
      "_ZdlPvm",                              // delete(void*, size_t)
      "_ZdaPvm",                              // delete[](void*, size_t)
      "_ZdlPvRKSt9nothrow_t",                 // delete(void*, nothrow)
      "_ZdaPvRKSt9nothrow_t",                 // delete[](void*, nothrow)
      "_ZdlPvSt11align_val_t",                // delete(void*, align)
      "_ZdaPvSt11align_val_t",                // delete[](void*, align)
      "_ZdlPvmSt11align_val_t",               // delete(void*, size_t, align)
      "_ZdaPvmSt11align_val_t",               // delete[](void*, size_t, align)
      "_ZdlPvSt11align_val_tRKSt9nothrow_t",  // delete(void*, align, nothrow)
      "_ZdaPvSt11align_val_tRKSt9nothrow_t",  // delete[](void*, align, nothrow)
  };
  for (const char* n : names) {
    std::string lib = LibraryOf(n);
    EXPECT_TRUE(IsArenalloc(lib)) << n << " resolves to " << lib;
  }
}

// The address the program itself uses for malloc (through its GOT) is
// arenalloc's, not only what dlsym finds.
TEST(Library, ProgramCallsArenallocMalloc) {
  void* (*volatile m)(size_t) = &::malloc;
  void (*volatile f)(void*) = &::free;
  Dl_info info{};
  ASSERT_NE(::dladdr(reinterpret_cast<void*>(m), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  EXPECT_TRUE(IsArenalloc(info.dli_fname)) << "malloc is from " << info.dli_fname;
  ASSERT_NE(::dladdr(reinterpret_cast<void*>(f), &info), 0);
  EXPECT_TRUE(IsArenalloc(info.dli_fname)) << "free is from " << info.dli_fname;
}

// Reads the DT_NEEDED entries of an ELF64 shared object from disk.
std::vector<std::string> NeededOf(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> needed;
  if (data.size() < sizeof(Elf64_Ehdr)) {
    *error = "cannot read " + path;
    return needed;
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    *error = "not an ELF64 file: " + path;
    return needed;
  }
  auto section = [&](size_t i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, data.data() + eh.e_shoff + i * eh.e_shentsize, sizeof sh);
    return sh;
  };
  if (eh.e_shoff == 0 || eh.e_shoff + size_t(eh.e_shnum) * eh.e_shentsize > data.size()) {
    *error = "bad section table";
    return needed;
  }
  bool found_dynamic = false;
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh = section(i);
    if (sh.sh_type != SHT_DYNAMIC) continue;
    found_dynamic = true;
    Elf64_Shdr str = section(sh.sh_link);
    for (size_t off = 0; off + sizeof(Elf64_Dyn) <= sh.sh_size; off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      std::memcpy(&d, data.data() + sh.sh_offset + off, sizeof d);
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_NEEDED && str.sh_offset + d.d_un.d_val < data.size())
        needed.emplace_back(data.data() + str.sh_offset + d.d_un.d_val);
    }
  }
  if (!found_dynamic) *error = "no dynamic section";
  return needed;
}

TEST(Library, SharedObjectDoesNotNeedLibstdcxx) {
  std::string error;
  std::vector<std::string> needed = NeededOf(ARENALLOC_SO, &error);
  ASSERT_TRUE(error.empty()) << error;
  std::string all;
  for (auto& n : needed) all += n + " ";
  EXPECT_FALSE(needed.empty()) << "expected at least libc.so.6 in DT_NEEDED";
  for (auto& n : needed) {
    EXPECT_EQ(n.find("libstdc++"), std::string::npos) << "DT_NEEDED: " << all;
  }
  // Sanity check of the parser itself: the test executable does need libstdc++.
  std::vector<std::string> self = NeededOf("/proc/self/exe", &error);
  bool self_has = false;
  for (auto& n : self) self_has |= n.find("libstdc++") != std::string::npos;
  EXPECT_TRUE(self_has) << "ELF parser failed to find libstdc++ in the test executable";
}

}  // namespace
