/* report.h - the worker's counter report to the control plane. The main lcore only takes the
 * snapshot: on its timer it copies the counters (counters.h) into a buffer and hands it to a
 * report thread of its own (rte_ctrl_thread_create), which makes the gRPC call with its
 * deadline (report_client.h). A slow or hung control plane so holds up that thread, never the
 * main lcore's mirror drain and neighbour and route refreshes. Three buffers: the main lcore
 * fills one, one waits, the thread sends the third; a newer snapshot replaces one that waits
 * unsent (counters are cumulative: the newest says everything the older one did). The thread
 * logs when reporting starts failing and when it works again, not each failure. */
#ifndef PCF_REPORT_H
#define PCF_REPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "counters.h"
#include "report_client.h"

#define PCF_REPORT_MAX_RULES 65536 /* a report stays well under gRPC's 4 MiB message limit */

struct pcf_report_buf;

struct pcf_reporter {
	struct pcf_report_client *client;   /* NULL: reporting off */
	const struct pcf_stats_view *view;
	const char *target;
	unsigned int interval_ms;
	unsigned int timeout_ms;            /* each call's deadline: half the interval, 100 ms..2 s */
	uint64_t next_ms;
	struct pcf_rule_total *rules;       /* the main lcore's scratch, PCF_REPORT_MAX_RULES */
	/* Under lock: fill (main lcore) -> pending (waiting, if has_pending) -> sending (thread). */
	pthread_mutex_t lock;
	pthread_cond_t cond;                /* pending or stop, for the thread; done, for stop */
	struct pcf_report_buf *fill, *pending, *sending;
	bool has_pending, stop, done;
	pthread_t thread;
	int last;                           /* thread only: the last result logged */
};

/* No target: reporting off (every call below does nothing). Starts the report thread. */
int pcf_reporter_init(struct pcf_reporter *r, const char *target, unsigned int interval_ms,
		      const struct pcf_stats_view *view, char *err, size_t errlen);
/* Main lcore: a snapshot for the thread when the interval has passed (now_ms: monotonic). */
void pcf_reporter_tick(struct pcf_reporter *r, uint64_t now_ms);
/* Main lcore, at stop, once the datapath lcores are done: the final snapshot, sent even while
 * backing off after failures; waits for it at most about two deadlines, then stops the thread
 * and frees everything. */
void pcf_reporter_fini(struct pcf_reporter *r);

#endif /* PCF_REPORT_H */
