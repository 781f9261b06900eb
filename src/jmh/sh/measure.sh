#!/usr/bin/env bash
# Measures one snigate jar under the rig's workloads (src/jmh/c/loadgen.c, built on first use),
# one figure at a time: for comparing two builds or JVM options in interleaved runs, where
# run-peers.sh compares proxies.
#   src/jmh/sh/measure.sh cpu [JAR [JAVA_OPTS...]]      proxy CPU µs per connection: snigate pinned to
#        CPU 1, loadgen and its backend to CPU 0, 64 connections in flight, 12 s warm-up, 10 s measured
#   src/jmh/sh/measure.sh syscalls [JAR [JAVA_OPTS...]] system calls per connection (strace -c -f over
#        3,000 connections): deterministic, unlike CPU time on a shared VM
#   src/jmh/sh/measure.sh bulk [JAR [JAVA_OPTS...]]     MiB/s and proxy CPU s/GiB for 2 GiB through
#        4 tunnels (the rig's bulk workload), after a 1 GiB warm-up, pinned like cpu
#   src/jmh/sh/measure.sh bulksys [JAR [JAVA_OPTS...]]  system calls per MiB relayed (strace -c -f
#        over 512 MiB through 4 tunnels)
#   src/jmh/sh/measure.sh idle [JAR [JAVA_OPTS...]]     RSS per held tunnel in a freshly started proxy:
#        VmRSS before and while IDLE_CONNS (default 9000) tunnels are held, and the fds after;
#        SNAPSHOT=CMD runs `CMD PID` before and while holding (e.g. a jcmd wrapper)
# JAR defaults to target/snigate.jar. WARMUP_SECONDS (default 12), RATE_SECONDS (10), BULK_WARMUP (1G)
# and BULK_BYTES (2G) shorten a run. PORT_BASE (default 24600) moves the three ports, so that two measurements can run side by
# side; CONNECT_PORT makes the load tool dial another port than the proxy's (one a firewall rule
# redirects to it: transparent-cost.sh); UNPINNED=1 leaves every process free to use every core.
# Needs gcc and bc; strace for syscalls and bulksys.
set -u
source "$(dirname "$0")/bench-lib.sh"
MODE=${1:?usage: measure.sh cpu|syscalls|bulk|bulksys|idle [JAR [JAVA_OPTS...]]}
JAR=${2:-$SNIGATE_JAR}
shift $(( $# < 2 ? $# : 2 ))
LG=${LOADGEN:-$(bench_loadgen)} || exit 1
HELLO=$BENCH_HELLO
P=${PORT_BASE:-24600}
WARMUP_SECONDS=${WARMUP_SECONDS:-12}
RATE_SECONDS=${RATE_SECONDS:-10}
BULK_WARMUP=${BULK_WARMUP:-1G}
BULK_BYTES=${BULK_BYTES:-2G}
CONNECT_PORT=${CONNECT_PORT:-$((P + 1))}
D=$(mktemp -d)
bench_snigate_config $((P + 1)) $((P + 2)) $P a.bench.test $D/cfg.yaml
# UNPINNED=1 lets the proxy, the load tool and the backend share both cores (every event loop busy).
pin() { [ -n "${UNPINNED:-}" ] && return; case "$MODE" in cpu|bulk|idle) echo "taskset -c $1" ;; esac; }
BACKEND_MODE=rate; case "$MODE" in bulk*) BACKEND_MODE=bulk ;; idle) BACKEND_MODE=idle ;; esac
$(pin 0) $LG backend --listen 127.0.0.1:$P --mode $BACKEND_MODE --hello $HELLO --resp-bytes 200 --max-seconds 300 2>/dev/null &
BK=$!
$(pin 1) java "$@" -jar $JAR --config $D/cfg.yaml > /dev/null 2> $D/err &
PX=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$((P + 2))/readyz >/dev/null && break; sleep 0.1; done
case "$MODE" in
idle) ;;
cpu|syscalls)
  $(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration $WARMUP_SECONDS >/dev/null 2>&1 ;;
bulk*)
  $(pin 0) $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes $BULK_WARMUP >/dev/null 2>&1 ;;
esac
case "$MODE" in
cpu)
  c0=$(cpu_ticks $PX)
  R=$($(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration $RATE_SECONDS 2>/dev/null)
  c1=$(cpu_ticks $PX)
  conns=$(echo "$R" | grep -o 'ok=[0-9]*' | cut -d= -f2)
  echo "connections=$conns cpu_us_per_conn=$(( (c1-c0) * 1000000 / $(getconf CLK_TCK) / (conns>0?conns:1) ))" ;;
bulk)
  c0=$(cpu_ticks $PX)
  R=$($(pin 0) $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes $BULK_BYTES 2>/dev/null)
  c1=$(cpu_ticks $PX)
  echo "$R" | grep -o 'mib_s=[0-9.]*' | tr '\n' ' '
  echo "cpu_s_per_gib=$(echo "scale=3; ($c1 - $c0) / $(getconf CLK_TCK) / ($(echo "$R" | grep -o ' bytes=[0-9]*' | cut -d= -f2) / 1073741824)" | bc)" ;;
idle)
  N=${IDLE_CONNS:-9000}
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  r0=$(rss_kib $PX); f0=$(fd_count $PX)
  $LG idle --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns $N --hold 60 --ready-file $D/ready \
      --release-file $D/release >/dev/null 2>&1 &
  LI=$!
  # Held means both sockets of every tunnel are open in the proxy; then 1 s to settle.
  for i in $(seq 1 600); do [ $(fd_count $PX) -ge $((f0 + 2 * N)) ] && break; sleep 0.1; done
  sleep 1
  r1=$(rss_kib $PX); f1=$(fd_count $PX)
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  touch $D/release; wait $LI
  for i in $(seq 1 300); do [ $(fd_count $PX) -le $((f0 + 2)) ] && break; sleep 0.1; done
  echo "tunnels=$N rss_before_kib=$r0 rss_holding_kib=$r1 kib_per_tunnel=$(echo "scale=2; ($r1 - $r0) / $N" | bc) fds=$f0/$f1/$(fd_count $PX)" ;;
syscalls|bulksys)
  strace -f -c -p $PX -o $D/strace.txt 2>/dev/null &
  ST=$!
  sleep 1
  if [ "$MODE" = syscalls ]; then
    UNITS=3000
    $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 16 --count 3000 >/dev/null 2>&1
  else
    UNITS=512
    $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes 512M >/dev/null 2>&1
  fi
  sleep 0.5
  kill -INT $ST; wait $ST 2>/dev/null
  awk -v u=$UNITS 'NR>2 && $4 ~ /^[0-9]+$/ && $4 >= u/10 {printf "%s=%.1f ", $NF, $4/u} END {print ""}' $D/strace.txt ;;
esac
kill $PX; wait $PX 2>/dev/null; kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
