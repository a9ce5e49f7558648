#!/usr/bin/env bash
# Compares apiwatch's capture-analysis speed with tcpdump and tshark on the
# same capture, in the same run.
#
#   bench/compare.sh [CAPTURE]
#
# Without CAPTURE it uses bench/out/bench.pcap, generating it with gencap
# (BENCH_SIZE, default 300MB) when absent. A .gz capture is decompressed
# first, since tcpdump cannot read gzip.
#
# Rows:
#   tcpdump -r FILE -w /dev/null         the floor: reading the file at all
#   tshark ... -Y http -T fields          on a prefix only (tshark does ~2 MB/s)
#   apiwatch analyze --parse-only FILE    one core, no API events: the parsing alone
#   apiwatch analyze --no-detect FILE     one core, API events built but no detectors
#                                         (the difference is what normalization costs;
#                                         timed in pairs: NORM_PAIRS)
#   apiwatch analyze FILE                 everything, detectors included, GOMAXPROCS=1 and 2
#
# Environment:
#   BENCH_SIZE=300MB         size of the generated capture
#   BENCH_SEED=42            gencap seed
#   TSHARK_PREFIX_MB=20      tshark reads only the first N MB; 0 = whole file
#   SKIP="tshark tcpdump"    rows to leave out (tcpdump, tshark, apiwatch)
#   BENCH_RUNS=1             runs per row; the fastest is reported (use 3 on a
#                            busy machine)
#   APIWATCH_BIN=path        benchmark this binary instead of building one
#   APIWATCH_ARGS=""         extra arguments to apiwatch analyze (e.g. --quiet)
#   APIWATCH_EVENTS=1        also time GOMAXPROCS=2 with --events to a file
#   NORM_PAIRS=11            --parse-only/--no-detect pairs timed for the
#                            normalization cost (CPU time, one core each); 0 = none
#   NORM_SEQUENTIAL=1        run each pair's two runs one after the other, not
#                            side by side on two cores
#   NORM_NO_BODIES=1         also time pairs with body analysis sampled almost never
#   APIWATCH_CALLGRIND=1     also count instructions (valgrind --tool=callgrind) of
#                            --parse-only and --no-detect: the normalization cost
#                            free of the timing noise of a shared machine (slow:
#                            minutes; installs valgrind when missing)
#   APIWATCH_TX_REGEX=...    extended regex whose first group is the transaction
#                            count in apiwatch's summary (stdout or stderr)
#
# Writes the table to stdout and bench/out/results.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
mkdir -p "$out"

BENCH_SIZE=${BENCH_SIZE:-300MB}
BENCH_SEED=${BENCH_SEED:-42}
TSHARK_PREFIX_MB=${TSHARK_PREFIX_MB:-20}
SKIP=${SKIP:-}
BENCH_RUNS=${BENCH_RUNS:-1}
APIWATCH_BIN=${APIWATCH_BIN:-}
APIWATCH_ARGS=${APIWATCH_ARGS:-}
APIWATCH_EVENTS=${APIWATCH_EVENTS:-0}
APIWATCH_CALLGRIND=${APIWATCH_CALLGRIND:-0}
NORM_PAIRS=${NORM_PAIRS:-11}
NORM_SEQUENTIAL=${NORM_SEQUENTIAL:-0}
NORM_NO_BODIES=${NORM_NO_BODIES:-0}
# Matches e.g. "transactions 12345", "transactions: 12345", "  transactions = 12345".
APIWATCH_TX_REGEX=${APIWATCH_TX_REGEX:-'^[[:space:]]*(http[[:space:]]+)?transactions[[:space:]:=]+([0-9]+)'}

