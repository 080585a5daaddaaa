// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_parse.c - table-driven tests of xdp/pcf_parse.bpf.h with BPF_PROG_TEST_RUN: each case
 * crafts a frame, runs parse_probe.bpf.o (pcf_parse on the frame, its result in a one-entry
 * map) and checks the reason, the fragment state and, when the packet parsed, every field of
 * the tuple (family, protocol, ports, all 16 bytes of each address, the pad) and the exact-rule
 * key of an IPv4 tuple. The map entry is filled with junk before every run, so a field the
 * parser forgets to write shows.
 *
 * Usage: test_parse [path/to/parse_probe.bpf.o]   (default: next to this binary)
 * Exit: 0 all passed, 1 a failure, 77 cannot run here (not root, no BPF).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"

/* As in xdp/pcf_parse.bpf.h (a BPF-only header). */
#define PCF_PARSE_NOT_FRAG 0
#define PCF_PARSE_FIRST    1
#define PCF_PARSE_LATER    2

/* The value of parse_out, as test/bpf/parse_probe.bpf.c declares it; main() checks the map's
 * value_size against it. */
struct parse_result {
	__s32 ret;
	__s32 frag;
	struct pcf_tuple t;
	struct pcf_flow_key key;
};

static int fails, passes;
static int prog_fd, map_fd;

static void result(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passes++;
		printf("ok   %s\n", name);
		return;
	}
	fails++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ---- packets ------------------------------------------------------------------------- */

