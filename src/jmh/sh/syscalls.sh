#!/usr/bin/env bash
# System calls per connection (deterministic, unlike CPU time on a shared VM): strace -c -f on
# snigate over 3,000 connections of the rig's rate workload.
# Usage, from the checkout's root after ../shared/bench/build.sh: src/jmh/sh/syscalls.sh JAR [JAVA_OPTS...]
set -u
JAR=$1; shift
LG=${LOADGEN:-../shared/bench/.build/loadgen}
HELLO=${HELLO:-../shared/bench/clienthello-a.bin}
D=$(mktemp -d)
cat > $D/cfg.yaml <<YAML
listen: ["127.0.0.1:24611"]
admin: "127.0.0.1:24612"
routes:
  - match: "a.bench.test"
    upstream: "127.0.0.1:24610"
YAML
$LG backend --listen 127.0.0.1:24610 --mode rate --hello $HELLO --resp-bytes 200 --max-seconds 120 2>/dev/null &
BK=$!
java "$@" -jar $JAR --config $D/cfg.yaml > /dev/null 2> $D/err &
PX=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:24612/readyz >/dev/null && break; sleep 0.1; done
$LG rate --connect 127.0.0.1:24611 --hello $HELLO --concurrency 16 --duration 5 >/dev/null 2>&1
strace -f -c -p $PX -o $D/strace.txt &
ST=$!
sleep 1
$LG rate --connect 127.0.0.1:24611 --hello $HELLO --concurrency 16 --count 3000 >/dev/null 2>&1
sleep 0.5
kill -INT $ST; wait $ST 2>/dev/null
awk 'NR>2 && $NF!="total" && $4 ~ /^[0-9]+$/ {printf "%s=%.1f ", $NF, $4/3000} $NF=="total"{printf "TOTAL=%.1f\n", $3/3000}' $D/strace.txt
kill $PX; wait $PX 2>/dev/null; kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
