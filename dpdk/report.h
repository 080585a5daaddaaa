/* report.h - the worker's counter report to the control plane, on a timer of the main lcore:
 * reads the counters (counters.h) into a pcf_report and hands it to the gRPC client
 * (report_client.h). Logs when reporting starts failing and when it works again, not each
 * failure. */
#ifndef PCF_REPORT_H
#define PCF_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "counters.h"
#include "report_client.h"

struct pcf_reporter {
	struct pcf_report_client *client;
	const struct pcf_stats_view *view;
	const char *target;
	unsigned int interval_ms;
	uint64_t next_ms;
	int last;              /* the last result logged: PCF_REPORT_OK, _FAILED, _BACKOFF (none yet) */
	struct pcf_rule_total *rules;     /* buffers for one report, PCF_REPORT_MAX_RULES each */
	struct pcf_report_rule *report_rules;
};

#define PCF_REPORT_MAX_RULES 65536 /* a report stays well under gRPC's 4 MiB message limit */

/* NULL client: reporting off. */
int pcf_reporter_init(struct pcf_reporter *r, const char *target, unsigned int interval_ms,
		      const struct pcf_stats_view *view, char *err, size_t errlen);
/* Reports when the interval has passed (now_ms: a monotonic clock); force: now. */
void pcf_reporter_tick(struct pcf_reporter *r, uint64_t now_ms, bool force);
void pcf_reporter_fini(struct pcf_reporter *r);

#endif /* PCF_REPORT_H */