/* 198.18.0.0/15 and 2001:2::/48 only (DESIGN.md: the lab). */
#define CLIENT 0xc6120001 /* 198.18.0.1 */
#define SERVER 0xc6120101 /* 198.18.1.1 */
static const __u8 client6[16] = { 0x20, 0x01, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const __u8 server6[16] = { 0x20, 0x01, 0, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };

#define P_HOPOPTS  0
#define P_ICMP     1
#define P_TCP      6
#define P_UDP      17
#define P_DCCP     33
#define P_ROUTING  43
#define P_FRAGMENT 44
#define P_GRE      47
#define P_ESP      50
#define P_AH       51
#define P_ICMPV6   58
#define P_NONE     59
#define P_DSTOPTS  60
#define P_SCTP     132
#define P_UDPLITE  136

#define ETH_P_LLDP_ 0x88cc

/* One IPv6 extension header. Its length: fragment 8, AH (hdrlen + 2) * 4, the others
 * (hdrlen + 1) * 8. Next header is filled in from the chain. */
struct ext {
	__u8 type;
	__u8 hdrlen;
	__u16 frag;    /* fragment header: offset (8-byte units) << 3 | M, host order */
};

struct spec {
	__u16 tags[3];    /* VLAN TPIDs, outermost first; 0 ends */
	__u16 ethertype;  /* 0: IPv4, or IPv6 with .v6 */
	bool v6;
	__u8 version;     /* 0: 4 or 6 */
	__u8 ihl;         /* IPv4, 0: 5; more adds NOP options */
	__u16 frag_off;   /* IPv4, host order: flags and offset */
	__u8 n_ext;       /* IPv6 extension headers in ext[] */
	struct ext ext[8];
	__u8 proto;       /* IPv4 protocol / IPv6 upper next header */
	__u16 sport, dport; /* the first 4 bytes of every L4 header but ICMP's */
	__u8 doff;        /* TCP data offset, 0: 5 */
	__u8 l4len;       /* 0: the protocol's header (TCP 20, UDP/UDP-Lite 8, SCTP 12, DCCP 16, else 8) */
	int ip_len;       /* IPv4 tot_len / IPv6 payload_len; 0: computed; -1: zero */
	__u8 pad;         /* bytes after the datagram (Ethernet padding), 0xee */
	__u32 trunc;      /* 0: whole frame; else cut the frame to this many bytes */
};

struct pkt {
	__u8 buf[512];
	__u32 len;
};

static void put16(__u8 *p, __u16 v) { p[0] = v >> 8; p[1] = v; }
static void put32(__u8 *p, __u32 v) { put16(p, v >> 16); put16(p + 2, v); }

static __u32 ext_len(const struct ext *e)
{
	if (e->type == P_FRAGMENT)
		return 8;
	if (e->type == P_AH)
		return (e->hdrlen + 2) * 4;
	return (e->hdrlen + 1) * 8;
}

static __u32 l4_natural(__u8 proto)
{
	switch (proto) {
	case P_TCP: return 20;
	case P_SCTP: return 12;
	case P_DCCP: return 16;
	case P_NONE: return 0;
	default: return 8;
	}
}

static void put_l4(const struct spec *s, __u8 *l4, __u32 l4len)
{
	if (!l4len)
		return;
	if (s->proto == P_ICMP) {
		l4[0] = 8; /* echo request */
	} else if (s->proto == P_ICMPV6 && s->v6) {
		l4[0] = 128; /* echo request */
	} else {
		/* Also for GRE, ESP, ...: a parser that read ports there would see these. */
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
	}
	if (s->proto == P_TCP) {
		l4[12] = (s->doff ? s->doff : 5) << 4;
		l4[13] = 0x02; /* SYN */
	} else if (s->proto == P_UDP || s->proto == P_UDPLITE) {
		put16(l4 + 4, s->proto == P_UDP ? l4len : 0); /* UDP-Lite: coverage 0 = all */
	} else if (s->proto == P_DCCP && l4len >= 16) {
		l4[4] = 4;            /* data offset: 4 words */
		l4[8] = 0 << 1 | 1;   /* type Request, X = 1 (extended sequence numbers) */
	}
}

static void build(const struct spec *s, struct pkt *p)
{
	static const __u8 dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 }, smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	__u16 ethertype = s->ethertype ? s->ethertype : s->v6 ? ETH_P_IPV6 : ETH_P_IP;
	__u32 l4len = s->l4len ? s->l4len : l4_natural(s->proto);
	__u8 *b = p->buf, *ip, *e, *l4;
	__u32 off = 12, hlen, i;

	memset(p, 0, sizeof(*p));
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	for (i = 0; i < 3 && s->tags[i]; i++) {
		put16(b + off, s->tags[i]);
		put16(b + off + 2, 100 + i); /* VID 100, 101, ... */
		off += 4;
	}
	put16(b + off, ethertype);
	off += 2;
	ip = b + off;

	if (ethertype == ETH_P_ARP) {
		put16(ip, 1); put16(ip + 2, ETH_P_IP); ip[4] = 6; ip[5] = 4; put16(ip + 6, 1);
		memcpy(ip + 8, smac, 6); put32(ip + 14, CLIENT); put32(ip + 24, SERVER);
		p->len = off + 28;
	} else if (ethertype != ETH_P_IP && ethertype != ETH_P_IPV6) {
		memset(ip, 0x45, 46); /* looks like IPv4 to a parser that ignores the EtherType */
		p->len = off + 46;
	} else if (!s->v6) {
		hlen = (s->ihl ? s->ihl : 5) * 4;
		ip[0] = (s->version ? s->version : 4) << 4 | (s->ihl ? s->ihl : 5);
		put16(ip + 2, s->ip_len < 0 ? 0 : s->ip_len ? (__u32)s->ip_len : hlen + l4len);
		put16(ip + 4, 0x1234);
		put16(ip + 6, s->frag_off);
		ip[8] = 64;
		ip[9] = s->proto;
		put32(ip + 12, CLIENT);
		put32(ip + 16, SERVER);
		for (i = 20; i < hlen; i++)
			ip[i] = 1; /* IPOPT_NOOP */
		l4 = ip + hlen;
		put_l4(s, l4, l4len);
		p->len = off + hlen + l4len;
	} else {
		ip[0] = (s->version ? s->version : 6) << 4;
		ip[6] = s->n_ext ? s->ext[0].type : s->proto;
		ip[7] = 64;
		memcpy(ip + 8, client6, 16);
		memcpy(ip + 24, server6, 16);
		e = ip + 40;
		for (i = 0; i < s->n_ext; i++) {
			const struct ext *x = &s->ext[i];
			__u32 len = ext_len(x);

			e[0] = i + 1 < s->n_ext ? s->ext[i + 1].type : s->proto;
			if (x->type == P_FRAGMENT) {
				put16(e + 2, x->frag);
				put32(e + 4, 0xabcd0001); /* identification */
			} else if (x->type == P_AH) {
				e[1] = x->hdrlen;
				put32(e + 4, 0x1000);    /* SPI */
				put32(e + 8, 1);         /* sequence number */
			} else if (x->type == P_ROUTING) {
				e[1] = x->hdrlen;
				e[2] = 4;                /* segment routing */
				e[3] = 0;                /* segments left */
			} else {
				e[1] = x->hdrlen;
				e[2] = 1;                /* PadN over the rest */
				e[3] = len - 4;
			}
			e += len;
		}
		l4 = e;
		put_l4(s, l4, l4len);
		put16(ip + 4, s->ip_len < 0 ? 0 : s->ip_len ? (__u32)s->ip_len : (__u32)(l4 - ip - 40) + l4len);
		p->len = (l4 - b) + l4len;
	}
	memset(b + p->len, 0xee, s->pad);
	p->len += s->pad;
	if (s->trunc && s->trunc < p->len)
		p->len = s->trunc;
}

