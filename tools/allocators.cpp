#include "allocators.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util.hpp"

namespace arenalloc_cli {

namespace {

struct Peer {
  const char* name;
  std::vector<const char*> files;  // first one found wins
  const char* package;             // Debian package
};

const std::vector<Peer>& peers() {
  static const std::vector<Peer> p = {
      {"jemalloc", {"libjemalloc.so.2"}, "libjemalloc2"},
      {"tcmalloc", {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4"}, "libtcmalloc-minimal4"},
      {"mimalloc", {"libmimalloc.so.2"}, "libmimalloc2.0"},
  };
  return p;
}

std::vector<std::string> lib_dirs() {
  std::vector<std::string> dirs;
#if defined(__x86_64__)
  dirs.push_back("/usr/lib/x86_64-linux-gnu");
#elif defined(__aarch64__)
  dirs.push_back("/usr/lib/aarch64-linux-gnu");
#endif
  for (const char* d : {"/usr/lib64", "/usr/lib", "/usr/local/lib"}) dirs.push_back(d);
  return dirs;
}

bool find_peer(const Peer& p, std::string* path, std::string* looked) {
  const auto dirs = lib_dirs();
  for (const char* f : p.files)
    for (const std::string& d : dirs) {
      const std::string cand = d + "/" + f;
      if (is_readable_file(cand)) {
        *path = cand;
        return true;
      }
    }
  *looked = dirs.front() + "/" + p.files[0];
  return false;
}

bool is_glibc_name(const std::string& n) {
  return n == "glibc" || n == "system" || n == "libc";
}

}  // namespace

LibLookup locate_arenalloc(const std::string& cli_lib) {
  LibLookup l;
  const char* env = std::getenv("ARENALLOC_LIB");
  if (!cli_lib.empty() || (env && *env)) {
    l.explicit_path = true;
    l.path = !cli_lib.empty() ? cli_lib : env;
    l.tried.push_back(l.path);
    return l;
  }
  const std::string dir = exe_dir();
  for (const std::string& cand : {dir + "/libarenalloc.so", dir + "/../lib/libarenalloc.so"}) {
    l.tried.push_back(cand);
    if (is_readable_file(cand)) {
      l.path = cand;
      break;
    }
  }
  return l;
}

std::string check_library(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fmt("cannot read library '%s': %s", path.c_str(), std::strerror(errno));
  unsigned char magic[4] = {0, 0, 0, 0};
  const ssize_t n = read(fd, magic, sizeof magic);
  close(fd);
  if (n != 4 || std::memcmp(magic,
                            "\x7f"
                            "ELF",
                            4) != 0)
    return fmt("cannot use library '%s': not an ELF shared object", path.c_str());
  return "";
}

std::string arenalloc_library_or_throw(const std::string& cli_lib) {
  const LibLookup l = locate_arenalloc(cli_lib);
  if (l.path.empty())
    throw CliError("libarenalloc.so not found (looked for " + l.tried[0] + " and " + l.tried[1] +
                   "); build it (cmake --build build) or pass --lib PATH");
  if (std::string err = check_library(l.path); !err.empty()) throw CliError(err);
  return l.path;
}

AllocatorSet resolve_allocators(const std::string& list, const std::string& cli_lib) {
  AllocatorSet set;
  const bool defaults = list.empty();
  std::vector<std::string> names =
      defaults ? std::vector<std::string>{"arenalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"}
               : split(list, ',');
  for (std::string item : names) {
    if (item.empty()) throw CliError("empty name in --allocators list '" + list + "'");
    Allocator a;
    const std::size_t eq = item.find('=');
    if (eq != std::string::npos) {  // custom NAME=/path/lib.so
      a.name = item.substr(0, eq);
      a.lib = item.substr(eq + 1);
      if (a.name.empty() || a.lib.empty())
        throw CliError("bad allocator '" + item + "' (expected NAME=/path/lib.so)");
      if (std::string err = check_library(a.lib); !err.empty()) throw CliError(err);
    } else if (is_glibc_name(item)) {
      a.name = "glibc";
    } else if (item == "arenalloc") {
      const LibLookup l = locate_arenalloc(cli_lib);
      a.name = item;
      if (l.path.empty()) {
        if (!defaults)
          throw CliError("libarenalloc.so not found (looked for " + l.tried[0] + " and " +
                         l.tried[1] + "); build it or pass --lib PATH");
        set.missing.push_back({item, l.tried[0],
                               "build it (cmake --build build --target arenalloc) or pass --lib "
                               "PATH"});
        continue;
      }
      if (std::string err = check_library(l.path); !err.empty()) {
        if (!defaults || l.explicit_path) throw CliError(err);
        set.missing.push_back({item, l.path, err});
        continue;
      }
      a.lib = l.path;
    } else {
      const Peer* peer = nullptr;
      for (const Peer& p : peers())
        if (item == p.name) peer = &p;
      if (!peer)
        throw CliError("unknown allocator '" + item +
                       "' (known: arenalloc, glibc, jemalloc, tcmalloc, mimalloc; or "
                       "NAME=/path/lib.so)");
      std::string looked;
      a.name = item;
      if (!find_peer(*peer, &a.lib, &looked)) {
        const std::string hint = std::string("apt-get install ") + peer->package;
        if (!defaults) throw CliError(item + " not found (" + looked + "); install: " + hint);
        set.missing.push_back({item, looked, hint});
        continue;
      }
    }
    for (const Allocator& other : set.found)
      if (other.name == a.name) throw CliError("allocator '" + a.name + "' listed twice");
    set.found.push_back(a);
  }
  if (set.found.empty()) throw CliError("no allocator to compare");
  return set;
}

}  // namespace arenalloc_cli
