#!/usr/bin/env bash
# Measures one snigate jar under the rig's workloads (src/jmh/c/loadgen.c, built on first use),
# one figure at a time: for comparing two builds or JVM options in interleaved runs, where
# run-peers.sh compares proxies.
#   src/jmh/sh/measure.sh cpu [JAR [JAVA_OPTS...]]      proxy CPU µs per connection: snigate pinned to
#        CPU 1, loadgen and its backend to CPU 0, 64 connections in flight, 12 s warm-up, 2 s idle and
#        3 s more, 10 s measured (of it
#        user CPU: snigate's own code); and
#        the proxy's RSS after it (bulk too); THREADS=1 first prints the CPU µs per connection of
#        each group of threads (event loops, compiler, GC, access-log writer) over the same 10 s
#   src/jmh/sh/measure.sh syscalls [JAR [JAVA_OPTS...]] system calls per connection (strace -c -f over
#        3,000 connections; OPEN_RATE=R: R a second for 3 s, the open loop): deterministic, unlike
#        CPU time on a shared VM
#   src/jmh/sh/measure.sh ringops [JAR [JAVA_OPTS...]]  io_uring operations per connection, by
#        opcode, over 3,000 connections or OPEN_RATE's (the kernel's io_uring tracepoints, filtered to the proxy's
#        threads; root): what io_uring does that strace cannot see. Also the completions that
#        returned EAGAIN, the kernel's own poll arms (a receive that found no data waits on one) and
#        the io_uring_enter calls; KEEP_TRACE=FILE keeps the raw trace (with OPEN_RATE=20, single
#        connections one after the other: every step of one connection on the ring)
#   src/jmh/sh/measure.sh gc [JAR [JAVA_OPTS...]]       the collector in the open loop: pinned like
#        cpu, after its warm-up, OPEN_RATE (15000) new connections a second for 30 s not counted
#        and 30 s measured (the load tool's --timeline, the JVM's -Xlog:gc with wall-clock times):
#        garbage per connection, the young pauses (count, mean, max), the connection time's
#        p50/p99/p99.9, and how many of the connections slower than the p99 were due within
#        20 ms of a pause's end, beside the share of the run those windows cover
#   src/jmh/sh/measure.sh tail [JAR [JAVA_OPTS...]]     what else ran on the proxy's core while its slowest
#        connections waited: pinned like cpu, after its warm-up, OPEN_RATE (15000) new connections a
#        second for OPEN_WARMUP (30) s not counted and 15 s measured under `perf sched record` on CPU 1;
#        each connection at or above the p99, and as many at random, put down to the thread other than
#        the event loops that ran longest on the core during it (core-tail.py; root and perf)
#   src/jmh/sh/measure.sh bulk [JAR [JAVA_OPTS...]]     MiB/s and proxy CPU s/GiB for 2 GiB through
#        4 tunnels (the rig's bulk workload), after a 1 GiB warm-up, pinned like cpu
#   src/jmh/sh/measure.sh bulksys [JAR [JAVA_OPTS...]]  system calls per MiB relayed (strace -c -f
#        over 512 MiB through 4 tunnels)
#   src/jmh/sh/measure.sh idle [JAR [JAVA_OPTS...]]     RSS per held tunnel in a freshly started proxy:
#        VmRSS before and while IDLE_CONNS (default 9000) tunnels are held, and the fds after;
#        SNAPSHOT=CMD runs `CMD PID` before and while holding (e.g. a jcmd wrapper)
#   src/jmh/sh/measure.sh idlerss [JAR [JAVA_OPTS...]]  resident memory of a started, idle proxy as an
#        operator runs it: through the launcher deploy/bin/snigate (JAVA_OPTS as SNIGATE_JAVA_OPTS),
#        with the class-data archive a first start and stop wrote, not pinned; VmRSS (and its
#        anonymous and file-backed parts) IDLE_SECONDS (5) after /readyz, for STARTS (3) starts,
#        and their median
#   src/jmh/sh/measure.sh warmup [JAR [JAVA_OPTS...]]   time from start until the rate workload's
#        throughput is within 10 % of its steady state: through the launcher as idlerss, pinned
#        like cpu; from the moment /readyz answers, the rate workload for WARMUP_RUN s (60) in 1 s
#        slices; steady = the mean of the last STEADY_SLICES (15); warm = the end of the first
#        slice from which every slice before the steady window reaches 90 % of it, and first_s_at_90
#        the second from which three slices in a row average 90 % of it (a later dip, which
#        loopback connections at this rate show with any proxy, does not move it)
# JAR defaults to target/snigate.jar. WARMUP_SECONDS (default 12), RATE_SECONDS (10), BULK_WARMUP (1G)
# and BULK_BYTES (2G) shorten a run. PROXY_MAIN=CLASS runs that main class from JAR instead of the jar's own
# (cpu, syscalls, ringops, bulk, bulksys, idle): io.snigate.bench.NettyFloor from target/benchmarks.jar is a bare
# Netty relay, what snigate costs without its own stages (with -Dsnigate.floor.upstream=handle, its
# upstream side no channel; io.snigate.bench.RingFloor, no channel at all). PORT_BASE (default 24600) moves the three ports, so that two measurements can run side by
# side; CONNECT_PORT makes the load tool dial another port than the proxy's (one a firewall rule
# redirects to it: transparent-cost.sh); UNPINNED=1 leaves every process free to use every core.
# Needs gcc and bc; strace for syscalls and bulksys; root and tracefs for ringops; python3 for gc;
# root, perf and python3 for tail.
set -u
source "$(dirname "$0")/bench-lib.sh"
MODE=${1:?usage: measure.sh cpu|syscalls|ringops|gc|tail|bulk|bulksys|idle|idlerss|warmup [JAR [JAVA_OPTS...]]}
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
if [ "$MODE" = tail ] && { [ -n "${UNPINNED:-}" ] || ! perf sched record -o /dev/null -- true >/dev/null 2>&1; }; then
  echo "tail needs root and perf, and the proxy pinned (no UNPINNED)" >&2
  exit 1
