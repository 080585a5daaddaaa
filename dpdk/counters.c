/* counters.c - reading the worker's counters: per queue, summed per rule, and as the DPDK
 * telemetry command /pcf/stats (see counters.h). Never called on a datapath lcore. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_telemetry.h>
#include "counters.h"

const char *const pcf_drop_names[PCF_DROP__MAX] = {
#define PCF_X_NAME(id, name) [PCF_DROP_##id] = name,
	PCF_DROP_TABLE(PCF_X_NAME)
#undef PCF_X_NAME
};

void pcf_stats_read_queue(const struct pcf_stats_queue *q, struct pcf_queue_counters *out)
{
	struct pcf_port_stats ps;

	*out = q->stats->q;
	pcf_port_stats(q->rx, &ps);
	out->drops[PCF_DROP_RX_NO_MBUF] = ps.rx_no_mbuf;
	out->drops[PCF_DROP_RX_TOO_LONG] = ps.rx_too_long;
}

static int by_rule_id(const void *a, const void *b)
{
	const struct pcf_rule_total *x = a, *y = b;

	return (x->rule_id > y->rule_id) - (x->rule_id < y->rule_id);
}

unsigned int pcf_stats_read_rules(const struct pcf_stats_view *v, struct pcf_rule_total *out,
				  unsigned int max, uint64_t *overflow)
{
	unsigned int n = 0, merged = 0, qi, i;
	struct pcf_rule_total *all;

	*overflow = 0;
	all = malloc(sizeof(*all) * PCF_RULE_SLOTS * (v->n_queues ? v->n_queues : 1));
	if (!all)
		return 0;
	for (qi = 0; qi < v->n_queues; qi++) {
		const struct pcf_lcore_stats *s = v->queues[qi].stats;

		*overflow += s->rule_overflow;
		for (i = 0; i < PCF_RULE_SLOTS; i++) {
			const struct pcf_rule_slot *r = &s->rules[i];

			if (!__atomic_load_n(&r->used, __ATOMIC_ACQUIRE))
				continue;
			all[n++] = (struct pcf_rule_total){ r->rule_id, r->packets, r->bytes };
		}
	}
	qsort(all, n, sizeof(*all), by_rule_id);
	for (i = 0; i < n; i++) {
		if (merged && out[merged - 1].rule_id == all[i].rule_id) {
			out[merged - 1].packets += all[i].packets;
			out[merged - 1].bytes += all[i].bytes;
		} else if (merged < max) {
			out[merged++] = all[i];
		}
	}
	free(all);
	return merged;
}

/* ---- /pcf/stats ------------------------------------------------------------------------ */

static const struct pcf_stats_view *tel_view;

/* Telemetry nests two levels at most: queue and total dicts of flat counters. */
static struct rte_tel_data *counters_dict(const struct pcf_queue_counters *c)
{
	struct rte_tel_data *d = rte_tel_data_alloc();
	char key[64];
	int i;

	if (!d)
		return NULL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_packets", c->rx_packets);
	rte_tel_data_add_dict_u64(d, "rx_bytes", c->rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_packets", c->tx_packets);
	rte_tel_data_add_dict_u64(d, "tx_bytes", c->tx_bytes);
	rte_tel_data_add_dict_u64(d, "nat", c->nat);
	rte_tel_data_add_dict_u64(d, "ttl_expired", c->ttl_expired);
	rte_tel_data_add_dict_u64(d, "mirrored", c->mirrored);
	rte_tel_data_add_dict_u64(d, "mirror_lost", c->mirror_lost);
	rte_tel_data_add_dict_u64(d, "no_meta_passed", c->no_meta_passed);
	rte_tel_data_add_dict_u64(d, "rx_ipv6", c->rx_ipv6);
	rte_tel_data_add_dict_u64(d, "frag_later", c->frag_later);
	for (i = 0; i < PCF_DROP__MAX; i++) {
		snprintf(key, sizeof(key), "drop_%s", pcf_drop_names[i]);
		rte_tel_data_add_dict_u64(d, key, c->drops[i]);
	}
	return d;
}

/* Hands c to d (which frees it); a container that could not be made is left out. */
static void add_container(struct rte_tel_data *d, const char *key, struct rte_tel_data *c)
{
	if (c && rte_tel_data_add_dict_container(d, key, c, 0) < 0)
		rte_tel_data_free(c);
}

static void add_counters(struct pcf_queue_counters *sum, const struct pcf_queue_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)sum;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

#define TEL_MAX_RULES 100 /* each of rules and rule_bytes stays under RTE_TEL_MAX_DICT_ENTRIES */

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct pcf_stats_view *v = __atomic_load_n(&tel_view, __ATOMIC_ACQUIRE);
	struct pcf_queue_counters total = {0}, c;
	struct pcf_rule_total rules[TEL_MAX_RULES];
	struct rte_tel_data *rp, *rb;
	unsigned int i, n;
	uint64_t overflow;
	char key[32];

	(void)cmd;
	(void)params;
	if (!v)
		return -1; /* stopping */
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "worker_id", v->worker_id);
	rte_tel_data_add_dict_string(d, "iface", v->iface);
	rte_tel_data_add_dict_string(d, "egress", v->egress);
	rte_tel_data_add_dict_string(d, "xdp_mode", v->xdp_mode);
	rte_tel_data_add_dict_string(d, "poll_mode", v->poll_mode);
	rte_tel_data_add_dict_u64(d, "started_at_unix_ms", v->started_at_unix_ms);
	if (v->reverse)
		rte_tel_data_add_dict_string(d, "reverse", v->reverse);
	for (i = 0; i < v->n_queues; i++) {
		struct rte_tel_data *qd;

		pcf_stats_read_queue(&v->queues[i], &c);
		add_counters(&total, &c);
		snprintf(key, sizeof(key), "queue_%u", v->queues[i].queue_id);
		qd = counters_dict(&c);
		if (qd) {
			rte_tel_data_add_dict_u64(qd, "port", v->queues[i].port);
			rte_tel_data_add_dict_u64(qd, "queue", v->queues[i].queue);
		}
		add_container(d, key, qd);
	}
	add_container(d, "total", counters_dict(&total));

	n = pcf_stats_read_rules(v, rules, TEL_MAX_RULES, &overflow);
	rp = rte_tel_data_alloc();
	rb = rte_tel_data_alloc();
	if (rp)
		rte_tel_data_start_dict(rp);
	if (rb)
		rte_tel_data_start_dict(rb);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%u", rules[i].rule_id);
		if (rp)
			rte_tel_data_add_dict_u64(rp, key, rules[i].packets);
		if (rb)
			rte_tel_data_add_dict_u64(rb, key, rules[i].bytes);
	}
	add_container(d, "rule_packets", rp);
	add_container(d, "rule_bytes", rb);
	rte_tel_data_add_dict_u64(d, "rule_overflow", overflow);
	return 0;
}

void pcf_stats_telemetry_detach(void)
{
	__atomic_store_n(&tel_view, NULL, __ATOMIC_RELEASE);
}

int pcf_stats_telemetry_register(const struct pcf_stats_view *v)
{
	__atomic_store_n(&tel_view, v, __ATOMIC_RELEASE);
	return rte_telemetry_register_cmd("/pcf/stats", tel_stats,
					  "The pcf worker's counters: per queue, total, per rule. No parameters");
}