say() { printf 'compare: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
skipped() { [[ " $SKIP " == *" $1 "* ]]; }

install_tools() {
	local need=()
	command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
	command -v tshark >/dev/null 2>&1 || need+=(tshark)
	command -v editcap >/dev/null 2>&1 || command -v tshark >/dev/null 2>&1 || need+=(tshark)
	[ -x /usr/bin/time ] || need+=(time)
	[ ${#need[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "missing ${need[*]}; install them (Debian: apt-get install -y tcpdump tshark time) or run as root"
	fi
	say "installing ${need[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	# tshark's package asks whether non-root users may capture; answer it
	# up front so the install cannot stop at a prompt.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

prepare_capture() {
	local cap=${1:-}
	if [ -z "$cap" ]; then
		cap="$out/bench.pcap"
		if [ ! -s "$cap" ]; then
			say "generating $cap ($BENCH_SIZE, seed $BENCH_SEED)"
			(cd "$root" && go run ./bench/gencap -seed "$BENCH_SEED" -size "$BENCH_SIZE" -o "$cap") >&2
		fi
	fi
	[ -r "$cap" ] || die "cannot read capture $cap"
	case "$cap" in
	*.gz)
		local plain
		plain="$out/$(basename "${cap%.gz}")"
		say "decompressing $cap to $plain (tcpdump reads no gzip)"
		gzip -dc "$cap" >"$plain"
		truth_file="$cap.truth.json"
		cap=$plain
		;;
	*) truth_file="$cap.truth.json" ;;
	esac
	capture=$cap
}

build_apiwatch() {
	if [ -n "$APIWATCH_BIN" ]; then
		[ -x "$APIWATCH_BIN" ] || die "APIWATCH_BIN=$APIWATCH_BIN is not executable"
		apiwatch=$APIWATCH_BIN
		return 0
	fi
	say "building apiwatch"
	apiwatch="$out/apiwatch"
	if (cd "$root" && CGO_ENABLED=0 go build -o "$apiwatch" ./cmd/apiwatch) >"$out/build.log" 2>&1; then
		return 0
	fi
	say "apiwatch did not build; its rows are skipped (see $out/build.log):"
	sed 's/^/    /' "$out/build.log" | head -20 >&2
	return 1
}

# cut_prefix FILE MB writes the first MB megabytes (whole packets) of FILE to
# $out/prefix.pcap. The packet count comes from the mean packet size of the
# first 20000 packets, so nothing reads the whole file.
cut_prefix() {
	local file=$1 mb=$2 sample="$out/sample.pcap"
	tcpdump -r "$file" -c 20000 -w "$sample" 2>/dev/null
	local bytes pkts n
	bytes=$(stat -c %s "$sample")
	pkts=20000
	n=$((mb * 1000000 * pkts / bytes))
	tcpdump -r "$file" -c "$n" -w "$out/prefix.pcap" 2>/dev/null
	rm -f "$sample"
}

rows=()
notes=()
last_wall="" # the best wall time of the latest measure
# measure LABEL FILE COUNTER CMD... runs CMD under /usr/bin/time -v and adds a
# row: wall time, MB/s of FILE, transactions/s (COUNTER reads the count from
# the command's output: none, tshark or apiwatch), peak RSS. With BENCH_RUNS
# above 1 it keeps the fastest run: on a shared machine the others measure
# the neighbours.
measure() {
	local label=$1 file=$2 counter=$3
	shift 3
	local stdout="$out/run.stdout" stderr="$out/run.stderr" tv="$out/run.time"
	cat "$file" >/dev/null # warm the page cache: every row reads from memory
	local run t0 t1 rc=0 wall="" rss=""
	for ((run = 1; run <= BENCH_RUNS; run++)); do
		say "running ($run/$BENCH_RUNS): $*"
		t0=$(date +%s.%N)
		/usr/bin/time -v -o "$tv" "$@" >"$stdout" 2>"$stderr" || rc=$?
		t1=$(date +%s.%N)
		[ "$rc" -ne 0 ] && break
		local w
		w=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
		if [ -z "$wall" ] || awk -v a="$w" -v b="$wall" 'BEGIN{exit !(a < b)}'; then
			wall=$w
			rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$tv")
		fi
	done
	local size tx=""
	size=$(stat -c %s "$file")
	case $counter in
	tshark) tx=$(awk -F'\t' '$3 != ""' "$stdout" | wc -l) ;;
	apiwatch) tx=$(cat "$stdout" "$stderr" | grep -Eio "$APIWATCH_TX_REGEX" | grep -Eo '[0-9]+$' | head -1 || true) ;;
	esac
	if [ "$rc" -ne 0 ]; then
		say "$label exited $rc; last lines of its stderr:"
		tail -5 "$stderr" | sed 's/^/    /' >&2
		rows+=("$(printf '%-44s %9s %9s %10s %12s %12s %8s' "$label" "$(mb "$size")" "FAILED" "-" "-" "-" "${rss:--}")")
		return 0
	fi
	if [ "$counter" = apiwatch ] && [ -z "$tx" ]; then
		say "no transaction count matched APIWATCH_TX_REGEX in apiwatch's output; its summary:"
		tail -15 "$stdout" | sed 's/^/    /' >&2
	fi
	local mbs txs="-"
	mbs=$(awk -v s="$size" -v w="$wall" 'BEGIN{printf "%.1f", (w > 0 ? s/1e6/w : 0)}')
	[ -n "$tx" ] && txs=$(awk -v n="$tx" -v w="$wall" 'BEGIN{printf "%.0f", (w > 0 ? n/w : 0)}')
	rows+=("$(printf '%-44s %9s %9s %10s %12s %12s %8s' "$label" "$(mb "$size")" "$wall" "$mbs" "${tx:--}" "$txs" "${rss:--}")")
	last_wall=$wall
}

