/* counters.c - the worker's counters (counters.h): the per-rule tables (their slow path runs
 * on the datapath lcores, once per slot and rule), reading them per queue and summed per rule,
 * and the DPDK telemetry commands /pcf/stats and /pcf/rule. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_telemetry.h>
#include "counters.h"
#include "neigh.h"
#include "route.h"

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

int pcf_rule_table_init(struct pcf_rule_table *t, uint32_t n_slots, int socket)
{
	*t = (struct pcf_rule_table){ .n_slots = n_slots };
	t->e = rte_zmalloc_socket("pcf_rule_entries", sizeof(*t->e) * n_slots, RTE_CACHE_LINE_SIZE, socket);
	t->touched = rte_zmalloc_socket("pcf_rule_touched", sizeof(*t->touched) * n_slots, 0, socket);
	if (!t->e || !t->touched) {
		pcf_rule_table_free(t);
		return -1;
	}
	return 0;
}

void pcf_rule_table_free(struct pcf_rule_table *t)
{
	rte_free(t->e);
	rte_free(t->touched);
	*t = (struct pcf_rule_table){0};
}

/* Datapath: the writer side of the entry's seqlock (counters.h). Once per slot and rule. */
void pcf_rule_restart(struct pcf_lcore_stats *s, uint32_t slot, uint32_t rule_id, uint32_t bytes)
{
	struct pcf_rule_table *t = &s->rules;
	struct pcf_rule_entry *e = &t->e[slot];
	uint32_t seq = e->seq, next = seq + 2 == 0 ? 2 : seq + 2; /* never back to 0, "unused" */

	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* odd before the new contents */
	__atomic_store_n(&e->rule_id, rule_id, __ATOMIC_RELAXED);
	__atomic_store_n(&e->packets, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&e->bytes, bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, next, __ATOMIC_RELEASE);
	if (seq == 0) { /* first use: a slot is listed once, so touched never outgrows n_slots */
		t->touched[t->n_touched] = slot;
		__atomic_store_n(&t->n_touched, t->n_touched + 1, __ATOMIC_RELEASE);
	} else {
		s->rule_restarts++;
	}
}

/* The reader side: a consistent copy of the entry, or false (never used, or rewritten under
 * every try: it is being reset right now, and the next read sees the new rule). */
static bool read_entry(const struct pcf_rule_entry *e, struct pcf_rule_total *out)
{
	uint32_t s1, tries;

	for (tries = 0; tries < 16; tries++) {
		s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 == 0)
			return false;
		if (s1 & 1) {
			rte_pause();
			continue;
		}
		out->rule_id = __atomic_load_n(&e->rule_id, __ATOMIC_RELAXED);
		out->packets = __atomic_load_n(&e->packets, __ATOMIC_RELAXED);
		out->bytes = __atomic_load_n(&e->bytes, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the copy before the second look at seq */
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1)
			return true;
	}
	return false;
}

static int by_rule_id(const void *a, const void *b)
{
	const struct pcf_rule_total *x = a, *y = b;

	return (x->rule_id > y->rule_id) - (x->rule_id < y->rule_id);
}

unsigned int pcf_stats_read_rules(const struct pcf_stats_view *v, struct pcf_rule_total *out,
				  unsigned int max, uint64_t *overflow)
{
	uint32_t touched[PCF_WORKER_MAX_RX];
	unsigned int merged = 0, qi;
	size_t n = 0, total = 0, i;
	struct pcf_rule_total *all;

	*overflow = 0;
	for (qi = 0; qi < v->n_queues; qi++) {
		const struct pcf_lcore_stats *s = v->queues[qi].stats;

		*overflow += __atomic_load_n(&s->rule_overflow, __ATOMIC_RELAXED);
		touched[qi] = __atomic_load_n(&s->rules.n_touched, __ATOMIC_ACQUIRE);
		total += touched[qi];
	}
	if (!total)
		return 0;
	all = malloc(sizeof(*all) * total);
	if (!all)
		return 0;
	for (qi = 0; qi < v->n_queues; qi++) {
		const struct pcf_rule_table *t = &v->queues[qi].stats->rules;

		for (i = 0; i < touched[qi]; i++)
			if (read_entry(&t->e[t->touched[i]], &all[n]))
				n++;
	}
	qsort(all, n, sizeof(*all), by_rule_id);
	for (i = 0; i < n; i++) {
		if (merged && out[merged - 1].rule_id == all[i].rule_id) {
			out[merged - 1].packets += all[i].packets;
			out[merged - 1].bytes += all[i].bytes;
		} else if (merged < max) {
			out[merged++] = all[i];
		} else {
			break; /* sorted: the rest are beyond max */
		}
	}
	free(all);
	return merged;
}

bool pcf_stats_read_rule(const struct pcf_stats_view *v, uint32_t rule_id, struct pcf_rule_total *out)
{
	struct pcf_rule_total r;
	unsigned int qi;
	uint32_t i, n;
	bool found = false;

	*out = (struct pcf_rule_total){ .rule_id = rule_id };
	for (qi = 0; qi < v->n_queues; qi++) {
		const struct pcf_rule_table *t = &v->queues[qi].stats->rules;

		n = __atomic_load_n(&t->n_touched, __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++) {
			if (!read_entry(&t->e[t->touched[i]], &r) || r.rule_id != rule_id)
				continue;
			out->packets += r.packets;
			out->bytes += r.bytes;
			found = true;
		}
	}
	return found;
}

