#!/usr/bin/env bash
# Stops what deploy/local/up.sh started: the sensor, the detector, the
# broker (each asked to stop with SIGTERM, so the sensor sends what it
# queued and the detector stores its batch and saves its baselines), and
# ClickHouse when up.sh started it. --purge also deletes the state
# directory (broker data, ClickHouse data, logs, secret).
#
#   APIWATCH_LOCAL_DIR=/tmp/apiwatch-local   as for up.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${APIWATCH_LOCAL_DIR:-/tmp/apiwatch-local}
purge=0
[ "${1:-}" = --purge ] && purge=1

say() { printf 'down: %s\n' "$*" >&2; }

if [ ! -d "$state/run" ]; then
	say "nothing to stop in $state"
else
	for name in sensor detect devbroker; do
		pidfile=$state/run/$name.pid
		[ -s "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		# Only a process that is still this apiwatch (pids are reused).
		if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- " $name "; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 450); do # up to 45 s: the daemons drain for up to 30 s
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				say "$name (pid $pid) did not stop within 45 s: killing it"
				kill -KILL "$pid" 2>/dev/null || true
			else
				say "$name stopped"
			fi
		fi
		rm -f "$pidfile"
	done
	if [ -e "$state/run/clickhouse.started" ]; then
		# shellcheck disable=SC1091
		set -a && . "$state/run/env" && set +a
		"$root/scripts/clickhouse.sh" stop
		rm -f "$state/run/clickhouse.started"
	fi
fi
if [ "$purge" = 1 ]; then
	rm -rf "$state"
	say "deleted $state"
fi
