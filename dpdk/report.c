/* report.c - counters to pcf_report: snapshots on the main lcore's timer, sent by a report
 * thread (report.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rte_lcore.h>
#include "report.h"

/* One snapshot, self-contained: the strings it points at are the worker's configuration,
 * which outlives the thread. */
struct pcf_report_buf {
	struct pcf_report rep;
	struct pcf_report_queue q[PCF_WORKER_MAX_RX];
	struct pcf_report_counter drops[PCF_WORKER_MAX_RX][PCF_DROP__MAX];
	struct pcf_report_rule *rules; /* PCF_REPORT_MAX_RULES */
	bool final;                    /* the last one, at stop: sent even while backing off */
};

static struct pcf_report_buf *buf_alloc(void)
{
	struct pcf_report_buf *b = calloc(1, sizeof(*b));

	if (b)
		b->rules = calloc(PCF_REPORT_MAX_RULES, sizeof(*b->rules));
	if (b && !b->rules) {
		free(b);
		b = NULL;
	}
	return b;
}

static void buf_free(struct pcf_report_buf *b)
{
	if (b) {
		free(b->rules);
		free(b);
	}
}

/* Main lcore: the counters now, into b. */
static void snapshot(struct pcf_reporter *r, struct pcf_report_buf *b, bool final)
{
	const struct pcf_stats_view *v = r->view;
	struct pcf_queue_counters qc;
	unsigned int i, d, n_rules;
	uint64_t overflow;

	for (i = 0; i < v->n_queues; i++) {
		pcf_stats_read_queue(&v->queues[i], &qc);
		for (d = 0; d < PCF_DROP__MAX; d++)
			b->drops[i][d] = (struct pcf_report_counter){ pcf_drop_names[d], qc.drops[d] };
		b->q[i] = (struct pcf_report_queue){
			.queue_id = v->queues[i].queue_id,
			.attachment = v->queues[i].attachment, .queue = v->queues[i].queue,
			.rx_packets = qc.rx_packets, .rx_bytes = qc.rx_bytes,
			.tx_packets = qc.tx_packets, .tx_bytes = qc.tx_bytes,
			.nat = qc.nat, .ttl_expired = qc.ttl_expired, .mirrored = qc.mirrored,
			.rx_ipv6 = qc.rx_ipv6, .frag_later = qc.frag_later,
			.busy_cycles = qc.busy_cycles,
			.drops = b->drops[i], .n_drops = PCF_DROP__MAX,
		};
	}
	n_rules = pcf_stats_read_rules(v, r->rules, PCF_REPORT_MAX_RULES, &overflow);
	for (i = 0; i < n_rules; i++)
		b->rules[i] = (struct pcf_report_rule){ r->rules[i].rule_id, r->rules[i].packets,
							r->rules[i].bytes };
	b->rep = (struct pcf_report){
		.worker_id = v->worker_id, .iface = v->iface, .egress = v->egress,
		.xdp_mode = v->xdp_mode, .poll_mode = v->poll_mode,
		.pid = (uint64_t)getpid(), .started_at_unix_ms = v->started_at_unix_ms,
		.tsc_hz = v->tsc_hz,
		.queues = b->q, .n_queues = v->n_queues, .rules = b->rules, .n_rules = n_rules,
	};
	b->final = final;
}

/* Main lcore: fill becomes the waiting snapshot (replacing an unsent one, which becomes the
 * next fill). Holds the lock for three pointer moves, never across a send. */