/* ---- /pcf/stats, /pcf/rule ------------------------------------------------------------ */

/* The telemetry library runs each client connection in a thread of its own: the lock keeps
 * every call out of the view while detach clears it (the stop then frees what it points at). */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
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
	rte_tel_data_add_dict_u64(d, "busy_cycles", c->busy_cycles);
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

/* The sizes of the main lcore's tables of one interface: "<prefix>neighbours" (entries of both
 * families), "<prefix>neighbour_refresh_age_ms" (since the kernel's table was last read, the
 * main lcore's pulse), "<prefix>routes" (prefixes of both families loaded into the LPM tables:
 * 0 while every destination is on-link). */
static void add_tables(struct rte_tel_data *d, const char *prefix, const struct pcf_neigh *n,
		       const struct pcf_routes *r)
{
	char key[64];

	if (n) {
		snprintf(key, sizeof(key), "%sneighbours", prefix);
		rte_tel_data_add_dict_u64(d, key, pcf_neigh_entries(n));
		snprintf(key, sizeof(key), "%sneighbour_refresh_age_ms", prefix);
		rte_tel_data_add_dict_u64(d, key, pcf_neigh_age_ms(n));
	}
	if (r) {
		snprintf(key, sizeof(key), "%sroutes", prefix);
		rte_tel_data_add_dict_u64(d, key, pcf_routes_loaded(r));
	}
}

#define TEL_MAX_RULES 100 /* each of rules and rule_bytes stays under RTE_TEL_MAX_DICT_ENTRIES */

static void tel_fill_stats(const struct pcf_stats_view *v, struct rte_tel_data *d)
{
	struct pcf_queue_counters total = {0}, c;
	struct pcf_rule_total rules[TEL_MAX_RULES];
	struct rte_tel_data *rp, *rb;
	uint64_t overflow, restarts = 0;
	unsigned int i, n;
	char key[32];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "worker_id", v->worker_id);
	rte_tel_data_add_dict_string(d, "iface", v->iface);
	rte_tel_data_add_dict_string(d, "egress", v->egress);
	rte_tel_data_add_dict_string(d, "xdp_mode", v->xdp_mode);
	rte_tel_data_add_dict_string(d, "poll_mode", v->poll_mode);
	rte_tel_data_add_dict_u64(d, "started_at_unix_ms", v->started_at_unix_ms);
	rte_tel_data_add_dict_u64(d, "tsc_hz", v->tsc_hz);
	if (v->reverse)
		rte_tel_data_add_dict_string(d, "reverse", v->reverse);
	for (i = 0; i < v->n_queues; i++) {
		struct rte_tel_data *qd;

		pcf_stats_read_queue(&v->queues[i], &c);
		add_counters(&total, &c);
		restarts += __atomic_load_n(&v->queues[i].stats->rule_restarts, __ATOMIC_RELAXED);
		snprintf(key, sizeof(key), "queue_%u", v->queues[i].queue_id);
		qd = counters_dict(&c);
		if (qd) {
			rte_tel_data_add_dict_u64(qd, "attachment", v->queues[i].attachment);
			rte_tel_data_add_dict_u64(qd, "queue", v->queues[i].queue);
		}
		add_container(d, key, qd);
	}
	add_container(d, "total", counters_dict(&total));
	add_tables(d, "", v->neigh[0], v->routes[0]);
	add_tables(d, "reverse_", v->neigh[1], v->routes[1]);

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
	rte_tel_data_add_dict_u64(d, "rule_slots", v->rule_slots);
	rte_tel_data_add_dict_u64(d, "rule_restarts", restarts);
	rte_tel_data_add_dict_u64(d, "rule_overflow", overflow);
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int ret = -1; /* stopping */

	(void)cmd;
	(void)params;
	pthread_mutex_lock(&tel_lock);
	if (tel_view) {
		tel_fill_stats(tel_view, d);
		ret = 0;
	}
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

/* /pcf/rule,<rule id>: one rule's counters, whichever its place among the rules. */
static int tel_rule(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct pcf_rule_total r;
	unsigned long id;
	char *end;
	int ret = -1;

	(void)cmd;
	if (!params || !*params)
		return -EINVAL;
	errno = 0;
	id = strtoul(params, &end, 10);
	if (errno || *end || *params == '-' || id > UINT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (tel_view) {
		pcf_stats_read_rule(tel_view, (uint32_t)id, &r);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "rule_id", r.rule_id);
		rte_tel_data_add_dict_u64(d, "packets", r.packets);
		rte_tel_data_add_dict_u64(d, "bytes", r.bytes);
		ret = 0;
	}
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

void pcf_stats_telemetry_detach(void)
{
	pthread_mutex_lock(&tel_lock); /* waits for a call in progress */
	tel_view = NULL;
	pthread_mutex_unlock(&tel_lock);
}

int pcf_stats_telemetry_register(const struct pcf_stats_view *v)
{
	pthread_mutex_lock(&tel_lock);
	tel_view = v;
	pthread_mutex_unlock(&tel_lock);
	if (rte_telemetry_register_cmd("/pcf/stats", tel_stats,
				       "The pcf worker's counters: per queue, total, per rule (the first 100 by id). No parameters"))
		return -1;
	return rte_telemetry_register_cmd("/pcf/rule", tel_rule,
					  "One rule's counters summed over the queues. Parameter: the rule id");
}
