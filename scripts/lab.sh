#!/usr/bin/env bash
# lab.sh up|down|status - the embedded lab of DESIGN.md, from network namespaces:
#   <lab>-client 198.18.0.1/24   --veth-- dut0 198.18.0.254/24  [<lab>-dut] dut1 198.18.1.254/24    --veth-- <lab>-server 198.18.1.1/24
#                2001:2::1/64             2001:2::fe/64                     2001:2:0:1::fe/64                   2001:2:0:1::1/64
# Addresses from 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180); default routes via the DUT,
# which forwards both families. Neighbours are permanent and IPv6 is configured so that the lab
# sends nothing by itself (no ARP, DAD, router solicitation, link-local address or MLD report):
# tests count the packets on these links exactly.
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
    # Before the veths exist, so they inherit it from "default": addresses without DAD, no
    # router solicitations, no RAs taken, no link-local address (addr_gen_mode 1 = none).
    for c in all default; do
      in_ns "$ns" sysctl -qw net.ipv6.conf.$c.accept_dad=0 net.ipv6.conf.$c.dad_transmits=0 \
        net.ipv6.conf.$c.router_solicitations=0 net.ipv6.conf.$c.accept_ra=0 \
        net.ipv6.conf.$c.autoconf=0 net.ipv6.conf.$c.addr_gen_mode=1
    done
  done
  ip -n "$CLIENT" link add c0 type veth peer name dut0 netns "$DUT"
  ip -n "$SERVER" link add s0 type veth peer name dut1 netns "$DUT"
  # MLD: none of the sysctls above (nor force_mld_version or the unsolicited report intervals)
  # stops the reports of two groups the kernel joins by itself: the solicited-node group of each
  # address, joined when the address is added (but not on an IFF_NOARP device), and all-routers,
  # joined when forwarding is switched on (but not on a device without IFF_MULTICAST); both are
  # reported when the link comes up. So the addresses and the forwarding switch go in while the
  # links are down with both flags cleared, and the flags come back before the links go up
  # (clearing IFF_NOARP on a link that is up would restart DAD and join the groups after all).
  # Left: ff02::1 and ff01::1, never reported. The lab's addresses therefore answer no neighbour
  # solicitation; nothing sends one, as every neighbour is permanent.
  links=("$CLIENT:c0" "$DUT:dut0" "$DUT:dut1" "$SERVER:s0")
  for pair in "${links[@]}"; do
    ip -n "${pair%%:*}" link set "${pair#*:}" arp off multicast off
  done
  ip -n "$CLIENT" addr add 198.18.0.1/24 dev c0
  ip -n "$DUT" addr add 198.18.0.254/24 dev dut0
  ip -n "$DUT" addr add 198.18.1.254/24 dev dut1
  ip -n "$SERVER" addr add 198.18.1.1/24 dev s0
  ip -n "$CLIENT" addr add 2001:2::1/64 dev c0 nodad
  ip -n "$DUT" addr add 2001:2::fe/64 dev dut0 nodad
  ip -n "$DUT" addr add 2001:2:0:1::fe/64 dev dut1 nodad
  ip -n "$SERVER" addr add 2001:2:0:1::1/64 dev s0 nodad
  in_ns "$DUT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  for pair in "${links[@]}"; do
    ns=${pair%%:*} dev=${pair#*:}
    ip -n "$ns" link set "$dev" arp on multicast on
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
    # Checksums computed in software: packets that cross XDP/AF_XDP carry valid checksums,
    # so receivers can verify them (veth would otherwise leave them partial).
    in_ns "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1 || true
  done
  ip -n "$CLIENT" route add default via 198.18.0.254
  ip -n "$SERVER" route add default via 198.18.1.254
  ip -n "$CLIENT" -6 route add default via 2001:2::fe
  ip -n "$SERVER" -6 route add default via 2001:2:0:1::fe
  # Permanent neighbours: no ARP or neighbour discovery on the wire, so every packet a test
  # counts is its own.
  neigh "$CLIENT" c0 198.18.0.254 "$DUT" dut0
  neigh "$DUT" dut0 198.18.0.1 "$CLIENT" c0
  neigh "$DUT" dut1 198.18.1.1 "$SERVER" s0
  neigh "$SERVER" s0 198.18.1.254 "$DUT" dut1
  neigh "$CLIENT" c0 2001:2::fe "$DUT" dut0
  neigh "$DUT" dut0 2001:2::1 "$CLIENT" c0
  neigh "$DUT" dut1 2001:2:0:1::1 "$SERVER" s0
  neigh "$SERVER" s0 2001:2:0:1::fe "$DUT" dut1
  trap - ERR
  echo "lab $LAB: up ($CLIENT 198.18.0.1 2001:2::1 -> $DUT dut0/dut1 -> $SERVER 198.18.1.1 2001:2:0:1::1)"
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
