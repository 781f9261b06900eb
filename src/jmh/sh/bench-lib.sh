# Sourced by run-peers.sh and measure.sh: where things are in the checkout, the load tool, snigate's
# bench config and the /proc readers both scripts measure with. Not run by itself.
#
#   BENCH_REPO        the checkout's root
#   BENCH_OUT         where builds and results go: ${SNIGATE_BUILD_DIR:-<root>/target}/bench
#   BENCH_HELLO       the ClientHello every client sends: src/jmh/resources/clienthello-a.bin
#                     (SNI a.bench.test), or $HELLO
#   SNIGATE_JAR       the jar under test: $SNIGATE_JAR, or target/snigate.jar of the checkout
#   bench_loadgen     builds src/jmh/c/loadgen.c into $BENCH_OUT/loadgen when it is missing or
#                     older than its source, and prints its path
#   bench_snigate_config LISTEN_PORT ADMIN_PORT BACKEND_PORT SNI FILE
#                     writes the routes.yaml that both scripts run snigate with
#   cpu_ticks, utime_ticks, rss_kib, fd_count PIDS...
#                     utime+stime, utime alone (clock ticks), VmRSS (KiB) and open fds, summed
BENCH_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_SH/../../.." && pwd)
BENCH_OUT=${SNIGATE_BUILD_DIR:-$BENCH_REPO/target}/bench
BENCH_HELLO=${HELLO:-$BENCH_REPO/src/jmh/resources/clienthello-a.bin}
SNIGATE_JAR=${SNIGATE_JAR:-$BENCH_REPO/target/snigate.jar}

bench_loadgen() {
  local src=$BENCH_REPO/src/jmh/c/loadgen.c out=$BENCH_OUT/loadgen
  mkdir -p "$BENCH_OUT"
  if [[ ! -x "$out" || "$src" -nt "$out" ]]; then
    gcc -O2 -Wall -Wextra -o "$out" "$src" >&2 || return 1
  fi
  echo "$out"
}

# The same settings for every measurement: one route to the backend, everything else snigate's
# defaults (io_uring where the kernel allows it, the access log on, to standard output) except an
# idle timeout longer than the rig's 90 s idle hold.
# LISTEN_ORIGINAL_DST=redirect makes the listener a transparent one (transparent-cost.sh).
bench_snigate_config() {
  local listen=$1 admin=$2 backend=$3 sni=$4 file=$5
  cat >"$file" <<EOF
listen: [{ address: "127.0.0.1:$listen", original_dst: ${LISTEN_ORIGINAL_DST:-none} }]
admin: "127.0.0.1:$admin"
routes:
  - match: "$sni"
    upstream: "127.0.0.1:$backend"
default: reject
timeouts: { idle: 120s }
EOF
}

# Sums over PIDS what READER prints for each (0 for a process that has gone).
sum_over_pids() {
  local reader=$1 p t=0 v
  shift
  for p in "$@"; do
    v=$("$reader" "$p" 2>/dev/null) || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
# /proc/PID/stat's fields after the command name, which may hold spaces: utime is the 12th, stime
# the 13th.
read_cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
read_utime_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12}'; }
read_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
read_fd_count() { ls "/proc/$1/fd" | wc -l; }
cpu_ticks() { sum_over_pids read_cpu_ticks "$@"; }
utime_ticks() { sum_over_pids read_utime_ticks "$@"; }
rss_kib() { sum_over_pids read_rss_kib "$@"; }
fd_count() { sum_over_pids read_fd_count "$@"; }
