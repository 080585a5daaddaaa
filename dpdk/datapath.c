/* datapath.c - the datapath lcore loop (datapath.h).
 *
 * USDT probes (sys/sdt.h; `readelf -n build/pcf-worker` lists them), a nop until a tracer
 * attaches (bpftrace, a libbpf tool) to the running worker, no restart:
 *   pcf_worker:rx_burst(port, queue, n)        a burst of n > 0 packets received
 *   pcf_worker:tx_burst(port, queue, n, sent)  n packets handed to the egress, sent of them taken
 * port is the port's name ("dut0 queue 0"), a C string; queue its RX queue. */
#include <sys/sdt.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include "datapath.h"
#include "pipeline.h"

#define BURST 32
/* How long an idle lcore sleeps in poll() in wakeup mode: the bound on noticing a stop. */
#define WAKEUP_TIMEOUT_MS 100

volatile bool pcf_datapath_stop;

static void transmit(struct pcf_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	struct pcf_queue_counters *q = &lc->stats->q;
	uint32_t len[BURST];
	uint16_t sent, i;

	/* Lengths first: the egress owns (and may free) what it takes. */
	for (i = 0; i < n; i++)
		len[i] = pkts[i]->pkt_len;
	sent = pcf_port_tx_burst(lc->tx, pkts, n);
	DTRACE_PROBE4(pcf_worker, tx_burst, lc->tx->name, lc->queue, n, sent);
	q->tx_packets += sent;
	for (i = 0; i < sent; i++)
		q->tx_bytes += len[i];
	for (i = sent; i < n; i++) {
		q->drops[PCF_DROP_TX_FULL]++;
		rte_pktmbuf_free(pkts[i]);
	}
}

/* RCU (rte_rcu_qsbr): the lcore is online while it may hold a pointer into the neighbour or
 * route tables and reports a quiescent state after each burst, holding none; asleep in
 * poll() it is offline, so the main lcore never waits for an idle lcore.
 *
 * busy_cycles: the TSC from just before a burst's RX to after its TX, added when the burst
 * carried packets. One rte_rdtsc per loop turn: t0 is taken after an empty poll's idle work
 * (the reap, the poll() wait), or is the end of the burst before, whose quiescent report is
 * already in that burst's cycles; only the stop check and this lcore's add fall between. */
int pcf_datapath_loop(void *arg)
{
	struct pcf_lcore *lc = arg;
	struct pcf_queue_counters *q = &lc->stats->q;
	struct rte_mbuf *rx[BURST], *tx[BURST];
	uint64_t t0, t1;
	uint16_t n, n_tx;

	rte_rcu_qsbr_thread_online(lc->qsbr, lc->qsbr_id);
	t0 = rte_rdtsc();
	while (!pcf_datapath_stop) {
		n = pcf_port_rx_burst(lc->rx, rx, BURST);
		if (n == 0) {
			/* Idle: reap TX completions and kick what the egress still holds. */
			pcf_port_tx_burst(lc->tx, NULL, 0);
			if (lc->wakeup) {
				rte_rcu_qsbr_thread_offline(lc->qsbr, lc->qsbr_id);
				pcf_port_wait_rx(lc->rx, WAKEUP_TIMEOUT_MS);
				rte_rcu_qsbr_thread_online(lc->qsbr, lc->qsbr_id);
			} else {
				rte_rcu_qsbr_quiescent(lc->qsbr, lc->qsbr_id);
			}
			t0 = rte_rdtsc();
			continue;
		}
		DTRACE_PROBE3(pcf_worker, rx_burst, lc->rx->name, lc->queue, n);
		n_tx = pcf_pipeline_burst(lc, rx, n, tx);
		if (n_tx)
			transmit(lc, tx, n_tx);
		rte_rcu_qsbr_quiescent(lc->qsbr, lc->qsbr_id);
		t1 = rte_rdtsc();
		q->busy_cycles += t1 - t0;
		t0 = t1;
	}
	rte_rcu_qsbr_thread_offline(lc->qsbr, lc->qsbr_id);
	return 0;
}
