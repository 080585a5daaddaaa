/* pcf_parse.bpf.h - packet parsing for the XDP program: a cursor and a bounds check before
 * every header (the xdp-tutorial parsing_helpers pattern). Fills a pcf_flow_key or names the
 * reason (a PCF_CNT_RSN_* counter) the packet cannot be looked up. */
#ifndef PCF_PARSE_BPF_H
#define PCF_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pcf_common.h"

#ifndef IP_MF
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff
#endif

struct hdr_cursor {
	void *pos;
};

struct pcf_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Ethernet plus at most one 802.1Q/802.1AD tag. Returns the inner EtherType (network order)
 * or a negative PCF_CNT_RSN_*. */
static __always_inline int parse_l2(struct hdr_cursor *nh, void *data_end)
{
	struct ethhdr *eth = nh->pos;
	struct pcf_vlan_hdr *vh;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return -PCF_CNT_RSN_TRUNC_ETH;
	nh->pos = eth + 1;
	proto = eth->h_proto;

	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		vh = nh->pos;
		if ((void *)(vh + 1) > data_end)
			return -PCF_CNT_RSN_TRUNC_VLAN;
		nh->pos = vh + 1;
		proto = vh->encap_proto;
	}
	return proto;
}

/* IPv4 and the ports of TCP/UDP. Returns 0 with *key filled, or a PCF_CNT_RSN_* reason.
 * The rules follow the kernel's ip_rcv_core(): version/ihl/tot_len < ihl*4 are a bad header,
 * a datagram longer than the frame is truncated. The L4 header must lie inside the datagram
 * (tot_len), not merely inside the frame (which may carry Ethernet padding). */
static __always_inline int pcf_parse(void *data, void *data_end, struct pcf_flow_key *key)
{
	struct hdr_cursor nh = { .pos = data };
	struct iphdr *iph;
	__u32 hlen, tot_len;
	int proto;

	proto = parse_l2(&nh, data_end);
	if (proto < 0)
		return -proto;
	if (proto != bpf_htons(ETH_P_IP))
		return PCF_CNT_RSN_NON_IPV4;

	iph = nh.pos;
	if ((void *)(iph + 1) > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	if (iph->version != 4 || iph->ihl < 5)
		return PCF_CNT_RSN_BAD_IP_HDR;
	hlen = iph->ihl * 4;
	if (nh.pos + hlen > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < hlen)
		return PCF_CNT_RSN_BAD_IP_HDR;
	if (nh.pos + tot_len > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PCF_CNT_RSN_FRAGMENT;

	key->src_ip = iph->saddr;
	key->dst_ip = iph->daddr;
	key->proto = iph->protocol;
	nh.pos += hlen;

	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = nh.pos;

		if ((void *)(th + 1) > data_end || hlen + sizeof(*th) > tot_len)
			return PCF_CNT_RSN_TRUNC_L4;
		key->src_port = th->source;
		key->dst_port = th->dest;
	} else if (iph->protocol == IPPROTO_UDP) {
		struct udphdr *uh = nh.pos;

		if ((void *)(uh + 1) > data_end || hlen + sizeof(*uh) > tot_len)
			return PCF_CNT_RSN_TRUNC_L4;
		key->src_port = uh->source;
		key->dst_port = uh->dest;
	}
	/* ICMP and every other protocol: ports stay 0. */
	return 0;
}

#endif /* PCF_PARSE_BPF_H */
