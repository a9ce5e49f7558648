#!/usr/bin/env bash
# Runs a ClickHouse server for tests and local use, with the project's own
# config: its own data directory and ports, on loopback, no systemd.
#
#   scripts/clickhouse.sh start   install (Debian's clickhouse-server) when
#                                 missing, start, wait until it answers
#   scripts/clickhouse.sh stop    stop it
#   scripts/clickhouse.sh status  exit 0 when it answers
#
# Environment:
#   CLICKHOUSE_DIR=/tmp/apiwatch-clickhouse   data, logs and pid file
#   CLICKHOUSE_TCP_PORT=19000                 native protocol port
#   CLICKHOUSE_HTTP_PORT=18123                HTTP port
#   CLICKHOUSE_FRESH=1                        start from an empty data directory
#
# Tests reach it as clickhouse://127.0.0.1:19000 (APIWATCH_TEST_CLICKHOUSE).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dir=${CLICKHOUSE_DIR:-/tmp/apiwatch-clickhouse}
tcp=${CLICKHOUSE_TCP_PORT:-19000}
http=${CLICKHOUSE_HTTP_PORT:-18123}
pidfile=$dir/clickhouse.pid

say() { printf 'clickhouse: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

answers() { curl -sf "http://127.0.0.1:$http/ping" >/dev/null 2>&1; }

install() {
	command -v clickhouse-server >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "clickhouse-server is not installed; on Debian: apt-get install clickhouse-server (or run as root)"
	fi
	say "installing Debian's clickhouse-server (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends clickhouse-server >/dev/null
}

start() {
	if answers; then
		say "already running on 127.0.0.1:$tcp"
		return 0
	fi
	install
	if [ "${CLICKHOUSE_FRESH:-0}" = 1 ]; then
		rm -rf "$dir/data" "$dir/tmp"
	fi
	mkdir -p "$dir/data" "$dir/tmp" "$dir/log"
	sed -e "s|@DIR@|$dir|g" -e "s|@TCP@|$tcp|g" -e "s|@HTTP@|$http|g" \
		"$root/deploy/clickhouse/test-config.xml" >"$dir/config.xml"
	cp "$root/deploy/clickhouse/test-users.xml" "$dir/users.xml"
	say "starting on 127.0.0.1:$tcp (data in $dir)"
	clickhouse-server --config-file="$dir/config.xml" --pid-file="$pidfile" --daemon
	for _ in $(seq 100); do
		answers && { say "ready"; return 0; }
		sleep 0.1
	done
	tail -20 "$dir/log/clickhouse-server.err.log" >&2 || true
	die "did not answer on 127.0.0.1:$http within 10 s (log: $dir/log)"
}

stop() {
	[ -s "$pidfile" ] || { say "not running"; return 0; }
	local pid
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "stopped"; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	say "killed"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
*) die "usage: $0 start|stop|status" ;;
esac
