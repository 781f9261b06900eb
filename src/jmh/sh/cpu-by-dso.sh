#!/usr/bin/env bash
# Where one proxy's CPU per connection goes, by the object its samples fall in: the kernel, libc
# (mostly the instructions of system calls), the proxy's own code (for snigate the JVM's compiled
# code, the JVM and Netty's native library), under the rate workload or the open loop.
#
#   src/jmh/sh/cpu-by-dso.sh PROXY rate|open [CONN_PER_S]
#
# PROXY is any of run-peers.sh's proxies (its config and command from there), started pinned to
# CPU 1 with loadgen and its backend on CPU 0, as in the rig; WARMUP_SECONDS (15) of the rate
# workload, 2 s idle, then MEASURE_SECONDS (10) of the workload named (open: CONN_PER_S, default
# 3500, new connections a second, after OPEN_WARMUP_SECONDS (30) at that rate, as the rig; rate:
# after 5 s more of it) while perf
# samples CPU 1 at 1999 Hz. Prints the proxy's CPU µs per connection from /proc, then µs per
# connection for each object perf saw and their sum (on this VM about a tenth below /proc's
# figure), then (TOP=N) the N kernel functions that took most, and (EVENTS=ev1,ev2,... any perf
# events, e.g. sched:sched_wakeup,irq_vectors:reschedule_entry) each event's count per connection
# on each CPU over the same seconds, with CPU 0's idle share, and (WAKES=N) the N most frequent
# wakeups per connection by the waking thread's CPU and name and the woken thread's name (the
# scheduler's sched_waking on all CPUs; "multiThreadIoEv" is an event loop of snigate's or a floor's);
# with WAKE_CAUSES=1 also (call chains recorded, which costs the proxy's core time in the same
# seconds) the wakeups of the load tool from the proxy's CPU by what the proxy's kernel was doing:
# data (tcp_data_queue), a FIN (tcp_fin), a connection the backend's listener can accept
# (tcp_child_process).
# Needs root, perf and what run-peers.sh needs for that proxy.
set -euo pipefail
NAME=${1:?usage: cpu-by-dso.sh PROXY rate|open [CONN_PER_S]}
MODE=${2:?usage: cpu-by-dso.sh PROXY rate|open [CONN_PER_S]}
RATE=${3:-3500}
SH=$(cd "$(dirname "$0")" && pwd)
MEASURE=${MEASURE_SECONDS:-10}
WARMUP=${WARMUP_SECONDS:-15}
OPEN_WARMUP=${OPEN_WARMUP_SECONDS:-30}
set --
RUN_PEERS_BLOCKS_ONLY=1 source "$SH/run-peers.sh"
P=${PORT_BASE:-25600}
LG=$(bench_loadgen)
HELLO=$BENCH_HELLO
NOFILE=$(ulimit -Hn); ulimit -n "$NOFILE"
WORK=$(mktemp -d)
declare -F "proxy_$NAME" >/dev/null || { echo "no proxy block for '$NAME' in run-peers.sh" >&2; exit 2; }
taskset -c 0 "$LG" backend --listen 127.0.0.1:$P --mode rate --hello "$HELLO" --resp-bytes 200 \
    --max-seconds $((WARMUP + OPEN_WARMUP + MEASURE + 120)) 2>/dev/null &
BK=$!
CMD=$("proxy_$NAME" $((P + 1)) $P a.bench.test "$WORK")
( eval "exec taskset -c 1 $CMD" ) >/dev/null 2>"$WORK/proxy.err" &
PX=$!
trap 'kill $PX $BK 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for i in $(seq 100); do [[ -n "$(ss -Htln "sport = :$((P + 1))")" ]] && break; sleep 0.2; done
sleep 1
taskset -c 0 "$LG" rate --connect 127.0.0.1:$((P + 1)) --hello "$HELLO" --concurrency 64 \
    --duration "$WARMUP" >/dev/null 2>&1
