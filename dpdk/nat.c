/* nat.c - NAT and TTL / hop limit rewrite of one IPv4 or IPv6 frame with incremental checksum
 * updates (see nat.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "nat.h"

#define ETH_HLEN        14
#define VLAN_HLEN       4
#define IPV4_MIN_HLEN   20
#define TCP_MIN_HLEN    20
#define UDP_HLEN        8
#define TCP_CSUM_OFF    16
#define UDP_CSUM_OFF    6
#define MAX_VLAN        2      /* as PCF_PARSE_MAX_VLAN (xdp/pcf_parse.bpf.h) */
#define IP_OFFSET       0x1fff /* IPv4 frag_off: the offset (8-byte units); MF is 0x2000 */

#define IPV6_HLEN       40
#define IPV6_SRC_OFF    8
#define IPV6_DST_OFF    24
#define IPV6_MAX_EXT    6  /* as PCF_PARSE_MAX_EXT_HDRS */
#define EXT_MIN_HLEN    8  /* every extension header the chain may hold */
#define ICMPV6_MIN_HLEN 4  /* type, code, checksum */
#define ICMPV6_CSUM_OFF 2
#define FRAG_OFFSET     0xfff8 /* fragment header: offset (8-byte units) << 3 | M */

/* Next headers (the uapi names of some are missing from older libcs). */
#define NH_HOPOPTS  0
#define NH_ROUTING  43
#define NH_FRAGMENT 44
#define NH_AH       51
#define NH_ICMPV6   58
#define NH_DSTOPTS  60

/* The parts of one parsed packet that the rewrite touches. */
struct pkt {
	uint8_t *ip;
	uint8_t *l4;       /* NULL: no ports (not TCP/UDP, or a later fragment) */
	uint32_t l4_csum;  /* offset of the checksum in the L4 header */
	bool udp;
	bool later;        /* a later fragment (offset > 0) */
};

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void store32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static bool is_vlan(uint16_t proto)
{
	return proto == htons(0x8100) || proto == htons(0x88a8);
}

/* Ethernet and at most MAX_VLAN tags (802.1Q/802.1AD, any combination, as parse_l2() of
 * xdp/pcf_parse.bpf.h): the EtherType after them, network order, and its offset in *l3_off;
 * 0 when the frame ends inside a header. After a third tag it returns that tag's TPID:
 * neither IPv4 nor IPv6, refused as XDP refuses it (RSN_VLAN_DEPTH). */
static uint16_t parse_l2(const uint8_t *frame, uint32_t len, uint32_t *l3_off)
{
	uint32_t off = ETH_HLEN;
	uint16_t proto;
	int i;

	if (len < ETH_HLEN)
		return 0;
	proto = load16(frame + 12);
	for (i = 0; i < MAX_VLAN && is_vlan(proto); i++) {
		if (len < off + VLAN_HLEN)
			return 0;
		proto = load16(frame + off + 2);
		off += VLAN_HLEN;
	}
	*l3_off = off;
	return proto;
}

/* The same checks as parse_ipv4() of the XDP parser (xdp/pcf_parse.bpf.h), so a frame XDP
 * matched parses here too: a sane IPv4 header and tot_len inside the frame, then for a whole
 * packet or a first fragment (offset 0) a whole TCP or UDP header inside tot_len. A later
 * fragment (offset > 0) has no L4 header: the rest is fragment data, nothing is read. */
static int parse(uint8_t *frame, uint32_t len, uint32_t off, struct pkt *p)
{
	uint32_t ihl, tot;
	uint8_t *ip;

	if (len < off + IPV4_MIN_HLEN)
		return -1;
	ip = frame + off;
	ihl = (ip[0] & 0x0fu) * 4;
	tot = (uint32_t)ip[2] << 8 | ip[3];
	if ((ip[0] >> 4) != 4 || ihl < IPV4_MIN_HLEN || tot < ihl || off + tot > len)
		return -1;

	p->ip = ip;
	p->l4 = NULL;
	p->udp = false;
	p->later = (((uint32_t)ip[6] << 8 | ip[7]) & IP_OFFSET) != 0;
	if (p->later)
		return 0;
	if (ip[9] == IPPROTO_TCP) {
		if (tot < ihl + TCP_MIN_HLEN)
			return -1;
		p->l4 = ip + ihl;
		p->l4_csum = TCP_CSUM_OFF;
	} else if (ip[9] == IPPROTO_UDP) {
		if (tot < ihl + UDP_HLEN)
			return -1;
		p->l4 = ip + ihl;
		p->l4_csum = UDP_CSUM_OFF;
		p->udp = true;
	}
	return 0;
}

