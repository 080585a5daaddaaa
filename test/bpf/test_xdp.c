// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_xdp.c - table-driven tests of pcf_xdp.bpf.o with BPF_PROG_TEST_RUN (Katran's
 * lib/testing style): each case crafts a packet, runs the real program on it and checks the
 * verdict, every counter of pcf_stats (exact deltas: what must grow and what must not), every
 * slot of pcf_rule_stats (the hit rule's stats_slot grows, no other slot does; a slot beyond
 * the map counts nowhere), the 32-byte metadata written in front of the frame and that the
 * frame itself is untouched. Then: an AF_XDP socket receives a REDIRECTed frame with its metadata in the UMEM
 * (live-frames test run), and pcf_tc_mark turns metadata into skb->mark.
 * Attachments: the object is loaded twice on the same maps, as attachment 0 and as attachment 1
 * (pcf_attachment set before load, as pcf-xdp does); cases say which instance runs, at which
 * attachment's key of pcf_xskmap the socket sits and each attachment's default action
 * (pcf_config[attachment]).
 *
 * Usage: test_xdp [path/to/pcf_xdp.bpf.o]   (default: next to this binary)
 * Runs in a private network namespace (unshare), so the veth it creates goes away with it.
 * Exit: 0 all passed, 1 a failure, 77 cannot run here (not root, no BPF).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "pcf_common.h"

#define VETH "pcft0"
#define VETH_PEER "pcft1"
#define VETH_QUEUES 4

/* max_entries of pcf_flow_map and pcf_rule_stats here (the loader gives both one size) */
#define RULE_SLOTS 1024

/* The layout the worker and pcf_tc_mark rely on: 32 bytes, the magic right before the frame. */
_Static_assert(sizeof(struct pcf_flow_action) == 28, "pcf_flow_action is 28 bytes");
_Static_assert(offsetof(struct pcf_flow_action, stats_slot) == 4, "stats_slot after rule_id");
_Static_assert(sizeof(struct pcf_xdp_meta) == 32, "pcf_xdp_meta is 32 bytes");
_Static_assert(offsetof(struct pcf_xdp_meta, magic) == 28, "magic at data - 4");

static int fails, passes;
static int n_cpus;
static int prog_xdp;
static int prog_attachment[2]; /* pcf_xdp loaded as attachment 0 (= prog_xdp) and as 1 */
static int map_flow, map_stats, map_rule_stats, map_xsk, map_config;
static int ifindex_lo, ifindex_veth;

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

#define CLIENT 0xc6120001 /* 198.18.0.1 */
#define SERVER 0xc6120101 /* 198.18.1.1 */

struct spec {
	__u16 vlan_tpid;   /* 0: untagged */
	__u16 vlan_tpid2;  /* 0: at most one tag; else an inner tag (QinQ) after vlan_tpid's */
	__u16 ethertype;   /* 0: IPv4 */
	__u8 version;      /* 0: 4 */
	__u8 ihl;          /* 0: 5; more adds NOP options */
	__u16 tot_len;     /* 0: computed */
	__u16 frag_off;    /* host order: flags and offset */
	__u8 proto;
	__u16 sport, dport;
	__u32 trunc;       /* 0: whole frame; else cut the frame to this many bytes */
};

struct pkt {
	__u8 buf[256];
	__u32 len;
};

static void put16(__u8 *p, __u16 v) { p[0] = v >> 8; p[1] = v; }
static void put32(__u8 *p, __u32 v) { put16(p, v >> 16); put16(p + 2, v); }

/* A 64-byte-or-more Ethernet frame as the spec says. */
static void build(const struct spec *s, struct pkt *p)
{
	static const __u8 dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 }, smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	__u16 ethertype = s->ethertype ? s->ethertype : ETH_P_IP;
	__u8 *b = p->buf, *ip;
	__u32 off = 12, hlen, l4len, i;

	memset(p, 0, sizeof(*p));
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	if (s->vlan_tpid) {
		put16(b + off, s->vlan_tpid);
		put16(b + off + 2, 100); /* VID 100 */
		off += 4;
	}
	if (s->vlan_tpid2) {
		put16(b + off, s->vlan_tpid2);
		put16(b + off + 2, 200); /* VID 200 */
		off += 4;
	}
	put16(b + off, ethertype);
	off += 2;
	ip = b + off;

	if (ethertype == ETH_P_ARP) {
		put16(ip, 1); put16(ip + 2, ETH_P_IP); ip[4] = 6; ip[5] = 4; put16(ip + 6, 1);
		memcpy(ip + 8, smac, 6); put32(ip + 14, CLIENT); put32(ip + 24, SERVER);
		p->len = off + 28;
	} else if (ethertype == ETH_P_IPV6) {
		ip[0] = 0x60; put16(ip + 4, 8); ip[6] = IPPROTO_UDP; ip[7] = 64;
		put32(ip + 8, 0x20010002); ip[23] = 1;              /* 2001:2::1 -> */
		put32(ip + 24, 0x20010002); ip[31] = 1; ip[39] = 1; /* 2001:2:0:1::1 */
		put16(ip + 40, 1000); put16(ip + 42, 2000); put16(ip + 44, 8);
		p->len = off + 48;
	} else {
		hlen = (s->ihl ? s->ihl : 5) * 4;
		l4len = s->proto == IPPROTO_TCP ? 20 : 8;
		if (off + hlen + l4len < 64)
			l4len = 64 - off - hlen; /* payload up to the minimum frame */
		ip[0] = (s->version ? s->version : 4) << 4 | (s->ihl ? s->ihl : 5);
		put16(ip + 2, s->tot_len ? s->tot_len : hlen + l4len);
		put16(ip + 4, 0x1234);
		put16(ip + 6, s->frag_off);
		ip[8] = 64;
		ip[9] = s->proto;
		put32(ip + 12, CLIENT);
		put32(ip + 16, SERVER);
		for (i = 20; i < hlen; i++)
			ip[i] = 1; /* IPOPT_NOOP */
		if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
			put16(ip + hlen, s->sport);
			put16(ip + hlen + 2, s->dport);
		}
		if (s->proto == IPPROTO_TCP)
			ip[hlen + 12] = 5 << 4;
		else if (s->proto == IPPROTO_UDP)
			put16(ip + hlen + 4, l4len);
		else if (s->proto == IPPROTO_ICMP)
			ip[hlen] = 8; /* echo request */
		p->len = off + hlen + l4len;
	}
	if (s->trunc && s->trunc < p->len)
		p->len = s->trunc;
}