/* ---- the table ----------------------------------------------------------------------- */

struct tcase {
	const char *name;
	struct spec pkt;
	int want_ret;      /* 0, or the PCF_CNT_RSN_* (then only the reason and frag are checked) */
	int want_frag;     /* PCF_PARSE_* (NOT_FRAG with a reason) */
	__u8 want_proto;
	__u16 want_sport, want_dport;
};

#define P(pr, s, d) .proto = pr, .sport = s, .dport = d
#define OK(pr, s, d) .want_proto = pr, .want_sport = s, .want_dport = d
#define RSN(r) .want_ret = PCF_CNT_RSN_##r
#define X(t, l) { .type = t, .hdrlen = l }
#define FRAG(f) { .type = P_FRAGMENT, .frag = f }
#define Q   ETH_P_8021Q
#define AD  ETH_P_8021AD

static const struct tcase cases[] = {
	/* IPv4, every protocol */
	{ "ipv4_udp", { P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv4_tcp", { P(P_TCP, 1001, 80) }, OK(P_TCP, 1001, 80) },
	{ "ipv4_icmp_ports_0", { P(P_ICMP, 0, 0) }, OK(P_ICMP, 0, 0) },
	{ "ipv4_sctp", { P(P_SCTP, 3868, 3869) }, OK(P_SCTP, 3868, 3869) },
	{ "ipv4_udplite", { P(P_UDPLITE, 5000, 5001) }, OK(P_UDPLITE, 5000, 5001) },
	{ "ipv4_dccp", { P(P_DCCP, 6000, 6001) }, OK(P_DCCP, 6000, 6001) },
	{ "ipv4_gre_ports_0", { P(P_GRE, 0x1111, 0x2222) }, OK(P_GRE, 0, 0) },
	{ "ipv4_esp_ports_0", { P(P_ESP, 0x1111, 0x2222) }, OK(P_ESP, 0, 0) },
	{ "ipv4_icmp_no_payload", { P(P_ICMP, 0, 0), .ip_len = 20, .trunc = 14 + 20 },
	  OK(P_ICMP, 0, 0) },
	/* IPv4 header */
	{ "ipv4_options_ihl6_udp", { .ihl = 6, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv4_options_ihl15_tcp", { .ihl = 15, P(P_TCP, 1001, 80) }, OK(P_TCP, 1001, 80) },
	{ "ipv4_ethernet_padding", { P(P_UDP, 1000, 2000), .pad = 18 }, OK(P_UDP, 1000, 2000) },
	{ "ipv4_bad_version_6", { .version = 6, P(P_UDP, 1000, 2000) }, RSN(BAD_IP_HDR) },
	{ "ipv4_bad_ihl_4", { .ihl = 4, P(P_UDP, 1000, 2000) }, RSN(BAD_IP_HDR) },
	{ "ipv4_tot_len_below_ihl", { .ip_len = 19, P(P_UDP, 1000, 2000) }, RSN(BAD_IP_HDR) },
	{ "ipv4_tot_len_beyond_frame", { .ip_len = 1500, P(P_UDP, 1000, 2000) }, RSN(TRUNC_IP) },
	{ "ipv4_trunc_eth_only", { P(P_UDP, 1000, 2000), .trunc = 14 }, RSN(TRUNC_IP) },
	{ "ipv4_trunc_in_header", { P(P_UDP, 1000, 2000), .trunc = 14 + 19 }, RSN(TRUNC_IP) },
	{ "ipv4_trunc_in_options", { .ihl = 8, P(P_UDP, 1000, 2000), .trunc = 14 + 28 },
	  RSN(TRUNC_IP) },
	{ "ipv4_udp_cut_by_frame", { P(P_UDP, 1000, 2000), .trunc = 14 + 20 + 7 }, RSN(TRUNC_IP) },
	/* L4 headers not inside the datagram (the frame still holds them: padding) */
	{ "ipv4_trunc_l4_udp", { P(P_UDP, 1000, 2000), .ip_len = 20 + 7 }, RSN(TRUNC_L4) },
	{ "ipv4_trunc_l4_tcp", { P(P_TCP, 1001, 80), .ip_len = 20 + 19 }, RSN(TRUNC_L4) },
	{ "ipv4_trunc_l4_udplite", { P(P_UDPLITE, 5000, 5001), .ip_len = 20 + 7 }, RSN(TRUNC_L4) },
	{ "ipv4_trunc_l4_sctp", { P(P_SCTP, 3868, 3869), .ip_len = 20 + 11 }, RSN(TRUNC_L4) },
	{ "ipv4_trunc_l4_dccp", { P(P_DCCP, 6000, 6001), .ip_len = 20 + 11 }, RSN(TRUNC_L4) },
	{ "ipv4_trunc_l4_no_l4", { P(P_UDP, 1000, 2000), .ip_len = 20, .trunc = 14 + 20 },
	  RSN(TRUNC_L4) },
	{ "ipv4_exact_udp_header", { P(P_UDP, 1000, 2000), .ip_len = 28, .trunc = 14 + 28 },
	  OK(P_UDP, 1000, 2000) },
	{ "ipv4_exact_sctp_header", { P(P_SCTP, 3868, 3869), .ip_len = 32 }, OK(P_SCTP, 3868, 3869) },
	{ "ipv4_exact_dccp_header", { P(P_DCCP, 6000, 6001), .ip_len = 32 }, OK(P_DCCP, 6000, 6001) },
	{ "ipv4_tcp_doff_4", { P(P_TCP, 1001, 80), .doff = 4 }, RSN(BAD_L4) },
	/* IPv4 fragments */
	{ "ipv4_df_not_a_fragment", { .frag_off = 0x4000, P(P_UDP, 1000, 2000) },
	  OK(P_UDP, 1000, 2000) },
	{ "ipv4_first_fragment_udp", { .frag_off = 0x2000, P(P_UDP, 1000, 2000), .l4len = 64 },
	  OK(P_UDP, 1000, 2000), .want_frag = PCF_PARSE_FIRST },
	{ "ipv4_first_fragment_tcp", { .frag_off = 0x2000, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 1001, 80), .want_frag = PCF_PARSE_FIRST },
	{ "ipv4_first_fragment_udp_cut", { .frag_off = 0x2000, P(P_UDP, 1000, 2000),
	  .ip_len = 20 + 4 }, RSN(TRUNC_L4) },
	{ "ipv4_later_fragment", { .frag_off = 185, P(P_UDP, 1000, 2000) },
	  OK(P_UDP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv4_later_fragment_mf", { .frag_off = 0x2000 | 1, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv4_later_fragment_short", { .frag_off = 185, P(P_UDP, 1000, 2000), .ip_len = 20 + 2 },
	  OK(P_UDP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv4_later_fragment_bad_hdr", { .frag_off = 185, .ihl = 4, P(P_UDP, 1000, 2000) },
	  RSN(BAD_IP_HDR) },
	/* VLAN tags */
	{ "vlan_8021q", { .tags = { Q }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "vlan_8021ad", { .tags = { AD }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "vlan_qinq_88a8_8100", { .tags = { AD, Q }, P(P_TCP, 1001, 80) }, OK(P_TCP, 1001, 80) },
	{ "vlan_two_8100", { .tags = { Q, Q }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "vlan_8100_88a8", { .tags = { Q, AD }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "vlan_two_88a8", { .tags = { AD, AD }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "vlan_three_tags", { .tags = { AD, Q, Q }, P(P_UDP, 1000, 2000) }, RSN(VLAN_DEPTH) },
	{ "vlan_three_tags_third_cut", { .tags = { Q, Q, Q }, P(P_UDP, 1000, 2000),
	  .trunc = 14 + 8 + 1 }, RSN(VLAN_DEPTH) },
	{ "vlan_trunc_tag", { .tags = { Q }, P(P_UDP, 1000, 2000), .trunc = 14 + 3 },
	  RSN(TRUNC_VLAN) },
	{ "vlan_trunc_tag_no_bytes", { .tags = { AD }, P(P_UDP, 1000, 2000), .trunc = 14 },
	  RSN(TRUNC_VLAN) },
	{ "vlan_trunc_inner_tag", { .tags = { AD, Q }, P(P_UDP, 1000, 2000), .trunc = 18 + 2 },
	  RSN(TRUNC_VLAN) },
	{ "vlan_tag_then_no_ip", { .tags = { Q }, P(P_UDP, 1000, 2000), .trunc = 18 },
	  RSN(TRUNC_IP) },
	{ "vlan_qinq_ipv4_options", { .tags = { AD, Q }, .ihl = 8, P(P_UDP, 1000, 2000) },
	  OK(P_UDP, 1000, 2000) },
	{ "vlan_qinq_trunc_l4", { .tags = { AD, Q }, P(P_UDP, 1000, 2000), .ip_len = 27 },
	  RSN(TRUNC_L4) },
	/* not IP */
	{ "non_ip_arp", { .ethertype = ETH_P_ARP }, RSN(NON_IP) },
	{ "non_ip_lldp", { .ethertype = ETH_P_LLDP_ }, RSN(NON_IP) },
	{ "non_ip_vlan_arp", { .tags = { Q }, .ethertype = ETH_P_ARP }, RSN(NON_IP) },
	{ "non_ip_qinq_arp", { .tags = { AD, Q }, .ethertype = ETH_P_ARP }, RSN(NON_IP) },
	/* IPv6, every protocol */
	{ "ipv6_udp", { .v6 = true, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv6_tcp", { .v6 = true, P(P_TCP, 1001, 80) }, OK(P_TCP, 1001, 80) },
	{ "ipv6_icmpv6_ports_0", { .v6 = true, P(P_ICMPV6, 0, 0) }, OK(P_ICMPV6, 0, 0) },
	{ "ipv6_sctp", { .v6 = true, P(P_SCTP, 3868, 3869) }, OK(P_SCTP, 3868, 3869) },
	{ "ipv6_udplite", { .v6 = true, P(P_UDPLITE, 5000, 5001) }, OK(P_UDPLITE, 5000, 5001) },
	{ "ipv6_dccp", { .v6 = true, P(P_DCCP, 6000, 6001) }, OK(P_DCCP, 6000, 6001) },
	{ "ipv6_esp_ends_chain", { .v6 = true, P(P_ESP, 0x1111, 0x2222) }, OK(P_ESP, 0, 0) },
	{ "ipv6_no_next_header", { .v6 = true, P(P_NONE, 0, 0) }, OK(P_NONE, 0, 0) },
	{ "ipv6_no_next_header_after_dstopts", { .v6 = true, .n_ext = 1, .ext = { X(P_DSTOPTS, 0) },
	  P(P_NONE, 0, 0) }, OK(P_NONE, 0, 0) },
	{ "ipv6_gre_ports_0", { .v6 = true, P(P_GRE, 0x1111, 0x2222) }, OK(P_GRE, 0, 0) },
	{ "ipv6_icmp_v4_number_ports_0", { .v6 = true, P(P_ICMP, 0, 0) }, OK(P_ICMP, 0, 0) },
	{ "ipv6_vlan_8021q_udp", { .tags = { Q }, .v6 = true, P(P_UDP, 1000, 2000) },
	  OK(P_UDP, 1000, 2000) },
	{ "ipv6_qinq_tcp", { .tags = { AD, Q }, .v6 = true, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 1001, 80) },
	{ "ipv6_ethernet_padding", { .v6 = true, P(P_UDP, 1000, 2000), .pad = 30 },
	  OK(P_UDP, 1000, 2000) },
	/* IPv6 header */
	{ "ipv6_bad_version_4", { .v6 = true, .version = 4, P(P_UDP, 1000, 2000) }, RSN(BAD_IP_HDR) },
	{ "ipv6_ipv4_header_in_ipv6_ethertype", { .ethertype = ETH_P_IPV6, P(P_UDP, 1000, 2000),
	  .pad = 20 /* 40 bytes: the version is what is wrong */ },
	  RSN(BAD_IP_HDR) },
	{ "ipv6_trunc_fixed_header", { .v6 = true, P(P_UDP, 1000, 2000), .trunc = 14 + 39 },
	  RSN(TRUNC_IP) },
	{ "ipv6_payload_len_beyond_frame", { .v6 = true, P(P_UDP, 1000, 2000), .ip_len = 9 },
	  RSN(TRUNC_IP) },
	{ "ipv6_udp_cut_by_frame", { .v6 = true, P(P_UDP, 1000, 2000), .trunc = 14 + 40 + 7 },
	  RSN(TRUNC_IP) },
	{ "ipv6_jumbogram_is_bad_header", { .v6 = true, .n_ext = 1, .ext = { X(P_HOPOPTS, 0) },
	  P(P_UDP, 1000, 2000), .ip_len = -1 }, RSN(BAD_IP_HDR) },
	{ "ipv6_payload_len_0_udp", { .v6 = true, P(P_UDP, 1000, 2000), .ip_len = -1 },
	  RSN(TRUNC_L4) },
	/* IPv6 L4 headers not inside the payload */
	{ "ipv6_trunc_l4_udp", { .v6 = true, P(P_UDP, 1000, 2000), .ip_len = 7 }, RSN(TRUNC_L4) },
	{ "ipv6_trunc_l4_tcp", { .v6 = true, P(P_TCP, 1001, 80), .ip_len = 19 }, RSN(TRUNC_L4) },
	{ "ipv6_trunc_l4_udplite", { .v6 = true, P(P_UDPLITE, 5000, 5001), .ip_len = 7 },
	  RSN(TRUNC_L4) },
	{ "ipv6_trunc_l4_sctp", { .v6 = true, P(P_SCTP, 3868, 3869), .ip_len = 11 }, RSN(TRUNC_L4) },
	{ "ipv6_trunc_l4_dccp", { .v6 = true, P(P_DCCP, 6000, 6001), .ip_len = 11 }, RSN(TRUNC_L4) },
	{ "ipv6_trunc_l4_after_ext", { .v6 = true, .n_ext = 1, .ext = { X(P_DSTOPTS, 1) },
	  P(P_UDP, 1000, 2000), .ip_len = 16 + 7 }, RSN(TRUNC_L4) },
	{ "ipv6_tcp_doff_4", { .v6 = true, P(P_TCP, 1001, 80), .doff = 4 }, RSN(BAD_L4) },
	/* IPv6 extension headers */
	{ "ipv6_hbh_routing_dstopts_udp", { .v6 = true, .n_ext = 3,
	  .ext = { X(P_HOPOPTS, 0), X(P_ROUTING, 2), X(P_DSTOPTS, 1) }, P(P_UDP, 1000, 2000) },
	  OK(P_UDP, 1000, 2000) },
	{ "ipv6_ah_tcp", { .v6 = true, .n_ext = 1, .ext = { X(P_AH, 4) }, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 1001, 80) },
	{ "ipv6_ah_32_bytes_udp", { .v6 = true, .n_ext = 2, .ext = { X(P_AH, 6), X(P_DSTOPTS, 0) },
	  P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv6_ah_20_bytes_udp", { .v6 = true, .n_ext = 2, .ext = { X(P_AH, 3), X(P_DSTOPTS, 0) },
	  P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv6_ah_then_esp", { .v6 = true, .n_ext = 1, .ext = { X(P_AH, 4) }, P(P_ESP, 1, 2) },
	  OK(P_ESP, 0, 0) },
	{ "ipv6_6_ext_hdrs_udp", { .v6 = true, .n_ext = 6,
	  .ext = { X(P_HOPOPTS, 0), X(P_DSTOPTS, 1), X(P_ROUTING, 0), X(P_AH, 4),
		   X(P_DSTOPTS, 0), FRAG(0) }, P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
	{ "ipv6_7_ext_hdrs", { .v6 = true, .n_ext = 7,
	  .ext = { X(P_HOPOPTS, 0), X(P_DSTOPTS, 0), X(P_ROUTING, 0), X(P_DSTOPTS, 0),
		   X(P_AH, 4), X(P_DSTOPTS, 0), X(P_DSTOPTS, 0) }, P(P_UDP, 1000, 2000) },
	  RSN(EXT_HDRS) },
	{ "ipv6_7_ext_hdrs_no_next", { .v6 = true, .n_ext = 7,
	  .ext = { X(P_DSTOPTS, 0), X(P_DSTOPTS, 0), X(P_DSTOPTS, 0), X(P_DSTOPTS, 0),
		   X(P_DSTOPTS, 0), X(P_DSTOPTS, 0), X(P_DSTOPTS, 0) }, P(P_NONE, 0, 0) },
	  RSN(EXT_HDRS) },
	{ "ipv6_ext_hdr_cut_by_frame", { .v6 = true, .n_ext = 2,
	  .ext = { X(P_HOPOPTS, 0), X(P_ROUTING, 1) }, P(P_UDP, 1000, 2000),
	  .trunc = 14 + 40 + 8 + 4 }, RSN(TRUNC_IP) },
	{ "ipv6_ext_hdr_beyond_payload", { .v6 = true, .n_ext = 2,
	  .ext = { X(P_HOPOPTS, 0), X(P_ROUTING, 1) }, P(P_UDP, 1000, 2000), .ip_len = 8 + 4 },
	  RSN(TRUNC_IP) },
	{ "ipv6_ext_hdr_length_beyond_payload", { .v6 = true, .n_ext = 1,
	  .ext = { X(P_DSTOPTS, 2) }, P(P_UDP, 1000, 2000), .ip_len = 16 },
	  RSN(TRUNC_IP) },
	{ "ipv6_ah_length_beyond_payload", { .v6 = true, .n_ext = 1,
	  .ext = { X(P_AH, 4) }, P(P_UDP, 1000, 2000), .ip_len = 20 }, RSN(TRUNC_IP) },
	{ "ipv6_fragment_header_cut", { .v6 = true, .n_ext = 1, .ext = { FRAG(0x0001) },
	  P(P_UDP, 1000, 2000), .ip_len = 7 }, RSN(TRUNC_IP) },
	/* IPv6 fragments */
	{ "ipv6_first_fragment_udp", { .v6 = true, .n_ext = 1, .ext = { FRAG(0x0001) },
	  P(P_UDP, 1000, 2000), .l4len = 64 }, OK(P_UDP, 1000, 2000), .want_frag = PCF_PARSE_FIRST },
	{ "ipv6_first_fragment_after_hbh_tcp", { .v6 = true, .n_ext = 3,
	  .ext = { X(P_HOPOPTS, 0), FRAG(0x0001), X(P_DSTOPTS, 0) }, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 1001, 80), .want_frag = PCF_PARSE_FIRST },
	{ "ipv6_first_fragment_udp_cut", { .v6 = true, .n_ext = 1, .ext = { FRAG(0x0001) },
	  P(P_UDP, 1000, 2000), .ip_len = 8 + 4 }, RSN(TRUNC_L4) },
	{ "ipv6_later_fragment", { .v6 = true, .n_ext = 1, .ext = { FRAG(185 << 3) },
	  P(P_UDP, 1000, 2000) }, OK(P_UDP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv6_later_fragment_mf", { .v6 = true, .n_ext = 2,
	  .ext = { X(P_HOPOPTS, 0), FRAG(185 << 3 | 1) }, P(P_TCP, 1001, 80) },
	  OK(P_TCP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv6_later_fragment_no_l4_bytes", { .v6 = true, .n_ext = 1, .ext = { FRAG(1 << 3) },
	  P(P_UDP, 1000, 2000), .ip_len = 8 }, OK(P_UDP, 0, 0), .want_frag = PCF_PARSE_LATER },
	{ "ipv6_atomic_fragment_not_a_fragment", { .v6 = true, .n_ext = 1, .ext = { FRAG(0) },
	  P(P_UDP, 1000, 2000) }, OK(P_UDP, 1000, 2000) },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---- running ------------------------------------------------------------------------- */

static void fmt_tuple(const struct pcf_tuple *t, char *out, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	if (t->family == PCF_FAMILY_IPV6) {
		inet_ntop(AF_INET6, t->src, s, sizeof(s));
		inet_ntop(AF_INET6, t->dst, d, sizeof(d));
	} else {
		inet_ntop(AF_INET, t->src, s, sizeof(s));
		inet_ntop(AF_INET, t->dst, d, sizeof(d));
	}
	/* src[1..3]/dst[1..3] in hex too: an IPv4 tuple must have them zero */
	snprintf(out, len, "{family %u proto %u pad %u [%s]:%u -> [%s]:%u, src[1..3] %x %x %x, "
		 "dst[1..3] %x %x %x}", t->family, t->proto, t->pad, s, ntohs(t->src_port), d,
		 ntohs(t->dst_port), t->src[1], t->src[2], t->src[3], t->dst[1], t->dst[2],
		 t->dst[3]);
}

static void want_tuple(const struct tcase *c, struct pcf_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->proto = c->want_proto;
	t->src_port = htons(c->want_sport);
	t->dst_port = htons(c->want_dport);
	if (c->pkt.v6) {
		t->family = PCF_FAMILY_IPV6;
		memcpy(t->src, client6, 16);
		memcpy(t->dst, server6, 16);
	} else {
		t->family = PCF_FAMILY_IPV4;
		t->src[0] = htonl(CLIENT);
		t->dst[0] = htonl(SERVER);
	}
}

static void run_case(const struct tcase *c)
{
	struct parse_result r, junk;
	struct pcf_tuple want;
	struct pcf_flow_key k;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	char why[512] = "", got_s[200], want_s[200];
	__u32 zero = 0;
	struct pkt p;
	bool ok = false;

	build(&c->pkt, &p);
	memset(&junk, 0xa5, sizeof(junk));
	if (bpf_map_update_elem(map_fd, &zero, &junk, BPF_ANY)) {
		snprintf(why, sizeof(why), "failed to reset parse_out: %s", strerror(errno));
		goto done;
	}
	o.data_in = p.buf;
	o.data_size_in = p.len;
	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		snprintf(why, sizeof(why), "test run of a %u-byte frame failed: %s", p.len,
			 strerror(errno));
		goto done;
	}
	if (o.retval != XDP_PASS) {
		snprintf(why, sizeof(why), "probe returned %u, want XDP_PASS", o.retval);
		goto done;
	}
	if (bpf_map_lookup_elem(map_fd, &zero, &r)) {
		snprintf(why, sizeof(why), "failed to read parse_out: %s", strerror(errno));
		goto done;
	}
	if (r.ret != c->want_ret || r.frag != c->want_frag) {
		snprintf(why, sizeof(why), "returned %d frag %d, want %d frag %d", r.ret, r.frag,
			 c->want_ret, c->want_frag);
		goto done;
	}
	if (c->want_ret) {
		ok = true; /* the tuple is not defined with a reason */
		goto done;
	}
	want_tuple(c, &want);
	if (memcmp(&r.t, &want, sizeof(want))) {
		fmt_tuple(&r.t, got_s, sizeof(got_s));
		fmt_tuple(&want, want_s, sizeof(want_s));
		snprintf(why, sizeof(why), "tuple %s, want %s", got_s, want_s);
		goto done;
	}
	if (!c->pkt.v6) {
		memset(&k, 0, sizeof(k));
		k.src_ip = want.src[0];
		k.dst_ip = want.dst[0];
		k.src_port = want.src_port;
		k.dst_port = want.dst_port;
		k.proto = want.proto;
		if (memcmp(&r.key, &k, sizeof(k))) {
			snprintf(why, sizeof(why), "pcf_tuple_to_key: %08x:%u -> %08x:%u proto %u "
				 "pad %02x%02x%02x, want %08x:%u -> %08x:%u proto %u pad 0",
				 ntohl(r.key.src_ip), ntohs(r.key.src_port), ntohl(r.key.dst_ip),
				 ntohs(r.key.dst_port), r.key.proto, r.key.pad[0], r.key.pad[1],
				 r.key.pad[2], ntohl(k.src_ip), ntohs(k.src_port), ntohl(k.dst_ip),
				 ntohs(k.dst_port), k.proto);
			goto done;
		}
	}
	ok = true;
done:
	result(ok, c->name, "%s", why);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], exe[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_map *map;
	ssize_t n;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("test_parse: needs root (BPF_PROG_TEST_RUN): skipped\n");
		return 77;
	}
	if (argc > 1) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		snprintf(path, sizeof(path), "%s/parse_probe.bpf.o", dirname(exe));
	}
	libbpf_set_print(libbpf_quiet);

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "failed to open %s: %s\n", path, strerror(errno));
		return 1;
	}
	map = bpf_object__find_map_by_name(obj, "parse_out");
	if (!map || bpf_map__value_size(map) != sizeof(struct parse_result)) {
		fprintf(stderr, "%s: parse_out missing or its value is not %zu bytes "
			"(test_parse.c and parse_probe.bpf.c disagree)\n", path,
			sizeof(struct parse_result));
		bpf_object__close(obj);
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "failed to load %s: %s\n", path, strerror(-err));
		bpf_object__close(obj);
		return err == -EPERM || err == -ENOSYS ? 77 : 1;
	}
	result(true, "verifier_accepts_probe", "");
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "parse_probe"));
	map_fd = bpf_map__fd(map);

	for (size_t i = 0; i < N_CASES; i++)
		run_case(&cases[i]);

	bpf_object__close(obj);
	printf("%d passed, %d failed\n", passes, fails);
	return fails ? 1 : 0;
}