/* A TCP/UDP checksum covers the addresses (pseudo-header) and the ports. A UDP checksum of
 * zero means "none" and stays zero; a computed zero is sent as 0xffff (RFC 768). */
static void l4_csum_update32(struct pkt *p, uint32_t old, uint32_t new_)
{
	uint16_t c;

	if (!p->l4)
		return;
	c = load16(p->l4 + p->l4_csum);
	if (p->udp && c == 0)
		return;
	c = pcf_csum_replace32(c, old, new_);
	if (p->udp && c == 0)
		c = 0xffff;
	store16(p->l4 + p->l4_csum, c);
}

static void l4_csum_update16(struct pkt *p, uint16_t old, uint16_t new_)
{
	uint16_t c = load16(p->l4 + p->l4_csum);

	if (p->udp && c == 0)
		return;
	c = pcf_csum_replace16(c, old, new_);
	if (p->udp && c == 0)
		c = 0xffff;
	store16(p->l4 + p->l4_csum, c);
}

/* ip_off: 12 (source) or 16 (destination); port_off: 0 (source) or 2 (destination). */
static void nat_one(struct pkt *p, uint32_t ip_off, uint32_t addr, uint32_t port_off, uint16_t port)
{
	uint32_t old_addr;
	uint16_t old_port;

	if (addr) {
		old_addr = load32(p->ip + ip_off);
		store32(p->ip + ip_off, addr);
		store16(p->ip + 10, pcf_csum_replace32(load16(p->ip + 10), old_addr, addr));
		l4_csum_update32(p, old_addr, addr);
	}
	if (port && p->l4) {
		old_port = load16(p->l4 + port_off);
		store16(p->l4 + port_off, port);
		l4_csum_update16(p, old_port, port);
	}
}

/* ---- IPv6 ------------------------------------------------------------------------------ */

/* The parts of one parsed IPv6 packet that the rewrite touches. */
struct pkt6 {
	uint8_t *ip;
	uint8_t *ports;    /* NULL: no ports (not TCP/UDP, or a later fragment) */
	uint8_t *csum;     /* the L4 checksum over the pseudo-header; NULL: none to update */
	bool udp;
	bool later;        /* a later fragment */
	bool rh_pending;   /* a routing header with segments left: the pseudo-header's destination
			    * is the final one in it, not the header's (RFC 8200 8.1) */
};

static bool is_ext_hdr(uint8_t nh)
{
	return nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_DSTOPTS || nh == NH_FRAGMENT ||
	       nh == NH_AH;
}

/* The same checks as parse_ipv6() of the XDP parser, so a frame XDP matched parses here too:
 * version 6, no jumbogram, the payload inside the frame, at most IPV6_MAX_EXT extension
 * headers each inside the payload, and a whole TCP/UDP/ICMPv6 header inside the datagram
 * (a first fragment included). A later fragment ends the walk: the rest is fragment data. */
