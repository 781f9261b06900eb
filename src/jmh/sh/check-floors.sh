#!/usr/bin/env bash
# Checks the rig's hand-written relays, which the performance page compares with snigate:
# NettyFloor, NettyFloor with its upstream side an io_uring handle (HandleUpstream), RingFloor, and
# RingFloor running snigate's stages (FloorStages; stages-check.py instead of relay-check.py, as it
# relays only a ClientHello with a route, and writes the access log that the check reads).
# Each is started on its own with Netty's leak detector at PARANOID and a small heap (so that
# collections, which report leaks, happen), then relay-check.py runs against it. A relay fails when
# a check fails, when its file descriptors do not come back to where they were, or when its log
# has a leak report or an exception. The three io_uring relays are skipped with a message where
# io_uring is unavailable, except under CI=true. Run by .ci/run; needs target/benchmarks.jar
# (mvn -B -Pjmh -DskipTests package; BENCHMARKS_JAR=... for another) and python3. PORT_BASE (24900).
set -u -o pipefail
source "$(dirname "$0")/bench-lib.sh"
P=${PORT_BASE:-24900}
[[ -f "$BENCHMARKS_JAR" ]] || { echo "no $BENCHMARKS_JAR: run mvn -B -Pjmh -DskipTests package" >&2; exit 1; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
bench_snigate_config $((P + 1)) $((P + 2)) $P a.bench.test "$D/cfg.yaml"
failed=0

check_relay() {
  local name=$1 main=$2 log=$D/$1.log pid fds0 i
  shift 2
  java -Xmx48m -XX:+UseSerialGC -Dio.netty.leakDetection.level=paranoid "$@" -cp "$BENCHMARKS_JAR" "$main" \
      --config "$D/cfg.yaml" >"$log" 2>&1 &
  pid=$!
  if ! bench_await_ready $((P + 2)) $pid 30; then
    if grep -q "needs io_uring" "$log" && [[ "${CI:-}" != true ]]; then
      echo "$name: skipped, $(grep "needs io_uring" "$log")"
      return
    fi
    echo "$name: FAILED, did not start:"; cat "$log"; failed=1; return
  fi
  fds0=$(fd_count $pid)
  if [[ "$*" == *snigate.floor.stages=on* ]]; then
    python3 "$(dirname "$0")/stages-check.py" $((P + 1)) $P "$BENCH_HELLO" "$log" | sed "s/^/$name: /" || failed=1
  else
    python3 "$(dirname "$0")/relay-check.py" $((P + 1)) $P | sed "s/^/$name: /" || failed=1
  fi
  for i in $(seq 1 100); do (( $(fd_count $pid) <= fds0 )) && break; sleep 0.1; done
  if (( $(fd_count $pid) > fds0 )); then
    echo "$name: FAILED, $(fd_count $pid) file descriptors open after the checks, $fds0 before"; failed=1
  fi
  kill $pid; wait $pid 2>/dev/null
  if grep -E "LEAK|Exception|Error" "$log"; then
    echo "$name: FAILED, its log above"; failed=1
  fi
}

check_relay nettyfloor io.snigate.bench.NettyFloor
check_relay handlefloor io.snigate.bench.NettyFloor -Dsnigate.floor.upstream=handle
check_relay ringfloor io.snigate.bench.RingFloor
check_relay stagefloor io.snigate.bench.RingFloor -Dsnigate.floor.stages=on
exit $failed
