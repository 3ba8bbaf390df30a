// heaps: what private heaps and sized free buy. Builds and discards many binary trees of small
// nodes (like the binary-trees benchmark) in each of these modes, per allocator:
//
//   free    allocate each node, free each node                (arenalloc: malloc/free)
//   sized   the same, but free with the size                  (arenalloc: free_sized)
//   heap    allocate from a private heap per thread, discard the whole tree at once
//           (arenalloc: arenalloc_heap_malloc + arenalloc_heap_reset)
//
// and the peers' equivalents where they are installed, loaded with dlopen(RTLD_LOCAL) at run
// time so that the process malloc stays arenalloc's and the program builds without them:
//   jemalloc  mallocx/dallocx, sdallocx, a private arena (arenas.create, MALLOCX_ARENA) discarded
//             with arena.<i>.reset (after thread.tcache.flush)
//   mimalloc  mi_malloc/mi_free, mi_free_size, mi_heap_new + mi_heap_malloc + mi_heap_destroy
//
// Unlike the rest of bench/, this program links arenalloc (it calls its heap API), so it is not
// part of the LD_PRELOAD comparison suite (`arenalloc compare --suite`).
//
// Every tree is walked and its checksum verified before it is discarded; nodes carry a value
// that depends on the tree, so a node handed out twice or overwritten is caught.
#include <arenalloc/arenalloc.h>
#include <dlfcn.h>

#include <thread>

#include "common.hpp"

namespace {

struct Node {
  Node* left;
  Node* right;
  std::uint64_t value;
};

constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;

// ---- allocators: one object per thread and mode ----
// alloc(n) -> block; free(p, n) per node (per_node) or discard() for the whole tree.

struct ArenallocFree {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return std::malloc(n); }
  void free(void* p, std::size_t) { std::free(p); }
  void discard() {}
};

struct ArenallocSized {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return std::malloc(n); }
  void free(void* p, std::size_t n) { free_sized(p, n); }
  void discard() {}
};

struct ArenallocHeap {
  static constexpr bool per_node = false;
  arenalloc_heap_t* heap = arenalloc_heap_create();
  ~ArenallocHeap() { arenalloc_heap_destroy(heap); }
  void* alloc(std::size_t n) { return arenalloc_heap_malloc(heap, n); }
  void free(void*, std::size_t) {}
  void discard() { arenalloc_heap_reset(heap); }
};

// jemalloc through dlopen.
struct Jemalloc {
  void* (*mallocx)(std::size_t, int) = nullptr;
  void (*dallocx)(void*, int) = nullptr;
  void (*sdallocx)(void*, std::size_t, int) = nullptr;
  int (*mallctl)(const char*, void*, std::size_t*, void*, std::size_t) = nullptr;
  const char* version = "?";
  std::string error;
  bool load() {
    void* h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = dlerror();
      error = e ? e : "dlopen failed";
      return false;
    }
    mallocx = reinterpret_cast<decltype(mallocx)>(dlsym(h, "mallocx"));
    dallocx = reinterpret_cast<decltype(dallocx)>(dlsym(h, "dallocx"));
    sdallocx = reinterpret_cast<decltype(sdallocx)>(dlsym(h, "sdallocx"));
    mallctl = reinterpret_cast<decltype(mallctl)>(dlsym(h, "mallctl"));
    if (!mallocx || !dallocx || !sdallocx || !mallctl) return false;
    std::size_t len = sizeof version;
    mallctl("version", &version, &len, nullptr, 0);
    return true;
  }
};
Jemalloc g_je;

struct JeFree {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return g_je.mallocx(n, 0); }
  void free(void* p, std::size_t) { g_je.dallocx(p, 0); }
  void discard() {}
};

struct JeSized {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return g_je.mallocx(n, 0); }
  void free(void* p, std::size_t n) { g_je.sdallocx(p, n, 0); }
  void discard() {}
};

struct JeArena {
  static constexpr bool per_node = false;
  unsigned arena = 0;
  int flags = 0;
  char reset_cmd[64];
  JeArena() {
    std::size_t len = sizeof arena;
    if (g_je.mallctl("arenas.create", &arena, &len, nullptr, 0) != 0)
      bench::fail("jemalloc: arenas.create failed");
    flags = static_cast<int>((arena + 1) << 20);  // MALLOCX_ARENA(arena)
    std::snprintf(reset_cmd, sizeof reset_cmd, "arena.%u.reset", arena);
  }
  ~JeArena() {
    char cmd[64];
    std::snprintf(cmd, sizeof cmd, "arena.%u.destroy", arena);
    g_je.mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    g_je.mallctl(cmd, nullptr, nullptr, nullptr, 0);
  }
  void* alloc(std::size_t n) { return g_je.mallocx(n, flags); }
  void free(void*, std::size_t) {}
  void discard() {
    // The thread cache may hold blocks of the arena: flush it first (jemalloc's rule for reset).
    g_je.mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    if (g_je.mallctl(reset_cmd, nullptr, nullptr, nullptr, 0) != 0)
      bench::fail("jemalloc: %s failed", reset_cmd);
  }
};

