/* test_nat.c - unit tests of the packet rewrite (dpdk/nat.c) on hand-made frames: NAT of
 * addresses and ports, TTL, checksums verified by recomputing them from scratch, the UDP
 * zero checksum, VLAN, IP options, what is refused, and random packets; IPv4 tags and
 * fragments (table-driven: up to two tags, first and later fragments of datagrams fragmented
 * and reassembled from scratch, TTL on fragments, random fragmentation); then the same for
 * IPv6 (table-driven: hop limit, NAT of addresses from a pcf_nat6 table and of ports for
 * UDP/TCP/ICMPv6, UDP 0 -> 0xffff, extension headers, fragments, what is refused, random).
 * No DPDK, no root. Exit 0 when all pass, 1 otherwise. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nat.h"

static int passed, failed;

#define CHECK(name, cond)                                                  \
	do {                                                               \
		if (cond) {                                                \
			passed++;                                          \
		} else {                                                   \
			failed++;                                          \
			printf("FAIL %s: %s (line %d)\n", name, #cond, __LINE__); \
		}                                                          \
	} while (0)

/* ---- building frames ---------------------------------------------------------------- */

struct spec {
	int vlan;          /* 0..3 tags: one is 802.1Q; two or more 802.1AD outer, 802.1Q inner */
	int vlan_8100;     /* every tag 802.1Q (two 0x8100: double tagging without 802.1AD) */
	int opt_words;     /* IPv4 option words (ihl = 5 + opt_words) */
	uint8_t proto;     /* 6, 17, 1 */
	uint8_t ttl;
	uint16_t frag;     /* flags + offset, host order */
	uint32_t src, dst; /* host order */
	uint16_t sport, dport;
	int payload;
	int udp_no_csum;
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sum of the pseudo-header and the L4 segment, host order; 0xffff when the checksum in it is right. */
static uint16_t l4_sum(const uint8_t *ip)
{
	uint32_t ihl = (ip[0] & 15) * 4, tot = (uint32_t)ip[2] << 8 | ip[3], l4len = tot - ihl;
	uint32_t s = sum16(ip + 12, 8, 0);

	s += ip[9];
	s += l4len;
	return fold(sum16(ip + ihl, l4len, s));
}

static int ip_ok(const uint8_t *ip)
{
	return fold(sum16(ip, (ip[0] & 15) * 4, 0)) == 0xffff;
}

static int l4_ok(const uint8_t *ip)
{
	uint32_t ihl = (ip[0] & 15) * 4;

	if (ip[9] == IPPROTO_UDP && ip[ihl + 6] == 0 && ip[ihl + 7] == 0)
		return 1; /* no checksum */
	return l4_sum(ip) == 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 255;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Writes the frame into buf, returns its length and the offset of the IPv4 header. */
static uint32_t build(uint8_t *buf, const struct spec *s, uint32_t *l3)
{
	uint32_t off = 14, ihl = 20 + 4 * s->opt_words, l4len, tot;
	uint8_t *ip, *l4;

	memset(buf, 0, 2048);
	memcpy(buf, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	for (int i = 0; i < s->vlan; i++) {
		put16(buf + 12 + 4 * i, i == 0 && s->vlan > 1 && !s->vlan_8100 ? 0x88a8 : 0x8100);
		put16(buf + 14 + 4 * i, (uint16_t)(42 + i));
		off += 4;
	}
	put16(buf + off - 2, 0x0800);
	ip = buf + off;
	l4len = (s->proto == IPPROTO_TCP ? 20 : 8) + s->payload;
	tot = ihl + l4len;
	ip[0] = 0x40 | (ihl / 4);
	put16(ip + 2, tot);
	put16(ip + 4, 0x1234);
	put16(ip + 6, s->frag);
	ip[8] = s->ttl;
	ip[9] = s->proto;
	put32(ip + 12, s->src);
	put32(ip + 16, s->dst);
	for (int i = 20; i < (int)ihl; i++)
		ip[i] = 1; /* NOP options */
	l4 = ip + ihl;
	for (int i = 0; i < s->payload; i++)
		l4[l4len - s->payload + i] = (uint8_t)(i * 7 + 3);
	if (s->proto == IPPROTO_TCP) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		l4[12] = 5 << 4;
		put16(l4 + 16, (uint16_t)~l4_sum(ip));
	} else if (s->proto == IPPROTO_UDP) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, l4len);
		if (!s->udp_no_csum) {
			uint16_t c = (uint16_t)~l4_sum(ip);

			put16(l4 + 6, c ? c : 0xffff);
		}
	} else { /* ICMP echo: its checksum covers only the ICMP message */
		l4[0] = 8;
		put16(l4 + 2, (uint16_t)~fold(sum16(l4, l4len, 0)));
	}
	put16(ip + 10, (uint16_t)~fold(sum16(ip, ihl, 0)));
	*l3 = off;
	return off + tot;
}

