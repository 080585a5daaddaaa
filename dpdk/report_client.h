/* report_client.h - the worker's client of pcf.v1.WorkerReport (proto/pcf/v1/worker.proto):
 * one C++ file (report_client.cc, gRPC C++) behind this C interface. Blocking calls with a
 * deadline, made from the worker's report thread (report.h), never from an lcore. */
#ifndef PCF_REPORT_CLIENT_H
#define PCF_REPORT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pcf_report_counter {
	const char *name;
	uint64_t value;
};

/* attachment: the RX interface's place in the pin dir; queue: its RX queue; queue_id:
 * PCF_XSK_KEY(attachment, queue), still sent (deprecated in QueueStats). */
struct pcf_report_queue {
	uint32_t queue_id;
	uint32_t attachment, queue;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t nat, ttl_expired, mirrored, rx_ipv6, frag_later;
	uint64_t busy_cycles; /* TSC cycles of the bursts that carried packets (counters.h) */
	const struct pcf_report_counter *drops;
	unsigned int n_drops;
};

struct pcf_report_rule {
	uint64_t rule_id, packets, bytes;
};

/* WorkerStats without its sequence, which the client numbers itself (+1 per call it makes). */
struct pcf_report {
	const char *worker_id, *iface, *egress, *xdp_mode, *poll_mode;
	uint64_t pid, started_at_unix_ms;
	uint64_t tsc_hz; /* the TSC's frequency: busy_cycles / tsc_hz is seconds */
	const struct pcf_report_queue *queues;
	unsigned int n_queues;
	const struct pcf_report_rule *rules;
	unsigned int n_rules;
};

enum pcf_report_result {
	PCF_REPORT_OK = 0,
	PCF_REPORT_FAILED = -1,  /* err says why; the next call waits for the backoff */
	PCF_REPORT_BACKOFF = 1,  /* not sent: still backing off after a failure */
};

struct pcf_report_client;

/* target: a gRPC target (HOST:PORT, unix:PATH). NULL with err set on a bad target. Does not
 * connect: the first report does. */
struct pcf_report_client *pcf_report_client_create(const char *target, char *err, size_t errlen);

/* Sends r unless backing off (force: even then). The call waits for the channel to connect
 * within timeout_ms (it blocks its thread up to that long). After a failure the next attempt
 * waits 250 ms, doubling up to 1 s, and starts with a fresh connection attempt; a success
 * resets it. */
enum pcf_report_result pcf_report_client_send(struct pcf_report_client *c, const struct pcf_report *r,
					      unsigned int timeout_ms, bool force, char *err, size_t errlen);

/* Reports sent, failed; the last sequence number used. */
void pcf_report_client_counts(const struct pcf_report_client *c, uint64_t *ok, uint64_t *failed,
			      uint64_t *sequence);

void pcf_report_client_destroy(struct pcf_report_client *c);

#ifdef __cplusplus
}
#endif

#endif /* PCF_REPORT_CLIENT_H */
