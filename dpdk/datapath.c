/* datapath.c - the datapath lcore loop (datapath.h). */
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
 * poll() it is offline, so the main lcore never waits for an idle lcore. */
int pcf_datapath_loop(void *arg)
{
	struct pcf_lcore *lc = arg;
	struct rte_mbuf *rx[BURST], *tx[BURST];
	uint16_t n, n_tx;

	rte_rcu_qsbr_thread_online(lc->qsbr, lc->qsbr_id);
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
			continue;
		}
		n_tx = pcf_pipeline_burst(lc, rx, n, tx);
		if (n_tx)
			transmit(lc, tx, n_tx);
		rte_rcu_qsbr_quiescent(lc->qsbr, lc->qsbr_id);
	}
	rte_rcu_qsbr_thread_offline(lc->qsbr, lc->qsbr_id);
	return 0;
}
