#!/usr/bin/env bash
# CPU per connection of one snigate jar under the rig's rate workload: snigate pinned to CPU 1,
# loadgen and its backend to CPU 0, 64 connections in flight, 12 s warm-up, 10 s measured.
# Usage, from the checkout's root after ../shared/bench/build.sh: src/jmh/sh/rate.sh JAR [JAVA_OPTS...]
set -u
JAR=$1; shift
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
taskset -c 0 $LG backend --listen 127.0.0.1:24600 --mode rate --hello $HELLO --resp-bytes 200 --max-seconds 120 2>/dev/null &
BK=$!
taskset -c 1 java "$@" -jar $JAR --config $D/cfg.yaml > /dev/null 2> $D/err &
PX=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:24602/readyz >/dev/null && break; sleep 0.1; done
taskset -c 0 $LG rate --connect 127.0.0.1:24601 --hello $HELLO --concurrency 64 --duration ${WARM:-12} >/dev/null 2>&1
cpu() { awk '{print $14+$15}' /proc/$PX/stat; }
c0=$(cpu)
R=$(taskset -c 0 $LG rate --connect 127.0.0.1:24601 --hello $HELLO --concurrency 64 --duration ${SECS:-10} 2>/dev/null)
c1=$(cpu)
conns=$(echo "$R" | grep -o 'ok=[0-9]*' | cut -d= -f2)
echo "$R" | tr ' ' '\n' | grep -E '^(conn_per_s|total_p50_ms|total_p99_ms|ok|errors)=' | tr '\n' ' '
ticks=$(getconf CLK_TCK)
echo " cpu_us_per_conn=$(( (c1-c0) * 1000000 / ticks / (conns>0?conns:1) ))"
kill $PX; wait $PX 2>/dev/null; kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