static struct pcf_flow_action action(uint8_t flags, int ttl_delta, uint32_t snat_ip, uint16_t snat_port,
				     uint32_t dnat_ip, uint16_t dnat_port)
{
	struct pcf_flow_action a = {
		.rule_id = 1, .type = PCF_ACT_REDIRECT, .ttl_delta = (int8_t)ttl_delta, .flags = flags,
		.queue_id = PCF_QUEUE_ANY, .snat_ip = htonl(snat_ip), .dnat_ip = htonl(dnat_ip),
		.snat_port = htons(snat_port), .dnat_port = htons(dnat_port),
	};
	return a;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static const struct spec UDP_SPEC = {
	.proto = IPPROTO_UDP, .ttl = 64, .src = IP(198, 18, 0, 1), .dst = IP(198, 18, 1, 1),
	.sport = 5000, .dport = 7000, .payload = 7,
};

/* ---- cases ------------------------------------------------------------------------------- */

static void test_udp_dnat_ttl(void)
{
	uint8_t f[2048];
	uint32_t l3, len = build(f, &UDP_SPEC, &l3);
	struct pcf_flow_action a = action(PCF_F_DNAT, -5, 0, 0, IP(198, 18, 1, 1), 7001);
	struct pcf_rw_info info;
	const uint8_t *ip = f + l3;

	CHECK("udp dnat: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("udp dnat: nat", info.nat);
	CHECK("udp dnat: l3_off", info.l3_off == 14);
	CHECK("udp dnat: dst_ip", info.dst_ip == htonl(IP(198, 18, 1, 1)));
	CHECK("udp dnat: dport", get16(ip + 22) == 7001);
	CHECK("udp dnat: sport kept", get16(ip + 20) == 5000);
	CHECK("udp dnat: ttl", ip[8] == 59);
	CHECK("udp dnat: ip csum", ip_ok(ip));
	CHECK("udp dnat: udp csum", l4_ok(ip) && get16(ip + 26) != 0);
}

static void test_udp_snat_both(void)
{
	uint8_t f[2048];
	uint32_t l3, len = build(f, &UDP_SPEC, &l3);
	struct pcf_flow_action a = action(PCF_F_SNAT | PCF_F_DNAT, 0, IP(198, 18, 1, 254), 40000,
					  IP(198, 18, 1, 9), 0);
	struct pcf_rw_info info;
	const uint8_t *ip = f + l3;

	CHECK("snat+dnat: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("snat+dnat: src", get32(ip + 12) == IP(198, 18, 1, 254));
	CHECK("snat+dnat: sport", get16(ip + 20) == 40000);
	CHECK("snat+dnat: dst", get32(ip + 16) == IP(198, 18, 1, 9));
	CHECK("snat+dnat: dport kept (0)", get16(ip + 22) == 7000);
	CHECK("snat+dnat: ttl kept (0)", ip[8] == 64);
	CHECK("snat+dnat: ip csum", ip_ok(ip));
	CHECK("snat+dnat: udp csum", l4_ok(ip));
}

static void test_udp_zero_csum(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_SNAT | PCF_F_DNAT, -1, IP(10, 0, 0, 1), 1,
					  IP(198, 18, 1, 7), 9);
	struct pcf_rw_info info;

	s.udp_no_csum = 1;
	len = build(f, &s, &l3);
	CHECK("udp zero csum: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("udp zero csum: stays zero", get16(f + l3 + 26) == 0);
	CHECK("udp zero csum: ip csum", ip_ok(f + l3));
}

static void test_tcp(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_SNAT | PCF_F_DNAT, -3, IP(198, 18, 1, 254), 61000,
					  IP(198, 18, 1, 2), 8080);
	struct pcf_rw_info info;
	const uint8_t *ip;

	s.proto = IPPROTO_TCP;
	s.payload = 100;
	len = build(f, &s, &l3);
	ip = f + l3;
	CHECK("tcp: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("tcp: ports", get16(ip + 20) == 61000 && get16(ip + 22) == 8080);
	CHECK("tcp: ttl", ip[8] == 61);
	CHECK("tcp: ip csum", ip_ok(ip));
	CHECK("tcp: tcp csum", l4_ok(ip));
}

static void test_ttl(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(0, -5, 0, 0, 0, 0);
	struct pcf_rw_info info;

	s.ttl = 5;
	len = build(f, &s, &l3);
	CHECK("ttl 5-5: expired", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_TTL_EXPIRED);
	CHECK("ttl 5-5: ttl untouched", f[l3 + 8] == 5 && ip_ok(f + l3));

	s.ttl = 6;
	len = build(f, &s, &l3);
	CHECK("ttl 6-5: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("ttl 6-5: 1", f[l3 + 8] == 1 && ip_ok(f + l3));
	CHECK("ttl 6-5: no nat", !info.nat);

	s.ttl = 250;
	len = build(f, &s, &l3);
	a = action(0, 10, 0, 0, 0, 0);
	CHECK("ttl 250+10: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("ttl 250+10: saturates", f[l3 + 8] == 255 && ip_ok(f + l3));

	s.ttl = 1;
	len = build(f, &s, &l3);
	a = action(0, -128, 0, 0, 0, 0);
	CHECK("ttl 1-128: expired", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_TTL_EXPIRED);
}

static void test_vlan_and_options(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_DNAT, -1, 0, 0, IP(198, 18, 1, 3), 7001);
	struct pcf_rw_info info;

	s.vlan = 1;
	len = build(f, &s, &l3);
	CHECK("vlan: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("vlan: l3_off", info.l3_off == 18);
	CHECK("vlan: csums", ip_ok(f + l3) && l4_ok(f + l3));
	CHECK("vlan: dst", get32(f + l3 + 16) == IP(198, 18, 1, 3));

	s.vlan = 0;
	s.opt_words = 3;
	len = build(f, &s, &l3);
	CHECK("ip options: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("ip options: dport", get16(f + l3 + 32 + 2) == 7001);
	CHECK("ip options: csums", ip_ok(f + l3) && l4_ok(f + l3));
}

static void test_icmp(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_DNAT, 0, 0, 0, IP(198, 18, 1, 5), 7001);
	struct pcf_rw_info info;
	uint8_t icmp_before[16];

	s.proto = IPPROTO_ICMP;
	len = build(f, &s, &l3);
	memcpy(icmp_before, f + l3 + 20, sizeof(icmp_before));
	CHECK("icmp: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("icmp: dst", get32(f + l3 + 16) == IP(198, 18, 1, 5));
	CHECK("icmp: message untouched (no ports)", !memcmp(icmp_before, f + l3 + 20, sizeof(icmp_before)));
	CHECK("icmp: ip csum", ip_ok(f + l3));

	/* A port-only DNAT means nothing for ICMP: no rewrite, no nat count. */
	a = action(PCF_F_DNAT, 0, 0, 0, 0, 7001);
	len = build(f, &s, &l3);
	CHECK("icmp port-only: ok", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);
	CHECK("icmp port-only: no nat", !info.nat);
}

static void test_refused(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_DNAT, -1, 0, 0, IP(1, 2, 3, 4), 1);
	struct pcf_rw_info info;

	/* Fragments were refused before the XDP parser classified them; now they are rewritten
	 * (CASES4 and test4_fragments below). */
	s.frag = 0x2000; /* MF */
	len = build(f, &s, &l3);
	CHECK("fragment (MF): a first fragment, rewritten",
	      pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK && !info.frag_later);
	s.frag = 0x0010; /* offset */
	len = build(f, &s, &l3);
	CHECK("fragment (offset): a later fragment, rewritten",
	      pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK && info.frag_later);
	s.frag = 0x4000; /* DF alone is fine */
	len = build(f, &s, &l3);
	CHECK("DF", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_OK);

	s.frag = 0;
	len = build(f, &s, &l3);
	CHECK("truncated frame", pcf_rewrite(f, len - 1, &a, NULL, &info) == PCF_RW_UNPARSED);
	CHECK("ethernet only", pcf_rewrite(f, 14, &a, NULL, &info) == PCF_RW_UNPARSED);
	put16(f + 12, 0x0806);
	CHECK("ARP", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	f[l3] = 0x45 ^ 0x70; /* version 3 */
	CHECK("ip version", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	f[l3] = 0x44; /* ihl 4 */
	CHECK("ihl < 5", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	put16(f + l3 + 2, 24); /* tot_len cuts the UDP header */
	CHECK("udp header outside tot_len", pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_UNPARSED);
}

/* Random addresses, ports, TTLs, payloads and NAT values: the checksums always verify, and
 * what was asked for is what the packet carries. */
static void test_random(void)
{
	int bad_csum = 0, bad_field = 0, runs = 20000;

	srand(1624);
	for (int i = 0; i < runs; i++) {
		struct spec s = {
			.vlan = rand() % 3, .vlan_8100 = rand() & 1, .opt_words = rand() % 3,
			.proto = (rand() & 1) ? IPPROTO_TCP : IPPROTO_UDP,
			.ttl = (uint8_t)(rand() % 255 + 1), .src = (uint32_t)rand() * 2654435761u,
			.dst = (uint32_t)rand() * 40503u, .sport = (uint16_t)rand(), .dport = (uint16_t)rand(),
			.payload = rand() % 64, .udp_no_csum = (rand() % 8) == 0,
		};
		uint32_t sip = (rand() & 1) ? (uint32_t)rand() * 7919u : 0, dip = (rand() & 1) ? (uint32_t)rand() : 0;
		uint16_t sp = (uint16_t)((rand() & 1) ? rand() : 0), dp = (uint16_t)((rand() & 1) ? rand() : 0);
		uint8_t flags = (uint8_t)(rand() & (PCF_F_SNAT | PCF_F_DNAT));
		struct pcf_flow_action a = action(flags, 0, sip, sp, dip, dp);
		struct pcf_rw_info info;
		uint8_t f[2048], *ip;
		uint32_t l3, len, ihl;
		int udp_zero;

		a.ttl_delta = (int8_t)(rand() % 256 - 128);
		len = build(f, &s, &l3);
		ip = f + l3;
		ihl = (ip[0] & 15) * 4;
		udp_zero = s.proto == IPPROTO_UDP && get16(ip + ihl + 6) == 0;
		if (pcf_rewrite(f, len, &a, NULL, &info) == PCF_RW_TTL_EXPIRED) {
			if (s.ttl + a.ttl_delta > 0)
				bad_field++;
			continue;
		}
		if (!ip_ok(ip) || !l4_ok(ip))
			bad_csum++;
		if (udp_zero && get16(ip + ihl + 6) != 0)
			bad_csum++;
		if (((flags & PCF_F_SNAT) && sip && get32(ip + 12) != sip) ||
		    ((flags & PCF_F_DNAT) && dip && get32(ip + 16) != dip) ||
		    ((flags & PCF_F_SNAT) && sp && get16(ip + ihl) != sp) ||
		    ((flags & PCF_F_DNAT) && dp && get16(ip + ihl + 2) != dp) ||
		    (a.ttl_delta && ip[8] != (s.ttl + a.ttl_delta > 255 ? 255 : s.ttl + a.ttl_delta)))
			bad_field++;
	}
	CHECK("random: checksums verify", bad_csum == 0);
	CHECK("random: fields as asked", bad_field == 0);
}

/* ---- IPv4: tags and fragments (table-driven) ---------------------------------------------- */

#define FRAME_MAX 2048
#define MAX_FRAGS 128

/* Splits the whole packet f (built by build(), IPv4 header at l3) into fragments as a sender
 * does (RFC 791): each has the L2 header and the IPv4 header (options kept, as Linux keeps the
 * header length and NOPs the options it does not copy), chunk bytes of the L4 part (a multiple
 * of 8; the last one the rest), its offset, MF on all but the last, DF clear, tot_len and the
 * header checksum computed from scratch. Returns the number of fragments, lengths in lens. */
static int fragment(const uint8_t *f, uint32_t l3, uint32_t chunk, uint8_t out[][FRAME_MAX], uint32_t *lens)
{
	const uint8_t *ip = f + l3;
	uint32_t ihl = (ip[0] & 15) * 4, l4len = get16(ip + 2) - ihl;
	int n = 0;

	for (uint32_t o = 0; o < l4len && n < MAX_FRAGS; o += chunk, n++) {
		uint32_t k = l4len - o < chunk ? l4len - o : chunk;
		uint8_t *q = out[n] + l3;

		memset(out[n], 0, FRAME_MAX);
		memcpy(out[n], f, l3 + ihl);
		memcpy(q + ihl, ip + ihl + o, k);
		put16(q + 2, (uint16_t)(ihl + k));
		put16(q + 6, (uint16_t)((o + k < l4len ? 0x2000 : 0) | o / 8));
		put16(q + 10, 0);
		put16(q + 10, (uint16_t)~fold(sum16(q, ihl, 0)));
		lens[n] = l3 + ihl + k;
	}
	return n;
}

/* Reassembles n fragments (IPv4 header at l3 in each) as a receiver does, from scratch: every
 * header checksum must verify and every reassembly key (source, destination, id, protocol)
 * be the same, the offsets must tile the datagram from 0 up to the fragment without MF, and
 * each fragment used once. The L4 bytes go to dg; returns their length, or -1 when the
 * fragments would not reassemble. *first: the header of the fragment at offset 0 (the
 * reassembled datagram's). A whole packet is one fragment. */
static int reassemble(uint8_t fr[][FRAME_MAX], uint32_t l3, int n, uint8_t *dg, const uint8_t **first)
{
	uint32_t total = 0;
	int used = 0;
	bool more = true;

	*first = NULL;
	while (more) {
		const uint8_t *q = NULL;
		uint32_t ihl, k;

		for (int i = 0; i < n && !q; i++)
			if ((get16(fr[i] + l3 + 6) & 0x1fff) * 8u == total)
				q = fr[i] + l3;
		if (!q || !ip_ok(q))
			return -1;
		if (!*first)
			*first = q;
		else if (memcmp(q + 12, *first + 12, 8) || get16(q + 4) != get16(*first + 4) || q[9] != (*first)[9])
			return -1;
		ihl = (q[0] & 15) * 4;
		k = get16(q + 2) - ihl;
		memcpy(dg + total, q + ihl, k);
		total += k;
		used++;
		more = get16(q + 6) & 0x2000;
	}
	return used == n ? (int)total : -1;
}

/* The reassembled datagram's L4 checksum verifies from scratch: TCP and UDP over the
 * pseudo-header of ip (the datagram's header) and all len bytes, ICMP over its message; a
 * UDP checksum of 0 is none. */
static int dg_l4_ok(const uint8_t *ip, const uint8_t *dg, uint32_t len)
{
	uint32_t s;

	if (ip[9] == IPPROTO_ICMP)
		return fold(sum16(dg, len, 0)) == 0xffff;
	if (ip[9] == IPPROTO_UDP && get16(dg + 6) == 0)
		return 1;
	s = sum16(ip + 12, 8, 0) + ip[9] + len;
	return fold(sum16(dg, len, s)) == 0xffff;
}

/* One table-driven case: a packet (whole, or one fragment of it), the rule, what comes out. */
struct case4 {
	const char *name;
	struct spec s;
	int chunk;                 /* 0: the whole packet; else fragmented, chunk L4 bytes each */
	int piece;                 /* the fragment checked: 0 the first, 1.. later ones */
	int pad;                   /* Ethernet padding after its datagram (zeros) */
	int tot_delta;             /* added to its tot_len (bad lengths) */
	uint8_t flags;
	int ttl_delta;
	uint32_t snat_ip;          /* host order */
	uint16_t snat_port;
	uint32_t dnat_ip;
	uint16_t dnat_port;
	enum pcf_rw_status want;
	uint32_t want_src, want_dst;     /* 0: as sent */
	uint16_t want_sport, want_dport; /* 0: as sent (checked in the reassembled datagram) */
	int want_ttl;                    /* 0: as sent (a TTL of 0 never comes out) */
	int want_nat;
};

/* The case macros give defaults that a case may override (a later designated initializer
 * wins, C11 6.7.9): intended here. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define C4 IP(198, 18, 0, 1)
#define S4 IP(198, 18, 1, 1)
#define X4 IP(198, 18, 0, 77)  /* SNAT */
#define V4 IP(198, 18, 1, 2)   /* DNAT */
/* 208 L4 bytes: in fragments of 64, four (64, 64, 64, 16; offsets 0, 8, 16, 24) */
#define UDP4(...) { .proto = IPPROTO_UDP, .ttl = 64, .src = C4, .dst = S4, .sport = 5000, \
		    .dport = 7000, .payload = 200, __VA_ARGS__ }
#define TCP4(...) { .proto = IPPROTO_TCP, .ttl = 64, .src = C4, .dst = S4, .sport = 30001, \
		    .dport = 8080, .payload = 200, __VA_ARGS__ }
#define ICMP4(...) { .proto = IPPROTO_ICMP, .ttl = 64, .src = C4, .dst = S4, .payload = 200, __VA_ARGS__ }
#define SN PCF_F_SNAT
#define DN PCF_F_DNAT
#define SD (PCF_F_SNAT | PCF_F_DNAT)

static const struct case4 CASES4[] = {
	/* L2: up to two tags, as the XDP parser */
	{ "one tag (802.1q)", UDP4(.vlan = 1), .flags = DN, .ttl_delta = -1, .dnat_ip = V4,
	  .dnat_port = 7001, .want_dst = V4, .want_dport = 7001, .want_ttl = 63, .want_nat = 1 },
	{ "two tags (802.1ad + 802.1q): udp dnat + ttl", UDP4(.vlan = 2), .flags = DN, .ttl_delta = -1,
	  .dnat_ip = V4, .dnat_port = 7001, .want_dst = V4, .want_dport = 7001, .want_ttl = 63,
	  .want_nat = 1 },
	{ "two tags (802.1q + 802.1q): tcp snat + ttl", TCP4(.vlan = 2, .vlan_8100 = 1), .flags = SN,
	  .ttl_delta = -2, .snat_ip = X4, .snat_port = 61000, .want_src = X4, .want_sport = 61000,
	  .want_ttl = 62, .want_nat = 1 },
	{ "two tags and ip options: icmp snat + dnat", ICMP4(.vlan = 2, .opt_words = 2), .flags = SD,
	  .snat_ip = X4, .dnat_ip = V4, .want_src = X4, .want_dst = V4, .want_nat = 1 },
	{ "three tags: refused (XDP: RSN_VLAN_DEPTH)", UDP4(.vlan = 3), .flags = DN, .ttl_delta = -1,
	  .dnat_ip = V4, .want = PCF_RW_UNPARSED },
	{ "three 802.1q tags: refused", UDP4(.vlan = 3, .vlan_8100 = 1), .ttl_delta = -1,
	  .want = PCF_RW_UNPARSED },

	/* First fragments: rewritten like a whole packet; the L4 checksum is the datagram's */
	{ "first fragment: udp snat + dnat of addresses and ports, ttl", UDP4(), .chunk = 64,
	  .flags = SD, .ttl_delta = -2, .snat_ip = X4, .snat_port = 40000, .dnat_ip = V4,
	  .dnat_port = 7001, .want_src = X4, .want_dst = V4, .want_sport = 40000, .want_dport = 7001,
	  .want_ttl = 62, .want_nat = 1 },
	{ "first fragment behind two tags (802.1ad + 802.1q): udp dnat", UDP4(.vlan = 2), .chunk = 64,
	  .flags = DN, .ttl_delta = -1, .dnat_ip = V4, .dnat_port = 7001, .want_dst = V4,
	  .want_dport = 7001, .want_ttl = 63, .want_nat = 1 },
	{ "first fragment: tcp snat + dnat", TCP4(), .chunk = 48, .flags = SD, .ttl_delta = -1,
	  .snat_ip = X4, .snat_port = 61000, .dnat_ip = V4, .dnat_port = 9090, .want_src = X4,
	  .want_dst = V4, .want_sport = 61000, .want_dport = 9090, .want_ttl = 63, .want_nat = 1 },
	{ "first fragment: udp checksum 0 stays 0", UDP4(.udp_no_csum = 1), .chunk = 64, .flags = SD,
	  .ttl_delta = -1, .snat_ip = X4, .snat_port = 1, .dnat_ip = V4, .dnat_port = 2, .want_src = X4,
	  .want_dst = V4, .want_sport = 1, .want_dport = 2, .want_ttl = 63, .want_nat = 1 },
	{ "first fragment: port-only dnat", UDP4(), .chunk = 64, .flags = DN, .dnat_port = 7002,
	  .want_dport = 7002, .want_nat = 1 },
	{ "first fragment with ip options: udp snat", UDP4(.opt_words = 3), .chunk = 64, .flags = SN,
	  .ttl_delta = -1, .snat_ip = X4, .want_src = X4, .want_ttl = 63, .want_nat = 1 },
	{ "first fragment of 8 bytes (the udp header alone): dnat port", UDP4(), .chunk = 8,
	  .flags = DN, .dnat_ip = V4, .dnat_port = 7001, .want_dst = V4, .want_dport = 7001,
	  .want_nat = 1 },
	{ "first fragment: icmp dnat (its checksum has no pseudo-header)", ICMP4(), .chunk = 64,
	  .flags = DN, .ttl_delta = -1, .dnat_ip = V4, .want_dst = V4, .want_ttl = 63, .want_nat = 1 },

	/* Later fragments: TTL and addresses with the header checksum; no L4 header, no ports */
	{ "later fragment (middle, MF): snat + dnat addresses, ttl; ports are the first's",
	  UDP4(), .chunk = 64, .piece = 1, .flags = SD, .ttl_delta = -2, .snat_ip = X4,
	  .snat_port = 40000, .dnat_ip = V4, .dnat_port = 7001, .want_src = X4, .want_dst = V4,
	  .want_sport = 40000, .want_dport = 7001, .want_ttl = 62, .want_nat = 1 },
	{ "last fragment (no MF): snat + dnat addresses, ttl", UDP4(), .chunk = 64, .piece = 3,
	  .flags = SD, .ttl_delta = -2, .snat_ip = X4, .snat_port = 40000, .dnat_ip = V4,
	  .dnat_port = 7001, .want_src = X4, .want_dst = V4, .want_sport = 40000, .want_dport = 7001,
	  .want_ttl = 62, .want_nat = 1 },
	{ "later fragment behind two tags (802.1q + 802.1q): snat address",
	  UDP4(.vlan = 2, .vlan_8100 = 1), .chunk = 64, .piece = 2, .flags = SN, .ttl_delta = -1,
	  .snat_ip = X4, .want_src = X4, .want_ttl = 63, .want_nat = 1 },
	{ "later fragment behind two tags (802.1ad + 802.1q): dnat address", UDP4(.vlan = 2),
	  .chunk = 64, .piece = 1, .flags = DN, .dnat_ip = V4, .want_dst = V4, .want_nat = 1 },
	{ "later fragment with ip options: dnat address", UDP4(.opt_words = 3), .chunk = 64,
	  .piece = 1, .flags = DN, .ttl_delta = -1, .dnat_ip = V4, .want_dst = V4, .want_ttl = 63,
	  .want_nat = 1 },
	{ "later fragment, port-only nat: nothing to translate (not counted nat); the first's ports",
	  UDP4(), .chunk = 64, .piece = 2, .flags = SD, .ttl_delta = -1, .snat_port = 40000,
	  .dnat_port = 7001, .want_sport = 40000, .want_dport = 7001, .want_ttl = 63 },
	{ "later fragment of tcp: snat + dnat addresses", TCP4(), .chunk = 48, .piece = 1,
	  .flags = SD, .ttl_delta = -1, .snat_ip = X4, .snat_port = 61000, .dnat_ip = V4,
	  .dnat_port = 9090, .want_src = X4, .want_dst = V4, .want_sport = 61000, .want_dport = 9090,
	  .want_ttl = 63, .want_nat = 1 },
	{ "later fragment of icmp: snat address", ICMP4(), .chunk = 64, .piece = 2, .flags = SN,
	  .snat_ip = X4, .want_src = X4, .want_nat = 1 },
	{ "later fragment of a udp datagram without checksum", UDP4(.udp_no_csum = 1), .chunk = 64,
	  .piece = 1, .flags = SD, .snat_ip = X4, .dnat_ip = V4, .want_src = X4, .want_dst = V4,
	  .want_nat = 1 },
	{ "last fragment with ethernet padding after it: untouched", UDP4(), .chunk = 64, .piece = 3,
	  .pad = 20, .flags = DN, .ttl_delta = -1, .dnat_ip = V4, .want_dst = V4, .want_ttl = 63,
	  .want_nat = 1 },

	/* TTL on fragments: each fragment carries its own, with its own header checksum */
	{ "first fragment ttl 64-2", UDP4(), .chunk = 64, .ttl_delta = -2, .want_ttl = 62 },
	{ "later fragment ttl 64-2", UDP4(), .chunk = 64, .piece = 1, .ttl_delta = -2, .want_ttl = 62 },
	{ "first fragment ttl 2-2 expires", UDP4(.ttl = 2), .chunk = 64, .ttl_delta = -2,
	  .want = PCF_RW_TTL_EXPIRED },
	{ "later fragment ttl 1-1 expires (nat applied, ttl kept)", UDP4(.ttl = 1), .chunk = 64,
	  .piece = 1, .flags = DN, .ttl_delta = -1, .dnat_ip = V4, .want = PCF_RW_TTL_EXPIRED,
	  .want_dst = V4, .want_nat = 1 },
	{ "later fragment ttl 250+10 saturates", UDP4(.ttl = 250), .chunk = 64, .piece = 2,
	  .ttl_delta = 10, .want_ttl = 255 },
	{ "later fragment ttl delta 0: untouched", UDP4(), .chunk = 64, .piece = 1 },

	/* refused: what the XDP parser does not classify either */
	{ "later fragment: tot_len beyond the frame (RSN_TRUNC_IP)", UDP4(), .chunk = 64, .piece = 1,
	  .tot_delta = 1, .ttl_delta = -1, .want = PCF_RW_UNPARSED },
	{ "later fragment: tot_len below the header (RSN_BAD_IP_HDR)", UDP4(), .chunk = 64,
	  .piece = 1, .tot_delta = -70, .ttl_delta = -1, .want = PCF_RW_UNPARSED },
	{ "first fragment of 8 bytes cuts the tcp header (RSN_TRUNC_L4)", TCP4(), .chunk = 8,
	  .flags = DN, .dnat_ip = V4, .want = PCF_RW_UNPARSED },
};

/* Builds the case's datagram, fragments it (or not), rewrites the fragment it names and
 * checks it; then rewrites the other fragments with the same rule (XDP redirects them all for
 * a port-less rule) and reassembles them from scratch: the datagram must reassemble, its
 * L4 checksum verify and its ports be the translated ones. */
static void run4(const struct case4 *c)
{
	static uint8_t fr[MAX_FRAGS][FRAME_MAX], whole[FRAME_MAX], before[FRAME_MAX], dg[65536];
	struct pcf_flow_action a = action(c->flags, c->ttl_delta, c->snat_ip, c->snat_port, c->dnat_ip,
					  c->dnat_port);
	uint32_t lens[MAX_FRAGS], l3, ihl, len, want_src, want_dst;
	const uint8_t *ip, *first;
	bool later = c->piece > 0, ports = c->s.proto == IPPROTO_TCP || c->s.proto == IPPROTO_UDP;
	struct pcf_rw_info info;
	enum pcf_rw_status rw;
	int n = 1, dglen;
	uint8_t *f;
	char nm[200];

#define CK(what, cond) do { snprintf(nm, sizeof(nm), "ipv4 %s: %s", c->name, what); CHECK(nm, cond); } while (0)
	lens[0] = build(whole, &c->s, &l3);
	if (c->chunk)
		n = fragment(whole, l3, (uint32_t)c->chunk, fr, lens);
	else
		memcpy(fr[0], whole, FRAME_MAX);
	f = fr[c->piece];
	ip = f + l3;
	ihl = (ip[0] & 15) * 4;
	len = lens[c->piece] + (uint32_t)c->pad;
	if (c->tot_delta)
		put16(f + l3 + 2, (uint16_t)(get16(ip + 2) + c->tot_delta));
	memcpy(before, f, FRAME_MAX);

	rw = pcf_rewrite(f, len, &a, NULL, &info);
	CK("status", rw == c->want);
	if (rw != c->want)
		printf("     status %d, want %d\n", rw, c->want);
	if (c->want == PCF_RW_UNPARSED) {
		CK("frame untouched", !memcmp(before, f, len));
		return;
	}
	want_src = c->want_src ? c->want_src : c->s.src;
	want_dst = c->want_dst ? c->want_dst : c->s.dst;
	CK("family, l3_off", info.family == PCF_FAMILY_IPV4 && info.l3_off == l3);
	CK("frag_later", info.frag_later == later);
	CK("src", get32(ip + 12) == want_src);
	CK("dst", get32(ip + 16) == want_dst);
	CK("info.dst_ip (next hop)", info.dst_ip == htonl(want_dst));
	CK("ttl", ip[8] == (c->want_ttl ? c->want_ttl : c->s.ttl));
	CK("ip header checksum from scratch", ip_ok(ip));
	CK("nat", info.nat == (c->want_nat != 0));
	/* Only TTL, addresses and checksums may change; a later fragment's data not at all. */
	CK("l2, header fields and options kept",
	   !memcmp(before, f, l3 + 8) && before[l3 + 9] == f[l3 + 9] &&
	   !memcmp(before + l3 + 20, f + l3 + 20, ihl - 20));
	if (later || !ports) {
		CK("nothing after the ip header touched", !memcmp(before + l3 + ihl, f + l3 + ihl, len - l3 - ihl));
	} else {
		uint32_t co = c->s.proto == IPPROTO_TCP ? 16 : 6, l4 = l3 + ihl;

		CK("sport", get16(f + l4) == (c->want_sport ? c->want_sport : c->s.sport));
		CK("dport", get16(f + l4 + 2) == (c->want_dport ? c->want_dport : c->s.dport));
		CK("l4 bytes but ports and checksum kept",
		   !memcmp(before + l4 + 4, f + l4 + 4, co - 4) &&
		   !memcmp(before + l4 + co + 2, f + l4 + co + 2, len - l4 - co - 2));
		if (c->s.proto == IPPROTO_UDP && c->s.udp_no_csum)
			CK("udp checksum stays 0", get16(f + l4 + 6) == 0);
	}

	/* The other fragments, then the datagram the receiver reassembles. */
	for (int i = 0; i < n; i++) {
		struct pcf_rw_info other;

		if (i != c->piece)
			CK("every fragment rewritten alike",
			   pcf_rewrite(fr[i], lens[i], &a, NULL, &other) == c->want && other.frag_later == (i > 0));
	}
	if (c->tot_delta)
		return;
	dglen = reassemble(fr, l3, n, dg, &first);
	CK("the fragments reassemble (same key, offsets tile the datagram)", dglen > 0);
	if (dglen <= 0)
		return;
	CK("reassembled: l4 checksum verifies from scratch", dg_l4_ok(first, dg, (uint32_t)dglen));
	CK("reassembled: addresses", get32(first + 12) == want_src && get32(first + 16) == want_dst);
	if (ports) {
		CK("reassembled: ports as translated",
		   get16(dg) == (c->want_sport ? c->want_sport : c->s.sport) &&
		   get16(dg + 2) == (c->want_dport ? c->want_dport : c->s.dport));
		if (c->s.proto == IPPROTO_UDP)
			CK("reassembled: udp checksum 0 only if sent so", (get16(dg + 6) == 0) == (c->s.udp_no_csum != 0));
	}
#undef CK
}

static void test4_table(void)
{
	for (size_t i = 0; i < sizeof(CASES4) / sizeof(CASES4[0]); i++)
		run4(&CASES4[i]);
}

/* A 1000-byte UDP datagram in three fragments through a port-less rule with SNAT and DNAT of
 * addresses and ports and TTL -2, as the lab sends it: every fragment translated, the first
 * one's checksum the same as that of the datagram built with the translated fields from
 * scratch, and the reassembled datagram verifies. The same with TCP. */
static void test4_fragments(void)
{
	static uint8_t fr[MAX_FRAGS][FRAME_MAX], whole[FRAME_MAX], want[FRAME_MAX], dg[65536];
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };

	for (size_t p = 0; p < sizeof(protos); p++) {
		struct spec sent = UDP4(.proto = protos[p], .payload = 992 - (protos[p] == IPPROTO_TCP ? 12 : 0));
		struct spec after = sent;
		struct pcf_flow_action a = action(SD, -2, X4, 40000, V4, 7001);
		uint32_t lens[MAX_FRAGS], l3, co = protos[p] == IPPROTO_TCP ? 16 : 6;
		const uint8_t *first;
		int n, dglen, bad = 0, later = 0;
		char nm[120];

		after.src = X4;
		after.dst = V4;
		after.sport = 40000;
		after.dport = 7001;
		build(whole, &sent, &l3);
		build(want, &after, &l3);
		n = fragment(whole, l3, 400, fr, lens);
		for (int i = 0; i < n; i++) {
			struct pcf_rw_info info;
			const uint8_t *ip = fr[i] + l3;

			if (pcf_rewrite(fr[i], lens[i], &a, NULL, &info) != PCF_RW_OK || !info.nat ||
			    info.frag_later != (i > 0) || get32(ip + 12) != X4 || get32(ip + 16) != V4 ||
			    ip[8] != 62 || !ip_ok(ip))
				bad++;
			later += info.frag_later;
		}
		dglen = reassemble(fr, l3, n, dg, &first);
#define CK(what, cond) do { snprintf(nm, sizeof(nm), "ipv4 fragments (%s): %s", protos[p] == IPPROTO_TCP ? "tcp" : "udp", what); CHECK(nm, cond); } while (0)
		CK("three fragments, two later ones", n == 3 && later == 2);
		CK("each: addresses translated, ttl 62, header checksum, frag_later", bad == 0);
		CK("the first fragment's checksum is the translated datagram's, computed from scratch",
		   get16(fr[0] + l3 + 20 + co) == get16(want + l3 + 20 + co));
		CK("they reassemble into the datagram", dglen == (int)(get16(whole + l3 + 2) - 20));
		CK("the reassembled datagram's checksum verifies from scratch",
		   dglen > 0 && dg_l4_ok(first, dg, (uint32_t)dglen));
		CK("the reassembled datagram is the translated one byte for byte",
		   dglen > 0 && !memcmp(dg, want + l3 + 20, (size_t)dglen));
#undef CK
	}
}

/* Random datagrams (protocol, tags, options, size, checksum 0), random fragment sizes and
 * random NAT and TTL: every fragment's header checksum verifies and carries what was asked
 * for, and the reassembled datagram verifies with the translated ports. */
static void test4_fragments_random(void)
{
	static uint8_t fr[MAX_FRAGS][FRAME_MAX], whole[FRAME_MAX], dg[65536];
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP };
	int bad_status = 0, bad_csum = 0, bad_field = 0, bad_reasm = 0, multi = 0, runs = 5000;

	srand(791);
	for (int r = 0; r < runs; r++) {
		struct spec s = {
			.vlan = rand() % 3, .vlan_8100 = rand() & 1, .opt_words = rand() % 3,
			.proto = protos[rand() % 3], .ttl = (uint8_t)(rand() % 255 + 1),
			.src = (uint32_t)rand() * 2654435761u, .dst = (uint32_t)rand() * 40503u,
			.sport = (uint16_t)rand(), .dport = (uint16_t)rand(), .payload = rand() % 600,
			.udp_no_csum = (rand() % 8) == 0,
		};
		uint32_t sip = (rand() & 1) ? (uint32_t)rand() * 7919u : 0, dip = (rand() & 1) ? (uint32_t)rand() : 0;
		uint16_t sp = (uint16_t)((rand() & 1) ? rand() : 0), dp = (uint16_t)((rand() & 1) ? rand() : 0);
		uint8_t flags = (uint8_t)(rand() & SD);
		struct pcf_flow_action a = action(flags, (int8_t)(rand() % 256 - 128), sip, sp, dip, dp);
		uint32_t lens[MAX_FRAGS], l3, chunk = 8 * (uint32_t)((s.proto == IPPROTO_TCP ? 3 : 1) + rand() % 40);
		uint32_t want_s = (flags & SN) && sip ? sip : s.src, want_d = (flags & DN) && dip ? dip : s.dst;
		bool ports = s.proto != IPPROTO_ICMP, expire = a.ttl_delta && s.ttl + a.ttl_delta <= 0;
		int want_ttl = a.ttl_delta == 0 || expire ? s.ttl : s.ttl + a.ttl_delta > 255 ? 255 : s.ttl + a.ttl_delta;
		const uint8_t *first;
		int n, dglen;

		build(whole, &s, &l3);
		n = fragment(whole, l3, chunk, fr, lens);
		multi += n > 1;
		for (int i = 0; i < n; i++) {
			struct pcf_rw_info info;
			const uint8_t *ip = fr[i] + l3;

			if (pcf_rewrite(fr[i], lens[i], &a, NULL, &info) != (expire ? PCF_RW_TTL_EXPIRED : PCF_RW_OK) ||
			    info.frag_later != (i > 0))
				bad_status++;
			if (!ip_ok(ip))
				bad_csum++;
			if (get32(ip + 12) != want_s || get32(ip + 16) != want_d || ip[8] != want_ttl)
				bad_field++;
		}
		dglen = reassemble(fr, l3, n, dg, &first);
		if (dglen <= 0) {
			bad_reasm++;
			continue;
		}
		if (!dg_l4_ok(first, dg, (uint32_t)dglen) ||
		    (s.proto == IPPROTO_UDP && (get16(dg + 6) == 0) != (s.udp_no_csum != 0)))
			bad_csum++;
		if (ports && (get16(dg) != ((flags & SN) && sp ? sp : s.sport) ||
			      get16(dg + 2) != ((flags & DN) && dp ? dp : s.dport)))
			bad_field++;
	}
	CHECK("ipv4 random fragments: most datagrams in several fragments", multi > runs / 2);
	CHECK("ipv4 random fragments: every fragment rewritten (or expired), first/later as sent", bad_status == 0);
	CHECK("ipv4 random fragments: header checksums and the reassembled l4 checksum verify", bad_csum == 0);
	CHECK("ipv4 random fragments: addresses, ttl and reassembled ports as asked", bad_field == 0);
	CHECK("ipv4 random fragments: they always reassemble", bad_reasm == 0);
}

/* ---- IPv6 ---------------------------------------------------------------------------------- */

#define NH_HOP   0
#define NH_RT    43
#define NH_FRAG  44
#define NH_ESP   50
#define NH_AH    51
#define NH_ICMP6 58
#define NH_NONE  59
#define NH_DST   60

/* The address the one-segment routing header holds: the final destination. */
#define RH_FINAL "2001:2:0:1::99"

struct spec6 {
	int vlan;            /* 0..3 tags (802.1AD outer, 802.1Q inner) */
	uint8_t ext[8];      /* extension headers in order (NH_*), n_ext of them */
	int n_ext;
	int rh_segleft;      /* routing headers: segments left */
	int frag_later;      /* a fragment header (in ext) with offset first_l4 bytes: a later fragment */
	int frag_more;       /* its M flag */
	int first_l4;        /* later fragment: the L4 bytes of the first fragment (multiple of 8) */
	uint8_t proto;       /* upper protocol: 6, 17, 58, 50, 59, ... */
	uint8_t hop;
	const char *src, *dst;
	uint16_t sport, dport;
	int payload;         /* L4 payload bytes in this frame */
	int tail;            /* first fragment: datagram bytes in later fragments (in the checksum) */
	int udp_zero;        /* UDP sent without checksum (0) */
	int fix;             /* 1: the first payload word is fix_word */
	uint16_t fix_word;
	int pad;             /* Ethernet padding after the datagram */
	int plen_delta;      /* added to payload_len (bad lengths) */
	int jumbo;           /* payload_len 0 */
};

struct built {
	uint32_t len, l3, l4, l4len; /* l4len: L4 bytes in this frame */
};

static uint8_t tail_byte(int i)
{
	return (uint8_t)(i * 13 + 5);
}

static void addr6(const char *s, uint8_t *out)
{
	if (inet_pton(AF_INET6, s, out) != 1) {
		printf("bad test address %s\n", s);
		exit(2);
	}
}

static uint32_t ext_len(uint8_t nh)
{
	return nh == NH_AH ? 24 : nh == NH_RT ? 24 : nh == NH_FRAG ? 8 : 16;
}

/* Sum of the IPv6 pseudo-header (src, dst, length, next header) and the L4 bytes at l4 (n in
 * the frame, then tail bytes of later fragments); 0xffff when the checksum in it is right. */
static uint16_t l4_sum6(const uint8_t *src, const uint8_t *dst, uint8_t nh, const uint8_t *l4,
			uint32_t n, int tail)
{
	uint32_t total = n + (uint32_t)tail, s;
	uint8_t t[2048];

	s = sum16(src, 16, 0);
	s = sum16(dst, 16, s);
	s += total >> 16;
	s += total & 0xffff;
	s += nh;
	memcpy(t, l4, n);
	for (int i = 0; i < tail; i++)
		t[n + i] = tail_byte(i);
	return fold(sum16(t, total, s));
}

static uint32_t l4_csum_off6(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/* Writes the frame into buf; the L4 checksum over the whole datagram (tail included). */
static struct built build6(uint8_t *buf, const struct spec6 *s)
{
	uint32_t off = 14, ext_total = 0, l4len, plen, o;
	uint8_t src[16], dst[16], final[16], *ip, *l4;
	struct built b;
	int i;

	memset(buf, 0, 2048);
	memcpy(buf, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	for (i = 0; i < s->vlan; i++) {
		put16(buf + 12 + 4 * i, i == 0 && s->vlan > 1 ? 0x88a8 : 0x8100);
		put16(buf + 14 + 4 * i, (uint16_t)(10 + i));
		off += 4;
	}
	put16(buf + off - 2, 0x86dd);
	ip = buf + off;
	addr6(s->src, src);
	addr6(s->dst, dst);
	addr6(RH_FINAL, final);
	for (i = 0; i < s->n_ext; i++)
		ext_total += ext_len(s->ext[i]);
	if (s->frag_later)
		l4len = (uint32_t)s->payload; /* fragment data only */
	else
		l4len = (s->proto == IPPROTO_TCP ? 20 : 8) + (uint32_t)s->payload;
	plen = ext_total + l4len;
	ip[0] = 0x60;
	put16(ip + 4, s->jumbo ? 0 : (uint16_t)(plen + s->plen_delta));
	ip[6] = s->n_ext ? s->ext[0] : s->proto;
	ip[7] = s->hop;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);

	o = 40;
	for (i = 0; i < s->n_ext; i++) {
		uint8_t *eh = ip + o, nh = s->ext[i];

		eh[0] = i + 1 < s->n_ext ? s->ext[i + 1] : s->proto;
		if (nh == NH_FRAG) {
			uint16_t fo = s->frag_later ? (uint16_t)(s->first_l4 / 8) << 3 : 0;

			put16(eh + 2, fo | (s->frag_more ? 1 : 0));
			put32(eh + 4, 0xabcd0001);
		} else if (nh == NH_AH) {
			eh[1] = 4; /* (4 + 2) * 4 = 24 bytes */
			put32(eh + 4, 0x100);
			put32(eh + 8, 1);
		} else if (nh == NH_RT) {
			eh[1] = 2; /* (2 + 1) * 8 = 24: a 4-byte type header, 4 reserved, one address */
			eh[2] = 4; /* segment routing */
			eh[3] = (uint8_t)s->rh_segleft;
			memcpy(eh + 8, final, 16);
		} else {
			eh[1] = 1; /* 16 bytes: PadN of 12 */
			eh[2] = 1;
			eh[3] = 12;
		}
		o += ext_len(nh);
	}

	l4 = ip + o;
	if (s->frag_later) {
		for (i = 0; i < s->payload; i++)
			l4[i] = tail_byte(i); /* the first fragment's tail */
	} else {
		uint32_t hl = s->proto == IPPROTO_TCP ? 20 : 8;

		for (i = 0; i < s->payload; i++)
			l4[hl + i] = (uint8_t)(i * 7 + 3);
		if (s->fix && s->payload >= 2)
			put16(l4 + hl, s->fix_word);
		if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
		}
		if (s->proto == IPPROTO_TCP)
			l4[12] = 5 << 4;
		if (s->proto == IPPROTO_UDP)
			put16(l4 + 4, (uint16_t)(l4len + (uint32_t)s->tail));
		if (s->proto == NH_ICMP6) {
			l4[0] = 128; /* echo request */
			put16(l4 + 4, 0x1234);
			put16(l4 + 6, 1);
		}
		if (s->proto == IPPROTO_TCP || s->proto == NH_ICMP6 ||
		    (s->proto == IPPROTO_UDP && !s->udp_zero)) {
			uint16_t c = (uint16_t)~l4_sum6(src, s->rh_segleft ? final : dst, s->proto, l4,
							l4len, s->tail);

			if (s->proto == IPPROTO_UDP && c == 0)
				c = 0xffff;
			put16(l4 + l4_csum_off6(s->proto), c);
		}
	}
	b.l3 = off;
	b.l4 = off + o;
	b.l4len = l4len;
	b.len = off + 40 + plen + (uint32_t)s->pad;
	return b;
}

static struct pcf_nat6 nat6_entries[8];
static const struct pcf_nat6_table NAT6 = { nat6_entries, 8 };
#define SLOT 3

/* One table-driven case: the packet, the rule (its pcf_nat6[SLOT] entry), what must come out. */
struct case6 {
	const char *name;
	struct spec6 s;
	uint8_t flags;
	int ttl_delta;
	const char *snat_ip, *dnat_ip; /* pcf_nat6[SLOT]; NULL: all zero (keep) */
	uint16_t snat_port, dnat_port;
	uint32_t slot;                 /* 0: SLOT */
	const struct pcf_nat6_table *table; /* NULL: NAT6; use NO_TABLE for none */
	enum pcf_rw_status want;
	const char *want_src, *want_dst; /* NULL: as sent */
	uint16_t want_sport, want_dport; /* 0: as sent */
	int want_hop;                    /* -1: as sent */
	int want_nat;
	int want_udp_csum;               /* -1: any valid one; else exactly this (0xffff, 0) */
};

static const struct pcf_nat6_table NO_TABLE_V = { NULL, 0 };
#define NO_TABLE (&NO_TABLE_V)

#define C6 "2001:2::1"
#define S6 "2001:2:0:1::1"
#define UDP6(...) { .proto = IPPROTO_UDP, .hop = 64, .src = C6, .dst = S6, .sport = 5000, \
		    .dport = 7000, .payload = 24, __VA_ARGS__ }
#define TCP6(...) { .proto = IPPROTO_TCP, .hop = 64, .src = C6, .dst = S6, .sport = 30001, \
		    .dport = 8080, .payload = 100, __VA_ARGS__ }
#define ICMP6(...) { .proto = NH_ICMP6, .hop = 64, .src = C6, .dst = S6, .payload = 16, __VA_ARGS__ }
static const struct case6 CASES6[] = {
	/* hop limit */
	{ "hop 64-2", UDP6(), 0, -2, .want_hop = 62 },
	{ "hop 3-2 = 1", UDP6(.hop = 3), 0, -2, .want_hop = 1 },
	{ "hop 2-2 expires", UDP6(.hop = 2), 0, -2, .want = PCF_RW_TTL_EXPIRED, .want_hop = 2 },
	{ "hop 1-128 expires", UDP6(.hop = 1), 0, -128, .want = PCF_RW_TTL_EXPIRED, .want_hop = 1 },
	{ "hop 250+10 saturates", UDP6(.hop = 250), 0, 10, .want_hop = 255 },
	{ "hop delta 0 untouched", UDP6(), 0, 0, .want_hop = -1 },
	{ "hop expired after NAT (NAT applied, hop kept)", UDP6(.hop = 1), DN, -1, NULL, "2001:2:0:1::7",
	  0, 7001, .want = PCF_RW_TTL_EXPIRED, .want_dst = "2001:2:0:1::7", .want_dport = 7001,
	  .want_hop = 1, .want_nat = 1 },

	/* UDP */
	{ "udp snat address + port", UDP6(), SN, -1, "2001:2:0:1::fe", NULL, 40000, 0,
	  .want_src = "2001:2:0:1::fe", .want_sport = 40000, .want_hop = 63, .want_nat = 1 },
	{ "udp dnat address + port", UDP6(), DN, 0, NULL, "2001:2:0:1::2", 0, 7001,
	  .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = -1, .want_nat = 1 },
	{ "udp dnat port only (entry zero)", UDP6(), DN, 0, NULL, NULL, 0, 7002, .want_dport = 7002,
	  .want_hop = -1, .want_nat = 1 },
	{ "udp dnat address only", UDP6(), DN, 0, NULL, "2001:2:0:1::3", 0, 0,
	  .want_dst = "2001:2:0:1::3", .want_hop = -1, .want_nat = 1 },
	{ "udp snat + dnat, all four", UDP6(), SN | DN, -5, "2001:2:0:1::fe", "2001:2:0:1::9", 61000, 9090,
	  .want_src = "2001:2:0:1::fe", .want_dst = "2001:2:0:1::9", .want_sport = 61000,
	  .want_dport = 9090, .want_hop = 59, .want_nat = 1 },
	{ "udp snat flag only: the entry's dnat address is not used", UDP6(), SN, 0, "2001:2::aa",
	  "2001:2::bb", 0, 0, .want_src = "2001:2::aa", .want_hop = -1, .want_nat = 1 },
	{ "udp nat flags, entry and ports zero: nothing", UDP6(), SN | DN, 0, NULL, NULL, 0, 0,
	  .want_hop = -1 },
	{ "udp checksum 0 arrives: stays 0 (not produced here)", UDP6(.udp_zero = 1), SN | DN, -1,
	  "2001:2::aa", "2001:2::bb", 1, 2, .want_src = "2001:2::aa", .want_dst = "2001:2::bb",
	  .want_sport = 1, .want_dport = 2, .want_hop = 63, .want_nat = 1, .want_udp_csum = 0 },

	/* TCP */
	{ "tcp snat + dnat", TCP6(), SN | DN, -3, "2001:2:0:1::fe", "2001:2:0:1::1", 61000, 9090,
	  .want_src = "2001:2:0:1::fe", .want_dst = "2001:2:0:1::1", .want_sport = 61000,
	  .want_dport = 9090, .want_hop = 61, .want_nat = 1 },
	{ "tcp dnat port", TCP6(), DN, 0, NULL, NULL, 0, 9091, .want_dport = 9091, .want_hop = -1,
	  .want_nat = 1 },

	/* ICMPv6: addresses (its checksum covers them), no ports */
	{ "icmpv6 dnat address", ICMP6(), DN, -1, NULL, "2001:2:0:1::5", 0, 0,
	  .want_dst = "2001:2:0:1::5", .want_hop = 63, .want_nat = 1 },
	{ "icmpv6 snat + dnat addresses", ICMP6(), SN | DN, 0, "2001:2::77", "2001:2:0:1::5", 0, 0,
	  .want_src = "2001:2::77", .want_dst = "2001:2:0:1::5", .want_hop = -1, .want_nat = 1 },
	{ "icmpv6 port-only dnat: nothing (no ports)", ICMP6(), DN, 0, NULL, NULL, 0, 7001, .want_hop = -1 },

	/* Extension headers before L4 */
	{ "hop-by-hop, udp dnat", UDP6(.ext = { NH_HOP }, .n_ext = 1), DN, -1, NULL, "2001:2:0:1::2", 0,
	  7001, .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = 63, .want_nat = 1 },
	{ "dstopts, routing (0 left), AH, tcp snat + dnat",
	  TCP6(.ext = { NH_DST, NH_RT, NH_AH }, .n_ext = 3), SN | DN, -1, "2001:2::fe",
	  "2001:2:0:1::1", 1024, 80, .want_src = "2001:2::fe", .want_dst = "2001:2:0:1::1",
	  .want_sport = 1024, .want_dport = 80, .want_hop = 63, .want_nat = 1 },
	{ "six extension headers, icmpv6",
	  ICMP6(.ext = { NH_HOP, NH_DST, NH_RT, NH_AH, NH_DST, NH_FRAG }, .n_ext = 6), SN, -1,
	  "2001:2::fe", NULL, 0, 0, .want_src = "2001:2::fe", .want_hop = 63, .want_nat = 1 },
	{ "routing header with segments left: dnat of the header's destination keeps the checksum",
	  UDP6(.ext = { NH_RT }, .n_ext = 1, .rh_segleft = 1), SN | DN, 0, "2001:2::fe",
	  "2001:2:0:1::42", 0, 7001, .want_src = "2001:2::fe", .want_dst = "2001:2:0:1::42",
	  .want_dport = 7001, .want_hop = -1, .want_nat = 1 },
	{ "atomic fragment (offset 0, no M): a whole packet",
	  UDP6(.ext = { NH_FRAG }, .n_ext = 1), DN, -1, NULL, "2001:2:0:1::2", 0, 7001,
	  .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = 63, .want_nat = 1 },
	{ "esp: addresses only", { .proto = NH_ESP, .hop = 64, .src = C6, .dst = S6, .payload = 40 },
	  SN | DN, -1, "2001:2::fe", "2001:2:0:1::2", 1, 2, .want_src = "2001:2::fe",
	  .want_dst = "2001:2:0:1::2", .want_hop = 63, .want_nat = 1 },
	{ "no next header (59): addresses only", { .proto = NH_NONE, .hop = 64, .src = C6, .dst = S6 },
	  DN, 0, NULL, "2001:2:0:1::2", 0, 0, .want_dst = "2001:2:0:1::2", .want_hop = -1, .want_nat = 1 },

	/* L2 */
	{ "one vlan tag", UDP6(.vlan = 1), DN, -1, NULL, "2001:2:0:1::2", 0, 7001,
	  .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = 63, .want_nat = 1 },
	{ "two tags (as the XDP parser)", UDP6(.vlan = 2), DN, -1, NULL, "2001:2:0:1::2", 0, 7001,
	  .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = 63, .want_nat = 1 },
	{ "ethernet padding after the datagram: untouched", UDP6(.pad = 10), DN, -1, NULL,
	  "2001:2:0:1::2", 0, 7001, .want_dst = "2001:2:0:1::2", .want_dport = 7001, .want_hop = 63,
	  .want_nat = 1 },

	/* NAT without a pcf_nat6 entry: nothing changes */
	{ "slot beyond pcf_nat6", UDP6(), DN, -1, NULL, "2001:2:0:1::2", 0, 7001, .slot = 8,
	  .want = PCF_RW_NAT6_MISSING },
	{ "no pcf_nat6 at all", UDP6(), SN, -1, "2001:2::fe", NULL, 0, 0, .table = NO_TABLE,
	  .want = PCF_RW_NAT6_MISSING },
	{ "no pcf_nat6, no NAT flags: fine", UDP6(), 0, -1, .table = NO_TABLE, .want_hop = 63 },

	/* refused: what the XDP parser does not classify, and what the rewrite cannot do */
	{ "three vlan tags", UDP6(.vlan = 3), 0, -1, .want = PCF_RW_UNPARSED },
	{ "seven extension headers",
	  UDP6(.ext = { NH_HOP, NH_DST, NH_DST, NH_DST, NH_DST, NH_DST, NH_DST }, .n_ext = 7), 0, -1,
	  .want = PCF_RW_UNPARSED },
	{ "jumbogram (payload_len 0, hop-by-hop)", UDP6(.ext = { NH_HOP }, .n_ext = 1, .jumbo = 1), 0,
	  -1, .want = PCF_RW_UNPARSED },
	{ "payload_len beyond the frame", UDP6(.plen_delta = 1), 0, -1, .want = PCF_RW_UNPARSED },
	{ "extension header beyond payload_len", UDP6(.ext = { NH_DST }, .n_ext = 1, .plen_delta = -30),
	  0, -1, .want = PCF_RW_UNPARSED },
	{ "udp header beyond payload_len", UDP6(.payload = 0, .plen_delta = -1), 0, -1,
	  .want = PCF_RW_UNPARSED },
	{ "tcp header beyond payload_len", TCP6(.payload = 0, .plen_delta = -1), 0, -1,
	  .want = PCF_RW_UNPARSED },
	{ "icmpv6 shorter than 4 bytes", ICMP6(.payload = 0, .plen_delta = -5), 0, -1,
	  .want = PCF_RW_UNPARSED },
};

/* Checks one rewritten (or refused) frame against its case. */
static void check6(const struct case6 *c, const uint8_t *before, const uint8_t *f, struct built b,
		   enum pcf_rw_status rw, const struct pcf_rw_info *info)
{
	const uint8_t *ip = f + b.l3, *l4 = f + b.l4;
	uint8_t want_src[16], want_dst[16], final[16];
	uint32_t hl = c->s.proto == IPPROTO_TCP ? 20 : 8;
	bool ports = c->s.proto == IPPROTO_TCP || c->s.proto == IPPROTO_UDP;
	char n[160];

#define CK(what, cond) do { snprintf(n, sizeof(n), "ipv6 %s: %s", c->name, what); CHECK(n, cond); } while (0)
	CK("status", rw == c->want);
	if (rw != c->want)
		printf("     status %d, want %d\n", rw, c->want);
	if (c->want == PCF_RW_UNPARSED || c->want == PCF_RW_NAT6_MISSING) {
		CK("frame untouched", !memcmp(before, f, b.len));
		return;
	}
	addr6(c->want_src ? c->want_src : c->s.src, want_src);
	addr6(c->want_dst ? c->want_dst : c->s.dst, want_dst);
	addr6(RH_FINAL, final);
	CK("family, l3_off", info->family == PCF_FAMILY_IPV6 && info->l3_off == b.l3);
	CK("src", !memcmp(ip + 8, want_src, 16));
	CK("dst", !memcmp(ip + 24, want_dst, 16));
	CK("info.dst_ip6 (next hop)", !memcmp(info->dst_ip6, want_dst, 16));
	CK("hop limit", ip[7] == (c->want_hop < 0 ? c->s.hop : c->want_hop));
	CK("nat", info->nat == (c->want_nat != 0));
	CK("not a later fragment", !info->frag_later);
	if (ports) {
		CK("sport", get16(l4) == (c->want_sport ? c->want_sport : c->s.sport));
		CK("dport", get16(l4 + 2) == (c->want_dport ? c->want_dport : c->s.dport));
	}
	/* Only what NAT and the hop limit touch may change: the rest byte for byte. */
	CK("header fields kept", !memcmp(before, f, b.l3 + 7) && !memcmp(before + b.l3 + 40, f + b.l3 + 40,
		b.l4 - b.l3 - 40) && !memcmp(before + b.l4 + hl, f + b.l4 + hl, b.len - b.l4 - hl));
	if (c->s.proto == IPPROTO_UDP && c->s.udp_zero) {
		CK("udp checksum stays 0", get16(l4 + 6) == 0);
	} else if (ports || c->s.proto == NH_ICMP6) {
		CK("l4 checksum from scratch",
		   l4_sum6(ip + 8, c->s.rh_segleft ? final : ip + 24, c->s.proto, l4, b.l4len, c->s.tail) == 0xffff);
		if (c->s.proto == IPPROTO_UDP)
			CK("udp checksum never 0", get16(l4 + 6) != 0);
		if (c->want_udp_csum > 0)
			CK("udp checksum as expected", get16(l4 + 6) == c->want_udp_csum);
	} else {
		CK("no l4 checksum touched", !memcmp(before + b.l4, f + b.l4, b.len - b.l4));
	}
#undef CK
}

static void run6(const struct case6 *c)
{
	struct pcf_flow_action a = action(c->flags, c->ttl_delta, 0, c->snat_port, 0, c->dnat_port);
	const struct pcf_nat6_table *t = c->table ? c->table : &NAT6;
	uint8_t f[2048], before[2048];
	struct pcf_rw_info info;
	enum pcf_rw_status rw;
	struct built b;

	memset(nat6_entries, 0, sizeof(nat6_entries));
	if (c->snat_ip)
		addr6(c->snat_ip, nat6_entries[SLOT].snat_ip);
	if (c->dnat_ip)
		addr6(c->dnat_ip, nat6_entries[SLOT].dnat_ip);
	a.stats_slot = c->slot ? c->slot : SLOT;
	b = build6(f, &c->s);
	memcpy(before, f, sizeof(f));
	rw = pcf_rewrite(f, b.len, &a, t, &info);
	check6(c, before, f, b, rw, &info);
}

static void test6_table(void)
{
	for (size_t i = 0; i < sizeof(CASES6) / sizeof(CASES6[0]); i++)
		run6(&CASES6[i]);
}

/* UDP checksum 0 is invalid in IPv6: a rewrite whose result computes to 0 sends 0xffff. The
 * first payload word is chosen so that the packet after NAT sums to 0xffff (checksum 0). */
static void test6_udp_zero_result(void)
{
	struct spec6 after = UDP6(.src = "2001:2:0:1::fe", .dst = "2001:2:0:1::9", .sport = 61000,
				  .dport = 9090, .fix = 1, .fix_word = 0);
	struct spec6 sent = UDP6(.fix = 1);
	struct case6 c = { "udp checksum computed 0 goes out as 0xffff", {0}, SN | DN, -1,
			   "2001:2:0:1::fe", "2001:2:0:1::9", 61000, 9090, .want_src = "2001:2:0:1::fe",
			   .want_dst = "2001:2:0:1::9", .want_sport = 61000, .want_dport = 9090,
			   .want_hop = 63, .want_nat = 1, .want_udp_csum = 0xffff };
	uint8_t f[2048], src[16], dst[16];
	struct built b;

	after.udp_zero = 1; /* the sum without the checksum */
	b = build6(f, &after);
	addr6(after.src, src);
	addr6(after.dst, dst);
	sent.fix_word = (uint16_t)~l4_sum6(src, dst, IPPROTO_UDP, f + b.l4, b.l4len, 0);
	c.s = sent;
	run6(&c);
	CHECK("ipv6 udp zero result: the construction sums to 0xffff after NAT",
	      (b = build6(f, &sent), 1) && get16(f + b.l4 + 6) != 0);
}

/* A datagram in two fragments: the first carries the UDP header and its checksum over the
 * whole datagram, the later one only data. Both are translated alike (the later one's
 * addresses only): the reassembled datagram's checksum verifies from scratch. */
static void test6_fragments(void)
{
	struct spec6 first = UDP6(.ext = { NH_FRAG }, .n_ext = 1, .frag_more = 1, .payload = 24, .tail = 40);
	struct spec6 later = { .ext = { NH_FRAG }, .n_ext = 1, .frag_later = 1, .first_l4 = 32,
			       .proto = IPPROTO_UDP, .hop = 64, .src = C6, .dst = S6, .payload = 40 };
	struct pcf_flow_action a = action(SN | DN, -1, 0, 40000, 0, 7001);
	uint8_t f1[2048], f2[2048], before2[2048], dg[2048], src[16], dst[16];
	struct pcf_rw_info i1, i2;
	struct built b1, b2;
	enum pcf_rw_status r1, r2;

	memset(nat6_entries, 0, sizeof(nat6_entries));
	addr6("2001:2:0:1::fe", nat6_entries[SLOT].snat_ip);
	addr6("2001:2:0:1::2", nat6_entries[SLOT].dnat_ip);
	a.stats_slot = SLOT;
	b1 = build6(f1, &first);
	b2 = build6(f2, &later);
	memcpy(before2, f2, sizeof(f2));
	r1 = pcf_rewrite(f1, b1.len, &a, &NAT6, &i1);
	r2 = pcf_rewrite(f2, b2.len, &a, &NAT6, &i2);
	addr6("2001:2:0:1::fe", src);
	addr6("2001:2:0:1::2", dst);
	CHECK("ipv6 first fragment: ok, not later", r1 == PCF_RW_OK && !i1.frag_later && i1.nat);
	CHECK("ipv6 first fragment: ports", get16(f1 + b1.l4) == 40000 && get16(f1 + b1.l4 + 2) == 7001);
	CHECK("ipv6 first fragment: addresses, hop",
	      !memcmp(f1 + b1.l3 + 8, src, 16) && !memcmp(f1 + b1.l3 + 24, dst, 16) && f1[b1.l3 + 7] == 63);
	CHECK("ipv6 later fragment: ok, later, nat", r2 == PCF_RW_OK && i2.frag_later && i2.nat);
	CHECK("ipv6 later fragment: addresses, hop",
	      !memcmp(f2 + b2.l3 + 8, src, 16) && !memcmp(f2 + b2.l3 + 24, dst, 16) && f2[b2.l3 + 7] == 63);
	CHECK("ipv6 later fragment: data untouched (no L4 header to fix)",
	      !memcmp(before2 + b2.l4, f2 + b2.l4, b2.len - b2.l4) && !memcmp(before2 + b2.l3 + 40, f2 + b2.l3 + 40, 8));
	CHECK("ipv6 later fragment: next hop after DNAT", !memcmp(i2.dst_ip6, dst, 16));
	/* Reassemble: the first fragment's L4 bytes, then the later one's data. */
	memcpy(dg, f1 + b1.l4, b1.l4len);
	memcpy(dg + b1.l4len, f2 + b2.l4, b2.l4len);
	CHECK("ipv6 fragments: the reassembled datagram's udp checksum verifies from scratch",
	      l4_sum6(f2 + b2.l3 + 8, f2 + b2.l3 + 24, IPPROTO_UDP, dg, b1.l4len + b2.l4len, 0) == 0xffff);
	CHECK("ipv6 fragments: the tail the builder summed is the later fragment's data",
	      !memcmp(dg + b1.l4len, f2 + b2.l4, 40));
}

/* IPv4 is untouched by the IPv6 additions: its addresses come from the action even with a
 * pcf_nat6 table at hand. Two tags in front of IPv4, refused before, are now taken as for
 * IPv6 (CASES4 has more). */
static void test6_ipv4_unchanged(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_DNAT, -1, 0, 0, IP(198, 18, 1, 3), 7001);
	struct pcf_rw_info info;

	memset(nat6_entries, 0xff, sizeof(nat6_entries));
	a.stats_slot = SLOT;
	len = build(f, &s, &l3);
	CHECK("ipv4 with a pcf_nat6 table: ok", pcf_rewrite(f, len, &a, &NAT6, &info) == PCF_RW_OK);
	CHECK("ipv4 with a pcf_nat6 table: family 4, dst from the action",
	      info.family == PCF_FAMILY_IPV4 && get32(f + l3 + 16) == IP(198, 18, 1, 3) &&
	      info.dst_ip == htonl(IP(198, 18, 1, 3)));
	CHECK("ipv4 with a pcf_nat6 table: checksums", ip_ok(f + l3) && l4_ok(f + l3));
	/* Two tags in front of IPv4 (one tag, then an outer one added by hand): rewritten. */
	s.vlan = 1;
	len = build(f, &s, &l3);
	memmove(f + 4, f, len);
	memmove(f, f + 4, 12);
	put16(f + 12, 0x88a8);
	put16(f + 14, 7);
	CHECK("ipv4 behind two tags: rewritten, l3_off 22, checksums",
	      pcf_rewrite(f, len + 4, &a, &NAT6, &info) == PCF_RW_OK && info.l3_off == 22 &&
	      get32(f + 22 + 16) == IP(198, 18, 1, 3) && ip_ok(f + 22) && l4_ok(f + 22));
	memset(nat6_entries, 0, sizeof(nat6_entries));
}

/* Random IPv6 packets (protocol, tags, extension headers, ports, hop limit, payload) and
 * random NAT: the checksum always verifies from scratch, UDP never carries 0, and what was
 * asked for is what the packet carries. */
static void test6_random(void)
{
	static const uint8_t exts[] = { NH_HOP, NH_DST, NH_RT, NH_AH };
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP, NH_ICMP6 };
	int bad_csum = 0, bad_field = 0, bad_status = 0, runs = 20000;
	char src[64], dst[64], sn[64], dn[64];

	srand(8200);
	for (int i = 0; i < runs; i++) {
		struct spec6 s = { .vlan = rand() % 3, .n_ext = rand() % 4,
				   .proto = protos[rand() % 3], .hop = (uint8_t)(rand() % 255 + 1),
				   .sport = (uint16_t)rand(), .dport = (uint16_t)rand(),
				   .payload = rand() % 64 + 2 };
		struct pcf_flow_action a;
		struct pcf_rw_info info;
		uint8_t f[2048], want_s[16], want_d[16], *ip, *l4;
		uint16_t sp = (uint16_t)((rand() & 1) ? rand() : 0), dp = (uint16_t)((rand() & 1) ? rand() : 0);
		uint8_t flags = (uint8_t)(rand() & (PCF_F_SNAT | PCF_F_DNAT));
		bool ports, snat_a = rand() & 1, dnat_a = rand() & 1;
		enum pcf_rw_status rw;
		struct built b;

		for (int j = 0; j < s.n_ext; j++)
			s.ext[j] = exts[rand() % 4];
		snprintf(src, sizeof(src), "2001:2::%x:%x", rand() & 0xffff, rand() & 0xffff);
		snprintf(dst, sizeof(dst), "2001:2:0:%x::%x", rand() & 0xffff, rand() & 0xffff);
		snprintf(sn, sizeof(sn), "2001:2:%x::%x", rand() & 0xffff, rand() & 0xffff);
		snprintf(dn, sizeof(dn), "2001:2:%x:%x::%x", rand() & 0xffff, rand() & 0xffff, rand() & 0xffff);
		s.src = src;
		s.dst = dst;
		memset(nat6_entries, 0, sizeof(nat6_entries));
		if (snat_a)
			addr6(sn, nat6_entries[SLOT].snat_ip);
		if (dnat_a)
			addr6(dn, nat6_entries[SLOT].dnat_ip);
		a = action(flags, (int8_t)(rand() % 256 - 128), 0, sp, 0, dp);
		a.stats_slot = SLOT;
		b = build6(f, &s);
		ip = f + b.l3;
		l4 = f + b.l4;
		ports = s.proto != NH_ICMP6;
		rw = pcf_rewrite(f, b.len, &a, &NAT6, &info);
		if (rw == PCF_RW_TTL_EXPIRED) {
			if (s.hop + a.ttl_delta > 0 || ip[7] != s.hop)
				bad_field++;
		} else if (rw != PCF_RW_OK) {
			bad_status++;
			continue;
		}
		if (l4_sum6(ip + 8, ip + 24, s.proto, l4, b.l4len, 0) != 0xffff)
			bad_csum++;
		if (s.proto == IPPROTO_UDP && get16(l4 + 6) == 0)
			bad_csum++;
		addr6((flags & PCF_F_SNAT) && snat_a ? sn : src, want_s);
		addr6((flags & PCF_F_DNAT) && dnat_a ? dn : dst, want_d);
		if (memcmp(ip + 8, want_s, 16) || memcmp(ip + 24, want_d, 16) ||
		    (ports && get16(l4) != ((flags & PCF_F_SNAT) && sp ? sp : s.sport)) ||
		    (ports && get16(l4 + 2) != ((flags & PCF_F_DNAT) && dp ? dp : s.dport)) ||
		    (rw == PCF_RW_OK && a.ttl_delta &&
		     ip[7] != (s.hop + a.ttl_delta > 255 ? 255 : s.hop + a.ttl_delta)))
			bad_field++;
	}
	CHECK("ipv6 random: always rewritten or expired", bad_status == 0);
	CHECK("ipv6 random: checksums verify from scratch, udp never 0", bad_csum == 0);
	CHECK("ipv6 random: fields as asked", bad_field == 0);
}

int main(void)
{
	test_udp_dnat_ttl();
	test_udp_snat_both();
	test_udp_zero_csum();
	test_tcp();
	test_ttl();
	test_vlan_and_options();
	test_icmp();
	test_refused();
	test_random();
	test4_table();
	test4_fragments();
	test4_fragments_random();
	test6_table();
	test6_udp_zero_result();
	test6_fragments();
	test6_ipv4_unchanged();
	test6_random();
	printf("test_nat: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