fi
if [ "$MODE" = ringops ] && [ ! -w /sys/kernel/tracing/instances ]; then
  echo "ringops needs root and tracefs at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)" >&2
  exit 1
fi
bench_ports_free $P $((P + 1)) $((P + 2)) || exit 1
D=$(mktemp -d)
mkdir $D/log # what the run writes, apart from the config's folder, which the proxy watches for changes
BK= PX=
trap 'kill $PX $BK 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
bench_snigate_config $((P + 1)) $((P + 2)) $P a.bench.test $D/cfg.yaml
TICK=$(getconf CLK_TCK)
# "other_load_pct=N": what processes other than this script's used, in % of one core, from the
# foreign_ticks F0 to F1 over the nanosecond times T0 to T1 (this machine is shared).
other_load() { echo "other_load_pct=$(( ($2 - $1) * 100 * 1000000000 / TICK / ($4 - $3 > 0 ? $4 - $3 : 1) ))"; }
# UNPINNED=1 lets the proxy, the load tool and the backend share both cores (every event loop busy).
pin() { [ -n "${UNPINNED:-}" ] && return; case "$MODE" in cpu|gc|tail|bulk|idle|warmup) echo "taskset -c $1" ;; esac; }
# The short connections that syscalls and ringops count, echoing their number: 3,000 at 16 in
# flight, or with OPEN_RATE=R, R a second for 3 s on a fixed schedule (the open loop, where each
# connection is handled with fewer others than under full load).
short_connections() {
  if [ -n "${OPEN_RATE:-}" ]; then
    $LG open --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --rate $OPEN_RATE --duration 3 >/dev/null 2>&1
    echo $((OPEN_RATE * 3))
  else
    $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 16 --count 3000 >/dev/null 2>&1
    echo 3000
  fi
}
BACKEND_MODE=rate; case "$MODE" in bulk*) BACKEND_MODE=bulk ;; idle*) BACKEND_MODE=idle ;; esac
$(pin 0) $LG backend --listen 127.0.0.1:$P --mode $BACKEND_MODE --hello $HELLO --resp-bytes 200 --max-seconds 300 2>/dev/null &
BK=$!
case "$MODE" in
idlerss|warmup)
  SNIGATE_JAR=$JAR
  bench_launch_train $D/snigate.jsa $D/cfg.yaml $((P + 2)) "$@" || { echo "no class-data archive" >&2; exit 1; } ;;
