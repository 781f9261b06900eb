#!/bin/sh
# The policy routing TPROXY needs (gateway-tproxy.nft, gateway-tproxy.iptables): packets that the
# firewall marked are delivered to this host, where snigate's transparent listener takes them.
# Run at boot, after the interfaces are up; running it again replaces what it added. TPROXY_MARK
# must match the firewall rules.
set -e
TPROXY_MARK=${TPROXY_MARK:-0x1}
TABLE=${TPROXY_TABLE:-100}
for family in -4 -6; do
  while ip "$family" rule del fwmark "$TPROXY_MARK" lookup "$TABLE" 2> /dev/null; do :; done
  ip "$family" rule add fwmark "$TPROXY_MARK" lookup "$TABLE"
done
ip -4 route replace local 0.0.0.0/0 dev lo table "$TABLE"
ip -6 route replace local ::/0 dev lo table "$TABLE"
