#!/usr/bin/env bash
# bench/run.sh: certgate against nginx and HAProxy as mTLS reverse proxies, one command.
#
#   bench/run.sh [--certgate PATH] [--only TARGETS] [--reps N] [--phases PHASES]
#                [--duration S] [--out DIR]
#
# TARGETS  comma list of: direct certgate certgate-2w nginx haproxy (default: all; certgate and
#          certgate-2w are skipped when no certgate binary is found)
# PHASES   comma list of: ka hs resume hold upload (default: all)
# Knobs (environment): REPS=3 DUR=4 WARM=1 CONNS=64 HS_CONNS=32 HOLD1=1000 HOLD2=5000
#   UPLOAD_MIB=100 UPLOADS=5 PROXY_CPU=0 LOAD_CPU=1 BASE_PORT=28000 CERTGATE=path
#   BENCH_LOCK=/tmp/certgate-bench.lock (none: do not take it)
# Writes bench/results/<timestamp>/: summary.md, raw.jsonl, checks.tsv, meta.txt, logs/.
# See bench/README.md for what each phase measures.
set -uo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH")

REPS=${REPS:-3} DUR=${DUR:-4} WARM=${WARM:-1} CONNS=${CONNS:-64} HS_CONNS=${HS_CONNS:-32}
HOLD1=${HOLD1:-1000} HOLD2=${HOLD2:-5000} UPLOAD_MIB=${UPLOAD_MIB:-100} UPLOADS=${UPLOADS:-5}
PROXY_CPU=${PROXY_CPU:-0} LOAD_CPU=${LOAD_CPU:-1} BASE_PORT=${BASE_PORT:-28000}
BENCH_LOCK=${BENCH_LOCK:-/tmp/certgate-bench.lock}
ALL_TARGETS=(direct certgate certgate-2w nginx haproxy)
ALL_PHASES=ka,hs,resume,hold,upload
ONLY="" PHASES=$ALL_PHASES OUT="" CERTGATE=${CERTGATE:-}

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --certgate) CERTGATE=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --phases) PHASES=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
for t in ${ONLY//,/ }; do [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "run.sh: unknown target $t" >&2; exit 2; }; done
for p in ${PHASES//,/ }; do [[ ,$ALL_PHASES, == *,$p,* ]] || { echo "run.sh: unknown phase $p" >&2; exit 2; }; done

T0=$(date +%s)
log() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*"; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- tools
need=()
for cmd in nginx haproxy curl g++ taskset flock ss python3 openssl timeout; do
  command -v "$cmd" >/dev/null || need+=("$cmd")
done
[[ -f /usr/include/boost/asio/ssl.hpp && -f /usr/include/openssl/ssl.h ]] || need+=(headers)
if [[ ${#need[@]} -gt 0 ]]; then
  [[ $EUID -eq 0 ]] || die "missing: ${need[*]}; as root: apt-get install nginx-light haproxy curl g++ libboost1.81-dev libssl-dev util-linux iproute2 python3 openssl"
  log "installing what is missing (${need[*]})"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light haproxy curl g++ \
    libboost1.81-dev libssl-dev util-linux iproute2 python3 openssl >/dev/null || die "apt-get install failed"
fi

if [[ -z $CERTGATE ]]; then
  [[ -x $REPO/build/certgate ]] && CERTGATE=$REPO/build/certgate  # the release preset's output
fi
if [[ -z $ONLY ]]; then
  TARGETS=("${ALL_TARGETS[@]}")
  if [[ -z $CERTGATE || ! -x $CERTGATE ]]; then
    log "no certgate binary (pass --certgate PATH): measuring the anchors only"
    TARGETS=(direct nginx haproxy)
  fi
else
  TARGETS=(${ONLY//,/ })
  if [[ " ${TARGETS[*]} " == *" certgate"* ]]; then
    [[ -n $CERTGATE && -x $CERTGATE ]] || die "certgate selected but no binary found (pass --certgate PATH)"
  fi
fi
[[ -n $CERTGATE ]] && CERTGATE=$(realpath "$CERTGATE")

ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [[ ,$PHASES, == *,hold,* ]] && (( $(ulimit -n) < 2 * HOLD2 + 1000 )); then
  die "ulimit -n is $(ulimit -n); the hold phase needs $((2 * HOLD2 + 1000)) (lower HOLD2 or raise the hard limit)"
fi

# One benchmark at a time on this machine. A caller that already holds the lock (for example
# `flock /tmp/certgate-bench.lock bench/run.sh`) passed its descriptor down to us.
if [[ $BENCH_LOCK != none ]]; then
  held=""
  for fd in /proc/$$/fd/*; do [[ $(readlink "$fd") == "$BENCH_LOCK" ]] && held=1; done
  if [[ -z $held ]]; then
    exec 9>>"$BENCH_LOCK"
    flock -n 9 || { echo "waiting for $BENCH_LOCK (another benchmark is running)"; flock -w 1800 9; } ||
      { echo "run.sh: could not take $BENCH_LOCK within 30 min" >&2; exit 1; }
  fi
fi
T0=$(date +%s)  # run time counts from here, not from the wait for the lock

OUT=${OUT:-$BENCH/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs" || die "cannot create $OUT"
RAW=$OUT/raw.jsonl CHECKS=$OUT/checks.tsv
: >"$RAW"; : >"$CHECKS"
RUN=$(mktemp -d /tmp/cg-bench.XXXXXX)
PKI=$RUN/pki
UPSTREAM_PORT=$((BASE_PORT + 80)) SINK_PORT=$((BASE_PORT + 81))
declare -A PORT=([nginx]=$((BASE_PORT + 443)) [haproxy]=$((BASE_PORT + 444)) [certgate]=$((BASE_PORT + 445))
                 [certgate-2w]=$((BASE_PORT + 446)))
declare -A TARGET_PHASES=([direct]=ka,upload [certgate-2w]=ka [certgate]=$ALL_PHASES [nginx]=$ALL_PHASES
                          [haproxy]=$ALL_PHASES)
NGINX_USER=""; [[ $EUID -eq 0 ]] && NGINX_USER="user root;"

# ---------------------------------------------------------------- processes (by PID only)
STARTED=()
tree_of() {  # PID and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { keep[root] = 1; changed = 1
          while (changed) { changed = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
          for (p in keep) if (p in parent) print p }'
}
stop_pid() {  # TERM the process tree, KILL whatever is left after 5 s
  local pids p i alive
  pids=$(tree_of "$1")
  [[ -z $pids ]] && { wait "$1" 2>/dev/null; forget "$1"; return 0; }
  kill -TERM $pids 2>/dev/null
  for i in $(seq 50); do
    alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ -z $alive ]] && break
    sleep 0.1
  done
  [[ -n $alive ]] && kill -KILL $pids 2>/dev/null
  wait "$1" 2>/dev/null
  forget "$1"
  return 0
}
forget() {  # drop a PID from STARTED once it is gone, so that cleanup never hits a reused PID
  local keep=() p
  for p in "${STARTED[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
  STARTED=("${keep[@]+"${keep[@]}"}")
}
cleanup() {
  local p
  for p in "${STARTED[@]+"${STARTED[@]}"}"; do kill -0 "$p" 2>/dev/null && stop_pid "$p"; done
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { local i; for i in $(seq 100); do port_open "$1" && return 0; sleep 0.1; done; return 1; }
rss_kib() { local p t=0 v; for p in "$@"; do v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
CURL_CERT=(curl -sS --http1.1 -m 5 --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")

render() {  # TEMPLATE NAME PORT UPSTREAM_PORT [WORKERS] -> path of the rendered file
  local out=$RUN/$2.${1##*.}
  mkdir -p "$RUN/$2-tmp"
  sed -e "s|{{PORT}}|$3|g" -e "s|{{UPSTREAM_PORT}}|$4|g" -e "s|{{WORKERS}}|${5:-1}|g" -e "s|{{PKI}}|$PKI|g" \
      -e "s|{{RUN}}|$RUN|g" -e "s|{{NAME}}|$2|g" -e "s|{{NGINX_USER}}|$NGINX_USER|g" "$BENCH/conf/$1" >"$out"
  echo "$out"
}

PX_PID="" PX_PIDS=""
start_proxy() {  # TARGET UPSTREAM_PORT: starts it on PROXY_CPU and waits until it serves
  local t=$1 up=$2 port=${PORT[$1]} conf i
  local plog=$OUT/logs/proxy-$t.log
  port_open "$port" && { log "!! port $port is taken by something else"; return 1; }
  case $t in
    nginx) conf=$(render nginx-proxy.conf nginx "$port" "$up")
           taskset -c "$PROXY_CPU" nginx -e "$RUN/nginx-error.log" -c "$conf" >>"$plog" 2>&1 & ;;
    haproxy) conf=$(render haproxy.cfg haproxy "$port" "$up")
             taskset -c "$PROXY_CPU" haproxy -db -f "$conf" >>"$plog" 2>&1 & ;;
    certgate|certgate-2w) conf=$(render certgate.yaml "$t" "$port" "$up" "$([[ $t == certgate-2w ]] && echo 2 || echo 1)")
             taskset -c "$PROXY_CPU" "$CERTGATE" serve --config "$conf" >/dev/null 2>>"$plog" & ;;
  esac
  PX_PID=$!; STARTED+=("$PX_PID")
  wait_port "$port" || { log "!! $t does not listen on $port (see $plog)"; stop_proxy; return 1; }
  for i in $(seq 20); do  # serving: one request with the client certificate
    [[ $("${CURL_CERT[@]}" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/" 2>/dev/null) == 200 ]] && break
    sleep 0.25
  done
  PX_PIDS=$(tree_of "$PX_PID" | sort -n | tr '\n' ',' | sed 's/,$//')
}
stop_proxy() { [[ -n $PX_PID ]] && stop_pid "$PX_PID"; PX_PID="" PX_PIDS=""; }

# ---------------------------------------------------------------- one load run -> one raw.jsonl line
LG="" LOAD_PIDS=""
SOFTIRQ_PROXY=$(pgrep -x "ksoftirqd/$PROXY_CPU") SOFTIRQ_LOAD=$(pgrep -x "ksoftirqd/$LOAD_CPU")
# Reads a RESULT line, adds how busy each core was with work that is none of ours (another
# process on the machine, the host), and "disturbed" when that is over 8 % on a core (plus
# 3 clock ticks of rounding: CPU times come in 10 ms ticks, which matters for sub-second
# upload windows), or the host stole over 5 %; prints the line. Ours on the proxy core: the
# proxy and the core's softirq thread; on the load core: loadgen, upstream, sink, softirq thread.
DISTURBANCE_PY='
import json, sys
pc, lc, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
secs, bad = max(r["secs"], 1e-3), False
ours = {lc: r["loadgen_cpu_s"] + r["load_cpu_s"] + r["softirq_load_cpu_s"]}
if "proxy_cpu_s" in r:
    ours[pc] = r["proxy_cpu_s"] + r["softirq_proxy_cpu_s"]
for core, cpu_s in ours.items():
    other = r[f"cpu{core}_busy_pct"] - 100 * cpu_s / secs
    r[f"cpu{core}_other_pct"] = round(other, 1)
    bad = bad or other > 8 + 3 / secs or r[f"cpu{core}_steal_pct"] > 5
r["disturbed"] = bad
print(json.dumps(r))'
measure() {  # TARGET PHASE REP -- loadgen arguments; a disturbed run is repeated, twice at most
  local t=$1 phase=$2 rep=$3 attempt f line limit; shift 4
  limit=$(awk -v w="$WARM" -v d="$DUR" 'BEGIN { printf "%d", w + d + 30 }')
  [[ $phase == upload ]] && limit=300
  for attempt in 1 2 3; do
    f=$OUT/logs/$t-$phase-r$rep-$attempt.out
    taskset -c "$LOAD_CPU" timeout -k 3 "$limit" "$LG" "$@" --cpus "$PROXY_CPU,$LOAD_CPU" \
      ${PX_PIDS:+--watch "proxy=$PX_PIDS"} --watch "load=$LOAD_PIDS" --watch "softirq_proxy=$SOFTIRQ_PROXY" \
      --watch "softirq_load=$SOFTIRQ_LOAD" --tag "target=$t" --tag "phase=$phase" --tag "rep=$rep" >"$f" 2>&1
    line=$(grep -m1 '^RESULT ' "$f" | cut -c8-)
    [[ -z $line ]] && { log "!! $t $phase rep $rep: no result: $(tail -c 300 "$f")"; return 1; }
    line=$(python3 -c "$DISTURBANCE_PY" "$PROXY_CPU" "$LOAD_CPU" "$line") || return 1
    log "   $phase: $(grep -oE '"(rps|hs_per_s|resumed|mibps|p99_ms|errors|non2xx|proxy_cpu_s|cpu[0-9]+_(busy|other)_pct)": [0-9.-]+' <<<"$line" |
      tr -d '" ' | tr '\n' ' ')"
    if [[ $attempt -lt 3 && $line == *'"disturbed": true'* ]]; then
      log "   ^ disturbed by other work on the machine: measuring again"
      echo "${line%\}}, \"superseded\": true}" >>"$RAW"
      continue
    fi
    echo "$line" >>"$RAW"
    return 0
  done
}
tls_args() { echo "--url https://127.0.0.1:${PORT[$1]}$2 --ca $PKI/ca.crt --cert $PKI/client.crt --key $PKI/client.key"; }

# ---------------------------------------------------------------- functional checks
check() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$CHECKS"; [[ $3 == ok* ]] || log "!! check $1 $2: $3"; [[ $3 == ok* ]]; }
run_checks() {  # TARGET, with the echoing sink as its upstream; returns 1 if it does not serve at all
  local t=$1 url="https://127.0.0.1:${PORT[$1]}" head code body ok=0
  head=$("${CURL_CERT[@]}" -D - -o /dev/null "$url/" 2>&1 | tr -d '\r')
  code=$(awk 'NR==1{print $2}' <<<"$head")
  check "$t" "200 with a client certificate" "$([[ $code == 200 ]] && echo ok || echo "FAIL (got ${code:-nothing})")" || ok=1
  if grep -qix "content-security-policy: frame-ancestors 'none'" <<<"$head" && grep -qix 'x-frame-options: deny' <<<"$head"; then
    check "$t" "CSP frame-ancestors 'none' + X-Frame-Options DENY" ok
  else
    check "$t" "CSP frame-ancestors 'none' + X-Frame-Options DENY" "FAIL"
  fi
  code=$(curl -s --http1.1 -m 5 --cacert "$PKI/ca.crt" -o /dev/null -w '%{http_code}' "$url/")
  check "$t" "refused without a certificate" "$([[ $code != 200 ]] && echo "ok ($([[ $code == 000 ]] && echo 'TLS alert' || echo "HTTP $code"))" || echo 'FAIL (200)')"
  body=$("${CURL_CERT[@]}" -H 'X-SSL-Client-Verify: FORGED' -H 'X-SSL-Client-DN: CN=forged' \
         -H 'X-SSL-Client-Fingerprint: forged' "$url/echo" 2>&1 | tr -d '\r' | tr 'A-Z' 'a-z')
  if ! grep -q forged <<<"$body" && [[ $(grep -c '^x-ssl-client-verify: success$' <<<"$body") == 1 &&
        $(grep -c '^x-ssl-client-dn: .*cn=bench-client' <<<"$body") == 1 &&
        $(grep -cE '^x-ssl-client-fingerprint: [0-9a-f:]{40,}$' <<<"$body") == 1 ]]; then
    check "$t" "identity headers set upstream, forgeries replaced" ok
  else
    check "$t" "identity headers set upstream, forgeries replaced" "FAIL: $(grep -i x-ssl <<<"$body" | tr '\n' ';')"
  fi
  return $ok
}

# ---------------------------------------------------------------- phases
has() { [[ ,$PHASES, == *,$2,* && ,${TARGET_PHASES[$1]}, == *,$2,* ]]; }
declare -A BROKEN=()

HOLDER_PID=""
holder() {  # TARGET N OUTFILE: N connections, one request each, open until we stop them
  taskset -c "$LOAD_CPU" timeout -k 3 300 "$LG" $(tls_args "$1" /) --mode hold --hold "$2" --conns 64 \
    --duration 280 --tag "target=$1" >"$3" 2>&1 &
  HOLDER_PID=$!; STARTED+=("$HOLDER_PID")
}
wait_held() { local i; for i in $(seq 1200); do grep -q '^HOLDING' "$1" && return 0; sleep 0.1; done; return 1; }
hold_phase() {  # TARGET REP: RSS per idle connection on a fresh proxy
  local t=$1 rep=$2 base r1 r2 n1 n2 e1 e2 p1 p2 f1=$OUT/logs/$t-hold1-r$2.out f2=$OUT/logs/$t-hold2-r$2.out
  start_proxy "$t" "$UPSTREAM_PORT" || return 1
  base=$(rss_kib ${PX_PIDS//,/ })
  holder "$t" "$HOLD1" "$f1"; p1=$HOLDER_PID
  wait_held "$f1" || log "!! $t: $HOLD1 connections did not open within 120 s"
  r1=$(rss_kib ${PX_PIDS//,/ }); e1=$(ss -Htn state established "( sport = :${PORT[$t]} )" | wc -l)
  holder "$t" $((HOLD2 - HOLD1)) "$f2"; p2=$HOLDER_PID
  wait_held "$f2" || log "!! $t: $((HOLD2 - HOLD1)) more connections did not open within 120 s"
  r2=$(rss_kib ${PX_PIDS//,/ }); e2=$(ss -Htn state established "( sport = :${PORT[$t]} )" | wc -l)
  n1=$(awk '/^HOLDING/{print $2}' "$f1"); n2=$(awk '/^HOLDING/{print $2}' "$f2")
  stop_pid "$p1"; stop_pid "$p2"
  stop_proxy
  printf '{"target":"%s","phase":"hold","rep":"%s","rss_base_kib":%s,"rss_1_kib":%s,"held_1":%s,"estab_1":%s,"rss_2_kib":%s,"held_2":%s,"estab_2":%s}\n' \
    "$t" "$rep" "$base" "$r1" "${n1:-0}" "$e1" "$r2" "$(( ${n1:-0} + ${n2:-0} ))" "$e2" >>"$RAW"
  log "   hold: idle proxy ${base} KiB; ${e1} open: ${r1} KiB; ${e2} open: ${r2} KiB"
}

run_target() {  # TARGET REP: every phase of one target, once
  local t=$1 rep=$2 mib=$((UPLOAD_MIB * 1048576))
  if [[ $t == direct ]]; then
    log "== direct (loadgen straight to the upstream, plain HTTP) rep $rep"
    PX_PIDS=""
    has direct ka && measure direct ka "$rep" -- --url "http://127.0.0.1:$UPSTREAM_PORT/" --conns "$CONNS" \
      --duration "$DUR" --warmup "$WARM"
    has direct upload && measure direct upload "$rep" -- --url "http://127.0.0.1:$SINK_PORT/upload" --mode upload \
      --body-bytes "$mib" --requests "$UPLOADS" --conns 1 --warmup 0 --duration 240
    return 0
  fi
  [[ -n ${BROKEN[$t]:-} ]] && { log "== $t skipped (failed its checks)"; return 0; }
  log "== $t rep $rep"
  if [[ $rep == 1 ]] || has "$t" upload; then  # proxy in front of the sink: checks, uploads
    start_proxy "$t" "$SINK_PORT" || { BROKEN[$t]=1; return 0; }
    if [[ $rep == 1 ]] && ! run_checks "$t"; then BROKEN[$t]=1; stop_proxy; return 0; fi
    has "$t" upload && measure "$t" upload "$rep" -- $(tls_args "$t" /upload) --mode upload --body-bytes "$mib" \
      --requests "$UPLOADS" --conns 1 --warmup 0 --duration 240
    stop_proxy
  fi
  if has "$t" ka || has "$t" hs || has "$t" resume; then  # proxy in front of the nginx upstream
    start_proxy "$t" "$UPSTREAM_PORT" || return 0
    has "$t" ka && measure "$t" ka "$rep" -- $(tls_args "$t" /) --conns "$CONNS" --duration "$DUR" --warmup "$WARM"
    has "$t" hs && measure "$t" hs "$rep" -- $(tls_args "$t" /) --mode handshake --conns "$HS_CONNS" \
      --duration "$DUR" --warmup "$WARM"
    has "$t" resume && measure "$t" resume "$rep" -- $(tls_args "$t" /) --mode resume --conns "$HS_CONNS" \
      --duration "$DUR" --warmup "$WARM"
    stop_proxy
  fi
  has "$t" hold && hold_phase "$t" "$rep"
  return 0
}

# ---------------------------------------------------------------- set up
log "results -> $OUT"
"$BENCH/make-pki.sh" "$PKI" || die "PKI generation failed"
LG=$BENCH/.build/cg-loadgen
if [[ ! -x $LG || $BENCH/loadgen/cg-loadgen.cpp -nt $LG ]]; then
  log "building the load generator"
  "$BENCH/loadgen/build.sh" "$LG" >/dev/null || die "loadgen build failed"
fi
for p in "$UPSTREAM_PORT" "$SINK_PORT"; do port_open "$p" && die "port $p is taken (set BASE_PORT)"; done
taskset -c "$LOAD_CPU" nginx -e "$RUN/upstream-error.log" -c "$(render upstream-nginx.conf upstream 0 "$UPSTREAM_PORT")" \
  >"$OUT/logs/upstream.log" 2>&1 &
STARTED+=($!)
taskset -c "$LOAD_CPU" "$LG" --sink "$SINK_PORT" >"$OUT/logs/sink.log" 2>&1 &
STARTED+=($!)
wait_port "$UPSTREAM_PORT" && wait_port "$SINK_PORT" || die "upstream or sink did not start"
for i in $(seq 50); do  # the upstream's worker is up once it answers
  [[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UPSTREAM_PORT/") == 200 ]] && break
  sleep 0.1
done
LOAD_PIDS=$( (tree_of "${STARTED[0]}"; echo "${STARTED[1]}") | sort -n | tr '\n' ',' | sed 's/,$//')

{
  echo "date: $(date -Is)"
  echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc), $(free -g | awk '/^Mem/{print $2}') GiB"
  echo "certgate: ${CERTGATE:-none} ($([[ -n $CERTGATE ]] && "$CERTGATE" version 2>/dev/null | tr '\n' ' '))"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*\///')  haproxy: $(haproxy -v | awk 'NR==1{print $3}')"
  echo "libssl3: $(dpkg-query -W -f='${Version}' libssl3 2>/dev/null)  boost: $(dpkg-query -W -f='${Version}' libboost1.81-dev 2>/dev/null)"
  echo "bench commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) $(git -C "$REPO" status --porcelain -- bench 2>/dev/null | grep -q . && echo '(modified)')"
  echo "targets: ${TARGETS[*]}  phases: $PHASES"
  echo "knobs: REPS=$REPS DUR=$DUR WARM=$WARM CONNS=$CONNS HS_CONNS=$HS_CONNS HOLD1=$HOLD1 HOLD2=$HOLD2 UPLOAD_MIB=$UPLOAD_MIB UPLOADS=$UPLOADS PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU"
} >"$OUT/meta.txt"

# ---------------------------------------------------------------- the runs
# Repetitions are interleaved: rep 1 of every target, then rep 2, ... The target order is
# rotated by one each rep, so no target always runs first or right after the same neighbour.
n=${#TARGETS[@]}
for rep in $(seq "$REPS"); do
  for i in $(seq 0 $((n - 1))); do
    run_target "${TARGETS[$(( (i + rep - 1) % n ))]}" "$rep"
  done
done

python3 "$BENCH/summarize.py" "$OUT" >"$OUT/summary.md" || die "summarize.py failed"
echo "run time: $(( $(date +%s) - T0 )) s" >>"$OUT/meta.txt"
log "done in $(( $(date +%s) - T0 )) s: $OUT/summary.md"
cat "$OUT/summary.md"