static void hand_over(struct pcf_reporter *r)
{
	struct pcf_report_buf *t;

	pthread_mutex_lock(&r->lock);
	t = r->pending;
	r->pending = r->fill;
	r->fill = t;
	r->has_pending = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Report thread: one call with its deadline. */
static void send_one(struct pcf_reporter *r, const struct pcf_report_buf *b)
{
	char err[256];
	int ret;

	ret = pcf_report_client_send(r->client, &b->rep, r->timeout_ms, b->final, err, sizeof(err));
	if (ret == PCF_REPORT_FAILED && r->last != PCF_REPORT_FAILED)
		printf("pcf-worker: report to %s failed: %s (retrying with backoff)\n", r->target, err);
	else if (ret == PCF_REPORT_OK && r->last != PCF_REPORT_OK)
		printf("pcf-worker: reporting to %s\n", r->target);
	if (ret != PCF_REPORT_BACKOFF)
		r->last = ret;
}

static void *report_thread(void *arg)
{
	struct pcf_reporter *r = arg;
	struct pcf_report_buf *t;
	bool final = false;

	pthread_mutex_lock(&r->lock);
	while (!final) {
		while (!r->has_pending && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (!r->has_pending)
			break; /* stopped with nothing left to send */
		t = r->sending;
		r->sending = r->pending;
		r->pending = t;
		r->has_pending = false;
		pthread_mutex_unlock(&r->lock);
		send_one(r, r->sending); /* the thread's own buffer: no lock needed */
		final = r->sending->final;
		pthread_mutex_lock(&r->lock);
	}
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void free_all(struct pcf_reporter *r)
{
	pcf_report_client_destroy(r->client);
	buf_free(r->fill);
	buf_free(r->pending);
	buf_free(r->sending);
	free(r->rules);
	r->client = NULL;
	r->fill = r->pending = r->sending = NULL;
	r->rules = NULL;
}

int pcf_reporter_init(struct pcf_reporter *r, const char *target, unsigned int interval_ms,
		      const struct pcf_stats_view *view, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int ret;

	*r = (struct pcf_reporter){ .view = view, .target = target, .interval_ms = interval_ms,
				    .last = PCF_REPORT_BACKOFF /* nothing logged yet */ };
	if (!target || !target[0])
		return 0;
	/* A deadline well inside the interval (100 ms..2 s), so that one call ends before the
	 * next snapshot is due, and the final one does not hold up a stop for long. */
	r->timeout_ms = interval_ms / 2;
	r->timeout_ms = r->timeout_ms < 100 ? 100 : r->timeout_ms > 2000 ? 2000 : r->timeout_ms;
	r->rules = calloc(PCF_REPORT_MAX_RULES, sizeof(*r->rules));
	r->fill = buf_alloc();
	r->pending = buf_alloc();
	r->sending = buf_alloc();
	if (!r->rules || !r->fill || !r->pending || !r->sending) {
		snprintf(err, errlen, "out of memory");
		free_all(r);
		return -1;
	}
	r->client = pcf_report_client_create(target, err, errlen);
	if (!r->client) {
		free_all(r);
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* for the bounded wait at stop */
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* A control thread: on the EAL's control CPUs, never on a datapath lcore's. */
	ret = rte_ctrl_thread_create(&r->thread, "pcf-report", NULL, report_thread, r);
	if (ret) {
		snprintf(err, errlen, "failed to start the report thread: %s", strerror(ret < 0 ? -ret : ret));
		free_all(r);
		return -1;
	}
	return 0;
}

void pcf_reporter_tick(struct pcf_reporter *r, uint64_t now_ms)
{
	if (!r->client || now_ms < r->next_ms)
		return;
	r->next_ms = now_ms + r->interval_ms;
	snapshot(r, r->fill, false);
	hand_over(r);
}

void pcf_reporter_fini(struct pcf_reporter *r)
{
	/* The thread may be in a call (one deadline), then sends the final snapshot (another). */
	const uint64_t wait_ms = 2ull * r->timeout_ms + 500;
	struct timespec deadline;
	bool done;

	if (!r->client)
		return;
	snapshot(r, r->fill, true);
	hand_over(r);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(wait_ms / 1000);
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	while (!r->done && pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != ETIMEDOUT)
		;
	done = r->done;
	pthread_mutex_unlock(&r->lock);
	if (!done) {
		/* Its call has a deadline; if it still has not returned, leave the thread and what
		 * it uses alone rather than free them under it. */
		printf("pcf-worker: the last report to %s did not finish within %llu ms; not waiting longer\n",
		       r->target, (unsigned long long)wait_ms);
		return;
	}
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free_all(r);
}
