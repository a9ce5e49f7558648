#!/usr/bin/env bash
# The whole apiwatch stack on this machine, without containers: ClickHouse
# (scripts/clickhouse.sh, as make test runs it), a Kafka-protocol broker
# (apiwatch devbroker), a detector, and a sensor replaying a capture. It
# prints where to look; deploy/local/down.sh stops everything it started.
#
#   deploy/local/up.sh
#   deploy/local/down.sh            # --purge also deletes the state directory
#
# Environment (defaults):
#   APIWATCH_LOCAL_DIR=/tmp/apiwatch-local  pids, logs, broker data, spool, secret, the binary
#   APIWATCH_BIN                            the apiwatch binary (default: built from this checkout)
#   PCAP=testdata/attacks-demo.pcap.gz      the capture the sensor replays (relative to the repository)
#   REPLAY_SPEED=10                         its pace: 1 as recorded, 10 ten times faster, 0 as fast as it reads
#   KAFKA_PORT=9092                         the broker, on 127.0.0.1
#   SENSOR_LISTEN=127.0.0.1:9464            the sensor's /metrics, /healthz, /readyz
#   DETECT_LISTEN=127.0.0.1:9465            the detector's
#   CLICKHOUSE_TCP_PORT=19000 CLICKHOUSE_HTTP_PORT=18123
#   CLICKHOUSE_DIR=$APIWATCH_LOCAL_DIR/clickhouse
#   CLICKHOUSE_DB=apiwatch
# A ClickHouse already answering on CLICKHOUSE_HTTP_PORT is used, and left
# running by down.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${APIWATCH_LOCAL_DIR:-/tmp/apiwatch-local}
pcap=${PCAP:-testdata/attacks-demo.pcap.gz}
speed=${REPLAY_SPEED:-10}
kafka_port=${KAFKA_PORT:-9092}
sensor_listen=${SENSOR_LISTEN:-127.0.0.1:9464}
detect_listen=${DETECT_LISTEN:-127.0.0.1:9465}
ch_tcp=${CLICKHOUSE_TCP_PORT:-19000}
ch_http=${CLICKHOUSE_HTTP_PORT:-18123}
ch_dir=${CLICKHOUSE_DIR:-$state/clickhouse}
db=${CLICKHOUSE_DB:-apiwatch}

say() { printf 'up: %s\n' "$*" >&2; }
fail() {
	say "error: $*"
	say "stopping what was started (deploy/local/down.sh)"
	APIWATCH_LOCAL_DIR=$state "$here/down.sh" >&2 || true
	exit 1
}

case $pcap in /*) ;; *) pcap=$root/$pcap ;; esac
[ -r "$pcap" ] || { say "error: no capture $pcap (PCAP)"; exit 1; }
command -v curl >/dev/null || { say "error: curl is needed (apt-get install curl)"; exit 1; }

mkdir -p "$state/log" "$state/run" "$state/spool" "$state/kafka"
for p in "$state"/run/*.pid; do
	[ -e "$p" ] || continue
	if kill -0 "$(cat "$p")" 2>/dev/null; then
		say "error: already up ($(basename "$p" .pid) runs, pid $(cat "$p")): run deploy/local/down.sh first"
		exit 1
	fi
	rm -f "$p"
done
# down.sh reads the settings this run used.
cat >"$state/run/env" <<ENV
CLICKHOUSE_DIR='$ch_dir'
CLICKHOUSE_TCP_PORT='$ch_tcp'
CLICKHOUSE_HTTP_PORT='$ch_http'
ENV

bin=${APIWATCH_BIN:-}
if [ -z "$bin" ]; then
	bin=$state/apiwatch
	say "building $bin"
	(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/apiwatch) || fail "go build failed"
fi
[ -x "$bin" ] || fail "$bin is not executable (APIWATCH_BIN)"

# ClickHouse, unless one already answers there.
export CLICKHOUSE_DIR=$ch_dir CLICKHOUSE_TCP_PORT=$ch_tcp CLICKHOUSE_HTTP_PORT=$ch_http
if "$root/scripts/clickhouse.sh" status; then
	say "using the ClickHouse already running on 127.0.0.1:$ch_tcp (down.sh leaves it running)"
else
	"$root/scripts/clickhouse.sh" start || fail "ClickHouse did not start"
	touch "$state/run/clickhouse.started"
fi

if [ ! -s "$state/secret" ]; then # the deployment secret keying identity hashes, kept across runs
	(umask 077 && head -c 32 /dev/urandom | base64 >"$state/secret")
fi

# start NAME ARGS...: runs apiwatch ARGS in its own session, logging to
# $state/log/NAME.log, its pid in $state/run/NAME.pid.
start() {
	local name=$1
	shift
	setsid "$bin" "$@" --log-format json >"$state/log/$name.log" 2>&1 </dev/null &
	echo $! >"$state/run/$name.pid"
}
alive() { kill -0 "$(cat "$state/run/$1.pid")" 2>/dev/null; }
# wait_for NAME SECONDS CHECK...: until CHECK succeeds while NAME runs.
wait_for() {
	local name=$1 secs=$2
	shift 2
	for _ in $(seq $((secs * 10))); do
		"$@" && return 0
		alive "$name" || { tail -20 "$state/log/$name.log" >&2; fail "$name stopped (log: $state/log/$name.log)"; }
		sleep 0.1
	done
	tail -20 "$state/log/$name.log" >&2
	fail "$name is not ready after ${secs}s (log: $state/log/$name.log)"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ready() { curl -sf "http://$1/readyz" >/dev/null; }

say "starting the broker on 127.0.0.1:$kafka_port"
start devbroker devbroker --port "$kafka_port" --data-dir "$state/kafka"
wait_for devbroker 20 port_open "$kafka_port"

say "starting the detector"
start detect detect --kafka "127.0.0.1:$kafka_port" --clickhouse "clickhouse://127.0.0.1:$ch_tcp/$db" --listen "$detect_listen"
wait_for detect 60 ready "$detect_listen"

say "starting the sensor: $(basename "$pcap") at replay speed $speed"
start sensor sensor --pcap "$pcap" --replay-speed "$speed" --kafka "127.0.0.1:$kafka_port" \
	--spool-dir "$state/spool" --secret-file "$state/secret" --sensor-id local --listen "$sensor_listen" --quiet
for _ in $(seq 300); do # ready, or already done with a short capture
	ready "$sensor_listen" && break
	if ! alive sensor; then
		wait "$(cat "$state/run/sensor.pid")" 2>/dev/null || { tail -20 "$state/log/sensor.log" >&2; fail "the sensor failed (log: $state/log/sensor.log)"; }
		break
	fi
	sleep 0.1
done

cat <<MSG
apiwatch is up (state in $state). The sensor replays $(basename "$pcap") at ${speed}x and exits at its end;
findings appear as its attacks go on.

  findings   clickhouse-client --port $ch_tcp -q 'SELECT detector, kind, severity, endpoint FROM $db.findings FINAL'
             curl -s http://127.0.0.1:$ch_http/ --data-binary 'SELECT detector, kind, severity, endpoint FROM $db.findings FINAL'
  metrics    http://$sensor_listen/metrics (sensor)   http://$detect_listen/metrics (detector)
  logs       $state/log/devbroker.log  $state/log/detect.log  $state/log/sensor.log  (ClickHouse: $ch_dir/log)
  replay     $bin sensor --pcap FILE --replay-speed $speed --kafka 127.0.0.1:$kafka_port --secret-file $state/secret
  stop       $here/down.sh   (--purge also deletes $state)
MSG
