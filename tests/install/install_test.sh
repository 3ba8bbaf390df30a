#!/usr/bin/env bash
# Packaging tests (tests/install/CMakeLists.txt runs one STEP per CTest test):
#   install         cmake --install of the build tree into WORK/prefix; check the installed files
#   package-shared  tests/install/consumer with find_package(arenalloc), arenalloc::arenalloc
#   package-static  the same with arenalloc::arenalloc_static
#   pkgconfig       a C program built with $(pkg-config --cflags --libs arenalloc)
#   subdir          the consumer with add_subdirectory(<source tree>)
#   fetch           the consumer with FetchContent_Declare(arenalloc SOURCE_DIR <source tree>)
# Usage: install_test.sh STEP  with CMAKE, BUILD_DIR, SOURCE_DIR, WORK, CC, CXX, VERSION and
# GENERATOR in the environment. Any failing command fails the test (set -e); exit 77 = skipped.
set -euo pipefail
step=$1
: "${CMAKE:?}" "${BUILD_DIR:?}" "${SOURCE_DIR:?}" "${WORK:?}" "${CC:?}" "${CXX:?}" "${VERSION:?}"
prefix=$WORK/prefix
consumer_src=$SOURCE_DIR/tests/install/consumer
dir=$WORK/$step
JOBS=${JOBS:-2}

fail() { echo "install_test[$step]: FAILED: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }

# Configure, build and run the consumer project; check its output line.
consumer() {  # consumer EXPECTED_MODE EXPECTED_LINK CMAKE_ARGS...
  local mode=$1 link=$2
  shift 2
  rm -rf "$dir"
  run timeout 150 "$CMAKE" -S "$consumer_src" -B "$dir" -G "${GENERATOR:-Unix Makefiles}" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" "$@"
  run timeout 150 "$CMAKE" --build "$dir" -j"$JOBS"
  local out
  out=$(timeout 60 "$dir/consumer") || fail "the consumer exited with status $? (output: $out)"
  echo "$out"
  [[ $out == *"consumer: mode=$mode link=$link arenalloc=$VERSION "*" OK"* ]] ||
    fail "unexpected consumer output"
  malloc_from=$(sed -n 's/.*malloc_from=\([^ ]*\).*/\1/p' <<<"$out")
  echo "malloc comes from $malloc_from"
  case $link in
    shared) [[ $(basename "$malloc_from") == libarenalloc.so ]] || fail "malloc not from libarenalloc.so" ;;
    static) [[ $malloc_from -ef $dir/consumer ]] || fail "malloc not linked into the program" ;;
  esac
  if [[ $mode == package && $link == shared ]]; then
    [[ $malloc_from -ef $prefix/lib/libarenalloc.so ]] ||
      fail "the consumer loaded $malloc_from, not the installed $prefix/lib/libarenalloc.so"
  fi
  if [[ $link == static ]]; then
    deps=$(ldd "$dir/consumer")  # (not piped into grep -q: with pipefail, SIGPIPE fails the pipe)
    [[ $deps != *libarenalloc* ]] || fail "static consumer depends on libarenalloc.so"
  fi
}

case $step in
  install)
    rm -rf "$prefix"
    run timeout 60 "$CMAKE" --install "$BUILD_DIR" --prefix "$prefix"
    for f in lib/libarenalloc.so lib/libarenalloc.a include/arenalloc/arenalloc.h \
             include/arenalloc/arenalloc.hpp lib/cmake/arenalloc/arenallocConfig.cmake \
             lib/cmake/arenalloc/arenallocConfigVersion.cmake \
             lib/cmake/arenalloc/arenallocTargets.cmake lib/pkgconfig/arenalloc.pc; do
      [[ -f $prefix/$f ]] || fail "$prefix/$f was not installed"
      echo "installed: $f"
    done
    # Relocatable: nothing installed refers to the build or source tree.
    if grep -rl -e "$BUILD_DIR" -e "$SOURCE_DIR" "$prefix/lib/cmake" "$prefix/lib/pkgconfig"; then
      fail "installed package files refer to the build or source tree"
    fi
    if [[ -e $BUILD_DIR/arenalloc ]]; then  # the command was built: it is installed and works
      [[ -x $prefix/bin/arenalloc ]] || fail "bin/arenalloc was not installed"
      out=$(timeout 30 "$prefix/bin/arenalloc" run -- sh -c 'echo "preload=$LD_PRELOAD"')
      echo "$out"
      [[ $out == *"preload=$prefix/bin/../lib/libarenalloc.so"* || $out == *"preload=$prefix/lib/libarenalloc.so"* ]] ||
        fail "installed bin/arenalloc did not preload the installed library"
    fi
    echo "install_test[$step]: OK"
    ;;
  package-shared)
    consumer package shared -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
    echo "install_test[$step]: OK"
    ;;
  package-static)
    consumer package static -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
      -DARENALLOC_CONSUMER_STATIC=ON
    echo "install_test[$step]: OK"
    ;;
  pkgconfig)
    command -v pkg-config >/dev/null || { echo "pkg-config not installed: skipped"; exit 77; }
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    got=$(pkg-config --modversion arenalloc)
    [[ $got == "$VERSION" ]] || fail "pkg-config --modversion says $got, expected $VERSION"
    flags=$(pkg-config --cflags --libs arenalloc)
    echo "pkg-config --cflags --libs arenalloc: $flags"
    [[ $flags == *"-I$prefix/include"* || $flags == *"-I$prefix/lib/pkgconfig/../../include"* ]] ||
      fail "Cflags do not point into the prefix"
    rm -rf "$dir" && mkdir -p "$dir"
    # shellcheck disable=SC2086  # word splitting of the flags is intended
    run timeout 60 "$CC" -std=c11 -Wall -Werror "$SOURCE_DIR/tests/install/pkgconfig/main.c" \
      $flags -o "$dir/pkgconfig_c"
    out=$(LD_LIBRARY_PATH=$prefix/lib timeout 30 "$dir/pkgconfig_c") || fail "exit status $?"
    echo "$out"
    [[ $out == *"pkgconfig: arenalloc $VERSION OK"* ]] || fail "unexpected output"
    deps=$(LD_LIBRARY_PATH=$prefix/lib ldd "$dir/pkgconfig_c")
    echo "$deps" | grep libarenalloc || true
    [[ $deps == *"$prefix/lib/libarenalloc.so"* ]] ||
      fail "the program does not load the installed libarenalloc.so"
    echo "install_test[$step]: OK"
    ;;
  subdir)
    # Debug: the quickest build of arenalloc's sources (this builds the library again).
    consumer subdir shared -DARENALLOC_CONSUMER_MODE=subdir -DARENALLOC_SOURCE_DIR="$SOURCE_DIR" \
      -DCMAKE_BUILD_TYPE=Debug
    echo "install_test[$step]: OK"
    ;;
  fetch)
    # No build type at all: arenalloc must leave it empty (it compiles itself with -O2 then).
    consumer fetch static -DARENALLOC_CONSUMER_MODE=fetch -DARENALLOC_SOURCE_DIR="$SOURCE_DIR" \
      -DARENALLOC_CONSUMER_STATIC=ON
    echo "install_test[$step]: OK"
    ;;
  *)
    fail "unknown step"
    ;;
esac
