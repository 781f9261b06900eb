#!/usr/bin/env bash
# Measures one snigate jar under the bench rig's rate workload (run ../shared/bench/build.sh first).
#   src/jmh/sh/measure.sh cpu JAR [JAVA_OPTS...]       proxy CPU µs per connection: snigate pinned to
#        CPU 1, loadgen and its backend to CPU 0, 64 connections in flight, 12 s warm-up, 10 s measured
#   src/jmh/sh/measure.sh syscalls JAR [JAVA_OPTS...]  system calls per connection (strace -c -f over
#        3,000 connections): deterministic, unlike CPU time on a shared VM
set -u
MODE=$1; JAR=$2; shift 2
LG=${LOADGEN:-../shared/bench/.build/loadgen}
HELLO=${HELLO:-../shared/bench/clienthello-a.bin}
D=$(mktemp -d)
cat > $D/cfg.yaml <<YAML
listen: ["127.0.0.1:24601"]
admin: "127.0.0.1:24602"
routes:
  - match: "a.bench.test"
    upstream: "127.0.0.1:24600"
YAML
pin() { [ "$MODE" = cpu ] && echo "taskset -c $1"; }
$(pin 0) $LG backend --listen 127.0.0.1:24600 --mode rate --hello $HELLO --resp-bytes 200 --max-seconds 120 2>/dev/null &
BK=$!
$(pin 1) java "$@" -jar $JAR --config $D/cfg.yaml > /dev/null 2> $D/err &
PX=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:24602/readyz >/dev/null && break; sleep 0.1; done
$(pin 0) $LG rate --connect 127.0.0.1:24601 --hello $HELLO --concurrency 64 --duration 12 >/dev/null 2>&1
if [ "$MODE" = cpu ]; then
  cpu() { awk '{print $14+$15}' /proc/$PX/stat; }
  c0=$(cpu)
  R=$($(pin 0) $LG rate --connect 127.0.0.1:24601 --hello $HELLO --concurrency 64 --duration 10 2>/dev/null)
  c1=$(cpu)
  conns=$(echo "$R" | grep -o 'ok=[0-9]*' | cut -d= -f2)
  echo "connections=$conns cpu_us_per_conn=$(( (c1-c0) * 1000000 / $(getconf CLK_TCK) / (conns>0?conns:1) ))"
else
  strace -f -c -p $PX -o $D/strace.txt 2>/dev/null &
  ST=$!
  sleep 1
  $LG rate --connect 127.0.0.1:24601 --hello $HELLO --concurrency 16 --count 3000 >/dev/null 2>&1
  sleep 0.5
  kill -INT $ST; wait $ST 2>/dev/null
  awk 'NR>2 && $4 ~ /^[0-9]+$/ && $4 >= 300 {printf "%s=%.1f ", $NF, $4/3000} END {print ""}' $D/strace.txt
fi
kill $PX; wait $PX 2>/dev/null; kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
