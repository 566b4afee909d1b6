#!/usr/bin/env bash
# Installs the Debian 12 packages RTR builds and tests with, only those that are missing.
# Used by `make demo` and `make test`; safe to run again (does nothing when all are present).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format python3
  libzmq3-dev libdb5.3-dev protobuf-c-compiler libprotobuf-c-dev
  libcriterion-dev libconfig-dev libedit-dev libjansson-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "rtr: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "rtr: cannot install packages: not root and no sudo. Install them by hand:" >&2
    echo "     apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
  echo "rtr: apt-get failed to install: ${missing[*]}" >&2
  echo "     check network access to the Debian archive, then run: apt-get install ${missing[*]}" >&2
  exit 1
fi
