# arenalloc_sanitized_core(<target> <sanitizer flags>...)
#
# The allocator core (src/os, src/core, src/diag: ARENALLOC_CORE_SOURCES, without the exported
# malloc/new symbols) compiled once more, with the given sanitizer flags, into a static library.
# Tests drive it through the internal entry points of core/alloc.h (arenalloc::alloc, dealloc,
# ...), so the sanitizer runtime keeps its own malloc while our code is instrumented.
#
# Shared by tests/sanitize (ThreadSanitizer, AddressSanitizer+UBSan) and tests/fuzz (libFuzzer).
function(arenalloc_sanitized_core name)
  if(NOT ARENALLOC_CORE_SOURCES)
    message(FATAL_ERROR "ARENALLOC_CORE_SOURCES is not set: src/ must be added before tests/")
  endif()
  set(sources ${ARENALLOC_CORE_SOURCES})
  list(TRANSFORM sources PREPEND ${PROJECT_SOURCE_DIR}/src/)
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(${name} PRIVATE ARENALLOC_VERSION_STRING="x")
  # -O1 last so that it wins over the build type's -O3/-O2.
  target_compile_options(${name} PRIVATE ${ARENALLOC_INTERNAL_FLAGS} ${ARGN}
                         -g -O1 -fno-omit-frame-pointer)
  # Whoever links the core links the sanitizer runtime too.
  target_link_options(${name} INTERFACE ${ARGN})
  find_package(Threads REQUIRED)
  target_link_libraries(${name} PUBLIC Threads::Threads)
endfunction()
