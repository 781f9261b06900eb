# Sourced by run-peers.sh, measure.sh, compare.sh and restarts.sh: where things are in the checkout, the load
# tool, snigate's bench config, starting it through the launcher, and the /proc readers the scripts
# measure with. Not run by itself.
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
#   bench_launch ARCHIVE CONFIG [JAVA_OPTS...]
#                     execs snigate as deploy/bin/snigate starts it (its JVM flags, class-data
#                     archive ARCHIVE), $SNIGATE_JAR, on CPU $LAUNCH_CPU if set; run it in the
#                     background: $! is the JVM
#   bench_await_ready ADMIN_PORT PID [SECONDS]
#                     waits (at most SECONDS, 30) until /readyz answers 200; fails if PID exits
#   bench_launch_train ARCHIVE CONFIG ADMIN_PORT [JAVA_OPTS...]
#                     one start and clean stop through the launcher, which writes ARCHIVE: later
#                     starts are the ones an operator sees after the first
#   cpu_ticks, utime_ticks, rss_kib, fd_count PIDS...
#                     utime+stime, utime alone (clock ticks), VmRSS (KiB) and open fds, summed
#   proc_tree PID     PID and all its descendants
#   foreign_ticks     CPU ticks of every process that is neither the calling script's nor the
#                     kernel's: the other load of a shared machine
BENCH_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_SH/../../.." && pwd)
BENCH_OUT=${SNIGATE_BUILD_DIR:-$BENCH_REPO/target}/bench
BENCH_HELLO=${HELLO:-$BENCH_REPO/src/jmh/resources/clienthello-a.bin}
SNIGATE_JAR=${SNIGATE_JAR:-$BENCH_REPO/target/snigate.jar}
BENCHMARKS_JAR=${BENCHMARKS_JAR:-$BENCH_REPO/target/benchmarks.jar}

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

bench_launch() {
  local archive=$1 config=$2
  shift 2
  SNIGATE_JAR=$SNIGATE_JAR SNIGATE_CDS_ARCHIVE=$archive SNIGATE_JAVA_OPTS="$*" \
    exec ${LAUNCH_CPU:+taskset -c "$LAUNCH_CPU"} sh "$BENCH_REPO/deploy/bin/snigate" --config "$config"
}
# bench_ports_free PORT...: fails, naming the port, when something listens on one of them. snigate
# binds with SO_REUSEPORT, so a proxy left running from an earlier run would share the port and
# take part of the load (and answer /readyz) without a word.
bench_ports_free() {
  local port
  for port in "$@"; do
    if [ -n "$(ss -Htln "sport = :$port")" ]; then
      echo "port $port is already in use (a proxy left from an earlier run?): $(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')" >&2
      return 1
    fi
  done
}
bench_await_ready() {
  local admin=$1 pid=$2 i
  for i in $(seq 1 $((${3:-30} * 50))); do
    curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}
bench_launch_train() {
  local archive=$1 config=$2 admin=$3 pid
  shift 3
  bench_launch "$archive" "$config" "$@" >/dev/null 2>&1 &
  pid=$!
  bench_await_ready "$admin" "$pid" || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 1; }
  kill -TERM "$pid"
  wait "$pid"
  [[ -s "${archive%.jsa}-$(stat -c %s-%Y "$SNIGATE_JAR").jsa" ]] # the launcher names it after the jar's size and time
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
# "GROUP TICKS" lines for PID's threads, utime+stime, grouped by thread name without its digits
# (every event loop in one group, every GC worker in another).
thread_ticks() {
  local t
  for t in /proc/$1/task/*; do
    { read -r name <"$t/comm"; sed 's/^.*) //' "$t/stat" | awk -v n="${name//[0-9]/}" '{print n "\t" $12 + $13}'; } 2>/dev/null
  done | awk -F'\t' '{s[$1] += $2} END {for (n in s) print n "\t" s[n]}'
}
# /proc/PID/stat's fields after the command name, which may hold spaces: utime is the 12th, stime
# the 13th.
read_cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
read_utime_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12}'; }
# Voluntary context switches of all its threads: how often the process went to sleep and was woken.
read_wakeups() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ {v += $2} END {print v + 0}'; }
read_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
read_fd_count() { ls "/proc/$1/fd" | wc -l; }
cpu_ticks() { sum_over_pids read_cpu_ticks "$@"; }
utime_ticks() { sum_over_pids read_utime_ticks "$@"; }
rss_kib() { sum_over_pids read_rss_kib "$@"; }
wakeups() { sum_over_pids read_wakeups "$@"; }
fd_count() { sum_over_pids read_fd_count "$@"; }

# PID and all its descendants
proc_tree() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      inset[root] = 1; print root; changed = 1
      while (changed) {
        changed = 0
        for (i = 1; i <= NR; i++) { p = pids[i]
          if (!(p in inset) && (parent[p] in inset)) { inset[p] = 1; print p; changed = 1 } }
      }
    }'
}
# CPU ticks (utime+stime+cutime+cstime) of every process that is neither ours
# (this script and its descendants) nor a kernel thread.
foreign_ticks() {
  local ours
  ours=$(proc_tree $$ | tr '\n' ' ')
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v ours="$ours" '
    BEGIN { n = split(ours, o, " "); for (i = 1; i <= n; i++) mine[o[i]] = 1 }
    { pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
      if (pid == 2 || f[2] == 2 || (pid in mine)) next
      t += f[12] + f[13] + f[14] + f[15] }
    END { print t + 0 }'
}
