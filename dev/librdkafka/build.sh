#!/usr/bin/env bash
# Builds librdkafka 2.15.1 once into a cache folder that later runs (and other clones) reuse, from the source
# that the npm package @confluentinc/kafka-javascript@1.10.1 ships in deps/librdkafka. Prints the library path.
#   dev/librdkafka/build.sh            env: TOPOFLEET_CACHE (default ~/.cache/topofleet)
# Why build: Debian 12 ships librdkafka 2.0.2, whose cooperative group joins stall now and then and which has
# the commit-during-rejoin bug (librdkafka #4059). The binding loads the result unchanged.
set -euo pipefail
. "$(dirname "$0")/../support/ensure-packages.sh"
RDKAFKA_VERSION="2.15.1"
NPM_SOURCE="@confluentinc/kafka-javascript@1.10.1"
cache=${TOPOFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/topofleet}
dest="$cache/librdkafka-$RDKAFKA_VERSION"
lib="$dest/librdkafka.so.1"
say() { printf '[librdkafka] %s\n' "$*" >&2; }

if [ -f "$lib" ] && [ -f "$dest/include/librdkafka/rdkafka.h" ]; then echo "$lib"; exit 0; fi

# Optional codecs: zstd and lz4 from the system when present (librdkafka falls back to its bundled lz4).
ensure_packages librdkafka build-essential libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev pkg-config
command -v cc >/dev/null || { say "no C compiler: install build-essential (or set RDKAFKA_LIB to a librdkafka.so.1 >= 2.15)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "building librdkafka $RDKAFKA_VERSION from $NPM_SOURCE (about a minute on 2 cores)"
(cd "$work" && npm pack --silent "$NPM_SOURCE" >/dev/null && tar xzf ./*.tgz)
src="$work/package/deps/librdkafka"
grep -q "RD_KAFKA_VERSION 0x020f01" "$src/src/rdkafka.h" || { say "unexpected librdkafka version in $NPM_SOURCE"; exit 1; }
(cd "$src" && ./configure --disable-gssapi >"$work/configure.log" 2>&1 && make -j"$(nproc 2>/dev/null || echo 2)" libs >"$work/make.log" 2>&1) \
  || { say "build failed; last lines:"; tail -n 30 "$work/make.log" "$work/configure.log" >&2 || true; exit 1; }
# The headers stay beside the library: the binding's struct-layout test compiles against them.
mkdir -p "$dest/include/librdkafka"
cp "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$dest/include/librdkafka/"
cp "$src/src/librdkafka.so.1" "$dest/librdkafka.so.1.tmp"
mv "$dest/librdkafka.so.1.tmp" "$lib"
say "built $lib"
echo "$lib"
