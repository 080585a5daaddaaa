/* pipeline.h - what the worker does to each packet, in this order:
 *   ACL     the rule's action from the XDP metadata: REDIRECT goes on; a frame without valid
 *           metadata, or with another action, is counted and dropped or forwarded unchanged
 *           (--no-meta);
 *   NAT     PCF_F_SNAT / PCF_F_DNAT with incremental checksums (nat.c); IPv6 addresses from
 *           the mmapped pcf_nat6 by the rule's stats_slot (nat6_missing without an entry);
 *   TTL     ttl_delta on the IPv4 TTL or the IPv6 hop limit; <= 0 is dropped (ttl_expired);
 *   mirror  PCF_F_MIRROR: a copy to the mirror (mirror.c);
 *   counters  per queue and stage, per rule (counters.h);
 *   TX      Ethernet addresses for the egress: the neighbour entry of the next hop (--next-hop,
 *           else the gateway of the destination's route, else the destination); the caller
 *           transmits.
 * One pcf_lcore per datapath lcore, used by that lcore only. */
#ifndef PCF_PIPELINE_H
#define PCF_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include "counters.h"
#include "mirror.h"
#include "nat.h"
#include "neigh.h"
#include "port.h"
#include "route.h"

/* How TX sets the Ethernet header. */
struct pcf_l2 {
	struct rte_ether_addr src;
	bool fixed_dst;               /* --dst-mac, or the TAP's own address */
	struct rte_ether_addr dst;
	uint32_t next_hop;            /* network order; 0: the packet's destination after DNAT */
	bool has_next_hop6;           /* else an IPv6 packet's destination after DNAT */
	uint8_t next_hop6[16];
	const struct pcf_neigh *neigh;
	const struct pcf_routes *routes; /* with neigh: the next hop of a destination */
};

struct pcf_lcore {
	uint32_t queue;
	struct pcf_port *rx;
	struct pcf_port *tx;
	struct pcf_lcore_stats *stats;
	const struct pcf_l2 *l2;
	struct pcf_mirror *mirror;    /* NULL: PCF_F_MIRROR is ignored */
	const struct pcf_nat6_table *nat6; /* the mmapped pcf_nat6 (entries NULL: none) */
	struct rte_rcu_qsbr *qsbr;    /* quiescent states for the neighbour and route tables */
	unsigned int qsbr_id;
	bool pass_no_meta;
	bool wakeup;                  /* --poll wakeup */
	volatile bool want_neigh;     /* set here on a neighbour miss, cleared by the main lcore */
} __rte_cache_aligned;

/* Runs the stages on pkts[0..n); the packets to transmit go to out (returns how many), the
 * others are counted and freed. */
uint16_t pcf_pipeline_burst(struct pcf_lcore *lc, struct rte_mbuf **pkts, uint16_t n,
			    struct rte_mbuf **out);

#endif /* PCF_PIPELINE_H */
