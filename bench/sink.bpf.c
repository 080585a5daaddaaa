// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sink.bpf.c - for bench/rfc2544.ts: counts every frame (packets and bytes, per CPU) and drops
 * it. On the server's interface it is the packet sink that counts what the DUT delivered
 * (cheaply, so the receiver never limits the rate); on dut0 it is the "bare XDP_DROP" peer: the
 * least an XDP program that drops can do, with a count to show the packets reached it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct sink_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_count);
} sink_counts SEC(".maps");

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sink_count *c = bpf_map_lookup_elem(&sink_counts, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The generator's frames only (UDP to SINK_PORT, IPv4 or IPv6 without extension headers):
 * counted and dropped; everything else passes, so that a latency probe (sockperf) reaches its
 * server beside the background load. */
#define SINK_PORT 7000

SEC("xdp")
int xdp_sink_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u8 proto;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5)
			return XDP_PASS;
		proto = ip->protocol;
		udp = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		proto = ip6->nexthdr;
		udp = (void *)(ip6 + 1);
	} else {
		return XDP_PASS;
	}
	if (proto != IPPROTO_UDP || (void *)(udp + 1) > end || udp->dest != bpf_htons(SINK_PORT))
		return XDP_PASS;
	return xdp_sink(ctx);
}
