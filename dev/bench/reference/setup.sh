#!/usr/bin/env bash
# Installs the reference pipeline (dev/bench/reference: Node.js, its own package.json and lockfile, not the
# product's). Idempotent: a second run with the same lockfile and Node version returns at once.
#   bash dev/bench/reference/setup.sh
# @confluentinc/kafka-javascript is built from source here: its install step would download a prebuilt binary
# from outside the npm registry, which is not reachable on our machines. It builds its bundled librdkafka
# (2.15.1, the same version our binding loads) as a shared library: CKJS_LINKING=dynamic, with Debian's
# zlib/ssl/zstd/lz4/sasl dev packages; a few minutes on 2 cores, once.
set -euo pipefail
cd "$(dirname "$0")"
. ../../support/ensure-packages.sh
say() { printf '[reference] %s\n' "$*" >&2; }

command -v node >/dev/null || { say "node not found: install Node.js >= 20"; exit 1; }
command -v npm >/dev/null || { say "npm not found"; exit 1; }
stamp_file=node_modules/.topofleet-reference-stamp
stamp="$(node --version) $(sha256sum package-lock.json | cut -d' ' -f1)"
addon=node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -f "$addon" ]; then
  say "installed ($(node --version))"
  exit 0
fi

ensure_packages reference build-essential python3 pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev

# node-gyp needs the running Node's headers; Debian's nodejs has them under /usr/include/node, an official
# tarball under <prefix>/include/node. Without a local copy node-gyp would download them (unreachable here).
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
nodedir=""
for d in "$prefix" /usr /usr/local; do
  [ -f "$d/include/node/node.h" ] && { nodedir=$d; break; }
done
[ -n "$nodedir" ] || { say "no Node.js headers (include/node/node.h) under $prefix, /usr or /usr/local: install them (Debian: libnode-dev)"; exit 1; }

say "npm ci (builds @confluentinc/kafka-javascript and its librdkafka from source; a few minutes, once)"
log=$(mktemp)
if ! CKJS_LINKING=dynamic npm_config_nodedir="$nodedir" npm_config_build_from_source=true npm ci --no-audit --no-fund >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  say "npm ci failed (full log: $log)"
  exit 1
fi
rm -f "$log"
node -e 'import("@confluentinc/kafka-javascript").then((k) => console.error("[reference] librdkafka " + k.default.librdkafkaVersion))'
echo "$stamp" >"$stamp_file"
say "installed"
