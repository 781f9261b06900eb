#!/usr/bin/env bash
# Compares the CPU per connection of two proxies started side by side, for differences smaller than
# this shared VM's drift between runs (the same build's CPU moves by up to half from one run to the
# next, in phases that last minutes).
#
#   src/jmh/sh/compare.sh 'A' 'B'
#       A and B are the java arguments that start each proxy, without --config (word-split), e.g.
#       '-jar target/snigate.jar' and '-cp target/benchmarks.jar io.snigate.bench.NettyFloor', or
#       one jar with and without a JVM option.
#
# Both JVMs run at once, pinned to CPU 1, each with bench-lib.sh's config and its own ports in front
# of one loadgen backend (CPU 0). After WARMUP_SECONDS (15) of the rate workload on each, and 3 s
# more of the workload measured on each once the other's warm-up has left it idle, ROUNDS (8)
# rounds load A, then B, then B, then A (ABBA, so neither always goes first) for WINDOW_SECONDS (5)
# each; the proxy not under load sits idle. Each window gives CPU and user µs per connection; every
# round gives the ratio B ÷ A of its two pairs' sums, so both sides of a ratio met the same minutes
# of the host. Printed: each window, then the medians and the median of the ratios with its
# range. OPEN_RATE=R loads each window open-loop instead, R new connections a second whatever the
# proxy's pace (the warm-up stays the rate workload). PORT_BASE (24800) moves the ports. Needs gcc
# (loadgen) and a JDK.
set -u
source "$(dirname "$0")/bench-lib.sh"
A=${1:?usage: compare.sh 'JAVA ARGS OF A' 'JAVA ARGS OF B'}
B=${2:?usage: compare.sh 'JAVA ARGS OF A' 'JAVA ARGS OF B'}
LG=${LOADGEN:-$(bench_loadgen)} || exit 1
P=${PORT_BASE:-24800}
WARMUP_SECONDS=${WARMUP_SECONDS:-15}
WINDOW_SECONDS=${WINDOW_SECONDS:-5}
ROUNDS=${ROUNDS:-8}
TICK=$(getconf CLK_TCK)
bench_ports_free $P $((P + 11)) $((P + 12)) $((P + 21)) $((P + 22)) || exit 1
D=$(mktemp -d)
PIDS=()
declare -A PID PORT # by proxy name: its JVM and its listen port
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT

taskset -c 0 $LG backend --listen 127.0.0.1:$P --mode rate --hello $BENCH_HELLO --resp-bytes 200 \
    --max-seconds $((2 * WARMUP_SECONDS + 6 + 4 * ROUNDS * WINDOW_SECONDS + 120)) 2>/dev/null &
PIDS+=($!)
# start NAME INDEX ARGS: proxy INDEX listens on P+10*INDEX+1, admin on +2.
start() {
  local listen=$((P + 10 * $2 + 1))
  bench_snigate_config $listen $((listen + 1)) $P a.bench.test $D/$1.yaml
  # shellcheck disable=SC2086 # the arguments are word-split on purpose
  taskset -c 1 java $3 --config $D/$1.yaml >/dev/null 2>$D/$1.err &
  PIDS+=($!)
  PID[$1]=$!
  PORT[$1]=$listen
  bench_await_ready $((listen + 1)) $! || { echo "$1 did not start: $(tail -3 $D/$1.err)" >&2; exit 1; }
}
start A 1 "$A"
start B 2 "$B"
# window NAME SECONDS [measured]: loads proxy NAME (open-loop when measured and OPEN_RATE is set);
# prints "cpu user" µs per connection and the connections.
window() {
  local pid=${PID[$1]} c0 u0 c1 u1 n
  c0=$(cpu_ticks $pid); u0=$(utime_ticks $pid)
  local load=(rate --concurrency 64)
  [ -n "${OPEN_RATE:-}" ] && [ "${3:-}" = measured ] && load=(open --rate $OPEN_RATE)
  n=$(taskset -c 0 $LG "${load[@]}" --connect 127.0.0.1:${PORT[$1]} --hello $BENCH_HELLO \
      --duration $2 2>/dev/null | grep -o ' ok=[0-9]*' | cut -d= -f2)
  c1=$(cpu_ticks $pid); u1=$(utime_ticks $pid)
  n=${n:-0}
  echo "$(( (c1 - c0) * 1000000 / TICK / (n > 0 ? n : 1) )) $(( (u1 - u0) * 1000000 / TICK / (n > 0 ? n : 1) )) $n"
}
window A $WARMUP_SECONDS >/dev/null
window B $WARMUP_SECONDS >/dev/null
# Each has now been idle once (while the other warmed up), when a JIT's guesses about a loop that
# is never idle fail and it compiles again (performance page, "The measured seconds after an idle
# moment"): a few seconds more each, so that this falls before the rounds.
window A 3 measured >/dev/null
window B 3 measured >/dev/null
echo "A: $A"
echo "B: $B"
for r in $(seq 1 $ROUNDS); do
  for side in A B B A; do
    echo "round=$r side=$side $(window $side $WINDOW_SECONDS measured | awk '{print "cpu_us=" $1 " user_us=" $2 " connections=" $3}')"
  done
done | tee $D/windows
awk '
  { split($1, r, "="); split($2, s, "="); split($3, c, "="); split($4, u, "=")
    cpu[s[2], r[2]] += c[2]; user[s[2], r[2]] += u[2]; rounds = r[2] }
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= rounds; i++) {
      ca[i] = cpu["A", i] / 2; cb[i] = cpu["B", i] / 2; ua[i] = user["A", i] / 2; ub[i] = user["B", i] / 2
      ratio[i] = cb[i] / ca[i]; uratio[i] = ub[i] / ua[i]
      if (i == 1 || ratio[i] < lo) lo = ratio[i]; if (i == 1 || ratio[i] > hi) hi = ratio[i]
    }
    printf "median cpu_us A=%.0f B=%.0f; user_us A=%.0f B=%.0f\n", median(ca, rounds), median(cb, rounds), median(ua, rounds), median(ub, rounds)
    printf "B/A per round: cpu median %.3f (%.3f-%.3f), user median %.3f\n", median(ratio, rounds), lo, hi, median(uratio, rounds)
  }' $D/windows
