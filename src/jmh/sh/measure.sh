#!/usr/bin/env bash
# Measures one snigate jar under the bench rig's workloads (the rig's loadgen is built by
# ../shared/bench/build.sh on first use).
#   src/jmh/sh/measure.sh cpu JAR [JAVA_OPTS...]       proxy CPU µs per connection: snigate pinned to
#        CPU 1, loadgen and its backend to CPU 0, 64 connections in flight, 12 s warm-up, 10 s measured
#   src/jmh/sh/measure.sh syscalls JAR [JAVA_OPTS...]  system calls per connection (strace -c -f over
#        3,000 connections): deterministic, unlike CPU time on a shared VM
#   src/jmh/sh/measure.sh bulk JAR [JAVA_OPTS...]      MiB/s and proxy CPU s/GiB for 2 GiB through
#        4 tunnels (the rig's bulk workload), after a 1 GiB warm-up, pinned like cpu
#   src/jmh/sh/measure.sh bulksys JAR [JAVA_OPTS...]   system calls per MiB relayed (strace -c -f
#        over 512 MiB through 4 tunnels)
#   src/jmh/sh/measure.sh idle JAR [JAVA_OPTS...]      RSS per held tunnel in a freshly started proxy:
#        VmRSS before and while IDLE_CONNS (default 9000) tunnels are held, and the fds after;
#        SNAPSHOT=CMD runs `CMD PID` before and while holding (e.g. a jcmd wrapper)
# PORT_BASE (default 24600) moves the three ports, so that two measurements can run side by side.
set -u
MODE=$1; JAR=$2; shift 2
LG=${LOADGEN:-$(../shared/bench/build.sh)}
HELLO=${HELLO:-../shared/bench/clienthello-a.bin}
P=${PORT_BASE:-24600}
D=$(mktemp -d)
cat > $D/cfg.yaml <<YAML
listen: ["127.0.0.1:$((P + 1))"]
admin: "127.0.0.1:$((P + 2))"
routes:
  - match: "a.bench.test"
    upstream: "127.0.0.1:$P"
YAML
pin() { case "$MODE" in cpu|bulk|idle) echo "taskset -c $1" ;; esac; }
cpu() { awk '{print $14+$15}' /proc/$PX/stat; }
BACKEND_MODE=rate; case "$MODE" in bulk*) BACKEND_MODE=bulk ;; idle) BACKEND_MODE=idle ;; esac
$(pin 0) $LG backend --listen 127.0.0.1:$P --mode $BACKEND_MODE --hello $HELLO --resp-bytes 200 --max-seconds 300 2>/dev/null &
BK=$!
$(pin 1) java "$@" -jar $JAR --config $D/cfg.yaml > /dev/null 2> $D/err &
PX=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$((P + 2))/readyz >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' /proc/$PX/status; }
fds() { ls /proc/$PX/fd | wc -l; }
case "$MODE" in
idle) ;;
cpu|syscalls)
  $(pin 0) $LG rate --connect 127.0.0.1:$((P + 1)) --hello $HELLO --concurrency 64 --duration 12 >/dev/null 2>&1 ;;
bulk*)
  $(pin 0) $LG bulk --connect 127.0.0.1:$((P + 1)) --hello $HELLO --conns 4 --bytes 1G >/dev/null 2>&1 ;;
esac
case "$MODE" in
cpu)
  c0=$(cpu)
  R=$($(pin 0) $LG rate --connect 127.0.0.1:$((P + 1)) --hello $HELLO --concurrency 64 --duration 10 2>/dev/null)
  c1=$(cpu)
  conns=$(echo "$R" | grep -o 'ok=[0-9]*' | cut -d= -f2)
  echo "connections=$conns cpu_us_per_conn=$(( (c1-c0) * 1000000 / $(getconf CLK_TCK) / (conns>0?conns:1) ))" ;;
bulk)
  c0=$(cpu)
  R=$($(pin 0) $LG bulk --connect 127.0.0.1:$((P + 1)) --hello $HELLO --conns 4 --bytes 2G 2>/dev/null)
  c1=$(cpu)
  echo "$R" | grep -o 'mib_s=[0-9.]*' | tr '\n' ' '
  echo "cpu_s_per_gib=$(echo "scale=3; ($c1 - $c0) / $(getconf CLK_TCK) / 2" | bc)" ;;
idle)
  N=${IDLE_CONNS:-9000}
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  r0=$(rss); f0=$(fds)
  $LG idle --connect 127.0.0.1:$((P + 1)) --hello $HELLO --conns $N --hold 60 --ready-file $D/ready \
      --release-file $D/release >/dev/null 2>&1 &
  LI=$!
  # Held means both sockets of every tunnel are open in the proxy; then 1 s to settle.
  for i in $(seq 1 600); do [ $(fds) -ge $((f0 + 2 * N)) ] && break; sleep 0.1; done
  sleep 1
  r1=$(rss); f1=$(fds)
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  touch $D/release; wait $LI
  for i in $(seq 1 300); do [ $(fds) -le $((f0 + 2)) ] && break; sleep 0.1; done
  echo "tunnels=$N rss_before_kib=$r0 rss_holding_kib=$r1 kib_per_tunnel=$(echo "scale=2; ($r1 - $r0) / $N" | bc) fds=$f0/$f1/$(fds)" ;;
syscalls|bulksys)
  strace -f -c -p $PX -o $D/strace.txt 2>/dev/null &
  ST=$!
  sleep 1
  if [ "$MODE" = syscalls ]; then
    UNITS=3000
    $LG rate --connect 127.0.0.1:$((P + 1)) --hello $HELLO --concurrency 16 --count 3000 >/dev/null 2>&1
  else
    UNITS=512
    $LG bulk --connect 127.0.0.1:$((P + 1)) --hello $HELLO --conns 4 --bytes 512M >/dev/null 2>&1
  fi
  sleep 0.5
  kill -INT $ST; wait $ST 2>/dev/null
  awk -v u=$UNITS 'NR>2 && $4 ~ /^[0-9]+$/ && $4 >= u/10 {printf "%s=%.1f ", $NF, $4/u} END {print ""}' $D/strace.txt ;;
esac
kill $PX; wait $PX 2>/dev/null; kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
