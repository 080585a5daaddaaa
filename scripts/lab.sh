#!/usr/bin/env bash
# lab.sh up|down|status - the embedded lab of DESIGN.md, from network namespaces:
#   <lab>-client 198.18.0.1/24 --veth-- dut0 198.18.0.254/24 [<lab>-dut] dut1 198.18.1.254/24 --veth-- <lab>-server 198.18.1.1/24
# The lab name (PCF_LAB, default pcf) prefixes every namespace, so labs run side by side; the
# veth ends are created inside their namespaces, so their names can repeat between labs.
set -euo pipefail

LAB=${PCF_LAB:-pcf}
CLIENT=$LAB-client DUT=$LAB-dut SERVER=$LAB-server

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

mac() { ip -n "$1" -o link show "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }
neigh() { ip -n "$1" neigh replace "$3" lladdr "$(mac "$4" "$5")" dev "$2" nud permanent; }

up() {
  if ip netns list | grep -qw "^$DUT"; then
    echo "lab $LAB: already up"
    return 0
  fi
  trap 'echo "lab $LAB: failed to create, removing what was made" >&2; down >/dev/null 2>&1 || true' ERR
  for ns in "$CLIENT" "$DUT" "$SERVER"; do
    ip netns add "$ns"
    # IPv4 only: no IPv6 autoconfiguration chatter on the links the tests count packets on.
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n "$CLIENT" link add c0 type veth peer name dut0 netns "$DUT"
  ip -n "$SERVER" link add s0 type veth peer name dut1 netns "$DUT"

  ip -n "$CLIENT" addr add 198.18.0.1/24 dev c0
  ip -n "$DUT" addr add 198.18.0.254/24 dev dut0
  ip -n "$DUT" addr add 198.18.1.254/24 dev dut1
  ip -n "$SERVER" addr add 198.18.1.1/24 dev s0
  for pair in "$CLIENT:c0" "$DUT:dut0" "$DUT:dut1" "$SERVER:s0"; do
    ns=${pair%%:*} dev=${pair#*:}
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
    # Checksums computed in software: packets that cross XDP/AF_XDP carry valid checksums,
    # so receivers can verify them (veth would otherwise leave them partial).
    in_ns "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1 || true
  done
  ip -n "$CLIENT" route add default via 198.18.0.254
  ip -n "$SERVER" route add default via 198.18.1.254
  in_ns "$DUT" sysctl -qw net.ipv4.ip_forward=1
  # Permanent neighbours: no ARP on the wire, so every packet a test counts is its own.
  neigh "$CLIENT" c0 198.18.0.254 "$DUT" dut0
  neigh "$DUT" dut0 198.18.0.1 "$CLIENT" c0
  neigh "$DUT" dut1 198.18.1.1 "$SERVER" s0
  neigh "$SERVER" s0 198.18.1.254 "$DUT" dut1
  trap - ERR
  echo "lab $LAB: up ($CLIENT 198.18.0.1 -> $DUT dut0/dut1 -> $SERVER 198.18.1.1)"
}

down() {
  for ns in "$CLIENT" "$DUT" "$SERVER"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  echo "lab $LAB: down"
}

status() {
  for ns in "$CLIENT" "$DUT" "$SERVER"; do
    if ip netns list | grep -qw "^$ns"; then echo "$ns: present"; else echo "$ns: absent"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: PCF_LAB=name $0 up|down|status" >&2; exit 2 ;;
esac
