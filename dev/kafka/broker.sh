#!/usr/bin/env bash
# A real Apache Kafka broker for tests, CI and benchmarks, from the broker kit beside the checkout
# (../shared/kafka-broker, or KAFKA_KIT). Prints the bootstrap address on start.
#   dev/kafka/broker.sh start DIR     env: KAFKA_PORT (9092), ZK_PORT (2181), KAFKA_HEAP (1g)
#   dev/kafka/broker.sh stop DIR      env: SIGNAL=KILL for a crash, KAFKA_ONLY=1 to keep ZooKeeper
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
kit=${KAFKA_KIT:-$here/../shared/kafka-broker}
[ -x "$kit/start.sh" ] || { echo "broker.sh: no broker kit at $kit (set KAFKA_KIT)" >&2; exit 1; }
cmd=${1:?usage: broker.sh start|stop DIR}; dir=${2:?usage: broker.sh start|stop DIR}
# The kit's ZooKeeper (Debian's 3.8 jar) needs Dropwizard metrics-core, which the kit does not ship.
metrics_jar=/usr/share/java/metrics-core.jar
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ -f "$metrics_jar" ] || need+=(libdropwizard-metrics-java)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "broker.sh: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "broker.sh: missing ${need[*]} (apt-get install -y ${need[*]})" >&2; exit 1
  fi
fi
export CLASSPATH="$metrics_jar${CLASSPATH:+:$CLASSPATH}"
# The kit's snappy-java has no native library for this platform; its pure-Java fallback needs reflective
# access to java.nio buffers, which Java 17 denies by default (every snappy batch would fail UNKNOWN).
export KAFKA_OPTS="${KAFKA_OPTS:+$KAFKA_OPTS }--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED"
case "$cmd" in
  start) exec bash "$kit/start.sh" "$dir" ;;
  stop) exec bash "$kit/stop.sh" "$dir" ;;
  *) echo "usage: broker.sh start|stop DIR" >&2; exit 2 ;;
esac