/* ---- rules --------------------------------------------------------------------------- */

struct rule {
	__u8 proto;
	__u16 sport, dport;
	struct pcf_flow_action act;
};

/* Slots are unrelated to rule ids (a program counting at rule_id would fail), include both ends
 * of pcf_rule_stats (rule 1: the last slot, rule 4: slot 0), and two rules have slots beyond it
 * (6, 8): matched and acted on, counted nowhere. Repeats only with rules that write no
 * metadata: a repeated test run keeps the metadata of the run before. */
static struct rule rules[] = {
	{ IPPROTO_UDP, 1000, 2000, { .rule_id = 1, .stats_slot = RULE_SLOTS - 1, .type = PCF_ACT_DROP,
				     .queue_id = PCF_QUEUE_ANY } },
	{ IPPROTO_TCP, 1001, 80, { .rule_id = 2, .stats_slot = 2, .type = PCF_ACT_PASS,
				   .flags = PCF_F_MARK, .queue_id = PCF_QUEUE_ANY, .mark = 0x42 } },
	{ IPPROTO_UDP, 1002, 3000, { .rule_id = 3, .stats_slot = 17,
				     .type = PCF_ACT_REDIRECT, .ttl_delta = -1,
				     .flags = PCF_F_SNAT | PCF_F_DNAT | PCF_F_MARK,
				     .queue_id = PCF_QUEUE_ANY, .mark = 0x43,
				     .snat_ip = 0x0a0b0c0d, .dnat_ip = 0x01020304,
				     .snat_port = 0x1111, .dnat_port = 0x2222 } },
	{ IPPROTO_ICMP, 0, 0, { .rule_id = 4, .stats_slot = 0, .type = PCF_ACT_DROP,
				.queue_id = PCF_QUEUE_ANY } },
	{ IPPROTO_UDP, 1003, 4000, { .rule_id = 5, .stats_slot = 9, .type = PCF_ACT_REDIRECT,
				     .queue_id = 3 } },
	{ IPPROTO_UDP, 1004, 5000, { .rule_id = 6, .stats_slot = RULE_SLOTS, .type = PCF_ACT_PASS,
				     .flags = PCF_F_MARK, .queue_id = PCF_QUEUE_ANY, .mark = 0x46 } },
	{ IPPROTO_UDP, 1005, 6000, { .rule_id = 7, .stats_slot = 3, .type = 9 /* unknown */,
				     .queue_id = PCF_QUEUE_ANY } },
	{ IPPROTO_UDP, 1006, 7000, { .rule_id = 8, .stats_slot = 0xffffffff, .type = PCF_ACT_DROP,
				     .queue_id = PCF_QUEUE_ANY } },
};
#define N_RULES (sizeof(rules) / sizeof(rules[0]))

static const struct rule *rule_by_id(__u32 id)
{
	for (size_t i = 0; i < N_RULES; i++)
		if (rules[i].act.rule_id == id)
			return &rules[i];
	return NULL;
}

/* As the control plane does: zero a rule's slot (it may have counted for an earlier rule), then
 * write the rule. Slots beyond the map have nothing to zero. The map starts with counts in
 * every slot, so a datapath that only counted when a slot was zero would show. */
