/* pipeline.c - the per-packet stages (pipeline.h). */
#include <rte_branch_prediction.h>
#include "nat.h"
#include "pipeline.h"

/* The action of a frame that is forwarded without metadata: parse only, change nothing. */
static const struct pcf_flow_action NO_CHANGE;

static inline void drop(struct pcf_lcore *lc, struct rte_mbuf *m, enum pcf_drop why)
{
	lc->stats->q.drops[why]++;
	rte_pktmbuf_free(m);
}

/* TX: the egress's address as source; as destination the fixed one, or the kernel neighbour
 * entry (of the packet's family) of the next hop: --next-hop, else the gateway of the route of
 * the destination (after DNAT) through the egress, else the destination itself. */
static inline bool set_ethernet(struct pcf_lcore *lc, struct rte_mbuf *m, const struct pcf_rw_info *info)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct pcf_l2 *l2 = lc->l2;
	bool found;

	if (l2->fixed_dst) {
		eth->dst_addr = l2->dst;
	} else {
		if (info->family == PCF_FAMILY_IPV6)
			found = pcf_neigh_lookup6(l2->neigh,
						  l2->has_next_hop6 ? l2->next_hop6
								    : pcf_route_next_hop6(l2->routes, info->dst_ip6),
						  &eth->dst_addr);
		else
			found = pcf_neigh_lookup(l2->neigh,
						 l2->next_hop ? l2->next_hop
							      : pcf_route_next_hop(l2->routes, info->dst_ip),
						 &eth->dst_addr);
		if (!found) {
			lc->want_neigh = true;
			return false;
		}
	}
	eth->src_addr = l2->src;
	return true;
}

uint16_t pcf_pipeline_burst(struct pcf_lcore *lc, struct rte_mbuf **pkts, uint16_t n,
			    struct rte_mbuf **out)
{
	struct pcf_queue_counters *q = &lc->stats->q;
	uint16_t n_out = 0, i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct pcf_xdp_meta *meta = pcf_mbuf_meta(m);
		const struct pcf_flow_action *act = &meta->action;
		uint32_t len = m->pkt_len;
		struct pcf_rw_info info;
		enum pcf_rw_status rw;
		enum pcf_drop why = PCF_DROP__MAX;

		q->rx_packets++;
		q->rx_bytes += len;

		/* ACL */
		if (unlikely(meta->magic != PCF_META_MAGIC))
			why = PCF_DROP_NO_META;
		else if (unlikely(act->type != PCF_ACT_REDIRECT))
			why = PCF_DROP_NOT_REDIRECT;
		if (unlikely(why != PCF_DROP__MAX)) {
			if (!lc->pass_no_meta) {
				drop(lc, m, why);
				continue;
			}
			act = &NO_CHANGE;
		}
		if (unlikely(m->nb_segs != 1)) {
			drop(lc, m, PCF_DROP_UNPARSED);
			continue;
		}

		/* NAT, TTL */
		rw = pcf_rewrite(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, act, lc->nat6, &info);
		if (unlikely(rw == PCF_RW_UNPARSED)) {
			drop(lc, m, PCF_DROP_UNPARSED);
			continue;
		}
		if (info.family == PCF_FAMILY_IPV6)
			q->rx_ipv6++;
		if (unlikely(info.frag_later))
			q->frag_later++;
		if (unlikely(rw == PCF_RW_NAT6_MISSING)) {
			drop(lc, m, PCF_DROP_NAT6_MISSING);
			continue;
		}
		if (info.nat)
			q->nat++;
		if (unlikely(rw == PCF_RW_TTL_EXPIRED)) {
			q->ttl_expired++;
			drop(lc, m, PCF_DROP_TTL_EXPIRED);
			continue;
		}

		/* mirror */
		if ((act->flags & PCF_F_MIRROR) && lc->mirror) {
			if (pcf_mirror_copy(lc->mirror, m, lc->queue))
				q->mirrored++;
			else
				q->mirror_lost++;
		}

		/* counters */
		if (act == &NO_CHANGE)
			q->no_meta_passed++;
		else
			pcf_rule_count(lc->stats, act->stats_slot, act->rule_id, len);

		/* TX */
		if (unlikely(!set_ethernet(lc, m, &info))) {
			drop(lc, m, PCF_DROP_NO_NEIGHBOUR);
			continue;
		}
		out[n_out++] = m;
	}
	return n_out;
}
