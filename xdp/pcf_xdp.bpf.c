// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pcf_xdp.bpf.c - the datapath: classify each IPv4/IPv6 packet by the rules (pcf_xdp, XDP)
 * and turn a matched rule's mark into skb->mark on the kernel path (pcf_tc_mark, TC ingress).
 *
 * Classification (xdp/README.md: Classifier): exact IPv4 rules without a precedence first
 * (pcf_flow_map, one hash lookup: they rank above every rule with a precedence), then the
 * rules with a precedence: the per-CPU flow cache, else a tuple-space search over the shapes
 * of the published generation, lowest rank wins.
 *
 * Counting rules (the table is PCF_COUNTER_TABLE in pcf_common.h):
 *   RX = PASS_UNPARSED + DROP_UNPARSED + MISS_PASS + MISS_DROP
 *        + ACT_PASS + ACT_DROP + ACT_REDIRECT + REDIRECT_FALLBACK + QUEUE_MISMATCH
 *   PASS_UNPARSED + DROP_UNPARSED = sum of RSN_*;  RX_IPV6, FRAG_*, CACHE_*, META_FAIL and
 *   EVENT_* are extra (the packet's outcome is counted as well).
 *   A REDIRECT rule's packet counts exactly one of ACT_REDIRECT, REDIRECT_FALLBACK,
 *   QUEUE_MISMATCH. Bytes are the frame length (data_end - data) everywhere.
 *
 * Every verdict leaves through verdict(): its outcome counted, then its packet event when one
 * is due (emit_event, pcf_common.h: Packet events).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include "pcf_common.h"
#include "pcf_maps.bpf.h"
#include "pcf_parse.bpf.h"

/* bpf_xdp_adjust_meta() takes a multiple of 4; 32 bytes is the most every kernel accepts
 * (older kernels refuse more), and pcf_tc_mark and the worker expect the magic at data - 4. */
_Static_assert(sizeof(struct pcf_flow_action) == 28, "pcf_flow_action is 28 bytes");
_Static_assert(sizeof(struct pcf_xdp_meta) == 32, "pcf_xdp_meta is 32 bytes");
_Static_assert(__builtin_offsetof(struct pcf_xdp_meta, magic) == 28, "magic last");
_Static_assert(sizeof(struct pcf_tuple) == 40, "pcf_tuple is 40 bytes");
_Static_assert(sizeof(struct pcf_match_key) == 40, "pcf_match_key is 40 bytes");
_Static_assert(sizeof(struct pcf_tuple4) == 16, "pcf_tuple4 is 16 bytes");
_Static_assert(sizeof(struct pcf_shape) == 48, "pcf_shape is 48 bytes");
_Static_assert(sizeof(struct pcf_rule_body) == 48, "pcf_rule_body is 48 bytes");
_Static_assert(__builtin_offsetof(struct pcf_rule_half, body.action) % 8 == 0 &&
	       sizeof(struct pcf_flow_action) <= 32, "the action is copied as 4 aligned words");

/* The attachment this instance serves (0 .. PCF_MAX_ATTACHMENTS-1): its interface's place in
 * the pin dir, set by the loader before load (pcf-xdp attach --attachment N). Read-only after
 * load: the verifier sees a known constant, so the socket key and the pcf_config index cost
 * no more than fixed ones would. */
const volatile __u32 pcf_attachment = 0;

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

/* The event of a packet when one is due (pcf_common.h: Packet events): 1 in sample[a]
 * packets of its action, within its CPU's rate limit (GCRA: at most burst_ns / interval_ns
 * at once, then one per interval_ns). Off, or an action not sampled: one array load and a
 * branch. Its action is what XDP did (XDP_PASS is PASS). t NULL: not parsed (a zero tuple). */
static __always_inline void emit_event(struct xdp_md *ctx, const struct pcf_tuple *t, int ret,
				       __u32 reason, __u32 rule_id, __u64 bytes)
{
	__u32 zero = 0, a = ret == XDP_DROP ? PCF_ACT_DROP : ret == XDP_REDIRECT ? PCF_ACT_REDIRECT : PCF_ACT_PASS;
	const struct pcf_event_config *c = bpf_map_lookup_elem(&pcf_event_config, &zero);
	struct pcf_packet_event *e;
	struct pcf_event_state *s;
	__u64 now, tat;
	__u32 n;

#ifdef PCF_BENCH_NO_EVENTS /* bench/event_cost.c's "before": the program without events */
	return;
#endif
	if (!c || !c->on)
		return;
	n = c->sample[a];
	if (!n)
		return;
	s = bpf_map_lookup_elem(&pcf_event_state, &zero);
	if (!s)
		return;
	if (++s->seen[a] < n)
		return;
	s->seen[a] = 0;
	/* The bucket runs on the coarse clock (a tick's resolution, a few ns to read): a flood
	 * over the limit pays that, not the full clock, which only an emitted event reads. */
	now = bpf_ktime_get_coarse_ns();
	tat = s->tat_ns > now ? s->tat_ns : now;
	if (tat - now >= c->burst_ns) {
		count(PCF_CNT_EVENT_LIMITED, bytes);
		return;
	}
	s->tat_ns = tat + c->interval_ns;
	e = bpf_ringbuf_reserve(&pcf_events, sizeof(*e), 0);
	if (!e) {
		count(PCF_CNT_EVENT_LOST, bytes);
		return;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->ifindex = ctx->ingress_ifindex;
	e->rule_id = rule_id;
	e->queue = (__u16)ctx->rx_queue_index;
	e->attachment = (__u8)pcf_attachment;
	e->action = (__u8)a;
	e->reason = (__u8)reason;
	e->cpu = (__u8)bpf_get_smp_processor_id();
	e->len = bytes > 0xffff ? 0xffff : (__u16)bytes;
	if (t)
		e->tuple = *t;
	else
		__builtin_memset(&e->tuple, 0, sizeof(e->tuple));
	bpf_ringbuf_submit(e, 0);
	count(PCF_CNT_EVENT_SENT, bytes);
}

/* The end of every packet: its outcome counted, its event if one is due, its verdict. */
static __always_inline int verdict(struct xdp_md *ctx, const struct pcf_tuple *t, int ret,
				   __u32 outcome, __u32 reason, __u32 rule_id, __u64 bytes)
{
	count(outcome, bytes);
	emit_event(ctx, t, ret, reason, rule_id, bytes);
	return ret;
}

/* The version of a rule that generation `gen` sees: the half with the highest gen <= gen
 * (half 0 on a tie), or NULL. The tags are read before the body they pick. */
static __always_inline const struct pcf_rule_body *visible(const struct pcf_rule *r, __u64 gen)
{
	__u64 g0 = *(volatile const __u64 *)&r->half[0].gen;
	__u64 g1 = *(volatile const __u64 *)&r->half[1].gen;

	barrier();
	if (g1 <= gen && (g0 > gen || g1 > g0))
		return &r->half[1].body;
	return g0 <= gen ? &r->half[0].body : NULL;
}

static __always_inline bool has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_DCCP;
}

struct search {
	struct pcf_tuple t; /* a copy: the callback reads it through ctx */
	__u64 gen;
	__u32 base;      /* first pcf_shapes index of this generation */
	__u32 n;         /* its shapes */
	bool later;      /* a later fragment: port-less rules only */
	__u16 sport, dport; /* host order */
	__u64 best_rank;
	__u32 best_slot;
};

/* The rules of one bucket: the lowest rank among those whose ports match. */
static __always_inline void scan_bucket(struct search *s, const struct pcf_bucket *b)
{
	const struct pcf_rule_body *body;
	const struct pcf_rule *r;
	__u32 j, slot;

	for (j = 0; j < PCF_BUCKET_SLOTS; j++) {
		if (j >= b->n)
			break;
		slot = b->slot[j];
		r = bpf_map_lookup_elem(&pcf_rules, &slot);
		if (!r)
			continue;
		body = visible(r, s->gen);
		if (!body || !body->live || body->rank >= s->best_rank)
			continue;
		if (s->later) {
			if (body->src_port_lo || body->src_port_hi != 0xffff || body->dst_port_lo ||
			    body->dst_port_hi != 0xffff)
				continue;
		} else if (s->sport < body->src_port_lo || s->sport > body->src_port_hi ||
			   s->dport < body->dst_port_lo || s->dport > body->dst_port_hi) {
			continue;
		}
		s->best_rank = body->rank;
		s->best_slot = slot;
	}
}

/* One shape (bpf_loop callback): 1 stops the loop. */
static long search_shape(__u32 i, void *ctx)
{
	struct search *s = ctx;
	const struct pcf_tuple *t = &s->t;
	struct pcf_match_key k = {};
	const struct pcf_shape *sh;
	const struct pcf_bucket *b;
	__u32 idx = s->base + i;

	if (i >= s->n)
		return 1;
	sh = bpf_map_lookup_elem(&pcf_shapes, &idx);
	/* Shapes come in ascending min_rank: none from here on can beat the best found. */
	if (!sh || sh->min_rank >= s->best_rank)
		return 1;
	if (sh->family && sh->family != t->family) /* 0: a shape of any family */
		return 0;
	if (s->later && (sh->flags & (PCF_SHAPE_SPORT | PCF_SHAPE_DPORT)))
		return 0;
	k.shape = sh->id;
	k.proto = (sh->flags & PCF_SHAPE_PROTO) ? t->proto : 0;
	k.src_port = (sh->flags & PCF_SHAPE_SPORT) ? t->src_port : 0;
	k.dst_port = (sh->flags & PCF_SHAPE_DPORT) ? t->dst_port : 0;
	k.src[0] = t->src[0] & sh->src_mask[0];
	k.dst[0] = t->dst[0] & sh->dst_mask[0];
	if (t->family == PCF_FAMILY_IPV6) {
		k.src[1] = t->src[1] & sh->src_mask[1];
		k.src[2] = t->src[2] & sh->src_mask[2];
		k.src[3] = t->src[3] & sh->src_mask[3];
		k.dst[1] = t->dst[1] & sh->dst_mask[1];
		k.dst[2] = t->dst[2] & sh->dst_mask[2];
		k.dst[3] = t->dst[3] & sh->dst_mask[3];
	}
	b = bpf_map_lookup_elem(&pcf_match_map, &k);
	if (b)
		scan_bucket(s, b);
	return 0;
}

/* The shapes searched for the best rule with a precedence for this tuple at generation gen:
 * its slot or PCF_SLOT_NONE. A global function: the verifier checks it once, not once for
 * each try of the packet's classification. */
__noinline __u32 pcf_search(const struct pcf_tuple *t, __u64 gen, __u32 n, __u32 later)
{
	struct search s;

	if (!t)
		return PCF_SLOT_NONE;
	s.t = *t;
	s.gen = gen;
	s.base = (gen & 1) * PCF_MAX_SHAPES;
	s.n = n;
	s.later = later;
	s.sport = bpf_ntohs(t->src_port);
	s.dport = bpf_ntohs(t->dst_port);
	s.best_rank = ~0ULL;
	s.best_slot = PCF_SLOT_NONE;
	bpf_loop(PCF_MAX_SHAPES, search_shape, &s, 0);
	return s.best_slot;
}

/* The slot of the best rule with a precedence for this tuple at generation gen, or
 * PCF_SLOT_NONE: from the cache when it holds this generation's answer, else searched and
 * remembered. */
static __always_inline __u32 classify(struct pcf_tuple *t, __u64 gen, __u32 n, bool later,
				      __u64 bytes)
{
	struct pcf_cache_entry *c, fresh = {};
	bool v4 = t->family == PCF_FAMILY_IPV4;
	struct pcf_tuple4 k4;
	__u32 slot;

	/* A later fragment is searched among port-less rules only: its own cache entry. IPv6
	 * uses the tuple as it is (pad is the parser's zero), IPv4 its 16 bytes. One call site
	 * per map, so that the verifier inlines each lookup. */
	if (v4) {
		k4.src = t->src[0];
		k4.dst = t->dst[0];
		k4.src_port = t->src_port;
		k4.dst_port = t->dst_port;
		k4.proto = t->proto;
		k4.later = later;
		k4.pad = 0;
		c = bpf_map_lookup_elem(&pcf_flow_cache4, &k4);
	} else {
		t->pad = later;
		c = bpf_map_lookup_elem(&pcf_flow_cache, t);
	}
	if (c && c->gen == gen) {
		count(PCF_CNT_CACHE_HIT, bytes);
		return c->slot;
	}
	count(PCF_CNT_CACHE_MISS, bytes);
	slot = pcf_search(t, gen, n, later);
	if (c) {
		c->gen = gen; /* our CPU's own copy: no other writer */
		c->slot = slot;
	} else {
		fresh.gen = gen;
		fresh.slot = slot;
		if (v4)
			bpf_map_update_elem(&pcf_flow_cache4, &k4, &fresh, BPF_ANY);
		else
			bpf_map_update_elem(&pcf_flow_cache, t, &fresh, BPF_ANY);
	}
	return slot;
}

/* The attachment's config, looked up only on the paths that need it (a hit does not). */
static __always_inline const struct pcf_config *attachment_config(void)
{
	__u32 attachment = pcf_attachment;

	return bpf_map_lookup_elem(&pcf_config, &attachment);
}

static __always_inline bool default_drops(const struct pcf_config *cfg)
{
	return cfg && cfg->default_action == PCF_ACT_DROP;
}

/* Not classified: non-IP always passes (ARP keeps the node reachable); malformed IP and
 * unmatched later fragments take the default (fragments: the frag action). The event's reason
 * is the RSN_*; t is NULL unless the packet was parsed (a later fragment). */
static __always_inline int unparsed(struct xdp_md *ctx, const struct pcf_tuple *t, int rsn,
				    bool drop, __u64 bytes)
{
	count(rsn, bytes);
	if (drop && rsn != PCF_CNT_RSN_NON_IP)
		return verdict(ctx, t, XDP_DROP, PCF_CNT_DROP_UNPARSED, rsn, 0, bytes);
	return verdict(ctx, t, XDP_PASS, PCF_CNT_PASS_UNPARSED, rsn, 0, bytes);
}

SEC("xdp")
int pcf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	const struct pcf_flow_action *act = NULL;
	const struct pcf_rule_body *body;
	const struct pcf_ruleset *rs;
	const struct pcf_rule *r;
	struct pcf_flow_key key = {};
	const struct pcf_config *cfg;
	struct pcf_tuple t;
	union {
		struct pcf_flow_action action;
		__u64 w[4];
	} ranked;
	__u32 zero = 0, n, slot;
	bool found;
	int tries;
	__u64 gen;
	bool drop, later;
	int rsn, ret, frag = PCF_PARSE_NOT_FRAG;

	count(PCF_CNT_RX, bytes);
	rsn = pcf_parse(data, data_end, &t, &frag);
	if (rsn)
		return unparsed(ctx, NULL, rsn, default_drops(attachment_config()), bytes);
	if (t.family == PCF_FAMILY_IPV6)
		count(PCF_CNT_RX_IPV6, bytes);
	later = frag == PCF_PARSE_LATER;
	if (frag == PCF_PARSE_FIRST)
		count(PCF_CNT_FRAG_FIRST, bytes);
	else if (later)
		count(PCF_CNT_FRAG_LATER, bytes);

	rs = bpf_map_lookup_elem(&pcf_ruleset, &zero);
	/* Exact rules have ports (or a protocol without them): a later fragment has none. They
	 * rank first, so a hit needs nothing else. Without any, their lookup is skipped. */
	if (t.family == PCF_FAMILY_IPV4 && !(later && has_ports(t.proto)) && !(rs && rs->no_exact)) {
		pcf_tuple_to_key(&t, &key);
		act = bpf_map_lookup_elem(&pcf_flow_map, &key);
	}
	/* One read of the generation: the packet is classified by that rule set only, and again
	 * if a later commit started rewriting what it read (staging two or more ahead). The action
	 * is copied before that check: the body may be rewritten after it. */
	for (tries = 0; rs && !act && tries < PCF_CLASSIFY_TRIES; tries++) {
		gen = *(volatile const __u64 *)&rs->gen;
		barrier();
		n = rs->n_shapes[gen & 1];
		found = false;
		if (n) {
			slot = classify(&t, gen, n, later, bytes);
			r = slot != PCF_SLOT_NONE ? bpf_map_lookup_elem(&pcf_rules, &slot) : NULL;
			body = r ? visible(r, gen) : NULL;
			if (body && body->live) {
				/* 8-byte words: the action sits 8-aligned in the body, live after it */
				const __u64 *w = (const __u64 *)&body->action;

				ranked.w[0] = w[0];
				ranked.w[1] = w[1];
				ranked.w[2] = w[2];
				ranked.w[3] = w[3];
				found = true;
			}
		}
		barrier();
		if (*(volatile const __u64 *)&rs->staging - gen < 2) {
			if (!found)
				break;
			act = &ranked.action;
			break;
		}
		count(PCF_CNT_CLASSIFY_RETRY, bytes);
		if (tries == PCF_CLASSIFY_TRIES - 1)
			count(PCF_CNT_RETRY_EXHAUSTED, bytes);
	}
	if (!act) {
		cfg = attachment_config();
		drop = default_drops(cfg);
		if (later) {
			if (cfg && cfg->frag_action != PCF_FRAG_AS_DEFAULT)
				drop = cfg->frag_action == PCF_FRAG_DROP;
			return unparsed(ctx, &t, PCF_CNT_RSN_FRAGMENT, drop, bytes);
		}
		if (drop)
			return verdict(ctx, &t, XDP_DROP, PCF_CNT_MISS_DROP, PCF_CNT_MISS_DROP, 0, bytes);
		return verdict(ctx, &t, XDP_PASS, PCF_CNT_MISS_PASS, PCF_CNT_MISS_PASS, 0, bytes);
	}

	count_rule(act->stats_slot, bytes);

	if (act->type == PCF_ACT_DROP)
		return verdict(ctx, &t, XDP_DROP, PCF_CNT_ACT_DROP, PCF_CNT_ACT_DROP, act->rule_id, bytes);

	if (act->type == PCF_ACT_REDIRECT) {
		/* An AF_XDP socket only sees its own queue: a rule pinned to another queue
		 * cannot be honoured here, so the packet takes the kernel path. */
		if (act->queue_id != PCF_QUEUE_ANY && act->queue_id != ctx->rx_queue_index) {
			write_meta(ctx, act, bytes);
			return verdict(ctx, &t, XDP_PASS, PCF_CNT_QUEUE_MISMATCH, PCF_CNT_QUEUE_MISMATCH, act->rule_id, bytes);
		}
		write_meta(ctx, act, bytes);
		/* A queue beyond PCF_MAX_QUEUES has no key of its own (it would name another
		 * attachment's socket): the kernel path, as a queue without a socket. */
		if (ctx->rx_queue_index >= PCF_MAX_QUEUES)
			return verdict(ctx, &t, XDP_PASS, PCF_CNT_REDIRECT_FALLBACK, PCF_CNT_REDIRECT_FALLBACK, act->rule_id, bytes);
		/* XDP_PASS as the fallback: no socket at this queue (no worker) is not a drop. */
		ret = bpf_redirect_map(&pcf_xskmap, PCF_XSK_KEY(pcf_attachment, ctx->rx_queue_index),
				       XDP_PASS);
		rsn = ret == XDP_PASS ? PCF_CNT_REDIRECT_FALLBACK : PCF_CNT_ACT_REDIRECT;
		return verdict(ctx, &t, ret, rsn, rsn, act->rule_id, bytes);
	}

	/* PCF_ACT_PASS, and any type this program does not know (the control plane refuses
	 * those): the kernel path, with the action in the metadata. */
	write_meta(ctx, act, bytes);
	return verdict(ctx, &t, XDP_PASS, PCF_CNT_ACT_PASS, PCF_CNT_ACT_PASS, act->rule_id, bytes);
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