*)
  if [ -n "${PROXY_MAIN:-}" ]; then RUN=(-cp "$JAR" "$PROXY_MAIN"); else RUN=(-jar "$JAR"); fi
  [ "$MODE" = gc ] && set -- "$@" "-Xlog:gc:file=$D/log/gc.log:timemillis"
  $(pin 1) java "$@" "${RUN[@]}" --config $D/cfg.yaml > /dev/null 2> $D/err &
  PX=$!
  bench_await_ready $((P + 2)) $PX ;;
esac
case "$MODE" in
idle|idlerss|warmup) ;;
cpu|syscalls|ringops|gc|tail)
  $(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration $WARMUP_SECONDS >/dev/null 2>&1
  if [ "$MODE" = cpu ] || [ "$MODE" = gc ] || [ "$MODE" = tail ]; then # idle once, then busy again, before measuring
    sleep 2                                       # (performance page, "The measured seconds after an idle moment")
    $(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration 3 >/dev/null 2>&1
  fi ;;
bulk*)
  $(pin 0) $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes $BULK_WARMUP >/dev/null 2>&1 ;;
esac
case "$MODE" in
cpu)
  [ -n "${THREADS:-}" ] && thread_ticks $PX >$D/threads0
  c0=$(cpu_ticks $PX); u0=$(utime_ticks $PX); f0=$(foreign_ticks); t0=$(date +%s%N)
  R=$($(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration $RATE_SECONDS 2>/dev/null)
  c1=$(cpu_ticks $PX); u1=$(utime_ticks $PX); f1=$(foreign_ticks); t1=$(date +%s%N)
  conns=$(echo "$R" | grep -o 'ok=[0-9]*' | cut -d= -f2)
  if [ -n "${THREADS:-}" ]; then
    thread_ticks $PX >$D/threads1
    awk -F'\t' -v n=${conns:-0} -v tick=$TICK 'NR == FNR {a[$1] = $2; next}
      {d = $2 - a[$1]; if (d > 0 && n > 0) printf "thread %s: %.1f us/conn\n", $1, d * 1000000 / tick / n}' \
      $D/threads0 $D/threads1 | sort -t: -k2 -rn
  fi
  echo "connections=$conns cpu_us_per_conn=$(( (c1-c0) * 1000000 / TICK / (conns>0?conns:1) )) user_us_per_conn=$(( (u1-u0) * 1000000 / TICK / (conns>0?conns:1) )) rss_after_kib=$(rss_kib $PX) $(other_load $f0 $f1 $t0 $t1)" ;;
gc)
  RATE=${OPEN_RATE:-15000}
  $(pin 0) $LG open --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --rate $RATE --duration 30 >/dev/null 2>&1
  f0=$(foreign_ticks); t0=$(date +%s%N)
  $(pin 0) $LG open --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --rate $RATE --duration 30 \
      --timeline $D/log/timeline >/dev/null 2>&1
  f1=$(foreign_ticks); t1=$(date +%s%N)
  python3 "$(dirname "$0")/gc-tail.py" $D/log/gc.log $D/log/timeline $RATE
  other_load $f0 $f1 $t0 $t1 ;;
