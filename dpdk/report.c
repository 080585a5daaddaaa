/* report.c - counters to pcf_report, on the main lcore's timer (report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "report.h"

int pcf_reporter_init(struct pcf_reporter *r, const char *target, unsigned int interval_ms,
		      const struct pcf_stats_view *view, char *err, size_t errlen)
{
	*r = (struct pcf_reporter){ .view = view, .target = target, .interval_ms = interval_ms,
				    .last = PCF_REPORT_BACKOFF /* nothing logged yet */ };
	if (!target || !target[0])
		return 0;
	r->rules = calloc(PCF_REPORT_MAX_RULES, sizeof(*r->rules));
	r->report_rules = calloc(PCF_REPORT_MAX_RULES, sizeof(*r->report_rules));
	if (!r->rules || !r->report_rules) {
		snprintf(err, errlen, "out of memory");
		pcf_reporter_fini(r);
		return -1;
	}
	r->client = pcf_report_client_create(target, err, errlen);
	if (!r->client) {
		pcf_reporter_fini(r);
		return -1;
	}
	return 0;
}

static void send_report(struct pcf_reporter *r)
{
	const struct pcf_stats_view *v = r->view;
	struct pcf_queue_counters qc[PCF_WORKER_MAX_RX];
	struct pcf_report_queue rq[PCF_WORKER_MAX_RX];
	struct pcf_report_counter drops[PCF_WORKER_MAX_RX][PCF_DROP__MAX];
	struct pcf_report rep;
	unsigned int i, d, n_rules, timeout_ms;
	uint64_t overflow;
	char err[256];
	int ret;

	for (i = 0; i < v->n_queues; i++) {
		pcf_stats_read_queue(&v->queues[i], &qc[i]);
		for (d = 0; d < PCF_DROP__MAX; d++)
			drops[i][d] = (struct pcf_report_counter){ pcf_drop_names[d], qc[i].drops[d] };
		rq[i] = (struct pcf_report_queue){
			.queue_id = v->queues[i].queue_id,
			.rx_packets = qc[i].rx_packets, .rx_bytes = qc[i].rx_bytes,
			.tx_packets = qc[i].tx_packets, .tx_bytes = qc[i].tx_bytes,
			.nat = qc[i].nat, .ttl_expired = qc[i].ttl_expired, .mirrored = qc[i].mirrored,
			.rx_ipv6 = qc[i].rx_ipv6, .frag_later = qc[i].frag_later,
			.drops = drops[i], .n_drops = PCF_DROP__MAX,
		};
	}
	n_rules = pcf_stats_read_rules(v, r->rules, PCF_REPORT_MAX_RULES, &overflow);
	for (i = 0; i < n_rules; i++)
		r->report_rules[i] = (struct pcf_report_rule){ r->rules[i].rule_id, r->rules[i].packets,
							       r->rules[i].bytes };
	rep = (struct pcf_report){
		.worker_id = v->worker_id, .iface = v->iface, .egress = v->egress,
		.xdp_mode = v->xdp_mode, .poll_mode = v->poll_mode,
		.pid = (uint64_t)getpid(), .started_at_unix_ms = v->started_at_unix_ms,
		.queues = rq, .n_queues = v->n_queues, .rules = r->report_rules, .n_rules = n_rules,
	};
	/* A deadline well inside the interval (100 ms..2 s): a slow control plane delays the
	 * main lcore's next tick, never a datapath lcore. */
	timeout_ms = r->interval_ms / 2;
	timeout_ms = timeout_ms < 100 ? 100 : timeout_ms > 2000 ? 2000 : timeout_ms;
	ret = pcf_report_client_send(r->client, &rep, timeout_ms, err, sizeof(err));
	if (ret == PCF_REPORT_FAILED && r->last != PCF_REPORT_FAILED)
		printf("pcf-worker: report to %s failed: %s (retrying with backoff)\n", r->target, err);
	else if (ret == PCF_REPORT_OK && r->last != PCF_REPORT_OK)
		printf("pcf-worker: reporting to %s\n", r->target);
	if (ret != PCF_REPORT_BACKOFF)
		r->last = ret;
}

void pcf_reporter_tick(struct pcf_reporter *r, uint64_t now_ms, bool force)
{
	if (!r->client || (!force && now_ms < r->next_ms))
		return;
	r->next_ms = now_ms + r->interval_ms;
	send_report(r);
}

void pcf_reporter_fini(struct pcf_reporter *r)
{
	pcf_report_client_destroy(r->client);
	free(r->rules);
	free(r->report_rules);
	r->client = NULL;
	r->rules = NULL;
	r->report_rules = NULL;
}
