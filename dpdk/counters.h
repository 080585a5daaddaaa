/* counters.h - the worker's counters. Each datapath lcore (one RX queue) owns one
 * pcf_lcore_stats: its stage counters and its per-rule table, written with plain increments by
 * that lcore alone (no atomics, no shared cache lines); the main lcore (reports) and the
 * telemetry thread only read them and sum. 64-bit aligned loads do not tear on the CPUs DPDK
 * runs on; a reader may see a packet counted in one field and not yet in the next. */
#ifndef PCF_COUNTERS_H
#define PCF_COUNTERS_H

#include <stdint.h>
#include <rte_common.h>
#include "port.h"

/* The one numbered table of the worker's drop reasons. Mirrored by name, never by number, in:
 * proto/pcf/v1/worker.proto (StageCounters.drops keys), dpdk/README.md. */
#define PCF_DROP_TABLE(X)                                                                        \
	X(NO_META,      "no_meta")      /* no valid pcf metadata in front of the frame (--no-meta drop) */ \
	X(NOT_REDIRECT, "not_redirect") /* metadata of a rule that is not REDIRECT (--no-meta drop) */ \
	X(UNPARSED,     "unparsed")     /* not an IPv4/IPv6 frame the rewrite handles (nat.h) */ \
	X(TTL_EXPIRED,  "ttl_expired")  /* TTL / hop limit + ttl_delta <= 0 */                   \
	X(NO_NEIGHBOUR, "no_neighbour") /* no complete kernel neighbour entry for the next hop */ \
	X(TX_FULL,      "tx_full")      /* the egress took fewer packets than offered */         \
	X(RX_NO_MBUF,   "rx_no_mbuf")   /* counted by the RX port: the mempool was empty */      \
	X(RX_TOO_LONG,  "rx_too_long")  /* counted by the RX port: frame longer than an mbuf */  \
	X(NAT6_MISSING, "nat6_missing") /* IPv6 NAT rule whose stats_slot has no pcf_nat6 entry */

enum pcf_drop {
#define PCF_X_ENUM(id, name) PCF_DROP_##id,
	PCF_DROP_TABLE(PCF_X_ENUM)
#undef PCF_X_ENUM
	PCF_DROP__MAX
};

extern const char *const pcf_drop_names[PCF_DROP__MAX];

/* Per queue, per stage. rx: frames that entered the pipeline; tx: frames the egress took. */
struct pcf_queue_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t nat;            /* rewritten by SNAT or DNAT */
	uint64_t ttl_expired;    /* also in drops[PCF_DROP_TTL_EXPIRED] */
	uint64_t mirrored;       /* copies handed to the mirror */
	uint64_t mirror_lost;    /* PCF_F_MIRROR packets not copied: mirror ring or pool full */
	uint64_t no_meta_passed; /* forwarded unchanged without valid metadata (--no-meta pass) */
	uint64_t rx_ipv6;        /* IPv6 frames among rx that parsed (telemetry only) */
	uint64_t frag_later;     /* later fragments (IPv4 and IPv6) among rx that parsed: no
				  * ports, addresses and TTL / hop limit only (nat.h) */
	uint64_t drops[PCF_DROP__MAX];
};

/* Per-rule counters: open addressing keyed by rule_id, PCF_RULE_PROBES probes at most; a
 * rule that finds no slot counts in overflow. A slot is filled before it is marked used (a
 * release store, once per rule: not per packet), so readers never see a half-made slot. */
#define PCF_RULE_BITS   12
#define PCF_RULE_SLOTS  (1u << PCF_RULE_BITS)
#define PCF_RULE_PROBES 32

struct pcf_rule_slot {
	uint32_t used;
	uint32_t rule_id;
	uint64_t packets;
	uint64_t bytes;
};

struct pcf_lcore_stats {
	struct pcf_queue_counters q __rte_cache_aligned;
	uint64_t rule_overflow;
	struct pcf_rule_slot rules[PCF_RULE_SLOTS] __rte_cache_aligned;
} __rte_cache_aligned;

static inline void pcf_rule_count(struct pcf_lcore_stats *s, uint32_t rule_id, uint32_t bytes)
{
	uint32_t h = (rule_id * 2654435761u) >> (32 - PCF_RULE_BITS), i;

	for (i = 0; i < PCF_RULE_PROBES; i++) {
		struct pcf_rule_slot *r = &s->rules[(h + i) & (PCF_RULE_SLOTS - 1)];

		if (r->used && r->rule_id == rule_id) {
			r->packets++;
			r->bytes += bytes;
			return;
		}
		if (!r->used) {
			r->rule_id = rule_id;
			r->packets = 1;
			r->bytes = bytes;
			__atomic_store_n(&r->used, 1, __ATOMIC_RELEASE);
			return;
		}
	}
	s->rule_overflow++;
}

/* Datapath lcores at most: one per RX queue of --iface, and as many on the egress (--reverse). */
#define PCF_WORKER_MAX_RX (2 * PCF_MAX_QUEUES)

/* What the readers see: every RX queue with its counters and ports, and who this worker is.
 * queue_id is the queue's key in pcf_xskmap, PCF_XSK_KEY(port, queue): the queue number itself
 * for port 0 (telemetry queue_<queue_id>, QueueStats.queue_id of the report). */
struct pcf_stats_queue {
	uint32_t queue_id;
	uint32_t port;
	uint32_t queue;
	const struct pcf_lcore_stats *stats;
	const struct pcf_port *rx; /* its port drops join the queue's drops */
	const struct pcf_port *tx;
};

struct pcf_stats_view {
	const char *worker_id;
	const char *iface;
	const char *egress;
	const char *xdp_mode;
	const char *poll_mode;
	const char *reverse;          /* --reverse: "<egress> port <n> -> <iface>"; NULL without */
	uint64_t started_at_unix_ms;
	unsigned int n_queues;
	struct pcf_stats_queue queues[PCF_WORKER_MAX_RX];
};

struct pcf_rule_total {
	uint32_t rule_id;
	uint64_t packets;
	uint64_t bytes;
};

/* A consistent-enough copy of one queue's counters, the port's drops filled in. */
void pcf_stats_read_queue(const struct pcf_stats_queue *q, struct pcf_queue_counters *out);

/* The per-rule counters summed over all queues, by rule_id ascending; returns how many (at
 * most max) and the overflow count. */
unsigned int pcf_stats_read_rules(const struct pcf_stats_view *v, struct pcf_rule_total *out,
				  unsigned int max, uint64_t *overflow);

/* Registers /pcf/stats with the DPDK telemetry (22.11 cannot unregister a command). */
int pcf_stats_telemetry_register(const struct pcf_stats_view *v);
/* From now on /pcf/stats answers with an error: before the ports the view points at close. */
void pcf_stats_telemetry_detach(void);

#endif /* PCF_COUNTERS_H */
