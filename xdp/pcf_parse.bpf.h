/* pcf_parse.bpf.h - packet parsing for the XDP program: a cursor and a bounds check before
 * every header (the xdp-tutorial parsing_helpers pattern). Fills a struct pcf_tuple (IPv4 or
 * IPv6) and its fragment state, or names the reason (a PCF_CNT_RSN_* counter) the packet
 * cannot be classified. Every loop has a constant bound and is unrolled. */
#ifndef PCF_PARSE_BPF_H
#define PCF_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pcf_common.h"

#ifndef IP_MF
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff
#endif

/* Fragment state of a parsed packet. */
#define PCF_PARSE_NOT_FRAG 0   /* not a fragment */
#define PCF_PARSE_FIRST    1   /* first fragment (offset 0, more fragments): ports parsed as usual */
#define PCF_PARSE_LATER    2   /* offset > 0: no L4 header, ports 0, proto = the upper protocol */

#define PCF_PARSE_MAX_VLAN     2 /* 802.1Q/802.1AD tags, any combination; a third: RSN_VLAN_DEPTH */
#define PCF_PARSE_MAX_EXT_HDRS 6 /* IPv6 extension headers; a seventh: RSN_EXT_HDRS */

/* Protocol numbers the uapi headers of older distributions may lack. */
#define PCF_IPPROTO_HOPOPTS  0
#define PCF_IPPROTO_DCCP     33
#define PCF_IPPROTO_ROUTING  43
#define PCF_IPPROTO_FRAGMENT 44
#define PCF_IPPROTO_ESP      50
#define PCF_IPPROTO_AH       51
#define PCF_IPPROTO_ICMPV6   58
#define PCF_IPPROTO_NONE     59
#define PCF_IPPROTO_DSTOPTS  60
#define PCF_IPPROTO_SCTP     132
#define PCF_IPPROTO_UDPLITE  136

struct hdr_cursor {
	void *pos;
};

struct pcf_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* The first 8 bytes of every IPv6 extension header this parser walks: next header, then the
 * length (hop-by-hop, routing, destination options: 8-byte units after the first 8; AH:
 * 4-byte units minus 2). In a fragment header the second byte is reserved and frag_off is
 * the offset (8-byte units) << 3 | M. */
struct pcf_ext_hdr {
	__u8   nexthdr;
	__u8   hdrlen;
	__be16 frag_off;
	__be32 word;
};

#define PCF_IP6_FRAG_OFFSET 0xfff8
#define PCF_IP6_FRAG_MF     0x0001

static __always_inline int pcf_is_vlan(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet plus at most PCF_PARSE_MAX_VLAN tags. Returns the inner EtherType (network order)
 * or a negative PCF_CNT_RSN_*. */
static __always_inline int parse_l2(struct hdr_cursor *nh, void *data_end)
{
	struct ethhdr *eth = nh->pos;
	struct pcf_vlan_hdr *vh;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return -PCF_CNT_RSN_TRUNC_ETH;
	nh->pos = eth + 1;
	proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < PCF_PARSE_MAX_VLAN; i++) {
		if (!pcf_is_vlan(proto))
			break;
		vh = nh->pos;
		if ((void *)(vh + 1) > data_end)
			return -PCF_CNT_RSN_TRUNC_VLAN;
		nh->pos = vh + 1;
		proto = vh->encap_proto;
	}
	if (pcf_is_vlan(proto))
		return -PCF_CNT_RSN_VLAN_DEPTH;
	return proto;
}

/* The ports of the L4 header at l4, of which len bytes belong to the datagram (IPv4 tot_len,
 * IPv6 payload_len, minus the headers before it). Each header needs its minimum inside the
 * datagram and inside the frame (the frame may carry Ethernet padding beyond the datagram):
 * TCP 20 (and a data offset of at least 5), UDP and UDP-Lite 8, SCTP 12 (common header),
 * DCCP 12 (generic header without extended sequence numbers). The first 4 bytes of each are
 * source and destination port. Every other protocol (ICMP, ICMPv6, ESP, ...) has ports 0. */
static __always_inline int parse_ports(void *l4, void *data_end, __u32 len, __u8 proto,
				       struct pcf_tuple *t)
{
	__be16 *ports = l4;
	__u32 need;

