#!/bin/sh
# The policy routing TPROXY needs (gateway-tproxy.nft, gateway-tproxy.iptables): packets that the
# firewall marked are delivered to this host, where snigate's transparent listener takes them.
# Run once at boot, after the interfaces are up. TPROXY_MARK must match the firewall rules.
set -e
TPROXY_MARK=${TPROXY_MARK:-0x1}
TABLE=${TPROXY_TABLE:-100}
ip -4 rule add fwmark "$TPROXY_MARK" lookup "$TABLE"
ip -4 route add local 0.0.0.0/0 dev lo table "$TABLE"
ip -6 rule add fwmark "$TPROXY_MARK" lookup "$TABLE"
ip -6 route add local ::/0 dev lo table "$TABLE"
