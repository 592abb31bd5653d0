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

# 2. librdkafka 2.15 (the Kafka client library our bun:ffi binding loads). RDKAFKA_LIB overrides everything;
# otherwise a system librdkafka >= 2.15 is used as it is, and an older or missing one (Debian 12 ships 2.0.2)
# is replaced by a build cached under ~/.cache/topofleet (dev/librdkafka/build.sh; about a minute, once).
system_rdkafka_ok() {
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /usr/local/lib; do
    [ -e "$d/librdkafka.so.1" ] || continue
    v=$(strings "$d/librdkafka.so.1" 2>/dev/null | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+$' || true)
    case "$v" in 2.1[5-9].*|2.[2-9][0-9].*|[3-9].*) return 0 ;; esac
  done
  return 1
}
if [ -n "${RDKAFKA_LIB:-}" ]; then
  [ -f "$RDKAFKA_LIB" ] || { say "RDKAFKA_LIB=$RDKAFKA_LIB does not exist"; exit 1; }
  say "librdkafka: RDKAFKA_LIB=$RDKAFKA_LIB"
elif system_rdkafka_ok; then
  say "librdkafka: the system's (>= 2.15)"
else
  say "librdkafka: $(bash dev/librdkafka/build.sh)"
fi

# 3. Packages, exactly as locked.
bun install --frozen-lockfile
say "done"
