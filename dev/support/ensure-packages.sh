# Sourced by the build scripts (dev/librdkafka/build.sh, dev/bench/reference/setup.sh):
#   ensure_packages LABEL PACKAGE...
# installs those of the Debian packages that are missing, when running as root where apt-get exists; elsewhere
# it does nothing and the build says what it lacks.
ensure_packages() {
  local label=$1
  shift
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then return 0; fi
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf '[%s] installing build packages: %s\n' "$label" "${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
