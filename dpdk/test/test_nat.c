/* test_nat.c - unit tests of the packet rewrite (dpdk/nat.c) on hand-made frames: NAT of
 * addresses and ports, TTL, checksums verified by recomputing them from scratch, the UDP
 * zero checksum, VLAN, IP options, what is refused, and random packets. No DPDK, no root.
 * Exit 0 when all pass, 1 otherwise. */
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
	int vlan;          /* one 802.1Q tag */
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
	if (s->vlan) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, 42);
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

	CHECK("udp dnat: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
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

	CHECK("snat+dnat: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
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
	CHECK("udp zero csum: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
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
	CHECK("tcp: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
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
	CHECK("ttl 5-5: expired", pcf_rewrite(f, len, &a, &info) == PCF_RW_TTL_EXPIRED);
	CHECK("ttl 5-5: ttl untouched", f[l3 + 8] == 5 && ip_ok(f + l3));

	s.ttl = 6;
	len = build(f, &s, &l3);
	CHECK("ttl 6-5: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
	CHECK("ttl 6-5: 1", f[l3 + 8] == 1 && ip_ok(f + l3));
	CHECK("ttl 6-5: no nat", !info.nat);

	s.ttl = 250;
	len = build(f, &s, &l3);
	a = action(0, 10, 0, 0, 0, 0);
	CHECK("ttl 250+10: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
	CHECK("ttl 250+10: saturates", f[l3 + 8] == 255 && ip_ok(f + l3));

	s.ttl = 1;
	len = build(f, &s, &l3);
	a = action(0, -128, 0, 0, 0, 0);
	CHECK("ttl 1-128: expired", pcf_rewrite(f, len, &a, &info) == PCF_RW_TTL_EXPIRED);
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
	CHECK("vlan: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
	CHECK("vlan: l3_off", info.l3_off == 18);
	CHECK("vlan: csums", ip_ok(f + l3) && l4_ok(f + l3));
	CHECK("vlan: dst", get32(f + l3 + 16) == IP(198, 18, 1, 3));

	s.vlan = 0;
	s.opt_words = 3;
	len = build(f, &s, &l3);
	CHECK("ip options: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
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
	CHECK("icmp: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
	CHECK("icmp: dst", get32(f + l3 + 16) == IP(198, 18, 1, 5));
	CHECK("icmp: message untouched (no ports)", !memcmp(icmp_before, f + l3 + 20, sizeof(icmp_before)));
	CHECK("icmp: ip csum", ip_ok(f + l3));

	/* A port-only DNAT means nothing for ICMP: no rewrite, no nat count. */
	a = action(PCF_F_DNAT, 0, 0, 0, 0, 7001);
	len = build(f, &s, &l3);
	CHECK("icmp port-only: ok", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);
	CHECK("icmp port-only: no nat", !info.nat);
}

static void test_refused(void)
{
	struct spec s = UDP_SPEC;
	uint8_t f[2048];
	uint32_t l3, len;
	struct pcf_flow_action a = action(PCF_F_DNAT, -1, 0, 0, IP(1, 2, 3, 4), 1);
	struct pcf_rw_info info;

	s.frag = 0x2000; /* MF */
	len = build(f, &s, &l3);
	CHECK("fragment (MF)", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
	s.frag = 0x0010; /* offset */
	len = build(f, &s, &l3);
	CHECK("fragment (offset)", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
	s.frag = 0x4000; /* DF alone is fine */
	len = build(f, &s, &l3);
	CHECK("DF", pcf_rewrite(f, len, &a, &info) == PCF_RW_OK);

	s.frag = 0;
	len = build(f, &s, &l3);
	CHECK("truncated frame", pcf_rewrite(f, len - 1, &a, &info) == PCF_RW_UNPARSED);
	CHECK("ethernet only", pcf_rewrite(f, 14, &a, &info) == PCF_RW_UNPARSED);
	put16(f + 12, 0x0806);
	CHECK("ARP", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	f[l3] = 0x45 ^ 0x70; /* version 3 */
	CHECK("ip version", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	f[l3] = 0x44; /* ihl 4 */
	CHECK("ihl < 5", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
	len = build(f, &s, &l3);
	put16(f + l3 + 2, 24); /* tot_len cuts the UDP header */
	CHECK("udp header outside tot_len", pcf_rewrite(f, len, &a, &info) == PCF_RW_UNPARSED);
}

/* Random addresses, ports, TTLs, payloads and NAT values: the checksums always verify, and
 * what was asked for is what the packet carries. */
static void test_random(void)
{
	int bad_csum = 0, bad_field = 0, runs = 20000;

	srand(1624);
	for (int i = 0; i < runs; i++) {
		struct spec s = {
			.vlan = rand() & 1, .opt_words = rand() % 3,
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
		if (pcf_rewrite(f, len, &a, &info) == PCF_RW_TTL_EXPIRED) {
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
	printf("test_nat: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
