// Shared worker loop for cache_thrash and cache_scratch (false-sharing tests, after the
// Hoard benchmarks): allocate a small object, write every byte of it many times
// (through volatile, so each write reaches memory), verify, free.
#pragma once

#include "common.hpp"

namespace bench {

// Returns the number of byte writes done; fails on a lost write.
inline std::uint64_t write_objects(std::uint64_t iterations, std::size_t objsize,
                                   std::uint64_t repetitions, unsigned thread) {
  std::uint64_t writes = 0;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    auto* p = static_cast<unsigned char*>(checked_malloc(objsize));
    volatile unsigned char* v = p;
    const unsigned char seed = static_cast<unsigned char>(thread * 31 + i);
    for (std::size_t k = 0; k < objsize; ++k) v[k] = static_cast<unsigned char>(seed + k);
    for (std::uint64_t r = 0; r < repetitions; ++r)
      for (std::size_t k = 0; k < objsize; ++k) v[k] = static_cast<unsigned char>(v[k] + 1);
    for (std::size_t k = 0; k < objsize; ++k)
      if (v[k] != static_cast<unsigned char>(seed + k + repetitions))
        fail("thread %u object %p byte %zu: expected %u, found %u", thread,
             static_cast<void*>(p), k, static_cast<unsigned char>(seed + k + repetitions),
             v[k]);
    writes += objsize * repetitions;
    std::free(p);
  }
  return writes;
}

}  // namespace bench
