#!/usr/bin/env bash
# Where one proxy's event loop spends more user time than another's, from two async-profiler
# profiles in collapsed form (measure.sh cpu with
# -agentpath:…/libasyncProfiler.so=start,event=cpu,interval=500us,threads,file=X.collapsed,collapsed):
#
#   src/jmh/sh/profile-diff.sh A.collapsed B.collapsed [N]
#
# Only the event-loop threads count (thread names starting "multiThreadIoEventLoopGroup"). The two
# runs relay different numbers of connections, so every figure is per 1,000 of that profile's
# kernel samples: both proxies do the same kernel work per connection (the same sockets, the
# same bytes), so the kernel samples stand in for the number of connections. A sample is "user"
# when no frame of its stack is the kernel's (async-profiler marks those "_[k]").
#
# Prints the user samples of A and B per 1,000 kernel samples, then the N (default 25) frames whose
# self time grew most from A to B and the N that shrank most: difference, A, B, frame. Lambda
# classes are merged under their defining class.
set -euo pipefail
A=${1:?usage: profile-diff.sh A.collapsed B.collapsed [N]}
B=${2:?usage: profile-diff.sh A.collapsed B.collapsed [N]}
N=${3:-25}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

# per_kernel FILE OUT: "frame<TAB>self user samples per 1,000 kernel samples", sorted by frame,
# and prints "user_per_1000_kernel=U".
per_kernel() {
  awk -v out="$2" '
    $0 !~ /^\[multiThreadIoEventLoopGroup/ { next }
    {
      n = $NF; $NF = ""
      if ($0 ~ /_\[k\]/) { kernel += n; next }
      user += n
      m = split($0, f, ";"); g = f[m]; sub(/ +$/, "", g); sub(/\$\$Lambda.*/, "$$Lambda", g)
      self[g] += n
    }
    END {
      if (kernel == 0) { print "no kernel samples of an event loop in " FILENAME > "/dev/stderr"; exit 1 }
      for (g in self) printf "%s\t%.2f\n", g, self[g] * 1000 / kernel > out
      printf "user_per_1000_kernel=%.0f\n", user * 1000 / kernel
    }' "$1"
  sort -t $'\t' -k1,1 -o "$2" "$2"
}

echo "A: $(per_kernel "$A" "$D/a")"
echo "B: $(per_kernel "$B" "$D/b")"
join -t $'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 "$D/a" "$D/b" \
  | awk -F'\t' '{printf "%.1f\t%.1f\t%.1f\t%s\n", $3 - $2, $2, $3, $1}' >"$D/diff"
echo "-- grew most from A to B (B - A, A, B, frame) --"
sort -t $'\t' -k1,1 -rn "$D/diff" | head -n "$N"
echo "-- shrank most --"
sort -t $'\t' -k1,1 -n "$D/diff" | head -n "$N"
