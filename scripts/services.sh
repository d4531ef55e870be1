#!/usr/bin/env bash
# The servers the connector tests need that the machine does not start by itself.
#
#   bash scripts/services.sh up       start what is not already listening, wait until it answers (idempotent)
#   bash scripts/services.sh down     stop what `up` started (by PID) and remove its data
#   bash scripts/services.sh status   what is listening
#   bash scripts/services.sh restart  stop the Kafka broker `up` started and start it again on the same data
#                                     (for tests of a broker restart; SLUICE_KAFKA_PORT / SLUICE_KAFKA_CONTROLLER_PORT
#                                     with SLUICE_SERVICES_RUN run a second, private broker for such tests)
#
# Today that is Apache Kafka: one broker in KRaft mode (broker and controller in one JVM) on
# 127.0.0.1:9092, its jars resolved from Maven Central by scripts/kafka/pom.xml (cached under
# $SLUICE_SERVICES_HOME, default ~/.cache/sluice), its data in a temporary directory. PostgreSQL
# (5432), Redis (6379) and NATS with JetStream (4222) are started by the machine before a
# session; `up` checks that they answer and says how to start one that does not.
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR="${SLUICE_SERVICES_HOME:-$HOME/.cache/sluice}"
RUN_DIR="${SLUICE_SERVICES_RUN:-/tmp/sluice-services}"
KAFKA_PORT="${SLUICE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SLUICE_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka/pom.xml)"
KAFKA_LIB="$HOME_DIR/kafka-$KAFKA_VERSION/lib"
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_DATA="$RUN_DIR/kafka-data"
KAFKA_LOG="$RUN_DIR/kafka.log"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # port seconds what
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    if listening "$1"; then return 0; fi
    sleep 0.2
  done
  echo "services: $3 did not start listening on 127.0.0.1:$1 within $2 s" >&2
  return 1
}

kafka_jars() {
  if [[ -f "$KAFKA_LIB/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { echo "services: Kafka needs Maven (mvn) to fetch its jars from Maven Central" >&2; return 1; }
  command -v java >/dev/null || { echo "services: Kafka needs Java 17 or newer (java)" >&2; return 1; }
  echo "services: fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mkdir -p "$KAFKA_LIB"
  mvn -q -B -f scripts/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIB" -DincludeScope=runtime
  touch "$KAFKA_LIB/.complete"
}

kafka_ready() { # the broker answers a metadata request (not only the port)
  node scripts/kafka/ready.mjs "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
}

kafka_up() {
  if listening "$KAFKA_PORT"; then
    echo "services: kafka already listening on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  kafka_jars
  mkdir -p "$RUN_DIR"
  rm -rf "$KAFKA_DATA"
  mkdir -p "$KAFKA_DATA"
  local conf="$RUN_DIR/kafka.properties"
  cat >"$conf" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.flush.interval.messages=9223372036854775807
delete.topic.enable=true
EOF
  local log4j="$RUN_DIR/log4j2.properties"
  cat >"$log4j" <<EOF
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
EOF
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true "-Dlog4j2.configurationFile=$log4j")
  local cluster
  cluster="$(java "${java_opts[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  java "${java_opts[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$cluster" -c "$conf" >"$KAFKA_LOG" 2>&1 || {
    echo "services: formatting Kafka's storage failed; see $KAFKA_LOG" >&2
    tail -20 "$KAFKA_LOG" >&2
    return 1
  }
  kafka_start
}

# Starts the broker on the configuration, log settings and data `up` wrote, and waits until it answers.
kafka_start() {
  local conf="$RUN_DIR/kafka.properties"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true "-Dlog4j2.configurationFile=$RUN_DIR/log4j2.properties")
  # setsid: the broker outlives this script and the shell that ran it; stopped by PID with `down`.
  setsid nohup java "${java_opts[@]}" -cp "$KAFKA_LIB/*" kafka.Kafka "$conf" >>"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID"
  echo "services: starting kafka $KAFKA_VERSION (pid $(cat "$KAFKA_PID")), log $KAFKA_LOG"
  if ! wait_for "$KAFKA_PORT" 90 kafka; then
    tail -30 "$KAFKA_LOG" >&2
    return 1
  fi
  local i
  for ((i = 0; i < 120; i++)); do
    if kafka_ready; then
      echo "services: kafka ready on 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    if ! kill -0 "$(cat "$KAFKA_PID")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "services: kafka listens but does not answer metadata requests; see $KAFKA_LOG" >&2
  tail -30 "$KAFKA_LOG" >&2
  return 1
}

kafka_down() {
  if [[ ! -f "$KAFKA_PID" ]]; then
    echo "services: kafka was not started by this script"
    return 0
  fi
  kafka_stop
  rm -f "$KAFKA_PID"
  rm -rf "$KAFKA_DATA"
}

# Stops the broker by PID (SIGTERM, then SIGKILL after 30 s), keeping its data.
kafka_stop() {
  local pid
  pid="$(cat "$KAFKA_PID")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    local i
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "services: kafka (pid $pid) stopped"
  fi
}

kafka_restart() {
  if [[ ! -f "$KAFKA_PID" || ! -f "$RUN_DIR/kafka.properties" ]]; then
    echo "services: kafka was not started by this script; run up first" >&2
    return 1
  fi
  kafka_stop
  kafka_start
}

check_machine_service() { # name port how-to-start
  if listening "$2"; then
    echo "services: $1 listening on 127.0.0.1:$2"
  else
    echo "services: $1 is not listening on 127.0.0.1:$2; the machine starts it before a session (start it by hand with: $3)" >&2
    return 1
  fi
}

machine_services() {
  local ok=0
  check_machine_service postgresql 5432 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' || ok=1
  check_machine_service redis 6379 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no' || ok=1
  check_machine_service nats 4222 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server' || ok=1
  return $ok
}

case "${1:-}" in
  up)
    kafka_up
    machine_services
    ;;
  down)
    kafka_down
    ;;
  restart)
    kafka_restart
    ;;
  status)
    for p in "kafka $KAFKA_PORT" "postgresql 5432" "redis 6379" "nats 4222"; do
      set -- $p
      if listening "$2"; then echo "$1: listening on 127.0.0.1:$2"; else echo "$1: not listening"; fi
    done
    ;;
  *)
    echo "usage: bash scripts/services.sh up|down|restart|status" >&2
    exit 2
    ;;
esac
