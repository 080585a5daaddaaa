/* nat.c - NAT and TTL rewrite of one frame with incremental checksum updates (see nat.h). */
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

/* The parts of one parsed packet that the rewrite touches. */
struct pkt {
	uint8_t *ip;
	uint8_t *l4;       /* NULL: no ports (not TCP/UDP) */
	uint32_t l4_csum;  /* offset of the checksum in the L4 header */
	bool udp;
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

/* The same checks as the XDP parser (xdp/pcf_parse.bpf.h), so a frame XDP matched parses
 * here too: one VLAN tag at most, a sane IPv4 header inside the frame, no fragment, a whole
 * TCP or UDP header inside the datagram. */
static int parse(uint8_t *frame, uint32_t len, struct pkt *p, uint32_t *l3_off)
{
	uint32_t off = ETH_HLEN, ihl, tot;
	uint16_t proto;
	uint8_t *ip;

	if (len < ETH_HLEN)
		return -1;
	proto = load16(frame + 12);
	if (proto == htons(0x8100) || proto == htons(0x88a8)) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return -1;
		proto = load16(frame + 16);
		off += VLAN_HLEN;
	}
	if (proto != htons(0x0800) || len < off + IPV4_MIN_HLEN)
		return -1;

	ip = frame + off;
	ihl = (ip[0] & 0x0fu) * 4;
	tot = (uint32_t)ip[2] << 8 | ip[3];
	if ((ip[0] >> 4) != 4 || ihl < IPV4_MIN_HLEN || tot < ihl || off + tot > len)
		return -1;
	if ((((uint32_t)ip[6] << 8 | ip[7]) & 0x3fff) != 0) /* MF or an offset */
		return -1;

	p->ip = ip;
	p->l4 = NULL;
	p->udp = false;
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
	*l3_off = off;
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

enum pcf_rw_status pcf_rewrite(uint8_t *frame, uint32_t len, const struct pcf_flow_action *act,
			       struct pcf_rw_info *info)
{
	uint16_t old_word, new_word;
	struct pkt p;
	int ttl;

	if (parse(frame, len, &p, &info->l3_off))
		return PCF_RW_UNPARSED;

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
