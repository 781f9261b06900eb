#!/usr/bin/env bash
# The restart measurement of src/site/markdown/restarts.md: a steady stream of new connections
# through snigate across RESTARTS handovers, each done as deploy/README.md tells an operator to
# (start a second snigate on the very same config through the launcher, `snigate --await-ready`
# on it, then SIGTERM to the old one, which drains and exits 0), counting every connection that
# was refused, reset or failed. Target: zero.
#
#   src/jmh/sh/restarts.sh [JAR]        (default target/snigate.jar; build it first)
#
# Environment (all optional): RESTARTS (10), RATE new connections a second (3000), SETTLE seconds
# of load before the first and after every handover (5), MIGRATE the namespace's
# net.ipv4.tcp_migrate_req (1; 0 shows what happens without it), SNIGATE_JAVA_OPTS for the proxies,
# PIN=1 to run the proxies on CPU 1 and the load tool and backend on CPU 0 (as the bench rig does),
# WARM seconds for both processes to share the load between the new one's readiness and the old
# one's SIGTERM (0), so that the new JVM compiles its hot code before it carries everything.
#
# Everything runs in a network namespace made here (root and iproute2 needed), so the sysctl is
# set there only and the traffic stays on that namespace's loopback; the load is the open mode of
# the rig's load tool src/jmh/c/loadgen.c (built with gcc into target/bench/), the backend its
# backend mode. Prints one line per handover and the load tool's totals; exits 1 if any
# connection failed or a process did not exit 0.
set -euo pipefail
[ -z "${TRACE:-}" ] || set -x
cd "$(dirname "$0")/../../.."
source src/jmh/sh/bench-lib.sh
JAR=$(realpath "${1:-target/snigate.jar}")
RESTARTS=${RESTARTS:-10}
RATE=${RATE:-3000}
SETTLE=${SETTLE:-5}
MIGRATE=${MIGRATE:-1}
# pin CPU: taskset for PIN=1, nothing otherwise.
pin() { [ -z "${PIN:-}" ] || echo "taskset -c $1"; }
[ -f "$JAR" ] || { echo "no $JAR: mvn -B -q -DskipTests package" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (a network namespace of its own)" >&2; exit 2; }

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
LOADTOOL=$(bench_loadgen)
HELLO=$PWD/src/test/resources/corpus/captured/curl-default.bin   # SNI curl.corpus.test
NS=snigate-restarts-$$
D=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns delete "$NS" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns sysctl -qw net.ipv4.tcp_migrate_req="$MIGRATE"
# A few hundred thousand connections: the namespace's whole port range, so that ports are not
# reused while their previous connection is still in TIME_WAIT.
in_ns sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

# The namespace is ours alone, so fixed ports are safe here, and every process gets the very
# same config file, as a systemd template unit's instances do.
cat >"$D/routes.yaml" <<YAML
listen: ["127.0.0.1:8443"]
admin: "127.0.0.1:9090"
timeouts: { drain: 20s }
routes:
  - match: "curl.corpus.test"
    upstream: "127.0.0.1:8080"
YAML

# Background processes are started with ip netns exec directly (not through in_ns, a function that
# would run in a subshell of its own), so that $! is the process itself: ip, sh and the launcher exec.
# shellcheck disable=SC2046 # pin prints nothing or two words
seconds=$(( (RESTARTS + 1) * (SETTLE + 15) + 30 ))
ip netns exec "$NS" $(pin 0) "$LOADTOOL" backend --listen 127.0.0.1:8080 --mode rate --hello "$HELLO" \
    --max-seconds $((seconds + 60)) 2>"$D/backend.err" &
pids+=($!)

export SNIGATE_JAR=$JAR SNIGATE_CDS_ARCHIVE=${SNIGATE_CDS_ARCHIVE-$D/snigate.jsa} SNIGATE_JAVA_OPTS=${SNIGATE_JAVA_OPTS:-}
generation=0
start_snigate() {
    generation=$((generation + 1))
    # shellcheck disable=SC2046
    ip netns exec "$NS" $(pin 1) sh deploy/bin/snigate --config "$D/routes.yaml" \
        >"$D/access-$generation.log" 2>"$D/snigate-$generation.err" &
    current=$!
    pids+=("$current")
    if ! in_ns sh deploy/bin/snigate --await-ready "$current" --config "$D/routes.yaml" 2>>"$D/await.log"; then
        echo "snigate #$generation did not become ready:" >&2
        cat "$D/snigate-$generation.err" >&2
        exit 1
    fi
}

start_snigate
running=$current
# shellcheck disable=SC2046
ip netns exec "$NS" $(pin 0) "$LOADTOOL" open --connect 127.0.0.1:8443 --hello "$HELLO" --rate "$RATE" \
    --duration "$seconds" --expect-prefix "SNIBENCH OK" --progress >"$D/load.out" 2>"$D/load.err" &
load=$!
pids+=("$load")
sleep "$SETTLE"

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
bad_exits=0
for i in $(seq 1 "$RESTARTS"); do
    t0=$(date +%s.%N)
    start_snigate
    t1=$(date +%s.%N)
    sleep "${WARM:-0}"
    kill -TERM "$running"
    rc=0
    wait "$running" || rc=$?
    t2=$(date +%s.%N)
    [ "$rc" = 0 ] || bad_exits=$((bad_exits + 1))
    printf 'handover %2d: new process ready in %.1f s, old one drained and exited %d in %.1f s; load: %s\n' \
        "$i" "$(elapsed "$t0" "$t1")" "$rc" "$(elapsed "$t1" "$t2")" "$(tail -n 1 "$D/load.err")"
    running=$current
    sleep "$SETTLE"
done

kill -INT "$load"
wait "$load" || true
kill -TERM "$running"
wait "$running" || bad_exits=$((bad_exits + 1))
result=$(cat "$D/load.out")
forwarded=$(cat "$D"/access-*.log | grep -c '"outcome":"forwarded","reason":null' || true)
other_lines=$(cat "$D"/access-*.log | grep -vc '"outcome":"forwarded","reason":null' || true)
echo "load: $result"
echo "access logs of the $generation processes: $forwarded forwarded, $other_lines other lines" \
    "$(cat "$D"/access-*.log | grep -v '"outcome":"forwarded","reason":null' | grep -o '"reason":"[a-z_]*"' | sort | uniq -c | tr -s ' \n' ' ')"
echo "kernel $(uname -r), net.ipv4.tcp_migrate_req=$MIGRATE, $(nproc) cores, $(grep -o 'transport: [a-z_]*' "$D/snigate-1.err")," \
    "load average before $load_before, after $(cut -d ' ' -f 1-3 /proc/loadavg)"
failed=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$result")
failed=${failed:-no result}
if [ "$failed" != 0 ] || [ "$bad_exits" != 0 ]; then
    echo "FAIL: $failed failed connections, $bad_exits processes that did not exit 0"
    exit 1
fi
echo "PASS: no connection refused, reset or failed across $RESTARTS handovers"