if [[ "$MODE" == open ]]; then LOAD=(open --rate "$RATE"); else LOAD=(rate --concurrency 64); fi
# Idle once before the workload measured warms up: the first time a JVM proxy's loop goes idle and
# busy again (its timer queue empty, no tunnel left) the JIT's guesses fail and it compiles again,
# which would otherwise fall at the start of the measured seconds (performance page, "The
# measured seconds after an idle moment"). The rig's turns go idle long before they are measured.
# The open loop warms up at its rate as the rig does (a JIT compiles for the traffic it meets).
sleep 2
REWARM=5; [[ "$MODE" == open ]] && REWARM=$OPEN_WARMUP
taskset -c 0 "$LG" "${LOAD[@]}" --connect 127.0.0.1:$((P + 1)) --hello "$HELLO" --duration "$REWARM" >/dev/null 2>&1
TREE=$(proc_tree $PX | tr '\n' ' ')
c0=$(cpu_ticks $TREE)
idle0() { awk '$1 == "cpu0" {print $5}' /proc/stat; }
i0=$(idle0)
STAT=()
[[ -n "${EVENTS:-}" ]] && STAT=(perf stat -a -A -x, -e "$EVENTS" -o "$WORK/stat.txt" --)
CALLS=(); [[ -n "${WAKE_CAUSES:-}" ]] && CALLS=(-g)
[[ -n "${WAKES:-}" ]] && STAT+=(perf record -q -a "${CALLS[@]}" -e sched:sched_waking -o "$WORK/wakes.data" --)
# perf runs the load tool, so the samples cover exactly the connections it counts.
"${STAT[@]}" perf record -q -C 1 -F 1999 -o "$WORK/perf.data" -- taskset -c 0 "$LG" "${LOAD[@]}" \
    --connect 127.0.0.1:$((P + 1)) --hello "$HELLO" --duration "$MEASURE" >"$WORK/load.txt" 2>/dev/null
c1=$(cpu_ticks $TREE)
i1=$(idle0)
OK=$(grep -o ' ok=[0-9]*' "$WORK/load.txt" | head -1 | cut -d= -f2)
[[ "${OK:-0}" -gt 0 ]] || { echo "no connection succeeded" >&2; cat "$WORK/proxy.err" >&2; exit 1; }
echo "proxy=$NAME mode=$MODE connections=$OK cpu_us_per_conn=$(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / OK ))"
# Per object: µs per connection = samples / 1999 Hz / connections. JIT code shows as "[JIT] tid N".
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -n 2>/dev/null | grep -v '^#' | grep . \
  | awk -v ok="$OK" '{n = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); sub(/ tid [0-9]+$/, ""); us = n * 1e6 / 1999 / ok
                       t += us; if (us >= 0.05) printf "%8.2f  %s\n", us, $0} END {printf "%8.2f  (all)\n", t}'
if [[ -n "${TOP:-}" ]]; then
  echo "-- kernel functions, µs per connection --"
  perf report -i "$WORK/perf.data" --no-children --dsos '[kernel.kallsyms]' --sort sym --stdio -n 2>/dev/null \
    | grep -v '^#' | grep . | awk -v ok="$OK" -v top="$TOP" 'NR <= top {printf "%8.2f  %s\n", $2 * 1e6 / 1999 / ok, $NF}'
fi
if [[ -n "${EVENTS:-}" ]]; then
  echo "-- events per connection, by CPU (CPU 0 idle $(( (i1 - i0) * 100 / $(getconf CLK_TCK) / MEASURE )) % of the time) --"
  awk -F, -v ok="$OK" '/^CPU/ {printf "%-5s %10.3f  %s\n", $1, $2 / ok, $4}' "$WORK/stat.txt"
fi
if [[ -n "${WAKES:-}" ]]; then
  echo "-- wakeups per connection: CPU, waking thread -> woken thread --"
  perf script -i "$WORK/wakes.data" -F comm,cpu,trace 2>/dev/null \
    | sed -E 's/^ *(.*[^ ]) +\[([0-9]+)\] +comm=(.*) pid=.*/CPU\2 \1 -> \3/' \
    | sort | uniq -c | sort -rn | awk -v ok="$OK" -v top="$WAKES" 'NR <= top {n = $1; $1 = ""; printf "%8.3f %s\n", n / ok, $0}'
  if [[ -n "${WAKE_CAUSES:-}" ]]; then
    echo "-- wakeups of the load tool from CPU 1 per connection, by cause --"
    perf script -i "$WORK/wakes.data" -F comm,pid,cpu,trace,ip,sym 2>/dev/null | awk -v ok="$OK" -v RS= '
      /\[001\] comm=loadgen / {
        cause = "other"
        if (/ tcp_fin\n/) cause = "FIN"; else if (/ tcp_child_process\n/) cause = "connection for the listener"
        else if (/ tcp_data_queue\n/) cause = "data"
        n[cause]++
      }
      END {for (c in n) printf "%8.3f  %s\n", n[c] / ok, c}' | sort -rn
  fi
fi
