/* nat.h - the packet rewrite of a REDIRECT rule: parse, NAT, TTL, with incremental IPv4 and
 * TCP/UDP checksum updates (RFC 1624). Plain C on a byte buffer, no DPDK: the pipeline calls
 * it on an mbuf's data, test/test_nat.c on hand-made packets. */
#ifndef PCF_NAT_H
#define PCF_NAT_H

#include <stdbool.h>
#include <stdint.h>
#include "pcf_common.h"

enum pcf_rw_status {
	PCF_RW_OK = 0,
	PCF_RW_UNPARSED,    /* not an IPv4 packet the worker can rewrite (see pcf_rewrite) */
	PCF_RW_TTL_EXPIRED, /* TTL + ttl_delta <= 0: drop */
};

struct pcf_rw_info {
	uint32_t l3_off;  /* offset of the IPv4 header in the frame */
	uint32_t dst_ip;  /* destination after DNAT, network order: the default next hop */
	bool nat;         /* an address or port was rewritten */
};

/* Applies the action's NAT (PCF_F_SNAT/PCF_F_DNAT; a zero address or port keeps the packet's)
 * and then its ttl_delta to the frame in place. Ethernet with at most one 802.1Q/802.1AD tag,
 * IPv4 (options allowed), not a fragment; ports only for TCP and UDP. A UDP checksum of zero
 * (none) stays zero. The TTL saturates at 255 when ttl_delta is positive. On
 * PCF_RW_TTL_EXPIRED the NAT has been applied and the TTL is left as it was. */
enum pcf_rw_status pcf_rewrite(uint8_t *frame, uint32_t len, const struct pcf_flow_action *act,
			       struct pcf_rw_info *info);

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
