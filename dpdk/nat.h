/* nat.h - the packet rewrite of a REDIRECT rule: parse, NAT, TTL / hop limit, with incremental
 * IPv4 and TCP/UDP/ICMPv6 checksum updates (RFC 1624), for IPv4 and IPv6 frames and fragments. Plain C on a
 * byte buffer, no DPDK: the pipeline calls it on an mbuf's data, test/test_nat.c on hand-made
 * packets. */
#ifndef PCF_NAT_H
#define PCF_NAT_H

#include <stdbool.h>
#include <stdint.h>
#include "pcf_common.h"

enum pcf_rw_status {
	PCF_RW_OK = 0,
	PCF_RW_UNPARSED,     /* not an IPv4/IPv6 packet the worker can rewrite (see pcf_rewrite) */
	PCF_RW_TTL_EXPIRED,  /* TTL (hop limit) + ttl_delta <= 0: drop */
	PCF_RW_NAT6_MISSING, /* IPv6 with PCF_F_SNAT/DNAT, no pcf_nat6 entry at stats_slot: drop */
};

/* The worker's read-only view of the pinned pcf_nat6 (pins.c mmaps it): the IPv6 NAT
 * addresses of REDIRECT rules by stats_slot. entries NULL (n 0): the pin dir has none. */
struct pcf_nat6_table {
	const struct pcf_nat6 *entries;
	uint32_t n;       /* max_entries: a stats_slot at or beyond it has no entry */
};

struct pcf_rw_info {
	uint32_t l3_off;  /* offset of the IPv4/IPv6 header in the frame */
	uint8_t family;   /* PCF_FAMILY_IPV4 / PCF_FAMILY_IPV6 (set unless PCF_RW_UNPARSED) */
	bool nat;         /* an address or port was rewritten */
	bool frag_later;  /* later fragment (IPv4 or IPv6): no L4 header, addresses (and TTL /
			   * hop limit) only (see pcf_rewrite) */
	uint32_t dst_ip;  /* IPv4: destination after DNAT, network order: the default next hop */
	uint8_t dst_ip6[16]; /* IPv6: likewise */
};

/* Applies the action's NAT (PCF_F_SNAT/PCF_F_DNAT; a zero address or port keeps the packet's)
 * and then its ttl_delta to the frame in place.
 *
 * IPv4: Ethernet with at most two tags (802.1Q/802.1AD, any combination, as
 * xdp/pcf_parse.bpf.h), IPv4 (options allowed) with tot_len inside the frame; ports only for
 * TCP and UDP, whose header must lie inside tot_len. A UDP checksum of zero (none) stays zero.
 * The addresses come from the action. Fragments, as the XDP parser classifies them: a first
 * fragment (MF, offset 0) carries the L4 header with the checksum of the whole datagram and is
 * rewritten like a whole packet — the incremental update of the addresses and ports it
 * changes is right for the reassembled datagram. A later fragment (offset > 0; XDP redirects
 * it only for a rule without ports) has no L4 header: TTL and addresses are rewritten with the
 * IPv4 header checksum, nothing after the header is touched, ports are not translated
 * (info->frag_later). A rule's port translation therefore happens once, in the first
 * fragment; the datagram reassembles and verifies if every fragment got the same address
 * translation (a port-less rule takes them all).
 *
 * IPv6: Ethernet with at most two tags (as xdp/pcf_parse.bpf.h), the fixed header (no
 * jumbogram, payload_len inside the frame), then at most 6 extension headers (hop-by-hop,
 * routing, destination options, fragment, AH) inside payload_len, then TCP (20 bytes), UDP (8)
 * or ICMPv6 (4) inside the datagram; any other upper protocol has its addresses translated
 * and nothing else. The addresses come from nat6->entries[act->stats_slot] (an all-zero
 * address keeps the packet's), the ports from the action; with either NAT flag and no entry
 * at that slot (no map, or the slot beyond it) nothing is changed: PCF_RW_NAT6_MISSING.
 * TCP, UDP and ICMPv6 checksums cover the addresses (pseudo-header) and are updated for every
 * address and port change (but a routing header with segments left puts the final
 * destination, not the header's, in the pseudo-header: DNAT of the header's leaves them). UDP checksum 0 is invalid in IPv6: a computed 0 is sent as 0xffff;
 * a packet that arrives with 0 (RFC 6936 tunnels, or broken) keeps it. A first fragment is
 * rewritten like a whole packet (its L4 header and checksum are in it). A later fragment
 * (offset > 0) has no L4 header: its addresses are translated, its ports cannot be, and no
 * checksum is touched — the datagram's checksum, in the first fragment, is right after
 * reassembly only if the first fragment got the same address translation (info->frag_later).
 * The hop limit has no checksum.
 *
 * Both: the TTL / hop limit saturates at 255 when ttl_delta is positive. On
 * PCF_RW_TTL_EXPIRED the NAT has been applied and the TTL / hop limit is left as it was. */
enum pcf_rw_status pcf_rewrite(uint8_t *frame, uint32_t len, const struct pcf_flow_action *act,
			       const struct pcf_nat6_table *nat6, struct pcf_rw_info *info);

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), on 16-bit words as they sit in memory: one's
 * complement sums do not depend on byte order as long as every word is taken the same way. */
static inline uint16_t pcf_csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint16_t pcf_csum_replace16(uint16_t csum, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~csum;

	s += (uint16_t)~old;
	s += new_;
	return (uint16_t)~pcf_csum_fold(s);
}

static inline uint16_t pcf_csum_replace32(uint16_t csum, uint32_t old, uint32_t new_)
{
	csum = pcf_csum_replace16(csum, (uint16_t)(old >> 16), (uint16_t)(new_ >> 16));
	return pcf_csum_replace16(csum, (uint16_t)old, (uint16_t)new_);
}

#endif /* PCF_NAT_H */