tail)
  RATE=${OPEN_RATE:-15000}
  $(pin 0) $LG open --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --rate $RATE --duration ${OPEN_WARMUP:-30} >/dev/null 2>&1
  perf sched record -k CLOCK_MONOTONIC -C 1 -o $D/log/sched.data -- sleep 17 >/dev/null 2>&1 &
  PF=$!
  sleep 1
  python3 -c 'import time; print(time.time_ns() - time.monotonic_ns())' >$D/log/offset
  f0=$(foreign_ticks); t0=$(date +%s%N)
  $(pin 0) $LG open --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --rate $RATE --duration 15 \
      --timeline $D/log/timeline >/dev/null 2>&1
  f1=$(foreign_ticks); t1=$(date +%s%N)
  wait $PF
  perf script -i $D/log/sched.data >$D/log/sched.txt 2>/dev/null
  python3 "$(dirname "$0")/core-tail.py" $D/log/sched.txt $D/log/offset $D/log/timeline
  other_load $f0 $f1 $t0 $t1 ;;
bulk)
  c0=$(cpu_ticks $PX); f0=$(foreign_ticks); t0=$(date +%s%N)
  R=$($(pin 0) $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes $BULK_BYTES 2>/dev/null)
  c1=$(cpu_ticks $PX); f1=$(foreign_ticks); t1=$(date +%s%N)
  echo "$R" | grep -o 'mib_s=[0-9.]*' | tr '\n' ' '
  echo "cpu_s_per_gib=$(echo "scale=3; ($c1 - $c0) / $TICK / ($(echo "$R" | grep -o ' bytes=[0-9]*' | cut -d= -f2) / 1073741824)" | bc) rss_after_kib=$(rss_kib $PX) $(other_load $f0 $f1 $t0 $t1)" ;;
idle)
  N=${IDLE_CONNS:-9000}
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  r0=$(rss_kib $PX); f0=$(fd_count $PX)
  $LG idle --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns $N --hold 60 --ready-file $D/ready \
      --release-file $D/release >/dev/null 2>&1 &
  LI=$!
  # Held means both sockets of every tunnel are open in the proxy (give or take a few of its own
  # descriptors, which come and go); then 1 s to settle.
  for i in $(seq 1 600); do [ $(fd_count $PX) -ge $((f0 + 2 * N - 8)) ] && break; sleep 0.1; done
  sleep 1
  r1=$(rss_kib $PX); f1=$(fd_count $PX)
  [ -n "${SNAPSHOT:-}" ] && $SNAPSHOT $PX
  touch $D/release; wait $LI
  for i in $(seq 1 300); do [ $(fd_count $PX) -le $((f0 + 2)) ] && break; sleep 0.1; done
  echo "tunnels=$N rss_before_kib=$r0 rss_holding_kib=$r1 kib_per_tunnel=$(echo "scale=2; ($r1 - $r0) / $N" | bc) fds=$f0/$f1/$(fd_count $PX)" ;;
idlerss)
  all=""
  for i in $(seq 1 ${STARTS:-3}); do
    t0=$(date +%s%N)
    bench_launch $D/snigate.jsa $D/cfg.yaml "$@" >/dev/null 2>$D/err &
    PX=$!
    bench_await_ready $((P + 2)) $PX || { cat $D/err >&2; exit 1; }
    t1=$(date +%s%N)
    sleep ${IDLE_SECONDS:-5}
    st=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s%s_kib=%d", (n++ ? " " : ""), tolower($1), $2}' /proc/$PX/status)
    echo "start=$i ready_s=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc) ${st//:/} threads=$(ls /proc/$PX/task | wc -l)"
    all+="$(awk '/^VmRSS:/ {print $2}' /proc/$PX/status) "
    kill $PX; wait $PX 2>/dev/null
  done
  echo "idle_rss_median_mib=$(tr ' ' '\n' <<<"$all" | grep . | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1024}')" ;;
