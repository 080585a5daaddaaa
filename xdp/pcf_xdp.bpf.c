// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pcf_xdp.bpf.c - the datapath: steer each packet by its 5-tuple (pcf_xdp, XDP) and turn a
 * matched rule's mark into skb->mark on the kernel path (pcf_tc_mark, TC ingress).
 *
 * Counting rules (the table is PCF_COUNTER_TABLE in pcf_common.h):
 *   RX = PASS_UNPARSED + MISS_PASS + MISS_DROP
 *        + ACT_PASS + ACT_DROP + ACT_REDIRECT + REDIRECT_FALLBACK + QUEUE_MISMATCH
 *   PASS_UNPARSED = sum of RSN_*;  META_FAIL is extra (a verdict is counted as well).
 *   A REDIRECT rule's packet counts exactly one of ACT_REDIRECT, REDIRECT_FALLBACK,
 *   QUEUE_MISMATCH. Bytes are the frame length (data_end - data) everywhere.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "pcf_common.h"
#include "pcf_maps.bpf.h"
#include "pcf_parse.bpf.h"

/* bpf_xdp_adjust_meta() takes a multiple of 4; 32 bytes is the most every kernel accepts
 * (older kernels refuse more), and pcf_tc_mark and the worker expect the magic at data - 4. */
_Static_assert(sizeof(struct pcf_flow_action) == 28, "pcf_flow_action is 28 bytes");
_Static_assert(sizeof(struct pcf_xdp_meta) == 32, "pcf_xdp_meta is 32 bytes");
_Static_assert(__builtin_offsetof(struct pcf_xdp_meta, magic) == 28, "magic last");

/* The port this instance serves (0 .. PCF_MAX_PORTS-1), set by the loader before load
 * (pcf-xdp attach --port N). Read-only after load: the verifier sees a known constant, so
 * the socket key and the pcf_config index cost no more than the fixed ones did. */
const volatile __u32 pcf_port = 0;

static __always_inline void count(__u32 idx, __u64 bytes)
{
	struct pcf_counter *c = bpf_map_lookup_elem(&pcf_stats, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Per-rule counters at the rule's stats_slot. A slot beyond pcf_rule_stats (max_entries) has
 * no element: the lookup returns NULL and nothing is counted; the rule still applies. */
static __always_inline void count_rule(__u32 slot, __u64 bytes)
{
	struct pcf_counter *c = bpf_map_lookup_elem(&pcf_rule_stats, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Put the matched action in front of the frame for pcf_tc_mark and the AF_XDP worker.
 * A refusal (no headroom, or metadata already there) is counted; the verdict stands. */
static __always_inline void write_meta(struct xdp_md *ctx, const struct pcf_flow_action *act,
				       __u64 bytes)
{
	struct pcf_xdp_meta *meta;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		goto fail;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		goto fail;
	meta->action = *act;
	meta->magic = PCF_META_MAGIC;
	return;
fail:
	count(PCF_CNT_META_FAIL, bytes);
}

SEC("xdp")
int pcf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct pcf_flow_key key = {};
	struct pcf_flow_action *act;
	struct pcf_config *cfg;
	__u32 port = pcf_port;
	int rsn, ret;

	count(PCF_CNT_RX, bytes);

	rsn = pcf_parse(data, data_end, &key);
	if (rsn) {
		count(PCF_CNT_PASS_UNPARSED, bytes);
		count(rsn, bytes);
		return XDP_PASS;
	}

	act = bpf_map_lookup_elem(&pcf_flow_map, &key);
	if (!act) {
		cfg = bpf_map_lookup_elem(&pcf_config, &port);
		if (cfg && cfg->default_action == PCF_ACT_DROP) {
			count(PCF_CNT_MISS_DROP, bytes);
			return XDP_DROP;
		}
		count(PCF_CNT_MISS_PASS, bytes);
		return XDP_PASS;
	}

	count_rule(act->stats_slot, bytes);

	if (act->type == PCF_ACT_DROP) {
		count(PCF_CNT_ACT_DROP, bytes);
		return XDP_DROP;
	}

	if (act->type == PCF_ACT_REDIRECT) {
		/* An AF_XDP socket only sees its own queue: a rule pinned to another queue
		 * cannot be honoured here, so the packet takes the kernel path. */
		if (act->queue_id != PCF_QUEUE_ANY && act->queue_id != ctx->rx_queue_index) {
			count(PCF_CNT_QUEUE_MISMATCH, bytes);
			write_meta(ctx, act, bytes);
			return XDP_PASS;
		}
		write_meta(ctx, act, bytes);
		/* A queue beyond PCF_MAX_QUEUES has no key of its own (it would name another
		 * port's socket): the kernel path, as a queue without a socket. */
		if (ctx->rx_queue_index >= PCF_MAX_QUEUES) {
			count(PCF_CNT_REDIRECT_FALLBACK, bytes);
			return XDP_PASS;
		}
		/* XDP_PASS as the fallback: no socket at this queue (no worker) is not a drop. */
		ret = bpf_redirect_map(&pcf_xskmap, PCF_XSK_KEY(pcf_port, ctx->rx_queue_index),
				       XDP_PASS);
		count(ret == XDP_PASS ? PCF_CNT_REDIRECT_FALLBACK : PCF_CNT_ACT_REDIRECT, bytes);
		return ret;
	}

	/* PCF_ACT_PASS, and any type this program does not know (the control plane refuses
	 * those): the kernel path, with the action in the metadata. */
	count(PCF_CNT_ACT_PASS, bytes);
	write_meta(ctx, act, bytes);
	return XDP_PASS;
}

/* TC ingress: a packet that pcf_xdp passed with a rule's metadata gets that rule's mark, so
 * ip rule / nftables can match it. Returns TC_ACT_UNSPEC (TCX_NEXT): never a verdict. */
SEC("tc")
int pcf_tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct pcf_xdp_meta *meta = (void *)(long)skb->data_meta;

	if ((void *)(meta + 1) > data)
		return TC_ACT_UNSPEC;
	/* Exactly our layout: the magic sits right in front of the frame. The barrier keeps
	 * clang from folding this test into the bounds check above, which the verifier needs. */
	barrier_var(meta);
	if ((void *)(meta + 1) != data)
		return TC_ACT_UNSPEC;
	if (meta->magic == PCF_META_MAGIC && (meta->action.flags & PCF_F_MARK))
		skb->mark = meta->action.mark;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
