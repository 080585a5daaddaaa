// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* nometa.bpf.c - a stand-in for pcf_xdp in dpdk/test_worker.sh (pcf-xdp replace --obj): it
 * hands the worker frames that pcf_xdp never would, to test --no-meta:
 *   UDP to port 7010: redirected with no metadata in front;
 *   UDP to port 7011: redirected with valid metadata of a PASS rule (rule_id 77);
 *   anything else: XDP_PASS.
 * Same maps and program names as pcf_xdp.bpf.o, so the loader swaps it in and back. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "pcf_maps.bpf.h"

SEC("xdp")
int pcf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	struct pcf_xdp_meta *meta;

	if ((void *)(udp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (udp->dest == bpf_htons(7010))
		return bpf_redirect_map(&pcf_xskmap, ctx->rx_queue_index, XDP_PASS);
	if (udp->dest != bpf_htons(7011))
		return XDP_PASS;
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return XDP_PASS;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return XDP_PASS;
	__builtin_memset(meta, 0, sizeof(*meta));
	meta->action.rule_id = 77;
	meta->action.type = PCF_ACT_PASS;
	meta->magic = PCF_META_MAGIC;
	return bpf_redirect_map(&pcf_xskmap, ctx->rx_queue_index, XDP_PASS);
}

SEC("tc")
int pcf_tc_mark(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
