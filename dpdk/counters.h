/* counters.h - the worker's counters. Each datapath lcore (one RX queue) owns one
 * pcf_lcore_stats: its stage counters and its per-rule table, written with plain increments by
 * that lcore alone (no atomics, no shared cache lines); the main lcore (reports) and the
 * telemetry thread only read them and sum. 64-bit aligned loads do not tear on the CPUs DPDK
 * runs on; a reader may see a packet counted in one field and not yet in the next. */
#ifndef PCF_COUNTERS_H
#define PCF_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_branch_prediction.h>
#include <rte_common.h>
#include "port.h"

struct pcf_neigh;
struct pcf_routes;

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
	uint64_t busy_cycles;    /* TSC cycles (rte_rdtsc) of the bursts that carried packets,
				  * from before their RX burst to after their TX (datapath.c);
				  * empty polls and the wakeup-mode poll() are not counted */
	uint64_t drops[PCF_DROP__MAX];
};

/* Per-rule counters, indexed by the rule's stats_slot (struct pcf_flow_action): the dense
 * index the control plane hands out below pcf_rule_stats' max_entries, read at start (pins.h).
 * One array per datapath lcore; an entry holds the rule it counts for, so when the control
 * plane gives a freed slot to a new rule the entry restarts from zero for it. Readers (the
 * main lcore, telemetry) never scan the array: each lcore appends a slot to its `touched` list
 * the first time it counts one, so reading costs the slots in use, not max_entries.
 *
 * An entry changes rule under a sequence count (a seqlock with one writer, the lcore): seq is
 * odd while the entry is rewritten, even otherwise, 0 for an entry never used; a reader that
 * sees seq change or odd reads again. Counting a packet of the entry's own rule does not touch
 * seq (plain increments, as for the stage counters: a reader may see packets one ahead of
 * bytes). */
#define PCF_RULE_SLOTS_MAX (1u << 24) /* beyond: counted in rule_overflow (16 M slots) */

struct pcf_rule_entry {
	uint32_t seq;
	uint32_t rule_id;
	uint64_t packets;
	uint64_t bytes;
};

struct pcf_rule_table {
	uint32_t n_slots;               /* entries in e: pcf_rule_stats' max_entries */
	uint32_t n_touched;             /* touched[0..n_touched), published with a release store */
	uint32_t *touched;              /* [n_slots] slots this lcore has counted, first use first */
	struct pcf_rule_entry *e;       /* [n_slots] */
};

struct pcf_lcore_stats {
	struct pcf_queue_counters q __rte_cache_aligned;
	uint64_t rule_overflow;         /* a stats_slot at or beyond n_slots: not counted per rule */
	uint64_t rule_restarts;         /* entries that began counting for another rule (reused slots) */
	struct pcf_rule_table rules;
} __rte_cache_aligned;

/* The slow path of pcf_rule_count: the entry starts (again) for rule_id. Datapath only. */
void pcf_rule_restart(struct pcf_lcore_stats *s, uint32_t slot, uint32_t rule_id, uint32_t bytes);

static inline void pcf_rule_count(struct pcf_lcore_stats *s, uint32_t slot, uint32_t rule_id,
				  uint32_t bytes)
{
	struct pcf_rule_entry *e;

	if (unlikely(slot >= s->rules.n_slots)) {
		s->rule_overflow++;
		return;
	}
	e = &s->rules.e[slot];
	if (likely(e->seq != 0 && e->rule_id == rule_id)) {
		e->packets++;
		e->bytes += bytes;
		return;
	}
	pcf_rule_restart(s, slot, rule_id, bytes);
}

/* Allocates the per-rule table of n_slots entries on socket (hugepage memory, zeroed): 28 bytes
 * per slot and lcore. 0, or -1 when out of memory. */
int pcf_rule_table_init(struct pcf_rule_table *t, uint32_t n_slots, int socket);
void pcf_rule_table_free(struct pcf_rule_table *t);

/* Datapath lcores at most: one per RX queue of --iface, and as many on the egress (--reverse). */
#define PCF_WORKER_MAX_RX (2 * PCF_MAX_QUEUES)

/* What the readers see: every RX queue with its counters and I/O handles (pcf_port), and who
 * this worker is. A queue is named by its interface's attachment (its place in the pin dir,
 * pcf-xdp attach --attachment N) and its queue number on that interface: the report's
 * QueueStats.attachment and .queue, telemetry's "attachment" and "queue". queue_id is its key
 * in pcf_xskmap, PCF_XSK_KEY(attachment, queue): the telemetry key queue_<queue_id> and the
 * report's deprecated QueueStats.queue_id. */
struct pcf_stats_queue {
	uint32_t queue_id;
	uint32_t attachment;
	uint32_t queue;
	const struct pcf_lcore_stats *stats;
	const struct pcf_port *rx; /* the I/O handles (port.h): their drops join the queue's */
	const struct pcf_port *tx;
};

struct pcf_stats_view {
	const char *worker_id;
	const char *iface;
	const char *egress;
	const char *xdp_mode;
	const char *poll_mode;
	const char *reverse;          /* --reverse: "<egress> attachment <n> -> <iface>"; NULL without */
	uint64_t started_at_unix_ms;
	uint64_t tsc_hz;              /* rte_get_tsc_hz(): the unit of busy_cycles */
	uint32_t rule_slots;          /* entries of each lcore's per-rule table */
	/* The main lcore's tables, for their sizes: [0] of the egress, [1] of --iface (--reverse);
	 * NULL when not used (--dst-mac, --egress tap). */
	const struct pcf_neigh *neigh[2];
	const struct pcf_routes *routes[2];
	unsigned int n_queues;
	struct pcf_stats_queue queues[PCF_WORKER_MAX_RX];
};

struct pcf_rule_total {
	uint32_t rule_id;
	uint64_t packets;
	uint64_t bytes;
};

/* A consistent-enough copy of one queue's counters, its I/O handles' drops filled in. */
void pcf_stats_read_queue(const struct pcf_stats_queue *q, struct pcf_queue_counters *out);

/* The per-rule counters summed over all queues, by rule_id ascending; returns how many (at
 * most max) and the overflow count. Reads the slots the lcores have counted (their touched
 * lists), not the whole tables. */
unsigned int pcf_stats_read_rules(const struct pcf_stats_view *v, struct pcf_rule_total *out,
				  unsigned int max, uint64_t *overflow);

/* One rule's counters summed over all queues; false when no lcore counts it. */
bool pcf_stats_read_rule(const struct pcf_stats_view *v, uint32_t rule_id, struct pcf_rule_total *out);

/* Registers /pcf/stats and /pcf/rule with the DPDK telemetry (22.11 cannot unregister a
 * command). */
int pcf_stats_telemetry_register(const struct pcf_stats_view *v);
/* From its return on, the commands answer with an error and none is still reading the view:
 * it waits for a call in progress. Before the ports and tables the view points at go away. */
void pcf_stats_telemetry_detach(void);

#endif /* PCF_COUNTERS_H */
