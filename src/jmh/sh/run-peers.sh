#!/usr/bin/env bash
# run-peers.sh - benchmark SNI-routing TLS passthrough proxies side by side.
#
#   src/jmh/sh/run-peers.sh [--runs N] [PROXY ...]   (default: direct nginx haproxy sniproxy snigate)
#
# Needs nginx with its stream module, haproxy, sniproxy (each only when named), gcc, and for snigate
# the jar of `mvn -B -DskipTests package` (target/snigate.jar; SNIGATE_JAR=... for another).
# "nginxhc" (only when named) is nginx with proxy_half_close on, snigate's close semantics.
# "nettyfloor" (only when named) is a bare Netty relay from target/benchmarks.jar (-Pjmh): the
# floor under snigate's CPU per connection, not a peer; "handlefloor" the same relay with its upstream
# side an io_uring handle instead of a channel (HandleUpstream), "ringfloor" a relay with no channel
# at all (RingFloor), "stagefloor" that relay running snigate's own stages (FloorStages). The
# "floors" are never peers.
#
# Each proxy gets a minimal config in a temp dir, listens on 127.0.0.1, routes
# the SNI name a.bench.test to a plain-TCP backend (loadgen backend: no TLS, so
# only the proxy's own work is measured: accept, pre-read/parse the
# ClientHello, route, connect upstream, relay, close), is checked with one
# connection (and, by half-close-probe.py, which needs python3, for whether it
# keeps half-close), then measured:
#   rate  connections/s at concurrency RATE_CONC for RATE_SECONDS (after a
#         WARMUP_SECONDS run), latency p50/p99, and the proxy's CPU time per
#         connection (utime+stime from /proc/PID/stat over its processes);
#         after the pass over the other workloads, with all proxies started
#         at once and RATE_SECONDS cut into RATE_SLICES (3) turns per proxy
#         taken in turns, like open (RATE_SLICES=1: inside each proxy's pass);
#   bulk  MiB/s through BULK_CONNS connections for BULK_BYTES in all, and the
#         proxy's CPU seconds per GiB, after BULK_WARMUP (1G) through them
#         not counted (a JIT compiles the relay's path meanwhile);
#   idle  RSS (VmRSS summed over its processes) before and while holding
#         IDLE_CONNS tunnels, KiB per tunnel, and the fd count before, while
#         and after (it must drop back);
#   open  after the pass over every proxy, all of them started again at once,
#         each warmed up like for rate, and loaded open-loop (loadgen open)
#         in turn: new connections at fixed rates for OPEN_SECONDS each (after
#         OPEN_WARMUP_SECONDS at that rate, not counted), cut into OPEN_SLICES
#         (3) slices per proxy taken in turns, so that every proxy meets the
#         same minutes of the host (OPEN_SLICES=1: one proxy after the other,
#         each started alone), at OPEN_LOADS percent (25 50 75)
#         of the best peer's conn/s in this run's rate workload (the best of
#         the proxies other than snigate, the floors and direct), or the conn/s listed in
#         OPEN_RATES; connection time p50/p99/p99.9/max from each
#         connection's place in the schedule, failed connections counted and
#         ranked slowest; the proxy's CPU per connection (and its user part),
#         its wakeups per connection (voluntary context switches: how often it
#         slept and was woken) and, as root with perf (COUNT_SYSCALLS), its
#         system calls per connection, io_uring_enter among them. A line per
#         rate then sets snigate's p99 and p99.9 beside the best peer's, and its
#         CPU per connection beside the least of the peers' at that rate: the
#         same offered load (under the rate workload the slower proxy also pays
#         for waking a load tool that waits on it: performance page, "At equal
#         load").
# WORKLOADS (default "rate bulk idle open") picks some of them; each runs in
# that order, so "idle" alone measures RSS per tunnel in a fresh process.
# "direct" is loadgen straight to the backend: the limit of the rig itself.
#
# The proxy runs on CPU $PROXY_CPU (taskset), loadgen and backend on CPU
# $RIG_CPU; nginx and haproxy get one worker / one thread: one core each.
# All traffic stays on 127.0.0.1.  Every load step is bounded in time.
#
# Other processes on the machine (other builds and tests) disturb the
# figures: before each rate and bulk measurement the script waits up to
# QUIET_WAIT s for them to use less than QUIET_PCT % of a core, measures, and
# measures again (at most RETRIES more times) while they used more than
# NOISY_PCT % of a core during it; the quietest attempt is kept and the CPU
# they used is reported ("other load", % of one core).  Waiting and retrying
# stop once a run (one pass over the proxies, and its open phase) has taken
# RUN_BUDGET seconds.
#
# Knobs (environment): RUNS WORKLOADS RATE_CONC RATE_SECONDS WARMUP_SECONDS
# BULK_CONNS BULK_BYTES BULK_WARMUP IDLE_CONNS IDLE_SETTLE OPEN_LOADS OPEN_RATES
# OPEN_SECONDS OPEN_WARMUP_SECONDS OPEN_SLICES RATE_SLICES COUNT_SYSCALLS QUIET_WAIT QUIET_PCT NOISY_PCT RETRIES RUN_BUDGET PORT_BASE
# PROXY_CPU RIG_CPU SNI HELLO RESULTS_DIR RESULTS_MD KEEP_WORK SNIGATE_JAR
# BENCHMARKS_JAR SNIGATE_JAVA_OPTS (snigate and the floors) SNIGATE_LAUNCHER (1: snigate started through
# deploy/bin/snigate, its flags and class-data archive, as deployed).  Output: a table on stdout, the same in
# $RESULTS_DIR/$RESULTS_MD (default target/bench/results-peers.md) and raw
# figures in the .tsv next to it.
#
# To add a proxy, write a proxy_NAME and a version_NAME function in the
# "proxy blocks" section below and pass NAME.
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"

RUNS=${RUNS:-1}
WORKLOADS=${WORKLOADS:-rate bulk idle open}
OPEN_LOADS=${OPEN_LOADS:-25 50 75}
OPEN_RATES=${OPEN_RATES:-}
OPEN_SECONDS=${OPEN_SECONDS:-15}
# A JIT compiles for the traffic it sees: snigate's code paths for an event loop that sleeps between
# connections are compiled only once it meets that traffic, over 15-20 s on one core
# (performance.md, "Warm-up for each rate").
OPEN_WARMUP_SECONDS=${OPEN_WARMUP_SECONDS:-30}
OPEN_SLICES=${OPEN_SLICES:-3}
RATE_SLICES=${RATE_SLICES:-3}
SNIGATE_LAUNCHER=${SNIGATE_LAUNCHER:-0}
RATE_CONC=${RATE_CONC:-64}
RATE_SECONDS=${RATE_SECONDS:-15}
WARMUP_SECONDS=${WARMUP_SECONDS:-3}
BULK_CONNS=${BULK_CONNS:-4}
BULK_BYTES=${BULK_BYTES:-2G}
BULK_WARMUP=${BULK_WARMUP:-1G}
IDLE_CONNS=${IDLE_CONNS:-auto}
IDLE_SETTLE=${IDLE_SETTLE:-1}
QUIET_WAIT=${QUIET_WAIT:-20}
# The open loop's system calls per connection, counted by perf from the kernel's tracepoints: root
# and perf needed; "auto" counts when both are there.
COUNT_SYSCALLS=${COUNT_SYSCALLS:-auto}
if [[ "$COUNT_SYSCALLS" == auto ]]; then
  COUNT_SYSCALLS=0
  if [[ $EUID == 0 ]] && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then COUNT_SYSCALLS=1; fi
fi
QUIET_PCT=${QUIET_PCT:-5}
NOISY_PCT=${NOISY_PCT:-15}
RETRIES=${RETRIES:-2}
RUN_BUDGET=${RUN_BUDGET:-400}
PORT_BASE=${PORT_BASE:-24400}
PROXY_CPU=${PROXY_CPU:-1}
RIG_CPU=${RIG_CPU:-0}
SNI=${SNI:-a.bench.test}
RESULTS_MD=${RESULTS_MD:-results-peers.md}
RESULTS_TSV=${RESULTS_MD%.md}.tsv
RESULTS_DIR=${RESULTS_DIR:-$BENCH_OUT}
KEEP_WORK=${KEEP_WORK:-0}

PROXIES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) PROXIES+=("$1"); shift ;;
  esac