// mimalloc through dlopen.
struct Mimalloc {
  void* (*malloc)(std::size_t) = nullptr;
  void (*free)(void*) = nullptr;
  void (*free_size)(void*, std::size_t) = nullptr;
  void* (*heap_new)() = nullptr;
  void* (*heap_malloc)(void*, std::size_t) = nullptr;
  void (*heap_destroy)(void*) = nullptr;
  int version = 0;
  bool load() {
    void* h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return false;
    malloc = reinterpret_cast<decltype(malloc)>(dlsym(h, "mi_malloc"));
    free = reinterpret_cast<decltype(free)>(dlsym(h, "mi_free"));
    free_size = reinterpret_cast<decltype(free_size)>(dlsym(h, "mi_free_size"));
    heap_new = reinterpret_cast<decltype(heap_new)>(dlsym(h, "mi_heap_new"));
    heap_malloc = reinterpret_cast<decltype(heap_malloc)>(dlsym(h, "mi_heap_malloc"));
    heap_destroy = reinterpret_cast<decltype(heap_destroy)>(dlsym(h, "mi_heap_destroy"));
    auto ver = reinterpret_cast<int (*)()>(dlsym(h, "mi_version"));
    if (!malloc || !free || !free_size || !heap_new || !heap_malloc || !heap_destroy) return false;
    version = ver ? ver() : 0;
    return true;
  }
};
Mimalloc g_mi;

struct MiFree {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return g_mi.malloc(n); }
  void free(void* p, std::size_t) { g_mi.free(p); }
  void discard() {}
};

struct MiSized {
  static constexpr bool per_node = true;
  void* alloc(std::size_t n) { return g_mi.malloc(n); }
  void free(void* p, std::size_t n) { g_mi.free_size(p, n); }
  void discard() {}
};

// mimalloc heaps cannot be reset: destroy (frees every block at once) and make a new one.
struct MiHeap {
  static constexpr bool per_node = false;
  void* heap = g_mi.heap_new();
  ~MiHeap() { g_mi.heap_destroy(heap); }
  void* alloc(std::size_t n) { return g_mi.heap_malloc(heap, n); }
  void free(void*, std::size_t) {}
  void discard() {
    g_mi.heap_destroy(heap);
    heap = g_mi.heap_new();
  }
};

// ---- trees ----

// A complete tree of `depth` levels below the root; node ids in heap order (root 1, children
// 2i and 2i+1), so the ids are exactly 1..2^(depth+1)-1.
template <class A>
Node* build(A& a, int depth, std::uint64_t id, std::uint64_t salt) {
  auto* n = static_cast<Node*>(a.alloc(sizeof(Node)));
  if (n == nullptr) bench::out_of_memory(sizeof(Node));
  n->value = id * kMul + salt;
  if (depth > 0) {
    n->left = build(a, depth - 1, 2 * id, salt);
    n->right = build(a, depth - 1, 2 * id + 1, salt);
  } else {
    n->left = n->right = nullptr;
  }
  return n;
}

std::uint64_t checksum(const Node* n) {
  std::uint64_t s = 0;
  while (n != nullptr) {  // recurse left, loop right
    s += n->value + checksum(n->left);
    n = n->right;
  }
  return s;
}

template <class A>
void free_tree(A& a, Node* n) {
  while (n != nullptr) {
    Node* right = n->right;
    free_tree(a, n->left);
    a.free(n, sizeof(Node));
    n = right;
  }
}

std::uint64_t expected_checksum(int depth, std::uint64_t salt) {
  const std::uint64_t count = (std::uint64_t{2} << depth) - 1;
  const std::uint64_t id_sum = count * (count + 1) / 2;
  return id_sum * kMul + count * salt;
}

struct Result {
  double seconds = 0;
  std::uint64_t nodes = 0;
  long rss_kib = 0;  // after the mode's threads are done
};

template <class A>
Result run_mode(const char* name, std::uint64_t trees, std::uint64_t threads, int depth) {
  std::atomic<std::uint64_t> bad{0};
  bench::Timer timer;
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      A a;
      for (std::uint64_t i = 0; i < trees; ++i) {
        const std::uint64_t salt = (t << 40) + i + 1;
        Node* root = build(a, depth, 1, salt);
        if (checksum(root) != expected_checksum(depth, salt)) bad.fetch_add(1);
        if constexpr (A::per_node)
          free_tree(a, root);
        else
          a.discard();
      }
    });
  for (auto& th : ts) th.join();
  Result r;
  r.seconds = timer.seconds();
  r.nodes = trees * threads * ((std::uint64_t{2} << depth) - 1);
  r.rss_kib = bench::rss_kib();
  if (bad.load() != 0) bench::fail("%s: %" PRIu64 " trees with a wrong checksum", name, bad.load());
  return r;
}

