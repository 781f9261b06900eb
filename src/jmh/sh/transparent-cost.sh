#!/usr/bin/env bash
# What a listener with original_dst: redirect costs per connection over a plain one: the rig's
# rate workload (measure.sh cpu and syscalls) inside a network namespace of its own, on its
# loopback, in three set-ups, interleaved, ROUNDS times (default 3):
#   plain      a plain listener, and no firewall rules in the namespace
#   plain+nat  the same with an nftables NAT table loaded (its rule matches other traffic): the
#              kernel's connection tracking and NAT hooks, with nothing redirected
#   redirect   the load tool dials another port, which an OUTPUT rule REDIRECTs to a listener with
#              original_dst: redirect; snigate reads SO_ORIGINAL_DST for every connection
# Needs root (ip netns, nft), gcc, bc and strace. JAR defaults to target/snigate.jar.
#   src/jmh/sh/transparent-cost.sh [JAR]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
JAR=$(readlink -f "${1:-target/snigate.jar}")
ROUNDS=${ROUNDS:-3}
NS=snigate-cost-$$
P=24600
trap 'ip netns del $NS 2>/dev/null' EXIT
# A namespace of its own for every measurement: connection tracking keeps the entries of a run's
# tens of thousands of closed connections for minutes, and a table filled by the run before would
# drop the next run's new connections.
fresh_namespace() {
  ip netns del $NS 2>/dev/null || true
  ip netns add $NS
  ip -n $NS link set lo up
}
nat() {
  ip netns exec $NS nft -f - <<NFT
table ip cost
delete table ip cost
table ip cost {
  chain output { type nat hook output priority -100; policy accept; tcp dport $1 redirect to :$((P + 1)); }
}
NFT
}
no_nat() { ip netns exec $NS nft flush ruleset; }
measure() { # SETUP MODE
  fresh_namespace
  case $1 in
    plain) no_nat; ip netns exec $NS env PORT_BASE=$P "$HERE/measure.sh" $2 "$JAR" ;;
    plain+nat) nat 9; ip netns exec $NS env PORT_BASE=$P "$HERE/measure.sh" $2 "$JAR" ;;
    redirect) nat $((P + 10)); ip netns exec $NS env PORT_BASE=$P LISTEN_ORIGINAL_DST=redirect CONNECT_PORT=$((P + 10)) \
        "$HERE/measure.sh" $2 "$JAR" ;;
  esac
}
for setup in plain plain+nat redirect; do
  echo "$setup syscalls: $(measure $setup syscalls)"
done
for round in $(seq 1 "$ROUNDS"); do
  for setup in plain plain+nat redirect; do
    echo "$setup round $round: $(measure $setup cpu)"
  done
done
