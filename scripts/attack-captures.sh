#!/usr/bin/env bash
# Records real attack tools against a real HTTP API and writes the captures
# and their ground truth to testdata/attacks (see testdata/attacks/README.md):
#
#   hydra-json-stuffing     hydra, many usernames x few passwords, JSON POST /auth/login
#   hydra-form-bruteforce   hydra, one username x many passwords, form POST /login, ends in a success
#   ffuf-enumeration        ffuf, GET /api/v1/users/FUZZ over ids 1..2000 with a valid bearer token
#
# Everything runs inside network namespaces this script creates and deletes:
# a switch namespace holding a bridge, and three hosts on it — the API server
# (internal/attackcap server), benign users (internal/attackcap users) and the
# attacker — addressed from a /24 of 198.19.0.0/16 (the benchmarking range)
# that no local interface uses. No packet leaves the veths. tcpdump records
# on the server's interface, as a mirror port in front of it would.
#
#   sudo ./scripts/attack-captures.sh [NAME...]     (default: all three)
#
# Environment: OUT (default testdata/attacks), PRE seconds of benign traffic
# before each attack (30), POST seconds after it (15), SUBNET (198.19.77).
# Needs root; installs hydra, ffuf, tcpdump and ethtool with apt-get when
# missing.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/testdata/attacks}
PRE=${PRE:-30}
POST=${POST:-15}
GO=${GO:-go}

if [ "$(id -u)" -ne 0 ]; then
  echo "attack-captures: needs root (network namespaces, tcpdump)" >&2
  exit 1
fi