// jemalloc uses initial-exec TLS: dlopen'ed into a running process it needs more static TLS
// than glibc keeps spare ("cannot allocate memory in static TLS block"). The reserve is fixed at
// start-up, so the program runs itself again once with glibc's tunable raised.
void reexec_with_static_tls(char** argv) {
  if (std::getenv("ARENALLOC_HEAPS_REEXEC") != nullptr) return;  // already done once
  std::string tunables = "glibc.rtld.optional_static_tls=65536";
  if (const char* old = std::getenv("GLIBC_TUNABLES"); old != nullptr && *old != 0)
    tunables = std::string(old) + ":" + tunables;
  setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  setenv("ARENALLOC_HEAPS_REEXEC", "1", 1);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
  unsetenv("ARENALLOC_HEAPS_REEXEC");  // exec failed: go on without jemalloc
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(
      argc, argv,
      "Build and discard binary trees of small nodes: malloc/free vs sized free vs a private\n"
      "heap discarded at once, for arenalloc and (via dlopen) jemalloc and mimalloc.",
      {{"nodes", 16000000, 1, 1ull << 40, "nodes allocated per thread, per mode"},
       {"threads", 2, 1, 1024, "threads (each with its own trees and heap)"},
       {"depth", 14, 1, 24, "tree depth (2^(depth+1)-1 nodes of 24 bytes per tree)"}});
  const std::uint64_t nodes = a[0], threads = a[1];
  const int depth = static_cast<int>(a[2]);
  const std::uint64_t per_tree = (std::uint64_t{2} << depth) - 1;
  const std::uint64_t trees = (nodes + per_tree - 1) / per_tree;

  bool have_je = g_je.load();
  if (!have_je && g_je.error.find("static TLS") != std::string::npos) {
    reexec_with_static_tls(argv);
    have_je = g_je.load();
  }
  const bool have_mi = g_mi.load();
  std::printf("heaps: %" PRIu64 " thread(s), %" PRIu64 " trees of %" PRIu64
              " nodes (depth %d) per thread and mode\n",
              threads, trees, per_tree, depth);
  std::printf("%-10s %-7s %-52s %9s %8s %9s\n", "allocator", "mode", "calls", "time_s", "ns/node",
              "rss_kib");

  std::string kv;
  auto row = [&](const char* alloc, const char* mode, const char* calls, const Result& r) {
    const double ns = r.seconds * 1e9 / static_cast<double>(r.nodes) * static_cast<double>(threads);
    std::printf("%-10s %-7s %-52s %9.3f %8.2f %9ld\n", alloc, mode, calls, r.seconds, ns,
                r.rss_kib);
    std::fflush(stdout);
    char buf[128];
    std::snprintf(buf, sizeof buf, " %s_%s_s=%.3f %s_%s_ns=%.2f", alloc, mode, r.seconds, alloc,
                  mode, ns);
    kv += buf;
  };
  auto missing = [&](const char* alloc, const char* pkg, const std::string& why) {
    std::printf("%-10s not installed (apt-get install %s)%s%s\n", alloc, pkg,
                why.empty() ? "" : ": ", why.c_str());
    kv += std::string(" ") + alloc + "=not_installed";
  };

  row("arenalloc", "free", "malloc + free",
      run_mode<ArenallocFree>("arenalloc free", trees, threads, depth));
  row("arenalloc", "sized", "malloc + free_sized",
      run_mode<ArenallocSized>("arenalloc sized", trees, threads, depth));
  row("arenalloc", "heap", "arenalloc_heap_malloc + arenalloc_heap_reset per tree",
      run_mode<ArenallocHeap>("arenalloc heap", trees, threads, depth));
  if (have_je) {
    row("jemalloc", "free", "mallocx + dallocx",
        run_mode<JeFree>("jemalloc free", trees, threads, depth));
    row("jemalloc", "sized", "mallocx + sdallocx",
        run_mode<JeSized>("jemalloc sized", trees, threads, depth));
    row("jemalloc", "heap", "mallocx(MALLOCX_ARENA) + arena.<i>.reset per tree",
        run_mode<JeArena>("jemalloc arena", trees, threads, depth));
  } else {
    missing("jemalloc", "libjemalloc2", g_je.error);
  }
  if (have_mi) {
    row("mimalloc", "free", "mi_malloc + mi_free",
        run_mode<MiFree>("mimalloc free", trees, threads, depth));
    row("mimalloc", "sized", "mi_malloc + mi_free_size",
        run_mode<MiSized>("mimalloc sized", trees, threads, depth));
    row("mimalloc", "heap", "mi_heap_malloc + mi_heap_destroy/mi_heap_new per tree",
        run_mode<MiHeap>("mimalloc heap", trees, threads, depth));
  } else {
    missing("mimalloc", "libmimalloc2.0", "");
  }
  if (have_je || have_mi)
    std::printf("(peers: jemalloc %s, mimalloc %d, loaded with dlopen; malloc is arenalloc %s)\n",
                have_je ? g_je.version : "-", g_mi.version, arenalloc_version());

  bench::summary("threads=%" PRIu64 " depth=%d trees=%" PRIu64 " nodes=%" PRIu64 "%s", threads,
                 depth, trees * threads, trees * threads * per_tree, kv.c_str());
  return 0;
}