	switch (proto) {
	case IPPROTO_TCP:
		need = sizeof(struct tcphdr);
		break;
	case IPPROTO_UDP:
	case PCF_IPPROTO_UDPLITE:
		need = 8;
		break;
	case PCF_IPPROTO_SCTP:
	case PCF_IPPROTO_DCCP:
		need = 12;
		break;
	default:
		return 0;
	}
	if (len < need)
		return PCF_CNT_RSN_TRUNC_L4;
	/* The datagram lies inside the frame (the caller checked), so the header does too;
	 * the checks below show the verifier the bytes read. */
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return PCF_CNT_RSN_TRUNC_L4;
		if (th->doff < 5)
			return PCF_CNT_RSN_BAD_L4;
	}
	if ((void *)(ports + 2) > data_end)
		return PCF_CNT_RSN_TRUNC_L4;
	t->src_port = ports[0];
	t->dst_port = ports[1];
	return 0;
}

/* IPv4 at nh->pos. The rules follow the kernel's ip_rcv_core(): version/ihl/tot_len < ihl*4
 * are a bad header, a datagram longer than the frame is truncated. */
static __always_inline int parse_ipv4(struct hdr_cursor *nh, void *data_end, struct pcf_tuple *t,
				      int *frag)
{
	struct iphdr *iph = nh->pos;
	__u32 hlen, tot_len;
	__u16 frag_off;

	if ((void *)(iph + 1) > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	if (iph->version != 4 || iph->ihl < 5)
		return PCF_CNT_RSN_BAD_IP_HDR;
	hlen = iph->ihl * 4;
	if (nh->pos + hlen > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < hlen)
		return PCF_CNT_RSN_BAD_IP_HDR;
	if (nh->pos + tot_len > data_end)
		return PCF_CNT_RSN_TRUNC_IP;

	t->family = PCF_FAMILY_IPV4;
	t->proto = iph->protocol;
	t->src[0] = iph->saddr;
	t->dst[0] = iph->daddr;

	frag_off = bpf_ntohs(iph->frag_off);
	if (frag_off & IP_OFFSET) {
		*frag = PCF_PARSE_LATER;
		return 0;
	}
	if (frag_off & IP_MF)
		*frag = PCF_PARSE_FIRST;
	nh->pos += hlen;
	return parse_ports(nh->pos, data_end, tot_len - hlen, iph->protocol, t);
}

/* IPv6 at nh->pos: the fixed header, then at most PCF_PARSE_MAX_EXT_HDRS extension headers
 * (hop-by-hop, routing, destination options, fragment, AH) inside payload_len. Whatever
 * next header ends the chain is the upper protocol (ESP and no-next-header included: ports
 * 0). A jumbogram (payload_len 0 with a hop-by-hop header, RFC 2675) is a bad header: its
 * length lives in an option this parser does not read. */
static __always_inline int parse_ipv6(struct hdr_cursor *nh, void *data_end, struct pcf_tuple *t,
				      int *frag)
{
	struct ipv6hdr *ip6h = nh->pos;
	struct pcf_ext_hdr *eh;
	__u32 plen, off = 0, hlen, ah;
	__u16 frag_off;
	__u8 next;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return PCF_CNT_RSN_TRUNC_IP;
	if (ip6h->version != 6)
		return PCF_CNT_RSN_BAD_IP_HDR;
	plen = bpf_ntohs(ip6h->payload_len);
	next = ip6h->nexthdr;
	if (plen == 0 && next == PCF_IPPROTO_HOPOPTS)
		return PCF_CNT_RSN_BAD_IP_HDR;
	nh->pos = ip6h + 1;
	if (nh->pos + plen > data_end)
		return PCF_CNT_RSN_TRUNC_IP;

	t->family = PCF_FAMILY_IPV6;
	__builtin_memcpy(t->src, &ip6h->saddr, sizeof(t->src));
	__builtin_memcpy(t->dst, &ip6h->daddr, sizeof(t->dst));

#pragma unroll
	for (i = 0; i < PCF_PARSE_MAX_EXT_HDRS + 1; i++) {
		if (next != PCF_IPPROTO_HOPOPTS && next != PCF_IPPROTO_ROUTING &&
		    next != PCF_IPPROTO_DSTOPTS && next != PCF_IPPROTO_FRAGMENT &&
		    next != PCF_IPPROTO_AH)
			break;
		if (i == PCF_PARSE_MAX_EXT_HDRS)
			return PCF_CNT_RSN_EXT_HDRS;
		/* Every one of them is at least 8 bytes long. */
		eh = nh->pos;
		if (off + sizeof(*eh) > plen || (void *)(eh + 1) > data_end)
			return PCF_CNT_RSN_TRUNC_IP;
		if (next == PCF_IPPROTO_FRAGMENT) {
			frag_off = bpf_ntohs(eh->frag_off);
			if (frag_off & PCF_IP6_FRAG_OFFSET) {
				/* The rest is fragment data: its first header is eh->nexthdr. */
				t->proto = eh->nexthdr;
				*frag = PCF_PARSE_LATER;
				return 0;
			}
			/* Offset 0 without M is an atomic fragment (RFC 6946): not a fragment. */
			if (frag_off & PCF_IP6_FRAG_MF)
				*frag = PCF_PARSE_FIRST;
			hlen = 8;
		} else {
			/* (hdrlen + 1) * 8, AH (hdrlen + 2) * 4, without a branch (ah: 1 for AH,
			 * else 0), then masked (a no-op: at most 2048) behind a barrier: the
			 * verifier sees one bounded length for every kind. Two lengths of
			 * different alignment multiply its states with each header of the chain
			 * (parse_probe: 48k instructions verified instead of 6k). */
			ah = ((__u32)(next ^ PCF_IPPROTO_AH) - 1) >> 31;
			hlen = ((__u32)eh->hdrlen + 1 + ah) << (3 - ah);
			barrier_var(hlen);
			hlen &= 0xffc;
		}
		if (off + hlen > plen)
			return PCF_CNT_RSN_TRUNC_IP;
		next = eh->nexthdr;
		off += hlen;
		nh->pos += hlen;
	}

	t->proto = next;
	return parse_ports(nh->pos, data_end, plen - off, next, t);
}

/* Returns 0 with *t filled (zero everything first; IPv4 addresses in src[0]/dst[0]) and *frag
 * set, or a PCF_CNT_RSN_* index (the packet cannot be classified):
 *   RSN_TRUNC_ETH    the frame ends inside the Ethernet header;
 *   RSN_TRUNC_VLAN   ... inside a VLAN tag;
 *   RSN_VLAN_DEPTH   a third tag;
 *   RSN_NON_IP       neither IPv4 nor IPv6 after the tags (ARP, LLDP, ...);
 *   RSN_BAD_IP_HDR   IPv4: version, ihl < 5, tot_len < ihl*4; IPv6: version, jumbogram;
 *   RSN_TRUNC_IP     the frame ends before the IP header, tot_len or 40 + payload_len, or
 *                    an extension header does not fit in the payload;
 *   RSN_EXT_HDRS     more than PCF_PARSE_MAX_EXT_HDRS IPv6 extension headers;
 *   RSN_TRUNC_L4     a TCP/UDP/UDP-Lite/SCTP/DCCP header not inside the datagram (a first
 *                    fragment included);
 *   RSN_BAD_L4       a TCP data offset below 5.
 * Later fragments are not an error here: 0 with *frag = PCF_PARSE_LATER. With a reason,
 * *frag is PCF_PARSE_NOT_FRAG and *t holds whatever was parsed before the error. */
static __always_inline int pcf_parse(void *data, void *data_end, struct pcf_tuple *t, int *frag)
{
	struct hdr_cursor nh = { .pos = data };
	int proto, rsn, f = PCF_PARSE_NOT_FRAG;

	__builtin_memset(t, 0, sizeof(*t));

	proto = parse_l2(&nh, data_end);
	if (proto < 0)
		rsn = -proto;
	else if (proto == bpf_htons(ETH_P_IP))
		rsn = parse_ipv4(&nh, data_end, t, &f);
	else if (proto == bpf_htons(ETH_P_IPV6))
		rsn = parse_ipv6(&nh, data_end, t, &f);
	else
		rsn = PCF_CNT_RSN_NON_IP;
	/* A first fragment whose L4 header is cut is unparsed, not a fragment. */
	*frag = rsn ? PCF_PARSE_NOT_FRAG : f;
	return rsn;
}

/* The exact-rule key (pcf_flow_map: exact IPv4 5-tuples) of a parsed IPv4 tuple. */
static __always_inline void pcf_tuple_to_key(const struct pcf_tuple *t, struct pcf_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src_ip = t->src[0];
	k->dst_ip = t->dst[0];
	k->src_port = t->src_port;
	k->dst_port = t->dst_port;
	k->proto = t->proto;
}

#endif /* PCF_PARSE_BPF_H */
