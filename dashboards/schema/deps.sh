#!/usr/bin/env bash
# Installs what the boards' type check needs (dashboards/schema_test.go runs
# tsc against @grafana/schema): node and npm — Debian's nodejs and npm,
# when missing (as root, as CI runs make test) — then the packages
# package-lock.json pins, with npm ci into dashboards/schema/node_modules.
# Does nothing when they are there already.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
say() { printf 'dashboards/schema: %s\n' "$*" >&2; }

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		say "error: missing ${need[*]}; on Debian: apt-get install ${need[*]} (or run as root)"
		exit 1
	fi
	say "installing Debian's ${need[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci empties node_modules first: the stamp, a copy of the lock file it
# installed, says whether it has to run.
stamp=$here/node_modules/.apiwatch-package-lock.json
if [ -f "$stamp" ] && cmp -s "$here/package-lock.json" "$stamp"; then
	exit 0
fi
say "npm ci (@grafana/schema and typescript as package-lock.json pins them)"
npm ci --prefix "$here" --no-audit --no-fund --prefer-offline --loglevel=error >&2
cp "$here/package-lock.json" "$stamp"