warmup)
  t0=$(date +%s%N)
  LAUNCH_CPU=1 bench_launch $D/snigate.jsa $D/cfg.yaml "$@" >/dev/null 2>$D/err &
  PX=$!
  bench_await_ready $((P + 2)) $PX || { cat $D/err >&2; exit 1; }
  t1=$(date +%s%N); f0=$(foreign_ticks)
  $(pin 0) $LG rate --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --concurrency 64 --duration ${WARMUP_RUN:-60} \
      --slice 1 2>/dev/null | sed -n 's/^SLICE .* ok=\([0-9]*\).*/\1/p' >$D/slices
  f1=$(foreign_ticks); t2=$(date +%s%N)
  echo -n "$(other_load $f0 $f1 $t1 $t2) "
  awk -v ready=$(( (t1 - t0) / 1000000 )) -v k=${STEADY_SLICES:-15} '
    { v[NR] = $1 }
    END {
      n = NR; if (n <= k) { print "too few slices: " n; exit 1 }
      for (i = n - k + 1; i <= n; i++) s += v[i]; steady = s / k
      warm = 0
      for (i = 1; i <= n - k; i++) if (v[i] < 0.9 * steady) warm = i
      first = 0
      for (i = 1; i <= n - 2 && !first; i++) if ((v[i] + v[i + 1] + v[i + 2]) / 3 >= 0.9 * steady) first = i - 1
      line = ""; for (i = 1; i <= n; i++) line = line (i > 1 ? "," : "") v[i]
      printf "ready_s=%.2f steady_cps=%.0f first_s_at_90=%d warm_s_after_ready=%d warm_s_from_start=%.1f slices=%s\n",
             ready / 1000, steady, first, warm, ready / 1000 + warm, line
    }' $D/slices ;;
ringops)
  # A trace instance of its own (its own buffer, removed after), the proxy's threads only.
  I=/sys/kernel/tracing/instances/snigate-ringops-$$
  mkdir $I 2>/dev/null || { echo "ringops could not make a trace instance at $I" >&2; exit 1; }
  echo 65536 >$I/buffer_size_kb
  threads=$(ls /proc/$PX/task | sed 's/^/common_pid == /' | paste -sd'|' | sed 's/|/ || /g')
  for e in io_uring/io_uring_submit_req io_uring/io_uring_complete io_uring/io_uring_poll_arm syscalls/sys_enter_io_uring_enter; do
    echo "$threads" >$I/events/$e/filter
    echo 1 >$I/events/$e/enable
  done
  UNITS=$(short_connections)
  sleep 0.5
  echo 0 >$I/tracing_on
  awk -v u=$UNITS '/ io_uring_submit_req: / {for (i = 1; i < NF; i++) if ($i == "opcode") {o = $(i + 1); sub(/,$/, "", o); op[o]++; n++}}
       / io_uring_complete: / && / result -11,/ {eagain++}
       / io_uring_poll_arm: / {arms++}
       / sys_io_uring_enter\(/ {enters++}
       /^# entries-in-buffer\/entries-written:/ {split($3, e, "/"); lost = e[1] < e[2]}
       END {for (o in op) printf "%s=%.2f ", o, op[o] / u; printf "ops=%.2f eagain=%.2f poll_arms=%.2f io_uring_enter=%.2f%s\n",
              n / u, eagain / u, arms / u, enters / u, lost ? " (trace buffer overflowed: too few)" : ""}' $I/trace
  [ -n "${KEEP_TRACE:-}" ] && cp $I/trace $KEEP_TRACE
  rmdir $I ;;
syscalls|bulksys)
  strace -f -c -p $PX -o $D/strace.txt 2>/dev/null &
  ST=$!
  sleep 1
  if [ "$MODE" = syscalls ]; then
    UNITS=$(short_connections)
  else
    UNITS=512
    $LG bulk --connect 127.0.0.1:$CONNECT_PORT --hello $HELLO --conns 4 --bytes 512M >/dev/null 2>&1
  fi
  sleep 0.5
  kill -INT $ST; wait $ST 2>/dev/null
  awk -v u=$UNITS 'NR>2 && $4 ~ /^[0-9]+$/ && $4 >= u/10 {printf "%s=%.1f ", $NF, $4/u} END {print ""}' $D/strace.txt ;;
esac
[ -n "${PX:-}" ] && { kill $PX 2>/dev/null; wait $PX 2>/dev/null; }
kill $BK 2>/dev/null; wait $BK 2>/dev/null
rm -rf $D