static int parse6(uint8_t *frame, uint32_t len, uint32_t off, struct pkt6 *p)
{
	uint32_t plen, ext = 0, hlen, l4len;
	uint8_t *ip = frame + off, *eh, *l4, next;
	int i;

	if (len < off + IPV6_HLEN || (ip[0] >> 4) != 6)
		return -1;
	plen = (uint32_t)ip[4] << 8 | ip[5];
	next = ip[6];
	if (plen == 0 && next == NH_HOPOPTS) /* a jumbogram (RFC 2675) */
		return -1;
	if (off + IPV6_HLEN + plen > len)
		return -1;

	p->ip = ip;
	p->ports = NULL;
	p->csum = NULL;
	p->udp = false;
	p->later = false;
	p->rh_pending = false;
	for (i = 0; is_ext_hdr(next); i++) {
		if (i == IPV6_MAX_EXT || ext + EXT_MIN_HLEN > plen)
			return -1;
		eh = ip + IPV6_HLEN + ext;
		if (next == NH_FRAGMENT) {
			if (((uint32_t)eh[2] << 8 | eh[3]) & FRAG_OFFSET) {
				p->later = true;
				return 0;
			}
			hlen = EXT_MIN_HLEN; /* offset 0: the first fragment, or an atomic one */
		} else if (next == NH_AH) {
			hlen = ((uint32_t)eh[1] + 2) * 4;
		} else {
			hlen = ((uint32_t)eh[1] + 1) * 8;
			if (next == NH_ROUTING && eh[3] != 0)
				p->rh_pending = true;
		}
		if (ext + hlen > plen)
			return -1;
		next = eh[0];
		ext += hlen;
	}

	l4 = ip + IPV6_HLEN + ext;
	l4len = plen - ext;
	if (next == IPPROTO_TCP) {
		if (l4len < TCP_MIN_HLEN)
			return -1;
		p->ports = l4;
		p->csum = l4 + TCP_CSUM_OFF;
	} else if (next == IPPROTO_UDP) {
		if (l4len < UDP_HLEN)
			return -1;
		p->ports = l4;
		p->csum = l4 + UDP_CSUM_OFF;
		p->udp = true;
	} else if (next == NH_ICMPV6) {
		if (l4len < ICMPV6_MIN_HLEN)
			return -1;
		p->csum = l4 + ICMPV6_CSUM_OFF;
	}
	return 0;
}

/* RFC 1624 eqn. 3 for a 128-bit field: eight 16-bit words at once. */
static uint16_t csum_replace128(uint16_t csum, const uint8_t *old, const uint8_t *new_)
{
	uint32_t s = (uint16_t)~csum;
	int i;

	for (i = 0; i < 16; i += 2) {
		s += (uint16_t)~load16(old + i);
		s += load16(new_ + i);
	}
	return (uint16_t)~pcf_csum_fold(s);
}

/* The UDP rules of IPv6 (RFC 8200 8.1): 0 is not "no checksum"; a computed 0 goes out as
 * 0xffff. A 0 that arrived is left alone (not produced here; the receiver decides). */
static void l4_csum6_store(struct pkt6 *p, uint16_t c)
{
	if (p->udp && c == 0)
		c = 0xffff;
	store16(p->csum, c);
}

static bool l4_csum6_skip(const struct pkt6 *p)
{
	return !p->csum || (p->udp && load16(p->csum) == 0);
}

/* addr_off: IPV6_SRC_OFF or IPV6_DST_OFF, addr NULL keeps the address; port_off: 0 (source)
 * or 2 (destination), port 0 keeps it. With a routing header still to be processed the
 * destination field is not in the pseudo-header: changing it leaves the checksum. */
static void nat6_one(struct pkt6 *p, uint32_t addr_off, const uint8_t *addr, uint32_t port_off,
		     uint16_t port)
{
	uint8_t old_addr[16];
	uint16_t old_port;

	if (addr) {
		memcpy(old_addr, p->ip + addr_off, sizeof(old_addr));
		memcpy(p->ip + addr_off, addr, sizeof(old_addr));
		if (!l4_csum6_skip(p) && !(addr_off == IPV6_DST_OFF && p->rh_pending))
			l4_csum6_store(p, csum_replace128(load16(p->csum), old_addr, addr));
	}
	if (port && p->ports) {
		old_port = load16(p->ports + port_off);
		store16(p->ports + port_off, port);
		if (!l4_csum6_skip(p))
			l4_csum6_store(p, pcf_csum_replace16(load16(p->csum), old_port, port));
	}
}

static bool all_zero(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, sizeof(zero)) == 0;
}