# --- tools -------------------------------------------------------------------
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v hydra >/dev/null 2>&1 || need+=(hydra)
command -v ffuf >/dev/null 2>&1 || need+=(ffuf)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v ethtool >/dev/null 2>&1 || need+=(ethtool)
if [ ${#need[@]} -gt 0 ]; then
  echo "attack-captures: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
HYDRA_VERSION=$({ hydra -h 2>&1 || true; } | sed -n 's/^Hydra v\([0-9.]*\).*/\1/p' | head -1)
FFUF_VERSION=$({ ffuf -V 2>&1 || true; } | sed -n 's/.*version: *//p' | head -1)
# Nothing may go through a proxy: every address is in the namespaces.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY HYDRA_PROXY HYDRA_PROXY_HTTP

# --- addresses ---------------------------------------------------------------
# A /24 of 198.19.0.0/16 that no interface of this machine uses.
used=$(ip -o -4 addr show | awk '{print $4}')
in_use() { # in_use 198.19.X
  local a
  for a in $used; do
    case "$a" in "$1".*|198.19.0.0/16|198.18.0.0/15) return 0 ;; esac
  done
  return 1
}
SUBNET=${SUBNET:-198.19.77}
if in_use "$SUBNET"; then
  for _ in $(seq 100); do
    cand=198.19.$((RANDOM % 254 + 1))
    if ! in_use "$cand"; then SUBNET=$cand; break; fi
  done
  in_use "$SUBNET" && { echo "attack-captures: no free /24 in 198.19.0.0/16" >&2; exit 1; }
fi
SRV_IP=$SUBNET.10
USR_IPS=("$SUBNET.20" "$SUBNET.21" "$SUBNET.22" "$SUBNET.23") # alice, bob, carol, erin
ATK_IP=$SUBNET.66
HOST=api.example.test

# --- namespaces --------------------------------------------------------------
tag=$$
NS_SW=apwcap-sw-$tag
NS_SRV=apwcap-srv-$tag
NS_USR=apwcap-usr-$tag
NS_ATK=apwcap-atk-$tag
TMP=$(mktemp -d /tmp/attack-captures.XXXXXX)
PIDS=()

cleanup() {
  local pid ns
  for pid in "${PIDS[@]}"; do
    stop "$pid"
  done
  for ns in "$NS_ATK" "$NS_USR" "$NS_SRV" "$NS_SW"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop ends a process this script started: TERM, then KILL after 5 s.
stop() { # PID
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# offloads_off makes the kernel finish checksums and segment in software, so
# the capture holds what a wire would: valid checksums, MTU-sized segments.
offloads_off() { in_ns "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true; }

setup() {
  local ns role
  for ns in "$NS_SW" "$NS_SRV" "$NS_USR" "$NS_ATK"; do
    ip netns add "$ns"
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  ip -n "$NS_SW" link add br0 type bridge
  ip -n "$NS_SW" link set br0 up
  for role in srv usr atk; do
    case $role in srv) ns=$NS_SRV ;; usr) ns=$NS_USR ;; atk) ns=$NS_ATK ;; esac
    ip link add eth0 netns "$ns" type veth peer name "p-$role" netns "$NS_SW"
    ip -n "$NS_SW" link set "p-$role" master br0
    offloads_off "$NS_SW" "p-$role"
    offloads_off "$ns" eth0
    ip -n "$NS_SW" link set "p-$role" up
  done
  ip -n "$NS_SRV" addr add "$SRV_IP/24" dev eth0
  local ip
  for ip in "${USR_IPS[@]}"; do ip -n "$NS_USR" addr add "$ip/24" dev eth0; done
  ip -n "$NS_ATK" addr add "$ATK_IP/24" dev eth0
  for ns in "$NS_SRV" "$NS_USR" "$NS_ATK"; do
    ip -n "$ns" link set eth0 up
  done
  # The clients resolve the API's name through /etc/hosts (ip netns exec
  # mounts /etc/netns/NS/hosts over it).
  for ns in "$NS_USR" "$NS_ATK"; do
    mkdir -p "/etc/netns/$ns"
    printf '127.0.0.1 localhost\n%s %s\n' "$SRV_IP" "$HOST" >"/etc/netns/$ns/hosts"
  done
}

# cmdline prints its arguments as one shell command line.
cmdline() {
  local a out=
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+=" $a"
    else
      out+=" '${a//\'/\'\\\'\'}'"
    fi
  done
  printf '%s' "${out# }"
}

now() { date +%s.%N; }

# --- word lists --------------------------------------------------------------
WORK=$TMP/work
mkdir -p "$WORK"

# 60 user names as a combo list from a breach would give them: some are the
# API's real users (dave's password is in passwords.txt), most are not.
cat >"$WORK/usernames.txt" <<'EOF'
admin
administrator
root
test
guest
info
support
alice
jsmith
mjones
bob
kwilliams
sbrown
carol
dtaylor
dave
ljohnson
erin
rgarcia
frank
mmiller
grace
pdavis
heidi
ivan
jwilson
judy
amoore
ken
ttaylor
laura
canderson
mike
jthomas
nina
bjackson
oscar
kwhite
peggy
charris
quinn
smartin
rupert
pthompson
sybil
dgarcia
trent
amartinez
ursula
drobinson
victor
jclark
walter
mrodriguez
xena
llewis
yusuf
klee
zoe
operator
EOF
printf '%s\n' 123456 password1 'Summer2024!' >"$WORK/passwords.txt"

# 143 passwords for the brute force, frank's own (dragon1985) the 132nd: a
# common-password list, then guesses built on the name, then on a word.
cat >"$WORK/bruteforce.txt" <<'EOF'
123456
password
12345678
qwerty
123456789
12345
1234
111111
1234567
dragon
123123
baseball
abc123
football
monkey
letmein
shadow
master
666666
qwertyuiop
123321
mustang
1234567890
michael
654321
superman
1qaz2wsx
7777777
121212
000000
qazwsx
123qwe
killer
trustno1
jordan
jennifer
zxcvbnm
asdfgh
hunter
buster
soccer
harley
batman
andrew
tigger
sunshine
iloveyou
2000
charlie
robert
thomas
hockey
ranger
daniel
starwars
klaster
112233
george
computer
michelle
jessica
pepper
1111
zxcvbn
555555
11111111
131313
freedom
777777
pass
maggie
159753
aaaaaa
ginger
princess
joshua
cheese
amanda
summer
love
ashley
nicole
chelsea
biteme
matthew
access
yankees
987654321
dallas
austin
thunder
taylor
matrix
william
corvette
hello
martin
heather
secret
merlin
diamond
1234qwer
gfhjkm
hammer
silver
222222
88888888
anthony
justin
test
bailey
q1w2e3r4t5
patrick
internet
scooter
orange
11111
golfer
cookie
richard
samantha
frank
frank1
frank123
Frank2024
frank!
dragon1980
dragon1981
dragon1982
dragon1983
dragon1984
dragon1985
dragon1986
dragon1987
dragon1988
dragon1989
dragon1990
dragon2000
dragon123
Dragon1
dragons
dragon12
dragon69
EOF
seq 1 2000 >"$WORK/ids.txt"

# --- one capture -------------------------------------------------------------
BIN=$TMP/attackcap
SERVER_PID='' TCPDUMP_PID='' USERS_PID=''

start_capture() { # NAME SEED [SERVER FLAGS...]
  local name=$1 seed=$2
  shift 2
  : >"$TMP/$name.server.jsonl"
  ip netns exec "$NS_SRV" "$BIN" server -listen "$SRV_IP:80" -log "$TMP/$name.server.jsonl" "$@" >/dev/null 2>"$TMP/$name.server.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 50); do
    grep -q listening "$TMP/$name.server.err" 2>/dev/null && break
    sleep 0.1
  done
  ip netns exec "$NS_SRV" tcpdump -i eth0 -s 0 -U -n -w "$TMP/$name.pcap" >/dev/null 2>"$TMP/$name.tcpdump.err" &
  TCPDUMP_PID=$!
  PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 50); do
    grep -q "listening on" "$TMP/$name.tcpdump.err" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  local ips
  ips=$(IFS=,; echo "${USR_IPS[*]}")
  ip netns exec "$NS_USR" "$BIN" users -server "$SRV_IP:80" -ip "$ips" -seed "$seed" >/dev/null 2>"$TMP/$name.users.log" &
  USERS_PID=$!
  PIDS+=("$USERS_PID")
  echo "== $name: benign users for ${PRE}s"
  sleep "$PRE"
}


