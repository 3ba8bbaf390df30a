#!/usr/bin/env bash
# Install what arenalloc needs to build, test and benchmark, only if missing (Debian 12, root).
set -euo pipefail
pkgs=(cmake g++ make libgtest-dev libbenchmark-dev python3 strace
      libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