static enum pcf_rw_status rewrite6(uint8_t *frame, uint32_t len, const struct pcf_flow_action *act,
				   const struct pcf_nat6_table *nat6, struct pcf_rw_info *info)
{
	struct pcf_nat6 n;
	struct pkt6 p;
	int hl;

	if (parse6(frame, len, info->l3_off, &p))
		return PCF_RW_UNPARSED;
	info->family = PCF_FAMILY_IPV6;
	info->frag_later = p.later;
	info->nat = false;
	info->dst_ip = 0;

	if (act->flags & (PCF_F_SNAT | PCF_F_DNAT)) {
		/* One copy of the entry: the control plane may write it while we read. */
		if (!nat6 || !nat6->entries || act->stats_slot >= nat6->n) {
			memcpy(info->dst_ip6, p.ip + IPV6_DST_OFF, sizeof(info->dst_ip6));
			return PCF_RW_NAT6_MISSING;
		}
		memcpy(&n, &nat6->entries[act->stats_slot], sizeof(n));
		if ((act->flags & PCF_F_SNAT) && (!all_zero(n.snat_ip) || (act->snat_port && p.ports))) {
			nat6_one(&p, IPV6_SRC_OFF, all_zero(n.snat_ip) ? NULL : n.snat_ip, 0, act->snat_port);
			info->nat = true;
		}
		if ((act->flags & PCF_F_DNAT) && (!all_zero(n.dnat_ip) || (act->dnat_port && p.ports))) {
			nat6_one(&p, IPV6_DST_OFF, all_zero(n.dnat_ip) ? NULL : n.dnat_ip, 2, act->dnat_port);
			info->nat = true;
		}
	}
	memcpy(info->dst_ip6, p.ip + IPV6_DST_OFF, sizeof(info->dst_ip6));

	if (act->ttl_delta == 0)
		return PCF_RW_OK;
	hl = p.ip[7] + act->ttl_delta;
	if (hl <= 0)
		return PCF_RW_TTL_EXPIRED;
	p.ip[7] = (uint8_t)(hl > 255 ? 255 : hl); /* no header checksum in IPv6 */
	return PCF_RW_OK;
}

/* ---- both ------------------------------------------------------------------------------ */

enum pcf_rw_status pcf_rewrite(uint8_t *frame, uint32_t len, const struct pcf_flow_action *act,
			       const struct pcf_nat6_table *nat6, struct pcf_rw_info *info)
{
	uint16_t old_word, new_word, ethertype;
	struct pkt p;
	int ttl;

	ethertype = parse_l2(frame, len, &info->l3_off);
	if (ethertype == htons(0x86dd))
		return rewrite6(frame, len, act, nat6, info);
	if (ethertype != htons(0x0800) || parse(frame, len, info->l3_off, &p))
		return PCF_RW_UNPARSED;

	/* A later fragment has no ports (p.l4 NULL): a port translation is left to the first
	 * fragment, whose L4 checksum covers the whole datagram (nat.h). */
	info->family = PCF_FAMILY_IPV4;
	info->frag_later = p.later;
	info->nat = false;
	if ((act->flags & PCF_F_SNAT) && (act->snat_ip || (act->snat_port && p.l4))) {
		nat_one(&p, 12, act->snat_ip, 0, act->snat_port);
		info->nat = true;
	}
	if ((act->flags & PCF_F_DNAT) && (act->dnat_ip || (act->dnat_port && p.l4))) {
		nat_one(&p, 16, act->dnat_ip, 2, act->dnat_port);
		info->nat = true;
	}
	info->dst_ip = load32(p.ip + 16);

	if (act->ttl_delta == 0)
		return PCF_RW_OK;
	ttl = p.ip[8] + act->ttl_delta;
	if (ttl <= 0)
		return PCF_RW_TTL_EXPIRED;
	if (ttl > 255)
		ttl = 255;
	/* The TTL shares its checksum word with the protocol byte. */
	old_word = load16(p.ip + 8);
	p.ip[8] = (uint8_t)ttl;
	new_word = load16(p.ip + 8);
	store16(p.ip + 10, pcf_csum_replace16(load16(p.ip + 10), old_word, new_word));
	return PCF_RW_OK;
}