finish_capture() { # NAME SCENARIO TOOL COMMAND AFTER
  local name=$1 scenario=$2 tool=$3 command=$4 after=$5
  echo "== $name: benign users for ${POST}s more"
  sleep "$POST"
  stop "$USERS_PID"
  sleep 2
  stop "$TCPDUMP_PID"
  stop "$SERVER_PID"
  PIDS=()
  mkdir -p "$OUT"
  gzip -9 -n -c "$TMP/$name.pcap" >"$OUT/$name.pcap.gz"
  local ips
  ips=$(IFS=,; echo "${USR_IPS[*]}")
  "$BIN" truth -scenario "$scenario" -pcap "$OUT/$name.pcap.gz" -attacker "$ATK_IP" -server "$SRV_IP" \
    -benign "$ips" -after "$after" -tool "$tool" -command "$command" \
    -server-log "$TMP/$name.server.jsonl" -o "$OUT/$name.truth.json"
  echo "== $name: $(du -h "$OUT/$name.pcap.gz" | cut -f1) $OUT/$name.pcap.gz"
}

# run_hydra NAME CMD... runs hydra from the attacker's namespace and
# finishes the capture NAME.
run_hydra() {
  local name=$1
  shift
  echo "== $name: $(cmdline "$@")"
  local after
  after=$(now)
  (cd "$WORK" && in_ns "$NS_ATK" "$@") >"$TMP/$name.tool.log" 2>&1 || { cat "$TMP/$name.tool.log"; return 1; }
  grep -E '^\[80\]|successfully completed|valid password' "$TMP/$name.tool.log" || true
  finish_capture "$name" "$name" "hydra $HYDRA_VERSION" "$(cmdline "$@")" "$after"
}

hydra_json_stuffing() {
  local name=hydra-json-stuffing
  # hydra 9.4's http-post-form gives up on an attempt answered 401 ("the
  # target is using HTTP auth, not a web form") and retries it for ever, so
  # for it the API answers failed logins 403 {"error":"invalid credentials"}.
  start_capture "$name" 1 -login-fail-status 403
  local cmd=(hydra -I -L usernames.txt -P passwords.txt -u -t 4 -s 80 "$HOST" http-post-form
    '/auth/login:{"username"\:"^USER^","password"\:"^PASS^"}:H=Content-Type\: application/json:F=invalid credentials')
  run_hydra "$name" "${cmd[@]}"
}

hydra_form_bruteforce() {
  local name=hydra-form-bruteforce
  start_capture "$name" 2
  local cmd=(hydra -I -l frank -P bruteforce.txt -f -t 4 -s 80 "$HOST" http-post-form
    '/login:username=^USER^&password=^PASS^:F=Invalid username or password')
  run_hydra "$name" "${cmd[@]}"
}

ffuf_enumeration() {
  local name=ffuf-enumeration
  start_capture "$name" 3
  # The attacker's own, legitimate account gives it a valid token.
  local token
  token=$(in_ns "$NS_ATK" curl -sS --max-time 5 -H 'Content-Type: application/json' \
    -d '{"username":"mallory","password":"mallory-owns-this-1"}' "http://$HOST/auth/login" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "attack-captures: mallory could not log in" >&2; return 1; }
  sleep 3
  local cmd=(ffuf -u "http://$HOST/api/v1/users/FUZZ" -w ids.txt -H "Authorization: Bearer $token" -t 4 -p 0.02 -mc 200)
  echo "== $name: ffuf -u http://$HOST/api/v1/users/FUZZ -w ids.txt -H 'Authorization: Bearer …' -t 4 -p 0.02 -mc 200"
  local after
  after=$(now)
  (cd "$WORK" && in_ns "$NS_ATK" "${cmd[@]}") >"$TMP/$name.tool.log" 2>&1 || { cat "$TMP/$name.tool.log"; return 1; }
  echo "   ffuf matched $(grep -c 'Status: 200' "$TMP/$name.tool.log" || true) ids"
  finish_capture "$name" "$name" "ffuf $FFUF_VERSION" "$(cmdline "${cmd[@]}")" "$after"
}

# --- main --------------------------------------------------------------------
"$GO" build -o "$BIN" ./internal/attackcap
setup
echo "== namespaces up: server $SRV_IP, benign ${USR_IPS[*]}, attacker $ATK_IP"

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(hydra-json-stuffing hydra-form-bruteforce ffuf-enumeration)
for n in "${names[@]}"; do
  case $n in
    hydra-json-stuffing) hydra_json_stuffing ;;
    hydra-form-bruteforce) hydra_form_bruteforce ;;
    ffuf-enumeration) ffuf_enumeration ;;
    *) echo "attack-captures: unknown capture $n" >&2; exit 2 ;;
  esac
done