done
[[ ${#PROXIES[@]} -gt 0 ]] || PROXIES=(direct nginx haproxy sniproxy snigate)

# ============================================================================
# proxy blocks
#
# proxy_NAME LISTEN_PORT BACKEND_PORT SNI DIR
#   writes NAME's config into DIR and prints ONE line: the command that starts
#   it in the foreground (it must not daemonize).  run-peers.sh runs that line
#   under `taskset -c $PROXY_CPU` and keeps its PID; CPU and RSS are summed over
#   that PID and its descendants.  Listen on 127.0.0.1:LISTEN_PORT, send SNI to
#   127.0.0.1:BACKEND_PORT, no access log, one worker thread, timeouts well
#   of 120 s, room for IDLE_N tunnels (2*IDLE_N fds, NOFILE is the limit).
# version_NAME
#   prints one line: name and version.
# ============================================================================

# ---- nginx: stream module + ssl_preread ------------------------------------
proxy_nginx() {
  local listen=$1 backend=$2 sni=$3 dir=$4 modules load=""
  # Debian builds the stream module as a dynamic module; load it when needed.
  local build; build=$(nginx -V 2>&1)
  modules=$(sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p' <<<"$build")
  if [[ " $build " != *" --with-stream "* && -f "$modules/ngx_stream_module.so" ]]; then
    load="load_module $modules/ngx_stream_module.so;"
  fi
  cat >"$dir/nginx.conf" <<EOF
$load
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events {
    worker_connections $((IDLE_N * 2 + 200));
}
stream {
    map \$ssl_preread_server_name \$sni_upstream {
        $sni    be_a;
        default be_none;
    }
    upstream be_a    { server 127.0.0.1:$backend; }
    upstream be_none { server 127.0.0.1:1; }   # nothing listens there: refused
    server {
        listen 127.0.0.1:$listen;
        ssl_preread on;
        proxy_pass \$sni_upstream;
        proxy_connect_timeout 5s;
        proxy_timeout 120s;
    }
}
EOF
  echo "nginx -p $dir -c $dir/nginx.conf -g 'daemon off;'"
}
version_nginx() { nginx -v 2>&1 | sed 's/^nginx version: //'; }

# ---- nginxhc: nginx with proxy_half_close on (only when named) --------------
# nginx closes both sides when either sends FIN unless proxy_half_close is on; snigate passes a FIN
# on and keeps the other direction open until that side's own FIN, so this is nginx keeping
# snigate's semantics (performance.md, "Wakeups in the open loop").
proxy_nginxhc() {
  local cmd; cmd=$(proxy_nginx "$@")
  sed -i 's/^\( *\)proxy_timeout 120s;/&\n\1proxy_half_close on;/' "$4/nginx.conf"
  echo "$cmd"
}
version_nginxhc() { echo "$(version_nginx), proxy_half_close on"; }

# ---- HAProxy: mode tcp, inspect-delay, req.ssl_sni --------------------------
proxy_haproxy() {
  local listen=$1 backend=$2 sni=$3 dir=$4
  cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $((IDLE_N + 200))

defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s

frontend sni_in
    bind 127.0.0.1:$listen
    tcp-request inspect-delay 5s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend be_a if { req.ssl_sni -i $sni }

backend be_a
    server a 127.0.0.1:$backend
EOF
  echo "haproxy -db -f $dir/haproxy.cfg"
}
version_haproxy() { haproxy -v 2>&1 | sed -n 1p | awk '{print "haproxy " $3 " (" $4 ")"}'; }

# ---- sniproxy ---------------------------------------------------------------
proxy_sniproxy() {
  local listen=$1 backend=$2 sni=$3 dir=$4
  cat >"$dir/sniproxy.conf" <<EOF
pidfile $dir/sniproxy.pid

error_log {
    filename $dir/sniproxy-error.log
    priority notice
}

# The table holds IP addresses, so nothing is resolved; should anything be,
# it goes to loopback.
resolver {
    nameserver 127.0.0.1
    mode ipv4_only
}

listener 127.0.0.1:$listen {
    protocol tls
    table bench
}

table bench {
    ^${sni//./\\.}\$ 127.0.0.1:$backend
}
EOF
  echo "sniproxy -f -n $NOFILE -c $dir/sniproxy.conf"
}
version_sniproxy() { sniproxy -V 2>&1 | sed -n 1p; }

# ---- snigate: the Java proxy ------------------------------------------------
# `java -jar $SNIGATE_JAR` with bench-lib.sh's routes.yaml: snigate's defaults, so io_uring where the
# kernel allows it and the access log on, to standard output, which the rig discards (snigate pays
# for formatting it, the peers log nothing). All its threads share the one proxy core (taskset), like
# the peers. JVM options go in SNIGATE_JAVA_OPTS. The JIT wants a longer warm-up than the C proxies:
# WARMUP_SECONDS=15. SNIGATE_LAUNCHER=1 starts it through the launcher instead, as deployed: the
# launcher's JVM flags and a class-data archive that one start and stop wrote before the runs.
proxy_snigate() {
  local listen=$1 backend=$2 sni=$3 dir=$4
  [[ -f "$SNIGATE_JAR" ]] || { echo "no $SNIGATE_JAR: run mvn -B -DskipTests package, or set SNIGATE_JAR" >&2; return 1; }
  bench_snigate_config "$listen" "$((listen + 50))" "$backend" "$sni" "$dir/snigate.yaml"
  if [[ "$SNIGATE_LAUNCHER" == 1 ]]; then
    echo "env SNIGATE_JAR=$SNIGATE_JAR SNIGATE_CDS_ARCHIVE=$WORK/snigate.jsa SNIGATE_JAVA_OPTS='${SNIGATE_JAVA_OPTS:-}' sh $BENCH_REPO/deploy/bin/snigate --config $dir/snigate.yaml"
  else
    echo "java ${SNIGATE_JAVA_OPTS:-} -jar $SNIGATE_JAR --config $dir/snigate.yaml"
  fi
}
version_snigate() {
  echo "$(java -jar "$SNIGATE_JAR" --version 2>/dev/null) on $(java -version 2>&1 | sed -n 1p)$([[ "$SNIGATE_LAUNCHER" == 1 ]] && echo ", through deploy/bin/snigate")"
}

# ---- nettyfloor: a bare Netty relay, not a peer -----------------------------
# io.snigate.bench.NettyFloor from the benchmarks jar (mvn -B -Pjmh -DskipTests package;
# BENCHMARKS_JAR=... for another): snigate's transport and read sizes, its way of creating the
# upstream channel and passing FINs on, and none of its stages (no parse, route, log or metric).
# What snigate would cost if its own code cost nothing; never the "best peer" of the open workload.
# It forwards every name, so its "SNI routing" column says NO.
proxy_nettyfloor() { floor_command io.snigate.bench.NettyFloor "$@"; }
# The command of a relay from the benchmarks jar: its main class, then proxy_NAME's arguments.
floor_command() {
  local main=$1 listen=$2 backend=$3 sni=$4 dir=$5
  [[ -f "$BENCHMARKS_JAR" ]] || { echo "no $BENCHMARKS_JAR: run mvn -B -Pjmh -DskipTests package, or set BENCHMARKS_JAR" >&2; return 1; }
  bench_snigate_config "$listen" "$((listen + 50))" "$backend" "$sni" "$dir/snigate.yaml"
  echo "java ${SNIGATE_JAVA_OPTS:-} -cp $BENCHMARKS_JAR $main --config $dir/snigate.yaml"
}
version_nettyfloor() { echo "io.snigate.bench.NettyFloor (bare Netty relay) on $(java -version 2>&1 | sed -n 1p)"; }

# ---- handlefloor: the bare relay without an upstream channel, not a peer ----
# NettyFloor with -Dsnigate.floor.upstream=handle: the client side a Netty channel as above, the
# upstream socket an io_uring handle that submits its own operations (HandleUpstream; io_uring only).
proxy_handlefloor() {
  SNIGATE_JAVA_OPTS="${SNIGATE_JAVA_OPTS:-} -Dsnigate.floor.upstream=handle" proxy_nettyfloor "$@"
}
version_handlefloor() { echo "io.snigate.bench.NettyFloor, upstream an io_uring handle, on $(java -version 2>&1 | sed -n 1p)"; }

# ---- ringfloor: a relay with no Netty channel, not a peer -------------------
# io.snigate.bench.RingFloor: the listening socket and both sockets of each connection are io_uring
# handles on one Netty event loop; what is left is the JVM, Netty's ring and the kernel.
proxy_ringfloor() { floor_command io.snigate.bench.RingFloor "$@"; }
version_ringfloor() { echo "io.snigate.bench.RingFloor (no channels) on $(java -version 2>&1 | sed -n 1p)"; }

# ---- stagefloor: the relay with no channel, running snigate's stages, not a peer
# RingFloor with -Dsnigate.floor.stages=on (FloorStages): snigate's record, pre-read and JA4, route,
# timers, metrics and access log, without its Netty channel and pipeline for the accepted socket.
proxy_stagefloor() {
  SNIGATE_JAVA_OPTS="${SNIGATE_JAVA_OPTS:-} -Dsnigate.floor.stages=on" proxy_ringfloor "$@"
}
version_stagefloor() { echo "io.snigate.bench.RingFloor with snigate's stages, on $(java -version 2>&1 | sed -n 1p)"; }

# ---- direct: no proxy (loadgen straight to the backend) ---------------------
version_direct() { echo "no proxy, loadgen straight to the backend: the rig's own limit"; }

# cpu-by-dso.sh sources this file for the proxy blocks above and nothing after them.
if [[ "${RUN_PEERS_BLOCKS_ONLY:-}" == 1 ]]; then return 0; fi

# ============================================================================
# plumbing
# ============================================================================

LOADGEN=$(bench_loadgen) || { echo "could not build the load tool" >&2; exit 1; }
HELLO=$BENCH_HELLO
if [[ ! -s "$HELLO" ]]; then
  "$BENCH_SH/capture-clienthello.sh" "$SNI" "$HELLO" >&2
fi
mkdir -p "$RESULTS_DIR"

# File descriptors: soft limit up to the hard one.  A tunnel costs the proxy
# two fds, so IDLE_CONNS=auto is min(10000, (NOFILE - 1000) / 2).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [[ "$IDLE_CONNS" == auto ]]; then
  IDLE_N=$(( (NOFILE - 1000) / 2 ))
  if (( IDLE_N > 10000 )); then IDLE_N=10000; fi
else
  IDLE_N=$IDLE_CONNS
fi

WORK=$(mktemp -d -t snibench.XXXXXX)
mkdir -p "$WORK/pids" "$WORK/logs"
# The same ClientHello for another name of the same length (no checksum in a
# ClientHello): the proxies must not route it.
if [[ "${SNI:0:1}" == b ]]; then OTHER_SNI="c${SNI:1}"; else OTHER_SNI="b${SNI:1}"; fi
OTHER_HELLO="$WORK/clienthello-other.bin"
LC_ALL=C sed "s/${SNI//./\\.}/$OTHER_SNI/g" "$HELLO" >"$OTHER_HELLO"
cmp -s "$HELLO" "$OTHER_HELLO" && { echo "could not make a ClientHello for $OTHER_SNI" >&2; exit 1; }
TSV="$WORK/results.tsv"
CMDLOG="$WORK/commands.txt"
: >"$TSV"
: >"$CMDLOG"

# Stop what we started, by the PIDs we recorded (and nothing else).
stop_pid() { # NAME
  local f="$WORK/pids/$1.pid" pid kids p i
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  kids=$(cat "$WORK/pids/$1.kids" 2>/dev/null || true)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  for p in $kids; do
    for i in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$f" "$WORK/pids/$1.kids"
}
cleanup() {
  local f
  for f in "$WORK"/pids/*.pid; do
    [[ -e "$f" ]] && stop_pid "$(basename "$f" .pid)"
  done
  if [[ "$KEEP_WORK" == 1 ]]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Commands are logged with the temp dir and the build folder written symbolically, and paths in
# the checkout relative to its root.
logcmd() { [[ "${LOG_COMMANDS:-1}" == 1 ]] || return 0; printf '%s\n' "$*" | sed -e "s|$WORK|\$WORK|g" -e "s|$BENCH_OUT/|\$BENCH_OUT/|g" -e "s|$BENCH_REPO/||g" >>"$CMDLOG"; }

# busy and total jiffies of one CPU from /proc/stat ("busy total")
cpu_jiffies() {
  awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}
busy_pct() { # "busy0 total0" "busy1 total1" -> percent busy in between
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    t = y[2] - x[2]; printf "%d", (t > 0 ? 100 * (y[1] - x[1]) / t + 0.5 : 0) }'
}
TICK=$(getconf CLK_TCK)

# True once this run (one pass over the proxies) has used RUN_BUDGET seconds:
# from then on no more waiting for quiet and no more retries.
over_budget() { (( $(date +%s) - RUN_T0 >= RUN_BUDGET )); }
# Waits (at most QUIET_WAIT s) until other processes use < QUIET_PCT % of one
# core over a second; prints the seconds waited.
wait_quiet() {
  local i a b
  if over_budget; then echo 0; return 0; fi
  for ((i = 0; i < QUIET_WAIT; i++)); do
    a=$(foreign_ticks); sleep 1; b=$(foreign_ticks)
    if (( (b - a) * 100 < QUIET_PCT * TICK )); then echo "$i"; return 0; fi
  done
  echo "$i"
}
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
rec() { printf '%s\t%s\t%s\t%s\n' "$RUN" "$NAME" "$1" "$2" >>"$TSV"; }
get() { awk -F'\t' -v r="$1" -v p="$2" -v k="$3" '$1==r && $2==p && $3==k {v=$4} END {print (v=="" ? "-" : v)}' "$TSV"; }

port_free() { [[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]; }
wait_listen() { # PORT PID
  local i
  for i in $(seq 100); do
    [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

BACKEND_PORT=$PORT_BASE
start_backend() { # MODE [SECONDS: how long it may live at most, 600 unless given]
  stop_pid backend
  local cmd=(taskset -c "$RIG_CPU" "$LOADGEN" backend --listen "127.0.0.1:$BACKEND_PORT" --mode "$1"
             --hello "$HELLO" --resp-bytes 200 --max-seconds "${2:-600}")
  logcmd "${cmd[*]}"
  "${cmd[@]}" >>"$WORK/logs/backend.out" 2>>"$WORK/logs/backend.err" &
  echo $! >"$WORK/pids/backend.pid"
  wait_listen "$BACKEND_PORT" "$!" || { echo "backend did not start:" >&2; tail -5 "$WORK/logs/backend.err" >&2; exit 1; }
}

loadgen() { # MODE ARGS...  -> RESULT line on stdout
  local cmd=(taskset -c "$RIG_CPU" "$LOADGEN" "$@") line
  printf -v line '%q ' "${cmd[@]}"
  logcmd "${line% }"
  "${cmd[@]}" 2>>"$WORK/logs/loadgen.err" | grep '^RESULT' || true
}

# ============================================================================
# one proxy, all workloads
# ============================================================================

# One measured rate run; prints "key value" lines.  Uses $target, $pid, $tree.
rate_attempt() {
  local c0 c1 u0 u1 b0 b1 f0 f1 p0 p1 r0 r1 out ok errs el
  if [[ -n "$pid" ]]; then proxy_tree; fi
  c0=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  u0=$([[ -n "$pid" ]] && utime_ticks $tree || echo 0)
  b0=$(cpu_ticks "$(cat "$WORK/pids/backend.pid")")
  f0=$(foreign_ticks)
  p0=$(cpu_jiffies "$PROXY_CPU"); r0=$(cpu_jiffies "$RIG_CPU")
  out=$(loadgen rate --connect "$target" --hello "$HELLO" --concurrency "$RATE_CONC" \
        --duration "$RATE_SECONDS" --expect-prefix "SNIBENCH OK")
  p1=$(cpu_jiffies "$PROXY_CPU"); r1=$(cpu_jiffies "$RIG_CPU")
  f1=$(foreign_ticks)
  c1=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  u1=$([[ -n "$pid" ]] && utime_ticks $tree || echo 0)
  b1=$(cpu_ticks "$(cat "$WORK/pids/backend.pid")")
  ok=$(kv "$out" ok); errs=$(kv "$out" errors); el=$(kv "$out" elapsed_s)
  if [[ -z "$ok" || -z "$el" ]]; then echo "rate_errors loadgen-failed"; echo "other_load_pct 0"; return; fi
  echo "other_load_pct $(calc "int(100 * ($f1 - $f0 > 0 ? $f1 - $f0 : 0) / $TICK / $el + 0.5)")"
  echo "rate_cps $(kv "$out" rate_cps)"
  echo "rate_ok $ok"
  echo "rate_errors $errs"
  echo "ttfb_p50_ms $(calc "$(kv "$out" ttfb_p50_us) / 1000")"
  echo "ttfb_p99_ms $(calc "$(kv "$out" ttfb_p99_us) / 1000")"
  echo "total_p50_ms $(calc "$(kv "$out" total_p50_us) / 1000")"
  echo "total_p99_ms $(calc "$(kv "$out" total_p99_us) / 1000")"
  echo "total_max_ms $(calc "$(kv "$out" total_max_us) / 1000")"
  echo "rate_cpu_proxy_busy $(busy_pct "$p0" "$p1")"
  echo "rate_cpu_rig_busy $(busy_pct "$r0" "$r1")"
  echo "rig_cpu_pct $(calc "int(100 * ($(kv "$out" loadgen_cpu_s) + ($b1 - $b0) / $TICK) / $el + 0.5)")"
  if [[ -n "$pid" ]]; then
    echo "cpu_us_per_conn $(calc "int(($c1 - $c0) / $TICK * 1e6 / ($ok + $errs > 0 ? $ok + $errs : 1) + 0.5)")"
    echo "user_us_per_conn $(calc "int(($u1 - $u0) / $TICK * 1e6 / ($ok + $errs > 0 ? $ok + $errs : 1) + 0.5)")"
    echo "proxy_cpu_pct $(calc "int(100 * ($c1 - $c0) / $TICK / $el + 0.5)")"
  fi
}

# One measured bulk run; prints "key value" lines.
bulk_attempt() {
  local c0 c1 f0 f1 p0 p1 r0 r1 out el bytes
  c0=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  f0=$(foreign_ticks)
  p0=$(cpu_jiffies "$PROXY_CPU"); r0=$(cpu_jiffies "$RIG_CPU")
  out=$(loadgen bulk --connect "$target" --hello "$HELLO" --conns "$BULK_CONNS" \
        --bytes "$BULK_BYTES" --max-seconds 120)
  p1=$(cpu_jiffies "$PROXY_CPU"); r1=$(cpu_jiffies "$RIG_CPU")
  f1=$(foreign_ticks)
  c1=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  el=$(kv "$out" elapsed_s); bytes=$(kv "$out" bytes)
  if [[ -z "$el" || -z "$bytes" || "$bytes" == 0 ]]; then echo "bulk_errors loadgen-failed"; echo "other_load_pct 0"; return; fi
  echo "other_load_pct $(calc "int(100 * ($f1 - $f0 > 0 ? $f1 - $f0 : 0) / $TICK / $el + 0.5)")"
  echo "bulk_mib_s $(kv "$out" mib_s)"
  echo "bulk_errors $(kv "$out" errors)"
  echo "bulk_cpu_proxy_busy $(busy_pct "$p0" "$p1")"
  echo "bulk_cpu_rig_busy $(busy_pct "$r0" "$r1")"
  if [[ -n "$pid" ]]; then
    echo "cpu_s_per_gib $(calc "($c1 - $c0) / $TICK / ($bytes / 1073741824)")"
    echo "bulk_proxy_cpu_pct $(calc "int(100 * ($c1 - $c0) / $TICK / $el + 0.5)")"
  fi
}

# Runs ATTEMPT_FN after waiting for quiet, again (at most RETRIES more times)
# while other processes used more than NOISY_PCT % of a core during it, and
# records the quietest attempt as WORKLOAD_* figures (WORKLOAD: NAME, or the
# function's name without _attempt).
best_attempt() {
  local fn=$1 w=${2:-${1%_attempt}} try out best="" best_other=999999 other waited=0 tries=0
  for try in $(seq $((1 + RETRIES))); do
    waited=$(( waited + $(wait_quiet) ))
    out=$("$fn")
    tries=$try
    other=$(awk '$1 == "other_load_pct" {print $2}' <<<"$out")
    if (( ${other:-0} < best_other )); then best=$out; best_other=${other:-0}; fi
    (( best_other <= NOISY_PCT )) && break
    over_budget && break
  done
  while read -r k v; do
    [[ -n "$k" ]] || continue
    [[ "$k" == other_load_pct ]] && k="${w}_other_load_pct"
    rec "$k" "$v"
  done <<<"$best"
  rec "${w}_attempts" "$tries"
  rec "${w}_quiet_wait_s" "$waited"
}
# PROXY_INDEX: NAME's place in PROXIES, which gives it its port.
set_proxy_index() {
  local i
  for i in "${!PROXIES[@]}"; do
    if [[ "${PROXIES[i]}" == "$NAME" ]]; then PROXY_INDEX=$i; fi
  done
}
has_workload() { [[ " $WORKLOADS " == *" $1 "* ]]; }
proxy_tree() { tree=$(proc_tree "$pid" | tr '\n' ' '); echo "$tree" >"$WORK/pids/$NAME.kids"; }

# Starts proxy NAME on CPU PROXY_CPU (nothing for direct) and sets target (its address), pid and
# tree; fails, with the reason recorded as its status, when it does not start listening.
start_proxy() {
  local target_port cmd dir="$WORK/$NAME"
  mkdir -p "$dir"
  if [[ "$NAME" == direct ]]; then
    target_port=$BACKEND_PORT
    pid=""
  else
    if ! declare -F "proxy_$NAME" >/dev/null; then
      echo "no proxy block for '$NAME'" >&2; rec status "no-block"; return 1
    fi
    target_port=$((PORT_BASE + 1 + PROXY_INDEX))
    port_free "$target_port" || { echo "port $target_port busy" >&2; rec status "port-busy"; return 1; }
    cmd=$("proxy_$NAME" "$target_port" "$BACKEND_PORT" "$SNI" "$dir")
    logcmd "taskset -c $PROXY_CPU $cmd"
    ( eval "exec taskset -c $PROXY_CPU $cmd" ) >>"$WORK/logs/$NAME.out" 2>>"$WORK/logs/$NAME.err" &
    pid=$!
    echo "$pid" >"$WORK/pids/$NAME.pid"
    if ! wait_listen "$target_port" "$pid"; then
      echo "$NAME did not start listening; its stderr:" >&2; tail -20 "$WORK/logs/$NAME.err" >&2
      rec status "did-not-start"; stop_pid "$NAME"; return 1
    fi
    sleep 0.3
    proxy_tree
  fi
  target="127.0.0.1:$target_port"
}

bench_proxy() {
  local target pid tree out
  start_backend rate
  start_proxy || { stop_pid backend; return; }
  echo "== run $RUN: $NAME ($( "version_$NAME" )) on $target" >&2

  # --- check: one connection reaches the backend with the hello intact
  out=$(loadgen rate --connect "$target" --hello "$HELLO" --count 1 --concurrency 1 \
        --expect-prefix "SNIBENCH OK" --timeout 5)
  if [[ "$(kv "$out" ok)" != 1 ]]; then
    echo "$NAME: check connection failed: $out" >&2
    rec status "check-failed"; [[ -n "$pid" ]] && stop_pid "$NAME"; stop_pid backend; return
  fi
  rec status ok
  rec check_ttfb_us "$(kv "$out" ttfb_p50_us)"
  # --- check: a ClientHello for another name must not reach the backend
  if [[ -n "$pid" ]]; then
    out=$(loadgen rate --connect "$target" --hello "$OTHER_HELLO" --count 1 --concurrency 1 \
          --expect-prefix "SNIBENCH" --timeout 5)
    if [[ "$(kv "$out" ok)" == 0 ]]; then rec sni_routing yes; else rec sni_routing "NO: other name reached the backend"; fi
    # --- check: half-close, with the probe as the backend for a moment
    stop_pid backend
    rec half_close "$(python3 "$BENCH_SH/half-close-probe.py" "${target##*:}" "$BACKEND_PORT" "$HELLO" 2>&1 | tail -1)"
    start_backend rate
  fi

  # --- rate (repeated, up to RETRIES more times, while other processes
  # used more than NOISY_PCT % of a core; the quietest attempt is kept)
  if has_workload rate && (( RATE_SLICES <= 1 )); then
    loadgen rate --connect "$target" --hello "$HELLO" --concurrency "$RATE_CONC" \
        --duration "$WARMUP_SECONDS" >/dev/null
    best_attempt rate_attempt
  fi
  if has_workload bulk; then
    start_backend bulk
    loadgen bulk --connect "$target" --hello "$HELLO" --conns "$BULK_CONNS" --bytes "$BULK_WARMUP" \
        --max-seconds 120 >/dev/null || true
    best_attempt bulk_attempt
  fi
  if has_workload idle; then
    start_backend idle
    idle_workload
  fi
  if [[ -n "$pid" ]]; then stop_pid "$NAME"; fi
  stop_pid backend
}

# Holds IDLE_N tunnels through the proxy (the backend in idle mode) and records RSS and fds
# before, while and after. Uses $target, $pid, $tree.
idle_workload() {
  local bpid bfd0 ready="$WORK/idle.ready" release="$WORK/idle.release" lpid rss0 rss1 rss2 fd0 fd1 fd2 bfd1 opened i
  bpid=$(cat "$WORK/pids/backend.pid")
  bfd0=$(fd_count "$bpid")
  if [[ -n "$pid" ]]; then proxy_tree; rss0=$(rss_kib $tree); fd0=$(fd_count $tree); fi
  rm -f "$ready" "$release"
  logcmd "taskset -c $RIG_CPU $LOADGEN idle --connect $target --hello $HELLO --conns $IDLE_N --hold 90 --open-timeout 60 --ready-file $ready --release-file $release"
  taskset -c "$RIG_CPU" "$LOADGEN" idle --connect "$target" --hello "$HELLO" --conns "$IDLE_N" \
      --hold 90 --open-timeout 60 --ready-file "$ready" --release-file "$release" \
      >"$WORK/logs/idle.out" 2>>"$WORK/logs/loadgen.err" &
  lpid=$!
  echo "$lpid" >"$WORK/pids/loadgen-idle.pid"
  for i in $(seq 700); do [[ -f "$ready" ]] && break; kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
  opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$ready" 2>/dev/null); opened=${opened:-0}
  # wait (at most 20 s) until the backend holds them all: every tunnel is through
  for i in $(seq 200); do
    bfd1=$(fd_count "$bpid")
    (( bfd1 - bfd0 >= opened )) && break
    sleep 0.1
  done
  sleep "$IDLE_SETTLE"
  bfd1=$(( $(fd_count "$bpid") - bfd0 ))
  if [[ -n "$pid" ]]; then proxy_tree; rss1=$(rss_kib $tree); fd1=$(fd_count $tree); fi
  touch "$release"
  wait "$lpid" || true
  rm -f "$WORK/pids/loadgen-idle.pid"
  out=$(grep '^RESULT' "$WORK/logs/idle.out" || true)
  rec idle_opened "$opened"
  rec idle_backend_conns "$bfd1"
  rec idle_errors "$(kv "$out" errors)"
  if [[ -n "$pid" ]]; then
    for i in $(seq 100); do
      fd2=$(fd_count $tree)
      (( fd2 <= fd0 + 2 )) && break
      sleep 0.1
    done
    rss2=$(rss_kib $tree)
    rec rss_before_mib "$(calc "$rss0 / 1024")"
    rec rss_held_mib "$(calc "$rss1 / 1024")"
    rec rss_after_mib "$(calc "$rss2 / 1024")"
    rec kib_per_tunnel "$(calc "($rss1 - $rss0) / ($opened > 0 ? $opened : 1)")"
    rec fds "$fd0/$fd1/$fd2"
    rec fds_back "$( (( fd2 <= fd0 + 2 )) && echo yes || echo NO)"
  fi
}

# ============================================================================
# open loop: a phase after the pass over the proxies, which gives the rates
# ============================================================================

# The open workload's rates for run RUN, one per line as "LABEL RATE": OPEN_RATES as given, or
# OPEN_LOADS percent of the best peer's conn/s in this run's rate workload (the best of the
# proxies other than snigate, the floors and direct; snigate's own when it ran alone).
open_rates() {
  local r n best="" best_cps=0 cps l
  if [[ -n "$OPEN_RATES" ]]; then
    for r in $OPEN_RATES; do echo "$r/s $r"; done
    return
  fi
  for pass in peers any; do
    for n in "${PROXIES[@]}"; do
      [[ "$n" == direct ]] && continue
      [[ "$n" == *floor ]] && continue
      [[ "$pass" == peers && "$n" == snigate ]] && continue
      cps=$(get "$RUN" "$n" rate_cps)
      [[ "$cps" == - ]] && continue
      if awk -v a="$cps" -v b="$best_cps" 'BEGIN { exit !(a > b) }'; then best=$n; best_cps=$cps; fi
    done
    [[ -n "$best" ]] && break
  done
  [[ -n "$best" ]] || return 1
  printf '%s\t_run\topen_ref\t%s\n%s\t_run\topen_ref_cps\t%s\n' "$RUN" "$best" "$RUN" "$best_cps" >>"$TSV"
  for l in $OPEN_LOADS; do echo "$l% $(calc "int($best_cps * $l / 100 + 0.5)")"; done
}

# One open-loop run at OPEN_RATE for OPEN_SECONDS; prints "key value" lines, the keys prefixed
# with OPEN_KEY. Uses $target, $pid, $tree; OPEN_TIMELINE=FILE keeps loadgen's --timeline.
open_attempt() {
  local c0 c1 u0 u1 w0 w1 f0 f1 out el k p v ok counter=""
  if [[ -n "$pid" ]]; then proxy_tree; fi
  if [[ -n "$pid" && "$COUNT_SYSCALLS" == 1 ]]; then
    rm -f "$WORK/syscalls.csv"
    perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter -p "$(tr ' ' '\n' <<<"$tree" | grep . | paste -sd,)" \
        -o "$WORK/syscalls.csv" 2>/dev/null &
    counter=$!
    sleep 0.3 # attached before the load starts
  fi
  c0=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  u0=$([[ -n "$pid" ]] && utime_ticks $tree || echo 0)
  w0=$([[ -n "$pid" ]] && wakeups $tree || echo 0)
  f0=$(foreign_ticks)
  out=$(loadgen open --connect "$target" --hello "$HELLO" --rate "$OPEN_RATE" --duration "$OPEN_SECONDS" \
        --expect-prefix "SNIBENCH OK" ${OPEN_TIMELINE:+--timeline "$OPEN_TIMELINE"})
  f1=$(foreign_ticks)
  c1=$([[ -n "$pid" ]] && cpu_ticks $tree || echo 0)
  u1=$([[ -n "$pid" ]] && utime_ticks $tree || echo 0)
  w1=$([[ -n "$pid" ]] && wakeups $tree || echo 0)
  # perf may have ended by itself (a process of the tree gone): that must not stop the rig (set -e).
  if [[ -n "$counter" ]]; then kill -INT "$counter" 2>/dev/null || true; wait "$counter" 2>/dev/null || true; fi
  el=$(kv "$out" seconds)
  if [[ -z "$el" ]]; then echo "${OPEN_KEY}_errors loadgen-failed"; echo "other_load_pct 0"; return; fi
  echo "other_load_pct $(calc "int(100 * ($f1 - $f0 > 0 ? $f1 - $f0 : 0) / $TICK / $el + 0.5)")"
  for k in offered_cps ok errors refused reset short bad timeout late other; do
    echo "${OPEN_KEY}_$k $(kv "$out" "$k")"
  done
  for p in p50 p99 p999 max; do
    v=$(kv "$out" "total_${p}_us")
    echo "${OPEN_KEY}_${p}_ms $([[ "$v" == inf ]] && echo inf || calc "$v / 1000")"
  done
  echo "${OPEN_KEY}_lag_p99_ms $(calc "$(kv "$out" lag_p99_us) / 1000")"
  if [[ -n "$pid" ]]; then echo "${OPEN_KEY}_proxy_cpu_pct $(calc "int(100 * ($c1 - $c0) / $TICK / $el + 0.5)")"; fi
  ok=$(kv "$out" ok)
  if [[ -n "$pid" ]] && (( ${ok:-0} > 0 )); then
    echo "${OPEN_KEY}_cpu_us_per_conn $(calc "int(($c1 - $c0) * 1000000 / $TICK / $ok + 0.5)")"
    echo "${OPEN_KEY}_user_us_per_conn $(calc "int(($u1 - $u0) * 1000000 / $TICK / $ok + 0.5)")"
    echo "${OPEN_KEY}_wakeups_per_conn $(calc "($w1 - $w0) / $ok")"
    if [[ -n "$counter" && -s "$WORK/syscalls.csv" ]]; then
      awk -F, -v ok="$ok" -v k="$OPEN_KEY" '$3 == "raw_syscalls:sys_enter" {print k "_syscalls_per_conn", $1 / ok}
        $3 == "syscalls:sys_enter_io_uring_enter" {print k "_uring_enters_per_conn", $1 / ok}' "$WORK/syscalls.csv"
    fi
  fi
}

# Proxy NAME again, fresh, warmed up like for rate, then each open rate.
open_proxy() {
  local target pid tree label i=0
  [[ "$(get "$RUN" "$NAME" status)" == ok ]] || return 0
  start_backend rate
  start_proxy || { stop_pid backend; return; }
  echo "== run $RUN: $NAME open loop on $target" >&2
  loadgen rate --connect "$target" --hello "$HELLO" --concurrency "$RATE_CONC" \
      --duration "$WARMUP_SECONDS" >/dev/null
  while read -r label OPEN_RATE; do
    i=$((i + 1)); OPEN_KEY=open$i
    rec "${OPEN_KEY}_label" "$label"
    rec "${OPEN_KEY}_rate" "$OPEN_RATE"
    if (( OPEN_WARMUP_SECONDS > 0 )); then
      loadgen open --connect "$target" --hello "$HELLO" --rate "$OPEN_RATE" --duration "$OPEN_WARMUP_SECONDS" \
          --expect-prefix "SNIBENCH OK" >/dev/null
    fi
    best_attempt open_attempt "$OPEN_KEY"
  done <<<"$OPEN_LIST"
  if [[ -n "$pid" ]]; then stop_pid "$NAME"; fi
  stop_pid backend
}

# Taking turns (the rate and open workloads with RATE_SLICES / OPEN_SLICES > 1): every proxy of this
# run that passed its checks started at once on PROXY_CPU, each warmed up with WARMUP_SECONDS of the
# rate workload. Sets TURN_NAMES (in this run's order), TURN_AT (address) and TURN_PID (empty for
# direct); WHAT names the workload in the progress lines, LOAD_SECONDS how long the phase loads the
# proxies after their warm-ups, all turns together: the backend must outlive the whole phase.
declare -A TURN_AT=() TURN_PID=()
TURN_NAMES=()
start_for_turns() { # WHAT SLICES LOAD_SECONDS
  local target pid tree
  TURN_AT=(); TURN_PID=(); TURN_NAMES=()
  start_backend rate "$(calc "int(${#order[@]} * $WARMUP_SECONDS + $3 + 600)")"
  for NAME in "${order[@]}"; do
    [[ "$(get "$RUN" "$NAME" status)" == ok ]] || continue
    set_proxy_index
    target=""; pid=""; tree=""
    start_proxy || continue
    TURN_AT[$NAME]=$target; TURN_PID[$NAME]=$pid; TURN_NAMES+=("$NAME")
    echo "== run $RUN: $NAME $1 on $target (in turns, $2 slices)" >&2
    loadgen rate --connect "$target" --hello "$HELLO" --concurrency "$RATE_CONC" --duration "$WARMUP_SECONDS" >/dev/null
  done
}
# The proxies' order in round S: reversed every other round, so that none always goes first.
turn_order() { # S
  local j
  if (( $1 % 2 == 1 )); then printf '%s\n' "${TURN_NAMES[@]}"; return; fi
  for (( j=${#TURN_NAMES[@]}-1; j>=0; j-- )); do printf '%s\n' "${TURN_NAMES[j]}"; done
}
stop_turns() {
  for NAME in "${TURN_NAMES[@]}"; do [[ -n "${TURN_PID[$NAME]}" ]] && stop_pid "$NAME"; done
  stop_pid backend
}

# The rate workload with RATE_SLICES > 1: after the pass over the proxies (checks, bulk, idle), every
# proxy started again at once and warmed up (WARMUP_SECONDS each), then measured in RATE_SLICES turns
# of RATE_SECONDS / RATE_SLICES, the order reversed every other round, so that every proxy meets the
# same minutes of the host. Connections/s and CPU per connection are over all of a proxy's turns;
# the latency percentiles are the median of its turns' (the maximum for max).
rate_interleaved() {
  local s f v target pid tree
  start_for_turns rate "$RATE_SLICES" "$(calc "${#order[@]} * $RATE_SECONDS")"
  local slice_s; slice_s=$(calc "$RATE_SECONDS / $RATE_SLICES")
  local RATE_SECONDS=$slice_s # what rate_attempt runs for
  mkdir -p "$WORK/rate"
  v=$(wait_quiet)
  for NAME in "${TURN_NAMES[@]}"; do rec rate_quiet_wait_s "$v"; done
  for s in $(seq "$RATE_SLICES"); do
    for NAME in $(turn_order "$s"); do
      target=${TURN_AT[$NAME]}; pid=${TURN_PID[$NAME]}
      rate_attempt >"$WORK/rate/$NAME.$s"
    done
  done
  for NAME in "${TURN_NAMES[@]}"; do
    rec rate_attempts "$RATE_SLICES slices"
    if grep -q '^rate_errors loadgen-failed' "$WORK/rate/$NAME".*; then rec rate_errors loadgen-failed; continue; fi
    # Per turn: el = ok / cps seconds, n = ok + errors connections; sums weighted by them.
    awk '{ v[FILENAME, $1] = $2; files[FILENAME] = 1 }
      END {
        for (f in files) {
          ok = v[f, "rate_ok"]; n = ok + v[f, "rate_errors"]; el = ok / (v[f, "rate_cps"] > 0 ? v[f, "rate_cps"] : 1)
          OK += ok; ERR += v[f, "rate_errors"]; N += n; EL += el
          cpu += v[f, "cpu_us_per_conn"] * n; user += v[f, "user_us_per_conn"] * n
          split("proxy_cpu_pct rate_cpu_proxy_busy rate_cpu_rig_busy rig_cpu_pct other_load_pct", wk, " ")
          for (i in wk) S[wk[i]] += v[f, wk[i]] * el
          if (v[f, "total_max_ms"] > mx) mx = v[f, "total_max_ms"]
          m++
          t50[m] = v[f, "ttfb_p50_ms"]; t99[m] = v[f, "ttfb_p99_ms"]; c50[m] = v[f, "total_p50_ms"]; c99[m] = v[f, "total_p99_ms"]
        }
        printf "rate_cps %.1f\nrate_ok %d\nrate_errors %d\n", OK / EL, OK, ERR
        printf "ttfb_p50_ms %s\nttfb_p99_ms %s\ntotal_p50_ms %s\ntotal_p99_ms %s\ntotal_max_ms %s\n", med(t50, m), med(t99, m), med(c50, m), med(c99, m), mx
        printf "rate_cpu_proxy_busy %d\nrate_cpu_rig_busy %d\nrig_cpu_pct %d\nrate_other_load_pct %d\n", \
          S["rate_cpu_proxy_busy"] / EL + 0.5, S["rate_cpu_rig_busy"] / EL + 0.5, S["rig_cpu_pct"] / EL + 0.5, S["other_load_pct"] / EL + 0.5
        if (cpu > 0) printf "cpu_us_per_conn %d\nuser_us_per_conn %d\nproxy_cpu_pct %d\n", cpu / N + 0.5, user / N + 0.5, S["proxy_cpu_pct"] / EL + 0.5
      }
      function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }' "$WORK/rate/$NAME".* | while read -r f v; do rec "$f" "$v"; done
  done
  stop_turns
}

# The open loop with OPEN_SLICES > 1: every proxy started at once (fresh, warmed up like for rate
# and at each rate), then each rate's OPEN_SECONDS cut into OPEN_SLICES slices per proxy, taken in
# turn (the order reversed every other round), so that every proxy meets the same minutes of the
# host; the idle ones wait on the same core. Percentiles are over all of a proxy's slices
# (loadgen open --timeline), failed connections ranked slowest, as loadgen ranks them; counts are
# summed over the slices, the start lag is the largest of its slices' p99.
open_interleaved() {
  local label OPEN_RATE i=0 s k v target pid tree loads
  loads=$(grep -c . <<<"$OPEN_LIST")
  start_for_turns "open loop" "$OPEN_SLICES" \
      "$(calc "$loads * (${#order[@]} * ($OPEN_WARMUP_SECONDS + $OPEN_SECONDS) + $QUIET_WAIT)")"
  local slice_s; slice_s=$(calc "$OPEN_SECONDS / $OPEN_SLICES")
  local OPEN_SECONDS=$slice_s # what open_attempt runs for
  mkdir -p "$WORK/open"
  while read -r label OPEN_RATE; do
    i=$((i + 1)); OPEN_KEY=open$i; k=$OPEN_KEY
    for NAME in "${TURN_NAMES[@]}"; do
      rec "${k}_label" "$label"; rec "${k}_rate" "$OPEN_RATE"
      if (( OPEN_WARMUP_SECONDS > 0 )); then
        loadgen open --connect "${TURN_AT[$NAME]}" --hello "$HELLO" --rate "$OPEN_RATE" \
            --duration "$OPEN_WARMUP_SECONDS" --expect-prefix "SNIBENCH OK" >/dev/null
      fi
    done
    v=$(wait_quiet)
    for NAME in "${TURN_NAMES[@]}"; do rec "${k}_quiet_wait_s" "$v"; done
    for s in $(seq "$OPEN_SLICES"); do
      for NAME in $(turn_order "$s"); do
        target=${TURN_AT[$NAME]}; pid=${TURN_PID[$NAME]}
        OPEN_TIMELINE="$WORK/open/$NAME.$k.$s.timeline" open_attempt >"$WORK/open/$NAME.$k.$s.kv"
      done
    done
    for NAME in "${TURN_NAMES[@]}"; do
      rec "${k}_attempts" "$OPEN_SLICES slices"
      if grep -q "^${k}_errors loadgen-failed" "$WORK/open/$NAME.$k".*.kv; then rec "${k}_errors" loadgen-failed; continue; fi
      # Counts summed over the slices, rates and CPU their mean (the slices are equally long), the
      # start lag the largest; the percentiles below, over every connection of every slice.
      awk -v k="$k" '{ sub("^" k "_", "", $1); n[$1]++; sum[$1] += $2; if ($2 > mx[$1]) mx[$1] = $2 }
        END {
          split("ok errors refused reset short bad timeout late other", c, " ")
          for (i in c) print k "_" c[i], sum[c[i]] + 0
          print k "_offered_cps", sum["offered_cps"] / n["offered_cps"]
          print k "_other_load_pct", int(sum["other_load_pct"] / n["other_load_pct"] + 0.5)
          print k "_lag_p99_ms", mx["lag_p99_ms"] + 0
          if (n["proxy_cpu_pct"]) print k "_proxy_cpu_pct", int(sum["proxy_cpu_pct"] / n["proxy_cpu_pct"] + 0.5)
          split("cpu_us_per_conn user_us_per_conn wakeups_per_conn syscalls_per_conn uring_enters_per_conn", m, " ")
          for (i in m) if (n[m[i]]) print k "_" m[i], sum[m[i]] / n[m[i]]
        }' "$WORK/open/$NAME.$k".*.kv \
        | while read -r f v; do rec "$f" "$v"; done
      cat "$WORK/open/$NAME.$k".*.timeline | awk '{print int($2 / 1000)}' | sort -n \
        | awk -v k="$k" -v failed="$(get "$RUN" "$NAME" "${k}_errors")" '
        { v[NR] = $1 }
        function at(p,   n, rank) { n = NR + failed; rank = int(p / 100 * n + 0.999999); if (rank < 1) rank = 1
                                    return (n == 0 || rank > NR) ? "inf" : v[rank] / 1000 }
        END { print k "_p50_ms", at(50); print k "_p99_ms", at(99); print k "_p999_ms", at(99.9); print k "_max_ms", at(100) }' \
        | while read -r f v; do rec "$f" "$v"; done
      # Each slice's own p99 (its failed connections ranked slowest), then their median and range:
      # one slice that met a stall of the host moves the pooled p99 above, not this median.
      for s in $(seq "$OPEN_SLICES"); do
        awk '{ print int($2 / 1000) }' "$WORK/open/$NAME.$k.$s.timeline" | sort -n \
          | awk -v failed="$(awk -v f="${k}_errors" '$1 == f { print $2 + 0 }' "$WORK/open/$NAME.$k.$s.kv")" '
            { v[NR] = $1 }
            END { n = NR + failed; rank = int(0.99 * n + 0.999999); if (rank < 1) rank = 1
                  print (n == 0 || rank > NR) ? "inf" : v[rank] / 1000 }'
      done | sort -g | awk -v k="$k" '
        { v[NR] = $1 }
        END { if (!NR) exit
              lo = v[int((NR + 1) / 2)]; hi = v[int(NR / 2) + 1] # the same slice when NR is odd
              print k "_slice_p99_median_ms", (lo == "inf" || hi == "inf") ? "inf" : (lo + hi) / 2
              print k "_slice_p99_range_ms", v[1] "-" v[NR] }' \
        | while read -r f v; do rec "$f" "$v"; done
    done
  done <<<"$OPEN_LIST"
  stop_turns
}

# ============================================================================
# main
# ============================================================================
for n in "${PROXIES[@]}"; do
  if [[ "$n" != direct ]] && ! command -v "$n" >/dev/null 2>&1 && ! declare -F "proxy_$n" >/dev/null; then
    echo "unknown proxy $n" >&2; exit 2
  fi
done
port_free "$BACKEND_PORT" || { echo "port $BACKEND_PORT is busy; set PORT_BASE" >&2; exit 1; }
if has_workload open && ! has_workload rate && [[ -z "$OPEN_RATES" ]]; then
  echo "the open workload takes its rates from rate's: add rate to WORKLOADS, or set OPEN_RATES" >&2; exit 2
fi
if [[ "$SNIGATE_LAUNCHER" == 1 && " ${PROXIES[*]} " == *" snigate "* ]]; then
  # The archive an operator's first start and clean stop leave behind.
  bench_snigate_config $((PORT_BASE + 90)) $((PORT_BASE + 91)) "$BACKEND_PORT" "$SNI" "$WORK/train.yaml"
  logcmd "SNIGATE_CDS_ARCHIVE=$WORK/snigate.jsa deploy/bin/snigate --config $WORK/train.yaml: started, /readyz, SIGTERM"
  bench_launch_train "$WORK/snigate.jsa" "$WORK/train.yaml" $((PORT_BASE + 91)) ${SNIGATE_JAVA_OPTS:-} \
    || { echo "the launcher wrote no class-data archive" >&2; exit 1; }
fi

VERSIONS=""
for n in "${PROXIES[@]}"; do VERSIONS+="- $n: $("version_$n" 2>&1 || echo '?')"$'\n'; done
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
T_START=$(date +%s)
echo "benchmark: ${PROXIES[*]}, $RUNS run(s), idle tunnels $IDLE_N (NOFILE $NOFILE)" >&2

for RUN in $(seq "$RUNS"); do
  RUN_T0=$(date +%s)
  order=("${PROXIES[@]}")
  if (( RUN % 2 == 0 )); then   # alternate the order between runs
    order=(); for (( i=${#PROXIES[@]}-1; i>=0; i-- )); do order+=("${PROXIES[i]}"); done
  fi
  if (( RUN > 1 )); then LOG_COMMANDS=0; fi
  for NAME in "${order[@]}"; do
    set_proxy_index
    bench_proxy
  done
  if has_workload rate && (( RATE_SLICES > 1 )); then
    rate_interleaved
  fi
  if has_workload open; then
    RUN_T0=$(date +%s)
    OPEN_LIST=$(open_rates) || { echo "no rate for the open workload: no proxy's rate workload succeeded" >&2; continue; }
    if (( OPEN_SLICES > 1 )); then
      open_interleaved
    else
      for NAME in "${order[@]}"; do
        set_proxy_index
        open_proxy
      done
    fi
  fi
done
T_END=$(date +%s)

# ============================================================================
# report
# ============================================================================
fmt() { # VALUE DECIMALS
  [[ "$1" == - ]] && { echo -; return; }
  awk -v v="$1" -v d="$2" 'BEGIN { if (v ~ /^-?[0-9.]+$/) printf "%.*f", d, v; else printf "%s", v }'
}

num() { local v; v=$(get "$@"); [[ "$v" == - ]] && echo 0 || echo "$v"; }
row_ok() { [[ "$(get "$1" "$2" status)" == ok ]]; }
C_P="CPU$PROXY_CPU busy %"; C_R="CPU$RIG_CPU busy %"

table_summary() { # RUN -> the short table
  local r=$1 n
  local half
  echo "| proxy | SNI routing | half-close | conn/s | conn p50 ms | conn p99 ms | proxy CPU µs/conn | bulk MiB/s | proxy CPU s/GiB | KiB/tunnel | fds back | errors |"
  echo "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for n in "${PROXIES[@]}"; do
    if ! row_ok "$r" "$n"; then echo "| $n | $(get "$r" "$n" status) | | | | | | | | | | |"; continue; fi
    half=$(get "$r" "$n" half_close)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$(get "$r" "$n" sni_routing)" "${half%%:*}" \
      "$(fmt "$(get "$r" "$n" rate_cps)" 0)" \
      "$(fmt "$(get "$r" "$n" total_p50_ms)" 2)" "$(fmt "$(get "$r" "$n" total_p99_ms)" 2)" \
      "$(fmt "$(get "$r" "$n" cpu_us_per_conn)" 0)" \
      "$(fmt "$(get "$r" "$n" bulk_mib_s)" 0)" "$(fmt "$(get "$r" "$n" cpu_s_per_gib)" 2)" \
      "$(fmt "$(get "$r" "$n" kib_per_tunnel)" 2)" "$(get "$r" "$n" fds_back)" \
      "$(( $(num "$r" "$n" rate_errors) + $(num "$r" "$n" bulk_errors) + $(num "$r" "$n" idle_errors) ))"
  done
}

table_rate() {
  local r=$1 n
  echo "| proxy | conn/s | ok | errors | ttfb p50 ms | ttfb p99 ms | conn p50 ms | conn p99 ms | conn max ms | proxy CPU µs/conn | of which user µs | proxy CPU % | $C_P | $C_R | other load % (tries) |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for n in "${PROXIES[@]}"; do
    row_ok "$r" "$n" || continue
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
      "$(fmt "$(get "$r" "$n" rate_cps)" 0)" "$(get "$r" "$n" rate_ok)" "$(get "$r" "$n" rate_errors)" \
      "$(fmt "$(get "$r" "$n" ttfb_p50_ms)" 2)" "$(fmt "$(get "$r" "$n" ttfb_p99_ms)" 2)" \
      "$(fmt "$(get "$r" "$n" total_p50_ms)" 2)" "$(fmt "$(get "$r" "$n" total_p99_ms)" 2)" \
      "$(fmt "$(get "$r" "$n" total_max_ms)" 1)" \
      "$(fmt "$(get "$r" "$n" cpu_us_per_conn)" 0)" "$(fmt "$(get "$r" "$n" user_us_per_conn)" 0)" \
      "$(get "$r" "$n" proxy_cpu_pct)" "$(get "$r" "$n" rate_cpu_proxy_busy)" "$(get "$r" "$n" rate_cpu_rig_busy)" \
      "$(get "$r" "$n" rate_other_load_pct) ($(get "$r" "$n" rate_attempts))"
  done
}

table_bulk() {
  local r=$1 n
  echo "| proxy | MiB/s | errors | proxy CPU s/GiB | proxy CPU % | $C_P | $C_R | other load % (tries) |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|"
  for n in "${PROXIES[@]}"; do
    row_ok "$r" "$n" || continue
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
      "$(fmt "$(get "$r" "$n" bulk_mib_s)" 0)" "$(get "$r" "$n" bulk_errors)" \
      "$(fmt "$(get "$r" "$n" cpu_s_per_gib)" 3)" "$(get "$r" "$n" bulk_proxy_cpu_pct)" \
      "$(get "$r" "$n" bulk_cpu_proxy_busy)" "$(get "$r" "$n" bulk_cpu_rig_busy)" \
      "$(get "$r" "$n" bulk_other_load_pct) ($(get "$r" "$n" bulk_attempts))"
  done
}

table_idle() {
  local r=$1 n
  echo "| proxy | tunnels at backend / opened | errors | RSS before MiB | RSS holding MiB | KiB/tunnel | RSS after MiB | fds before/holding/after | fds back |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
  for n in "${PROXIES[@]}"; do
    row_ok "$r" "$n" || continue
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
      "$(get "$r" "$n" idle_backend_conns) / $(get "$r" "$n" idle_opened)" "$(get "$r" "$n" idle_errors)" \
      "$(fmt "$(get "$r" "$n" rss_before_mib)" 1)" "$(fmt "$(get "$r" "$n" rss_held_mib)" 1)" \
      "$(fmt "$(get "$r" "$n" kib_per_tunnel)" 2)" "$(fmt "$(get "$r" "$n" rss_after_mib)" 1)" \
      "$(get "$r" "$n" fds)" "$(get "$r" "$n" fds_back)"
  done
}

# The open-loop levels of run RUN: 1 2 3 ... as recorded.
open_levels() { awk -F'\t' -v r="$1" '$1==r && $3 ~ /^open[0-9]+_label$/ { sub(/^open/, "", $3); sub(/_label$/, "", $3); print $3 }' "$TSV" | sort -un; }

table_open() {
  local r=$1 n i k f fails slices
  echo "| proxy | load | conn/s offered | ok | failed | p50 ms | p99 ms | p99 ms by slice: median (range) | p99.9 ms | max ms | start lag p99 ms | proxy CPU % | CPU µs/conn (user) | wakeups/conn | syscalls/conn (io_uring_enter) | other load % (tries) |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for n in "${PROXIES[@]}"; do
    row_ok "$r" "$n" || continue
    for i in $(open_levels "$r"); do
      k=open$i
      [[ "$(get "$r" "$n" "${k}_rate")" == - ]] && continue
      fails=$(get "$r" "$n" "${k}_errors")
      if [[ "$fails" =~ ^[1-9] ]]; then
        fails+=" ("
        for f in refused reset short bad timeout late other; do
          [[ "$(get "$r" "$n" "${k}_$f")" =~ ^[1-9] ]] && fails+="$f $(get "$r" "$n" "${k}_$f"), "
        done
        fails="${fails%, })"
      fi
      slices=$(get "$r" "$n" "${k}_slice_p99_range_ms")
      [[ "$slices" == - ]] || slices="$(fmt "$(get "$r" "$n" "${k}_slice_p99_median_ms")" 2) ($(fmt "${slices%-*}" 2)–$(fmt "${slices#*-}" 2))"
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
        "$(get "$r" "$n" "${k}_label")" "$(fmt "$(get "$r" "$n" "${k}_offered_cps")" 0)" \
        "$(get "$r" "$n" "${k}_ok")" "$fails" \
        "$(fmt "$(get "$r" "$n" "${k}_p50_ms")" 2)" "$(fmt "$(get "$r" "$n" "${k}_p99_ms")" 2)" "$slices" \
        "$(fmt "$(get "$r" "$n" "${k}_p999_ms")" 2)" "$(fmt "$(get "$r" "$n" "${k}_max_ms")" 1)" \
        "$(fmt "$(get "$r" "$n" "${k}_lag_p99_ms")" 2)" "$(get "$r" "$n" "${k}_proxy_cpu_pct")" \
        "$(fmt "$(get "$r" "$n" "${k}_cpu_us_per_conn")" 0) ($(fmt "$(get "$r" "$n" "${k}_user_us_per_conn")" 0))" \
        "$(fmt "$(get "$r" "$n" "${k}_wakeups_per_conn")" 2)" \
        "$(fmt "$(get "$r" "$n" "${k}_syscalls_per_conn")" 1) ($(fmt "$(get "$r" "$n" "${k}_uring_enters_per_conn")" 1))" \
        "$(get "$r" "$n" "${k}_other_load_pct") ($(get "$r" "$n" "${k}_attempts"))"
    done
  done
}

# "PROXY VALUE" of the peer (not snigate, a floor or direct) with the least numeric FIGURE in run R;
# nothing when none has one.
least_peer() { # R FIGURE
  local n v best="" least=""
  for n in "${PROXIES[@]}"; do
    [[ "$n" == direct || "$n" == snigate || "$n" == *floor ]] && continue
    v=$(get "$1" "$n" "$2")
    [[ "$v" =~ ^[0-9.]+$ ]] || continue
    if [[ -z "$least" ]] || awk -v a="$v" -v b="$least" 'BEGIN { exit !(a < b) }'; then best=$n; least=$v; fi
  done
  [[ -n "$best" ]] && echo "$best $least"
}

# One line per open-loop level: snigate's p99 and p99.9 against the best peer's (the lowest p99
# among the proxies other than snigate, the floors and direct), and its CPU per connection against
# the least of the peers' at that rate: the same offered load, where the rate workload's figure
# also charges the slower proxy for waking a load tool that waits on it. With slices, a second
# line: the median of snigate's slices' p99 against the least such median of a peer.
open_verdict() {
  local r=$1 i k best bp99 bp999 v cheapest ccpu c
  [[ "$(get "$r" snigate "open1_p99_ms")" == - ]] && return 0
  for i in $(open_levels "$r"); do
    k=open$i
    read -r best bp99 <<<"$(least_peer "$r" "${k}_p99_ms")"
    [[ -n "$best" ]] || continue
    bp999=$(get "$r" "$best" "${k}_p999_ms")
    v=$(get "$r" snigate "${k}_p99_ms")
    read -r cheapest ccpu <<<"$(least_peer "$r" "${k}_cpu_us_per_conn")"
    c=$(get "$r" snigate "${k}_cpu_us_per_conn")
    printf -- '- at %s (%s conn/s): snigate p99 %s ms, %s× the best peer'"'"'s (%s, %s ms); p99.9 %s ms against %s ms; snigate failed %s of %s; CPU %s µs per connection, %s× the least of the peers'"'"' (%s, %s µs)\n' \
      "$(get "$r" snigate "${k}_label")" "$(get "$r" snigate "${k}_rate")" "$(fmt "$v" 2)" \
      "$([[ "$v" =~ ^[0-9.]+$ ]] && calc "int(100 * $v / $bp99 + 0.5) / 100" || echo inf)" "$best" "$(fmt "$bp99" 2)" \
      "$(fmt "$(get "$r" snigate "${k}_p999_ms")" 2)" "$(fmt "$bp999" 2)" \
      "$(get "$r" snigate "${k}_errors")" "$(( $(get "$r" snigate "${k}_ok") + $(get "$r" snigate "${k}_errors") ))" \
      "$(fmt "$c" 0)" "$([[ "$c" =~ ^[0-9.]+$ && -n "$ccpu" ]] && calc "int(100 * $c / $ccpu + 0.5) / 100" || echo -)" \
      "${cheapest:--}" "$(fmt "${ccpu:--}" 0)"
    read -r best bp99 <<<"$(least_peer "$r" "${k}_slice_p99_median_ms")"
    v=$(get "$r" snigate "${k}_slice_p99_median_ms")
    [[ -n "$best" && "$v" =~ ^[0-9.]+$ ]] || continue
    printf -- '  the median of the slices'"'"' p99: snigate %s ms, %s× the best peer'"'"'s (%s, %s ms)\n' \
      "$(fmt "$v" 2)" "$(calc "int(100 * $v / $bp99 + 0.5) / 100")" "$best" "$(fmt "$bp99" 2)"
  done
}

stability() { # spread over runs and ratio to the first real proxy, for the key figures
  local ref="" n k
  for n in "${PROXIES[@]}"; do [[ "$n" != direct && "$n" != *floor && -z "$ref" ]] && ref=$n; done
  echo "| figure | proxy | per run | spread (max-min)/median | ratio to $ref per run |"
  echo "|---|---|---|--:|---|"
  for k in rate_cps cpu_us_per_conn user_us_per_conn total_p99_ms bulk_mib_s cpu_s_per_gib kib_per_tunnel open1_p99_ms open2_p99_ms open3_p99_ms; do
    for n in "${PROXIES[@]}"; do
      awk -F'\t' -v p="$n" -v k="$k" -v ref="$ref" -v runs="$RUNS" '
        $3==k && $2==p   { v[$1] = $4 }
        $3==k && $2==ref { r[$1] = $4 }
        END {
          m = 0
          for (i = 1; i <= runs; i++) if (i in v) { a[++m] = v[i] + 0 }
          if (m == 0) exit
          for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
          per = ""; rat = ""
          for (i = 1; i <= runs; i++) if (i in v) {
            per = per (per == "" ? "" : " / ") sprintf(v[i] >= 100 ? "%.0f" : "%.3g", v[i])
            if ((i in r) && r[i] + 0 != 0) rat = rat (rat == "" ? "" : " / ") sprintf("%.2f", v[i] / r[i])
          }
          printf "| %s | %s | %s | %s | %s |\n", k, p, per,
                 (med != 0 ? sprintf("%.0f%%", 100 * (a[m] - a[1]) / med) : "-"), rat
        }' "$TSV"
    done
  done
}

{
  echo "# SNI passthrough proxies side by side (loopback)"
  echo
  echo "Made by \`src/jmh/sh/run-peers.sh ${PROXIES[*]}\` on $START_DATE; $RUNS run(s) in $((T_END - T_START)) s."
  echo
  echo "## Machine and versions"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; kernel $(uname -r); $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- proxy on CPU $PROXY_CPU, loadgen + backend on CPU $RIG_CPU (taskset); nginx 1 worker, haproxy nbthread 1"
  printf '%s' "$VERSIONS"
  echo "- loadgen: src/jmh/c/loadgen.c, $(gcc --version | sed -n 1p), -O2"
  echo "- ClientHello: ${HELLO#"$BENCH_REPO"/}, $(stat -c %s "$HELLO") bytes, SNI $SNI"
  echo "- RLIMIT_NOFILE $NOFILE (hard); so $IDLE_N idle tunnels (2 fds each in the proxy)"
  echo
  echo "## Workloads"
  echo
  echo "- check: one connection with the ClientHello for $SNI must get the backend's \"SNIBENCH OK\" (the backend compares the bytes it got with the file); SNI routing = yes when the same ClientHello rewritten for $OTHER_SNI does not reach the backend. half-close = yes when bytes a client sends after the backend's FIN still reach the backend, and an answer the backend sends after the client's FIN still reaches the client (\`src/jmh/sh/half-close-probe.py\`, with its own backend; the proxy's default unless the proxy's block sets otherwise)."
  echo "- rate: $RATE_CONC connections in flight for ${RATE_SECONDS} s after ${WARMUP_SECONDS} s warm-up; each sends the ClientHello, reads the backend's 200-byte reply until the proxy closes, closes. ttfb = connect() to first reply byte; conn = connect() to EOF."
  echo "- proxy CPU µs/conn = the proxy's utime+stime (all its processes, /proc/PID/stat) during the rate run / connections (of which user µs: utime alone, the proxy's own code; the rest is kernel work in its context: TCP, loopback delivery); proxy CPU % = the same / wall time. CPU$PROXY_CPU / CPU$RIG_CPU busy % = the whole core (/proc/stat, softirq included) during the run: CPU$RIG_CPU near 100 % means the rig (loadgen + backend), not the proxy, was the limit."
  echo "- other load % (tries): CPU used by processes that are not the benchmark's (other builds and tests), in % of one core, during the kept attempt; a rate or bulk measurement is repeated (at most $RETRIES more times) while that was above $NOISY_PCT %, and the quietest attempt is kept. Rows with a high figure are disturbed."
  echo "- bulk: $BULK_CONNS connections, $BULK_BYTES in all, backend send()s from a 4 MiB buffer, loadgen discards with MSG_TRUNC (no copy to user space)."
  echo "- open: after the pass over the proxies, each one started again and warmed up with ${WARMUP_SECONDS} s of rate, then loaded open-loop (loadgen open) at each rate for ${OPEN_WARMUP_SECONDS} s not counted and ${OPEN_SECONDS} s measured: new connections on a fixed schedule, whatever the proxy's pace, each doing what a rate connection does. Connection time counts from the connection's place in the schedule to EOF; failed connections (refused, reset, short, bad answer, over 10 s, not started) are counted and ranked slowest, so a percentile among them reads inf. start lag = how late the tool itself started connections (the rig's own delay, in every row)."
  echo "- idle: $IDLE_N connections opened (128 connects pending at most), ClientHello sent on each; once the backend holds them all (or 20 s passed) and ${IDLE_SETTLE} s more, RSS and fds are sampled, then all are closed. RSS = VmRSS summed over the proxy's processes; KiB/tunnel = (holding - before) / tunnels; tunnels (backend) = connections the backend held / connections the loadgen opened."
  echo
  for RUN in $(seq "$RUNS"); do
    echo "## Run $RUN"
    echo
    table_summary "$RUN"
    echo
    echo "rate (concurrency $RATE_CONC, ${RATE_SECONDS} s):"
    echo
    table_rate "$RUN"
    echo
    echo "bulk ($BULK_CONNS connections, $BULK_BYTES):"
    echo
    table_bulk "$RUN"
    echo
    echo "idle ($IDLE_N tunnels):"
    echo
    table_idle "$RUN"
    echo
    if [[ -n "$(open_levels "$RUN")" ]]; then
      echo "open loop (${OPEN_SECONDS} s per rate$([[ -z "$OPEN_RATES" ]] && echo "; $OPEN_LOADS % of $(get "$RUN" _run open_ref)'s $(fmt "$(get "$RUN" _run open_ref_cps)" 0) conn/s in this run's rate workload")):"
      echo
      table_open "$RUN"
      echo
      open_verdict "$RUN"
      echo
    fi
  done
  if (( RUNS > 1 )); then
    echo "## Stability across runs"
    echo
    stability
    echo
  fi
  echo "## Commands"
  echo
  echo "\$WORK is the temp dir of the run, \$BENCH_OUT the build folder (target/bench); other paths are relative to the checkout's root. Repeated lines are retries (see other load)."
  echo
  echo '```'
  uniq "$CMDLOG"
  echo '```'
  echo
  echo "## Configs"
  for n in "${PROXIES[@]}"; do
    for f in "$WORK/$n"/*.conf "$WORK/$n"/*.cfg "$WORK/$n"/*.yaml; do
      [[ -f "$f" ]] || continue
      echo
      echo "\`$n\`: \$WORK/$n/$(basename "$f")"
      echo
      echo '```'
      sed -e "s|$WORK|\$WORK|g" "$f"
      echo '```'
    done
  done
} >"$RESULTS_DIR/$RESULTS_MD"
cp "$TSV" "$RESULTS_DIR/$RESULTS_TSV"

for RUN in $(seq "$RUNS"); do
  echo
  echo "Run $RUN"
  for t in table_summary table_rate table_bulk table_idle table_open; do
    echo
    "$t" "$RUN" | sed '2d' | sed 's/^| //; s/ |$//' | column -t -s '|'
  done
  echo
  open_verdict "$RUN"
done
if (( RUNS > 1 )); then echo; stability | sed '2d' | sed 's/^| //; s/ |$//' | column -t -s '|'; fi
echo
echo "written: $RESULTS_DIR/$RESULTS_MD, $RESULTS_DIR/$RESULTS_TSV"