static int install_rules(void)
{
	struct pcf_counter zero[n_cpus], junk[n_cpus];
	struct pcf_flow_key k;

	memset(zero, 0, sizeof(zero));
	for (int c = 0; c < n_cpus; c++)
		junk[c] = (struct pcf_counter){ .packets = 1000 + c, .bytes = 64000 };
	for (__u32 slot = 0; slot < RULE_SLOTS; slot++)
		if (bpf_map_update_elem(map_rule_stats, &slot, junk, BPF_ANY))
			return -errno;
	for (size_t i = 0; i < N_RULES; i++) {
		memset(&k, 0, sizeof(k));
		k.src_ip = htonl(CLIENT);
		k.dst_ip = htonl(SERVER);
		k.src_port = htons(rules[i].sport);
		k.dst_port = htons(rules[i].dport);
		k.proto = rules[i].proto;
		if (rules[i].act.stats_slot < RULE_SLOTS &&
		    bpf_map_update_elem(map_rule_stats, &rules[i].act.stats_slot, zero, BPF_ANY))
			return -errno;
		if (bpf_map_update_elem(map_flow, &k, &rules[i].act, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* ---- counters ------------------------------------------------------------------------ */

struct snap {
	struct pcf_counter cnt[PCF_CNT__MAX];
	struct pcf_counter slot[RULE_SLOTS]; /* all of pcf_rule_stats */
	__u32 missing;                       /* slots whose lookup failed (none should) */
};

static const char *cnt_names[] = {
#define X(id, name) name,
	PCF_COUNTER_TABLE(X)
#undef X
};

static void sum_percpu(int fd, const void *key, struct pcf_counter *out, bool *present)
{
	struct pcf_counter v[n_cpus];

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, key, v)) {
		if (present)
			*present = false;
		return;
	}
	if (present)
		*present = true;
	for (int c = 0; c < n_cpus; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
	}
}

static void take_snap(struct snap *s)
{
	bool present;

	s->missing = 0;
	for (__u32 i = 0; i < PCF_CNT__MAX; i++)
		sum_percpu(map_stats, &i, &s->cnt[i], NULL);
	for (__u32 i = 0; i < RULE_SLOTS; i++) {
		sum_percpu(map_rule_stats, &i, &s->slot[i], &present);
		s->missing += !present;
	}
}

/* Every counter must have grown by exactly want (packets) * bytes, or not at all; in
 * pcf_rule_stats, only want_rule's stats_slot grows (none when the slot is beyond the map). */
static bool check_counters(const struct snap *a, const struct snap *b, const int *want,
			   __u32 want_rule, __u64 pkts, __u64 bytes, char *why, size_t whylen)
{
	const struct rule *r = want_rule ? rule_by_id(want_rule) : NULL;

	for (int i = 0; i < PCF_CNT__MAX; i++) {
		bool expected = i == PCF_CNT_RX;
		__u64 dp = b->cnt[i].packets - a->cnt[i].packets;
		__u64 db = b->cnt[i].bytes - a->cnt[i].bytes;

		for (int j = 0; want[j] >= 0; j++)
			expected |= want[j] == i;
		if (dp != (expected ? pkts : 0) || db != (expected ? pkts * bytes : 0)) {
			snprintf(why, whylen, "counter %s grew by %llu packets / %llu bytes, want %llu / %llu",
				 cnt_names[i], (unsigned long long)dp, (unsigned long long)db,
				 (unsigned long long)(expected ? pkts : 0),
				 (unsigned long long)(expected ? pkts * bytes : 0));
			return false;
		}
	}
	if (a->missing || b->missing) {
		snprintf(why, whylen, "%u slots of pcf_rule_stats could not be read", b->missing);
		return false;
	}
	for (__u32 i = 0; i < RULE_SLOTS; i++) {
		bool expected = r && r->act.stats_slot == i;
		__u64 dp = b->slot[i].packets - a->slot[i].packets;
		__u64 db = b->slot[i].bytes - a->slot[i].bytes;

		if (dp != (expected ? pkts : 0) || db != (expected ? pkts * bytes : 0)) {
			snprintf(why, whylen, "pcf_rule_stats[%u] grew by %llu/%llu, want %llu/%llu "
				 "(rule %u, slot %u)", i, (unsigned long long)dp,
				 (unsigned long long)db, (unsigned long long)(expected ? pkts : 0),
				 (unsigned long long)(expected ? pkts * bytes : 0), want_rule,
				 r ? r->act.stats_slot : 0);
			return false;
		}
	}
	return true;
}

/* ---- the table ----------------------------------------------------------------------- */

enum ingress { IN_NONE, IN_LO, IN_VETH };

#define W(...) { __VA_ARGS__, -1 }
#define END -1

struct tcase {
	const char *name;
	struct spec pkt;
	enum ingress in;       /* ctx ingress_ifindex (needed for rx_queue_index != 0) */
	__u32 rx_queue;
	__u32 meta_in;         /* metadata bytes already in front of the frame (META_NO_ROOM) */
	__u32 attachment;      /* the program instance that runs: loaded as this attachment */
	__u32 default_action;  /* pcf_config[attachment].default_action for this case */
	__u32 other_default;   /* the default action of the other attachment (0 or 1) */
	bool with_xsk;         /* an AF_XDP socket in pcf_xskmap[PCF_XSK_KEY(xsk_attachment, 0)] */
	__u32 xsk_attachment;
	__u32 repeat;
	int want_ret;
	int want_cnt[4];       /* counters growing by one packet per run besides RX; END-terminated */
	__u32 want_rule;       /* rule that matched: its stats_slot grows, if in the map (0: none) */
	bool want_meta;        /* the rule's action is in the metadata */
};

/* Metadata already in front of the frame, sized so that bpf_xdp_adjust_meta(-32) must fail:
 * 32 bytes where metadata is limited to 32 (before Linux 6.x raised it to 255), else 192 bytes,
 * which leaves no headroom above struct xdp_frame. Resolved in main(). */
#define META_NO_ROOM 0xffff
static __u32 no_room_meta = 192;

/* Frames shorter than ETH_HLEN: Linux 6.x test runs refuse data_size_in - meta < ETH_HLEN
 * (older ones refused data_size_in < ETH_HLEN, so metadata made up the size), and
 * bpf_xdp_adjust_head/tail never leave less than ETH_HLEN, so no XDP program sees such a frame
 * here; the check in pcf_parse.bpf.h is still needed by the verifier. */

#define UDP(s, d) .proto = IPPROTO_UDP, .sport = s, .dport = d
#define TCP(s, d) .proto = IPPROTO_TCP, .sport = s, .dport = d

static const struct tcase cases[] = {
	/* verdicts */
	{ "hit_drop_udp", { UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "hit_drop_udp_repeat_10", { UDP(1000, 2000) }, .repeat = 10, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "hit_pass_tcp_meta", { TCP(1001, 80) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_ACT_PASS), .want_rule = 2, .want_meta = true },
	{ "hit_redirect_no_socket_fallback", { UDP(1002, 3000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK), .want_rule = 3, .want_meta = true },
	{ "hit_redirect_socket", { UDP(1002, 3000) }, .in = IN_VETH, .with_xsk = true,
	  .want_ret = XDP_REDIRECT, .want_cnt = W(PCF_CNT_ACT_REDIRECT), .want_rule = 3,
	  .want_meta = true },
	{ "hit_unknown_action_type_passes", { UDP(1005, 6000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_ACT_PASS), .want_rule = 7, .want_meta = true },
	/* stats slots: the last one counts; beyond the map the rule applies, uncounted */
	{ "hit_slot_out_of_range_passes_uncounted", { UDP(1004, 5000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_ACT_PASS), .want_rule = 6, .want_meta = true },
	{ "hit_slot_0xffffffff_drops_uncounted", { UDP(1006, 7000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 8 },
	{ "hit_slot_0xffffffff_repeat_5", { UDP(1006, 7000) }, .repeat = 5, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 8 },
	{ "hit_last_slot_counts", { UDP(1000, 2000) }, .repeat = 3, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "hit_slot_0_counts", { .proto = IPPROTO_ICMP }, .repeat = 4, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 4 },
	{ "miss_default_pass", { UDP(1000, 2001) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS) },
	{ "miss_default_drop", { UDP(1000, 2001) }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_MISS_DROP) },
	{ "miss_reversed_tuple", { UDP(2000, 1000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS) },
	{ "miss_other_proto_same_ports", { TCP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS) },
	/* queues */
	{ "queue_mismatch_passes_with_meta", { UDP(1003, 4000) }, .in = IN_LO, .rx_queue = 0,
	  .with_xsk = true, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_QUEUE_MISMATCH),
	  .want_rule = 5, .want_meta = true },
	{ "queue_match_no_socket_fallback", { UDP(1003, 4000) }, .in = IN_VETH, .rx_queue = 3,
	  .with_xsk = true, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK),
	  .want_rule = 5, .want_meta = true },
	{ "queue_any_on_queue_2_no_socket", { UDP(1002, 3000) }, .in = IN_VETH, .rx_queue = 2,
	  .with_xsk = true, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK),
	  .want_rule = 3, .want_meta = true },
	/* parsing */
	{ "vlan_8021q_hit", { .vlan_tpid = ETH_P_8021Q, UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "vlan_8021ad_hit", { .vlan_tpid = ETH_P_8021AD, UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "vlan_tcp_pass_meta", { .vlan_tpid = ETH_P_8021Q, TCP(1001, 80) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_ACT_PASS), .want_rule = 2, .want_meta = true },
	{ "icmp_ports_zero_hit", { .proto = IPPROTO_ICMP }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 4 },
	{ "other_proto_gre_miss", { .proto = 47 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS) },
	{ "ipv4_options_ihl6_hit", { .ihl = 6, UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "ipv4_options_ihl15_hit", { .ihl = 15, UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "ipv4_options_vlan_tcp_hit", { .vlan_tpid = ETH_P_8021Q, .ihl = 8, TCP(1001, 80) },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_ACT_PASS), .want_rule = 2, .want_meta = true },
	/* a first fragment carries the whole UDP header: classified by its ports */
	{ "fragment_first_hit", { .frag_off = 0x2000, UDP(1000, 2000) }, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP, PCF_CNT_FRAG_FIRST), .want_rule = 1 },
	{ "fragment_first_miss", { .frag_off = 0x2000, UDP(1000, 2001) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS, PCF_CNT_FRAG_FIRST) },
	{ "fragment_first_udp_header_cut", { .frag_off = 0x2000, UDP(1000, 2000),
	  .tot_len = 20 + 4 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	/* a later fragment has no ports: no exact rule, no port-less rule here */
	{ "fragment_offset", { .frag_off = 185, UDP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_FRAGMENT, PCF_CNT_FRAG_LATER) },
	{ "fragment_df_is_not_a_fragment", { .frag_off = 0x4000, UDP(1000, 2000) },
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "non_ip_arp", { .ethertype = ETH_P_ARP }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_NON_IP) },
	/* UDP 1000 -> 2000 like rule 1, but IPv6: an IPv4 rule does not match it */
	{ "ipv6_miss_pass", { .ethertype = ETH_P_IPV6 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_MISS_PASS, PCF_CNT_RX_IPV6) },
	{ "qinq_double_tag_miss", { .vlan_tpid = ETH_P_8021AD, .vlan_tpid2 = ETH_P_8021Q,
	  UDP(1000, 2001) }, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_MISS_PASS) },
	{ "bad_version_6_in_ipv4", { .version = 6, UDP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_BAD_IP_HDR) },
	{ "bad_ihl_4", { .ihl = 4, UDP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_BAD_IP_HDR) },
	{ "bad_tot_len_below_ihl", { .tot_len = 10, UDP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_BAD_IP_HDR) },
	{ "tot_len_beyond_frame", { .tot_len = 1500, UDP(1000, 2000) }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	/* --default drop: IP traffic no rule allows goes, whatever its family or shape; only
	 * non-IP passes on purpose (the node stays reachable) */
	{ "default_drop_malformed_ipv4", { .ihl = 4, UDP(1000, 2000) }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_DROP_UNPARSED, PCF_CNT_RSN_BAD_IP_HDR) },
	{ "default_drop_truncated_ipv4", { .tot_len = 1500, UDP(1000, 2000) }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_DROP_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "default_drop_later_fragment", { .frag_off = 185, UDP(1000, 2000) }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_DROP_UNPARSED, PCF_CNT_RSN_FRAGMENT, PCF_CNT_FRAG_LATER) },
	{ "default_drop_ipv6_miss", { .ethertype = ETH_P_IPV6 }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_MISS_DROP, PCF_CNT_RX_IPV6) },
	{ "default_drop_qinq_miss", { .vlan_tpid = ETH_P_8021AD, .vlan_tpid2 = ETH_P_8021Q, UDP(1000, 2001) },
	  .default_action = PCF_ACT_DROP, .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_MISS_DROP) },
	{ "default_drop_arp_passes", { .ethertype = ETH_P_ARP }, .default_action = PCF_ACT_DROP,
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_NON_IP) },
	/* truncation at every header boundary */
	/* No case below 14 bytes: XDP never sees one (the kernel refuses shorter frames in test
	 * runs, and adjust_head/adjust_tail keep ETH_HLEN), so RSN_TRUNC_ETH is the verifier's bounds
	 * check, not a path a packet can take. */
	{ "trunc_vlan_17", { .vlan_tpid = ETH_P_8021Q, UDP(1000, 2000), .trunc = 17 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_VLAN) },
	{ "trunc_vlan_14", { .vlan_tpid = ETH_P_8021AD, UDP(1000, 2000), .trunc = 14 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_VLAN) },
	{ "trunc_ip_eth_only", { UDP(1000, 2000), .trunc = 14 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "trunc_ip_33", { UDP(1000, 2000), .trunc = 33 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "trunc_ip_vlan_37", { .vlan_tpid = ETH_P_8021Q, UDP(1000, 2000), .trunc = 37 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "trunc_ip_options", { .ihl = 8, UDP(1000, 2000), .trunc = 14 + 28 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "trunc_datagram_inside_udp_header", { UDP(1000, 2000), .tot_len = 20 + 8,
	  .trunc = 14 + 20 + 7 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_IP) },
	{ "trunc_l4_udp", { UDP(1000, 2000), .tot_len = 20 + 7 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	{ "trunc_l4_udp_no_l4", { UDP(1000, 2000), .tot_len = 20, .trunc = 14 + 20 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	{ "trunc_l4_tcp", { TCP(1001, 80), .tot_len = 20 + 19 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	{ "trunc_l4_tcp_frame", { TCP(1001, 80), .tot_len = 20 + 10, .trunc = 14 + 30 },
	  .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	{ "trunc_l4_options_vlan_udp", { .vlan_tpid = ETH_P_8021Q, .ihl = 6, UDP(1000, 2000),
	  .tot_len = 24 + 4, .trunc = 18 + 28 }, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_PASS_UNPARSED, PCF_CNT_RSN_TRUNC_L4) },
	{ "exact_udp_header_hit", { UDP(1000, 2000), .tot_len = 28, .trunc = 14 + 28 },
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "icmp_needs_no_l4", { .proto = IPPROTO_ICMP, .tot_len = 20, .trunc = 34 },
	  .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 4 },
	/* metadata refused (no room left), the verdict stands */
	{ "meta_fail_pass_still_passes", { TCP(1001, 80) }, .meta_in = META_NO_ROOM, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_ACT_PASS, PCF_CNT_META_FAIL), .want_rule = 2 },
	{ "meta_fail_redirect_fallback", { UDP(1002, 3000) }, .meta_in = META_NO_ROOM, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK, PCF_CNT_META_FAIL), .want_rule = 3 },
	/* attachments: the instance loaded as attachment 1 redirects to attachment 1's key only,
	 * and reads pcf_config[1] only */
	{ "attachment1_redirect_socket_at_attachment1_key", { UDP(1002, 3000) }, .attachment = 1,
	  .in = IN_VETH, .with_xsk = true, .xsk_attachment = 1, .want_ret = XDP_REDIRECT,
	  .want_cnt = W(PCF_CNT_ACT_REDIRECT), .want_rule = 3, .want_meta = true },
	{ "attachment1_redirect_only_attachment0_socket_fallback", { UDP(1002, 3000) },
	  .attachment = 1, .in = IN_VETH, .with_xsk = true, .xsk_attachment = 0, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK), .want_rule = 3, .want_meta = true },
	{ "attachment0_redirect_only_attachment1_socket_fallback", { UDP(1002, 3000) },
	  .attachment = 0, .in = IN_VETH, .with_xsk = true, .xsk_attachment = 1, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK), .want_rule = 3, .want_meta = true },
	{ "attachment1_queue_3_socket_at_attachment1_queue_0_fallback", { UDP(1003, 4000) },
	  .attachment = 1, .in = IN_VETH, .rx_queue = 3, .with_xsk = true, .xsk_attachment = 1, .want_ret = XDP_PASS,
	  .want_cnt = W(PCF_CNT_REDIRECT_FALLBACK), .want_rule = 5, .want_meta = true },
	{ "attachment1_queue_mismatch", { UDP(1003, 4000) }, .attachment = 1, .in = IN_LO,
	  .with_xsk = true, .xsk_attachment = 1, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_QUEUE_MISMATCH),
	  .want_rule = 5, .want_meta = true },
	{ "attachment1_hit_drop", { UDP(1000, 2000) }, .attachment = 1, .want_ret = XDP_DROP,
	  .want_cnt = W(PCF_CNT_ACT_DROP), .want_rule = 1 },
	{ "attachment1_miss_default_drop", { UDP(1000, 2001) }, .attachment = 1,
	  .default_action = PCF_ACT_DROP, .want_ret = XDP_DROP, .want_cnt = W(PCF_CNT_MISS_DROP) },
	{ "attachment1_miss_pass_while_attachment0_drops", { UDP(1000, 2001) }, .attachment = 1,
	  .other_default = PCF_ACT_DROP, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_MISS_PASS) },
	{ "attachment0_miss_pass_while_attachment1_drops", { UDP(1000, 2001) }, .attachment = 0,
	  .other_default = PCF_ACT_DROP, .want_ret = XDP_PASS, .want_cnt = W(PCF_CNT_MISS_PASS) },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static int xsk_fd = -1;

static int set_default_action(__u32 attachment, __u32 a)
{
	struct pcf_config cfg = { .default_action = a, .n_rx_queues = 1 };

	return bpf_map_update_elem(map_config, &attachment, &cfg, BPF_ANY) ? -errno : 0;
}

/* The socket (bound to VETH queue 0) at the attachment's key for queue 0; off: at no key. */
static int set_xsk(bool on, __u32 attachment)
{
	__u32 k = PCF_XSK_KEY(attachment, 0);

	if (on)
		return bpf_map_update_elem(map_xsk, &k, &xsk_fd, BPF_ANY) ? -errno : 0;
	for (__u32 a = 0; a < PCF_MAX_ATTACHMENTS; a++) {
		k = PCF_XSK_KEY(a, 0);
		if (bpf_map_delete_elem(map_xsk, &k) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

static void run_case(const struct tcase *t)
{
	__u8 in[512], out[512];
	struct xdp_md ctx_in = {}, ctx_out = {};
	LIBBPF_OPTS(bpf_test_run_opts, o);
	const struct rule *r = rule_by_id(t->want_rule);
	__u32 meta_in = t->meta_in == META_NO_ROOM ? no_room_meta : t->meta_in;
	struct snap before, after;
	struct pkt p;
	char why[256] = "";
	__u32 metalen;
	bool ok = false;

	build(&t->pkt, &p);
	memset(in, 0xee, meta_in);
	memcpy(in + meta_in, p.buf, p.len);
	ctx_in.data = meta_in;
	ctx_in.data_end = meta_in + p.len;
	ctx_in.ingress_ifindex = t->in == IN_LO ? ifindex_lo : t->in == IN_VETH ? ifindex_veth : 0;
	ctx_in.rx_queue_index = t->rx_queue;
	o.data_in = in;
	o.data_size_in = meta_in + p.len;
	o.data_out = out;
	o.data_size_out = sizeof(out);
	o.ctx_in = &ctx_in;
	o.ctx_size_in = sizeof(ctx_in);
	o.ctx_out = &ctx_out;
	o.ctx_size_out = sizeof(ctx_out);
	o.repeat = t->repeat;

	if (set_default_action(t->attachment, t->default_action) ||
	    set_default_action(!t->attachment, t->other_default) ||
	    (t->with_xsk && set_xsk(true, t->xsk_attachment))) {
		snprintf(why, sizeof(why), "setup failed: %s", strerror(errno));
		goto done;
	}
	take_snap(&before);
	if (bpf_prog_test_run_opts(prog_attachment[t->attachment], &o)) {
		snprintf(why, sizeof(why), "test run failed: %s", strerror(errno));
		goto done;
	}
	take_snap(&after);

	if ((int)o.retval != t->want_ret) {
		snprintf(why, sizeof(why), "verdict %u, want %d", o.retval, t->want_ret);
		goto done;
	}
	if (!check_counters(&before, &after, t->want_cnt, t->want_rule,
			    t->repeat ? t->repeat : 1, p.len, why, sizeof(why)))
		goto done;

	/* data_out starts at data_meta; ctx_out.data is the metadata length. */
	metalen = ctx_out.data;
	if (metalen != (t->want_meta ? sizeof(struct pcf_xdp_meta) : meta_in) ||
	    o.data_size_out != metalen + p.len) {
		snprintf(why, sizeof(why), "metadata length %u (out %u bytes), want %zu", metalen,
			 o.data_size_out, t->want_meta ? sizeof(struct pcf_xdp_meta) : (size_t)meta_in);
		goto done;
	}
	if (t->want_meta) {
		struct pcf_xdp_meta m;

		memcpy(&m, out, sizeof(m));
		if (m.magic != PCF_META_MAGIC || !r || memcmp(&m.action, &r->act, sizeof(m.action))) {
			snprintf(why, sizeof(why), "metadata magic 0x%x rule %u slot %u: not rule %u's "
				 "action (slot %u)", m.magic, m.action.rule_id, m.action.stats_slot,
				 t->want_rule, r ? r->act.stats_slot : 0);
			goto done;
		}
	}
	if (memcmp(out + metalen, p.buf, p.len)) {
		snprintf(why, sizeof(why), "the frame was modified");
		goto done;
	}
	ok = true;
done:
	result(ok, t->name, "%s", why);
	set_default_action(0, PCF_ACT_PASS);
	set_default_action(1, PCF_ACT_PASS);
	set_xsk(false, 0);
}

/* pcf_rule_stats is the per-CPU array the control plane indexes by stats_slot: every slot
 * below max_entries exists (nothing to create), and nothing beyond it. */
static void test_rule_stats_map(void)
{
	struct bpf_map_info info = {};
	struct pcf_counter v[n_cpus];
	__u32 len = sizeof(info), slot = RULE_SLOTS;
	bool ok;

	ok = !bpf_obj_get_info_by_fd(map_rule_stats, &info, &len) &&
	     info.type == BPF_MAP_TYPE_PERCPU_ARRAY && info.key_size == 4 &&
	     info.value_size == sizeof(struct pcf_counter) && info.max_entries == RULE_SLOTS;
	result(ok, "rule_stats_is_percpu_array", "type %u key %u value %u max_entries %u",
	       info.type, info.key_size, info.value_size, info.max_entries);
	ok = bpf_map_lookup_elem(map_rule_stats, &slot, v) && errno == ENOENT;
	result(ok, "rule_stats_no_slot_beyond_max_entries", "lookup of slot %u: %s", slot,
	       strerror(errno));
}

/* ---- AF_XDP: a REDIRECTed frame arrives in the UMEM with its metadata -------------- */

#define NUM_FRAMES 64
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE

static struct xsk_umem *umem;
static struct xsk_socket *xsk;
static struct xsk_ring_prod fq;
static struct xsk_ring_cons cq, rxq;
static void *umem_area;

static int xsk_setup(void)
{
	struct xsk_socket_config cfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	__u32 idx, i;
	int err;

	umem_area = mmap(NULL, NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem_area == MAP_FAILED)
		return -errno;
	err = xsk_umem__create(&umem, umem_area, NUM_FRAMES * FRAME_SIZE, &fq, &cq, NULL);
	if (err)
		return err;
	err = xsk_socket__create(&xsk, VETH, 0, umem, &rxq, NULL, &cfg);
	if (err)
		return err;
	if (xsk_ring_prod__reserve(&fq, NUM_FRAMES / 2, &idx) != NUM_FRAMES / 2)
		return -ENOSPC;
	for (i = 0; i < NUM_FRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&fq, idx + i) = i * FRAME_SIZE;
	xsk_ring_prod__submit(&fq, NUM_FRAMES / 2);
	xsk_fd = xsk_socket__fd(xsk);
	return 0;
}

static void test_live_redirect_meta(__u32 attachment)
{
	const char *name = attachment ? "live_redirect_attachment1_key_meta_in_umem"
				      : "live_redirect_meta_in_umem";
	struct xdp_md ctx_in = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = 1);
	const struct rule *r = rule_by_id(3);
	struct spec s = { UDP(1002, 3000) };
	struct pcf_xdp_meta m;
	struct snap before, after;
	const struct xdp_desc *d;
	__u64 addr;
	char why[256] = "";
	struct pkt p;
	__u32 idx = 0, got;
	__u8 *frame;
	int want[] = W(PCF_CNT_ACT_REDIRECT);
	bool ok = false;

	build(&s, &p);
	ctx_in.data_end = p.len;
	ctx_in.ingress_ifindex = ifindex_veth;
	o.data_in = p.buf;
	o.data_size_in = p.len;
	o.ctx_in = &ctx_in;
	o.ctx_size_in = sizeof(ctx_in);
	if (set_xsk(true, attachment)) {
		snprintf(why, sizeof(why), "failed to add the socket to pcf_xskmap: %s", strerror(errno));
		goto done;
	}
	take_snap(&before);
	if (bpf_prog_test_run_opts(prog_attachment[attachment], &o)) {
		snprintf(why, sizeof(why), "live test run failed: %s", strerror(errno));
		goto done;
	}
	take_snap(&after);
	if (!check_counters(&before, &after, want, 3, 1, p.len, why, sizeof(why)))
		goto done;
	got = xsk_ring_cons__peek(&rxq, 1, &idx);
	if (got != 1) {
		snprintf(why, sizeof(why), "the socket received %u frames, want 1", got);
		goto done;
	}
	d = xsk_ring_cons__rx_desc(&rxq, idx);
	frame = xsk_umem__get_data(umem_area, d->addr);
	memcpy(&m, frame - sizeof(m), sizeof(m));
	if (d->len != p.len || memcmp(frame, p.buf, p.len)) {
		snprintf(why, sizeof(why), "frame of %u bytes differs from the %u sent", d->len, p.len);
	} else if (m.magic != PCF_META_MAGIC || memcmp(&m.action, &r->act, sizeof(m.action))) {
		snprintf(why, sizeof(why), "UMEM metadata magic 0x%x rule %u slot %u: not rule 3's "
			 "action", m.magic, m.action.rule_id, m.action.stats_slot);
	} else {
		ok = true;
	}
	addr = xsk_umem__extract_addr(d->addr);
	xsk_ring_cons__release(&rxq, got);
	/* give the frame back to the fill ring for the next live run */
	if (xsk_ring_prod__reserve(&fq, 1, &idx) == 1) {
		*xsk_ring_prod__fill_addr(&fq, idx) = addr;
		xsk_ring_prod__submit(&fq, 1);
	}
done:
	result(ok, name, "%s", why);
	set_xsk(false, 0);
}

/* ---- TC: metadata -> skb->mark ------------------------------------------------------- */

/* The TC program (pcf_tc_mark) is not run here: an skb test run takes no metadata on this
 * kernel. test/bpf/test_loader.sh checks it end to end (a PASS rule's mark reaches skb->mark,
 * none without PCF_F_MARK, none on a miss). */

/* ---- setup --------------------------------------------------------------------------- */

/* 192 bytes of metadata in a test run where the kernel takes more than 32, else 32. */
static __u32 probe_no_room_meta(void)
{
	struct spec s = { .ethertype = ETH_P_ARP };
	struct xdp_md ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, o);
	__u8 in[512] = {};
	struct pkt p;

	build(&s, &p);
	memcpy(in + 192, p.buf, p.len);
	ctx.data = 192;
	ctx.data_end = 192 + p.len;
	o.data_in = in;
	o.data_size_in = 192 + p.len;
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	return bpf_prog_test_run_opts(prog_xdp, &o) ? 32 : 192;
}

/* Set pcf_attachment (const volatile, .rodata) of an opened object before load. */
static int set_attachment(struct bpf_object *obj, __u32 attachment)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vi;
	const struct btf_type *sec;
	struct bpf_map *m, *rodata = NULL;
	const void *init;
	size_t size;
	int id, i, err = -ENOENT;

	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t len = strlen(n);

		if (bpf_map__is_internal(m) && len >= 7 && !strcmp(n + len - 7, ".rodata"))
			rodata = m;
	}
	id = btf && rodata ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (id <= 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vi++) {
		const struct btf_type *var = btf__type_by_id(btf, vi->type);
		char buf[256];

		if (strcmp(btf__name_by_offset(btf, var->name_off), "pcf_attachment"))
			continue;
		init = bpf_map__initial_value(rodata, &size);
		if (!init || size > sizeof(buf) || vi->offset + 4 > size)
			return -EINVAL;
		memcpy(buf, init, size);
		memcpy(buf + vi->offset, &attachment, 4);
		err = bpf_map__set_initial_value(rodata, buf, size);
		break;
	}
	return err;
}

/* pcf_xdp loaded again as attachment 1, on the maps of the first object (as a second pcf-xdp
 * attach --attachment 1 reuses the pinned maps). */
static int load_attachment1(const char *path, struct bpf_object *first, struct bpf_object **objp)
{
	static const char *const names[] = { PCF_PIN_FLOW_MAP, PCF_PIN_STATS, PCF_PIN_RULE_STATS,
					     PCF_PIN_XSKMAP, PCF_PIN_CONFIG };
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err;

	*objp = obj;
	if (!obj)
		return -errno;
	err = set_attachment(obj, 1);
	for (size_t i = 0; !err && i < sizeof(names) / sizeof(names[0]); i++)
		err = bpf_map__reuse_fd(bpf_object__find_map_by_name(obj, names[i]),
					bpf_map__fd(bpf_object__find_map_by_name(first, names[i])));
	if (!err)
		err = bpf_object__load(obj);
	if (err)
		return err;
	prog_attachment[1] = bpf_program__fd(bpf_object__find_program_by_name(obj, "pcf_xdp"));
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int libxdp_quiet(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return level == LIBXDP_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int private_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "failed to unshare the network namespace: %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link set lo up && ip link add " VETH " numrxqueues 4 numtxqueues 4 type veth "
		   "peer name " VETH_PEER " numrxqueues 4 numtxqueues 4 && ip link set " VETH " up && "
		   "ip link set " VETH_PEER " up")) {
		fprintf(stderr, "failed to create the veth pair in the private netns\n");
		return -1;
	}
	ifindex_lo = if_nametoindex("lo");
	ifindex_veth = if_nametoindex(VETH);
	return ifindex_lo && ifindex_veth ? 0 : -1;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], exe[PATH_MAX];
	struct bpf_object *obj = NULL, *obj1 = NULL;
	ssize_t n;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("test_xdp: needs root (BPF_PROG_TEST_RUN, netns): skipped\n");
		return 77;
	}
	if (argc > 1) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		snprintf(path, sizeof(path), "%s/pcf_xdp.bpf.o", dirname(exe));
	}
	libbpf_set_print(libbpf_quiet);
	libxdp_set_print(libxdp_quiet);
	n_cpus = libbpf_num_possible_cpus();

	if (private_netns())
		return 77;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "failed to open %s: %s\n", path, strerror(errno));
		return 1;
	}
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, PCF_PIN_FLOW_MAP), RULE_SLOTS);
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, PCF_PIN_RULE_STATS), RULE_SLOTS);
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "failed to load %s: %s\n", path, strerror(-err));
		bpf_object__close(obj);
		return err == -EPERM || err == -ENOSYS ? 77 : 1;
	}
	prog_xdp = bpf_program__fd(bpf_object__find_program_by_name(obj, "pcf_xdp"));
	map_flow = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_FLOW_MAP));
	map_stats = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_STATS));
	map_rule_stats = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_RULE_STATS));
	map_xsk = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_XSKMAP));
	map_config = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_CONFIG));
	prog_attachment[0] = prog_xdp;
	err = load_attachment1(path, obj, &obj1);
	if (err) {
		fprintf(stderr, "failed to load %s as attachment 1: %s\n", path, strerror(-err));
		goto out;
	}

	err = install_rules();
	if (err) {
		fprintf(stderr, "failed to install the test rules: %s\n", strerror(-err));
		goto out;
	}
	err = xsk_setup();
	if (err) {
		fprintf(stderr, "failed to create an AF_XDP socket on %s: %s\n", VETH, strerror(-err));
		goto out;
	}

	no_room_meta = probe_no_room_meta();
	test_rule_stats_map();
	for (size_t i = 0; i < N_CASES; i++)
		run_case(&cases[i]);
	test_live_redirect_meta(0);
	test_live_redirect_meta(1);
out:
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem)
		xsk_umem__delete(umem);
	bpf_object__close(obj1);
	bpf_object__close(obj);
	if (err)
		return 1;
	printf("%d passed, %d failed\n", passes, fails);
	return fails ? 1 : 0;
}
