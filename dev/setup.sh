#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu (or macOS/Alpine) machine that has Node.js and npm:
# installs the pinned Bun, the system librdkafka, and the project's packages. Safe to run again.
set -euo pipefail
BUN_VERSION="1.4.5"
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# 1. Bun, pinned: the FFI binding is tested against this version.
if ! command -v bun >/dev/null 2>&1 || [ "$(bun --version 2>/dev/null)" != "$BUN_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { say "npm not found: install Node.js and npm first (https://nodejs.org or 'apt-get install -y nodejs npm')"; exit 1; }
  say "installing bun@$BUN_VERSION with npm"
  npm install -g "bun@$BUN_VERSION" >/dev/null 2>&1 || npm install -g "bun@$BUN_VERSION"
fi
say "bun $(bun --version)"

# 2. librdkafka (the Kafka client library our bun:ffi binding loads). RDKAFKA_LIB overrides the lookup.
have_rdkafka() {
  [ -n "${RDKAFKA_LIB:-}" ] && [ -f "$RDKAFKA_LIB" ] && return 0
  ldconfig -p 2>/dev/null | grep -q 'librdkafka\.so\.1' && return 0
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /usr/local/lib /opt/homebrew/lib; do
    [ -e "$d/librdkafka.so.1" ] || [ -e "$d/librdkafka.1.dylib" ] && return 0
  done
  return 1
}
if ! have_rdkafka; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing librdkafka1 with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librdkafka1 >/dev/null
  else
    say "librdkafka is missing. Install it, then run this again:"
    say "  Debian/Ubuntu: sudo apt-get install -y librdkafka1"
    say "  macOS:         brew install librdkafka"
    say "  Alpine:        apk add librdkafka"
    say "  or point RDKAFKA_LIB at an existing librdkafka.so.1"
    exit 1
  fi
fi
say "librdkafka ok"

# 3. Packages, exactly as locked.
bun install --frozen-lockfile
say "done"