# count_instructions ARGS... runs --parse-only and --no-detect under
# callgrind, both at once (instruction counts do not depend on load), and
# adds their ratio to the notes. Go's asynchronous preemption signals trip
# callgrind, hence asyncpreemptoff.
count_instructions() {
	if ! command -v valgrind >/dev/null 2>&1; then
		[ "$(id -u)" -eq 0 ] || die "APIWATCH_CALLGRIND=1 needs valgrind (apt-get install valgrind)"
		say "installing valgrind (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
	fi
	say "counting instructions under callgrind (minutes)"
	local mode pids=()
	for mode in parse-only no-detect; do
		env GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 APIWATCH_SECRET=bench valgrind --tool=callgrind \
			--callgrind-out-file="$out/callgrind.$mode" "$apiwatch" analyze "$@" --quiet "--$mode" "$capture" \
			>"$out/callgrind.$mode.log" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}" || die "callgrind failed; see $out/callgrind.*.log"
	local p n
	p=$(awk '/Collected :/{print $NF}' "$out/callgrind.parse-only.log")
	n=$(awk '/Collected :/{print $NF}' "$out/callgrind.no-detect.log")
	notes+=("$(awk -v p="$p" -v n="$n" 'BEGIN{printf "# instructions (callgrind): parsing only %.3f G, with API events %.3f G: normalization costs %.1f%%", p/1e9, n/1e9, 100*(n-p)/p}')")
}

# normalization_cost ARGS... times NORM_PAIRS pairs of runs, --parse-only
# and --no-detect, each on one core, and notes the median of the pairs' CPU
# time (user + sys) ratios. Pairs, not best-of rows: a shared virtual
# machine's speed drifts by tens of percent within minutes, so two rows timed
# minutes apart compare two machines. With two CPUs or more allowed, the two
# runs of a pair run at the same time, pinned to two cores that swap every
# pair, so they see the same moment of the machine: on the 2-core VM here,
# while it was quiet, the medians of 10 such pairs agreed within two points
# (+34% to +36%), where those of sequential pairs differed by up to ten;
# while it was slow they swung as much. NORM_SEQUENTIAL=1 runs them one
# after the other.
# NORM_NO_BODIES=1 adds the same measurement with body analysis sampled
# almost never: what building events costs apart from analysing bodies.
normalization_cost() {
	[ "$NORM_PAIRS" -gt 0 ] || return 0
	local together=0
	if [ "$NORM_SEQUENTIAL" != 1 ] && command -v taskset >/dev/null 2>&1; then
		read -r -a pair_cpus <<<"$(allowed_cpus)"
		[ "${#pair_cpus[@]}" -ge 2 ] && together=1
	fi
	normalization_pairs "$together" "normalization into API events costs" "$@"
	if [ "$NORM_NO_BODIES" = 1 ]; then
		normalization_pairs "$together" "without body analysis (--analyze-first 1 --analyze-every 1000000000) it costs" \
			"$@" --analyze-first 1 --analyze-every 1000000000
	fi
}

# allowed_cpus lists the CPUs this script may run on (a container's cpuset
# need not start at 0), lowest first.
allowed_cpus() {
	awk '/^Cpus_allowed_list:/ {
		n = split($2, r, ",")
		for (i = 1; i <= n; i++) {
			if (split(r[i], b, "-") == 2) { for (c = b[1]; c <= b[2]; c++) printf "%d ", c }
			else printf "%d ", r[i]
		}
	}' /proc/self/status
}

# normalization_pairs TOGETHER TEXT ARGS... times the pairs and adds the note.
normalization_pairs() {
	local together=$1 text=$2
	shift 2
	local i mode core pairs=() pids pid pin
	for ((i = 1; i <= NORM_PAIRS; i++)); do
		say "normalization cost: pair $i/$NORM_PAIRS"
		pids=()
		core=$((i % 2))
		for mode in parse-only no-detect; do
			pin=()
			if [ "$together" = 1 ]; then
				core=$((1 - core))
				pin=(taskset -c "${pair_cpus[$core]}")
			fi
			env GOMAXPROCS=1 APIWATCH_SECRET=bench /usr/bin/time -f '%U %S' -o "$out/run.$mode.time" \
				"${pin[@]}" "$apiwatch" analyze "$@" --quiet "--$mode" "$capture" >/dev/null 2>&1 &
			if [ "$together" = 1 ]; then
				pids+=("$!")
			else
				wait "$!" || die "apiwatch analyze --$mode failed"
			fi
		done
		for pid in "${pids[@]}"; do
			wait "$pid" || die "apiwatch analyze failed"
		done
		pairs+=("$(awk '{printf "%.3f", $1 + $2}' "$out/run.parse-only.time") $(awk '{printf "%.3f", $1 + $2}' "$out/run.no-detect.time")")
	done
	local how="interleaved pairs"
	[ "$together" = 1 ] && how="pairs run side by side on two cores"
	notes+=("$(printf '%s\n' "${pairs[@]}" | awk -v text="$text" -v how="$how" '
		{ p[NR] = $1; e[NR] = $2; r[NR] = $2 / $1 }
		function med(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END {
			n = NR; m = med(r, n); lo = r[1]; hi = r[n]
			printf "# %s %+.0f%% CPU over parsing alone: median of %d %s (range %+.0f%% to %+.0f%%; medians %.2f s parsing, %.2f s with events; user+sys, one core each)", text, (m - 1) * 100, n, how, (lo - 1) * 100, (hi - 1) * 100, med(p, n), med(e, n)
		}')")
}

mb() { awk -v s="$1" 'BEGIN{printf "%.1f", s/1e6}'; }

main() {
	install_tools
	prepare_capture "${1:-}"
	local size
	size=$(stat -c %s "$capture")
	say "capture: $capture ($(mb "$size") MB)"

	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	local have_apiwatch=0
	if ! skipped apiwatch && build_apiwatch; then
		have_apiwatch=1
	fi

	skipped tcpdump || measure "tcpdump -r -w /dev/null (read floor)" "$capture" none \
		tcpdump -r "$capture" -w /dev/null

	if ! skipped tshark; then
		local tfile=$capture tlabel="tshark -Y http -T fields"
		if [ "$TSHARK_PREFIX_MB" -gt 0 ] && [ "$size" -gt $((TSHARK_PREFIX_MB * 1000000)) ]; then
			cut_prefix "$capture" "$TSHARK_PREFIX_MB"
			tfile="$out/prefix.pcap"
			tlabel="tshark -Y http -T fields (first $TSHARK_PREFIX_MB MB)"
		fi
		measure "$tlabel" "$tfile" tshark \
			tshark -r "$tfile" -Y http -T fields -e http.request.method -e http.request.uri -e http.response.code
	fi

	if [ "$have_apiwatch" = 1 ]; then
		local args=()
		read -r -a args <<<"$APIWATCH_ARGS"
		# The parse-only row is the same run without normalization into
		# API events: the difference is what normalization costs.
		measure "apiwatch analyze --parse-only (GOMAXPROCS=1)" "$capture" apiwatch \
			env GOMAXPROCS=1 "$apiwatch" analyze "${args[@]}" --parse-only "$capture"
		parse_wall=$last_wall
		measure "apiwatch analyze --no-detect (GOMAXPROCS=1)" "$capture" apiwatch \
			env GOMAXPROCS=1 APIWATCH_SECRET=bench "$apiwatch" analyze "${args[@]}" --no-detect "$capture"
		norm_wall=$last_wall
		for procs in 1 2; do
			measure "apiwatch analyze (GOMAXPROCS=$procs)" "$capture" apiwatch \
				env GOMAXPROCS=$procs APIWATCH_SECRET=bench "$apiwatch" analyze "${args[@]}" "$capture"
		done
		if [ -n "${parse_wall:-}" ] && [ -n "${norm_wall:-}" ]; then
			notes+=("$(awk -v p="$parse_wall" -v n="$norm_wall" 'BEGIN{printf "# rows: --no-detect takes %.0f%% longer than --parse-only (best walls, one core: %.2f s vs %.2f s)", (p > 0 ? 100*(n-p)/p : 0), n, p}')")
		fi
		normalization_cost "${args[@]}"
		if [ "$APIWATCH_CALLGRIND" = 1 ]; then
			count_instructions "${args[@]}"
		fi
		if [ "$APIWATCH_EVENTS" = 1 ]; then
			measure "apiwatch analyze --events (GOMAXPROCS=2)" "$capture" apiwatch \
				env GOMAXPROCS=2 APIWATCH_SECRET=bench "$apiwatch" analyze "${args[@]}" --events "$out/events.jsonl" "$capture"
		fi
	fi

	report | tee "$out/results.txt"
	say "results written to $out/results.txt"
}

report() {
	echo "# apiwatch capture-analysis comparison, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# load average before the runs: $load_before (best of $BENCH_RUNS runs per row)"
	echo "# machine: $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "# capture: $capture ($(mb "$(stat -c %s "$capture")") MB)"
	if [ -r "$truth_file" ]; then
		echo "# ground truth ($truth_file): $(grep -Eo '"(requests|responses|connections)": [0-9]+' "$truth_file" | tr -d '"' | paste -sd, -)"
	fi
	echo "# apiwatch $(cd "$root" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3)," \
		"$(tcpdump --version 2>&1 | head -1), $(tshark --version 2>/dev/null | head -1)"
	echo "# tx = HTTP transactions: apiwatch's summary count; tshark's response lines. MB = 10^6 bytes of the input that row read."
	printf '%-44s %9s %9s %10s %12s %12s %8s\n' "tool" "input MB" "wall s" "MB/s" "tx" "tx/s" "RSS MB"
	printf '%s\n' "${rows[@]}"
	[ ${#notes[@]} -eq 0 ] || printf '%s\n' "${notes[@]}"
}

truth_file=""
capture=""
apiwatch=""
load_before=""
pair_cpus=()
main "$@"
