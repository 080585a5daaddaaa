/* port.h - packet I/O of the worker, behind one small interface: receive a burst into rte_mbufs,
 * transmit a burst of rte_mbufs, wait for packets, read the port's own counters, close. A port
 * here is an I/O handle in DPDK's sense; an interface's place in the pin dir is its attachment
 * (pcf_common.h), and neither is an L4 port.
 *
 * Implementations:
 *   port_afxdp.c  an AF_XDP socket per queue, opened with libxdp's xsk API and registered in
 *                 the pinned pcf_xskmap by the worker (DPDK 22.11's net_af_xdp PMD cannot
 *                 share an attached program or a pinned map: see DESIGN.md);
 *   port_tap.c    a DPDK ethdev (net_tap vdev): TX back into the kernel stack.
 * Against DPDK >= 23.11 a third one can wrap the net_af_xdp PMD with use_pinned_map=1 (an
 * ethdev, like port_tap.c); the rest of the worker does not change.
 *
 * One pcf_port is used by one lcore at a time (no locks inside); an AF_XDP port that does RX
 * and TX may have one lcore on each side (pcf_afxdp_open).
 *
 * XDP metadata contract: after rx_burst, the sizeof(struct pcf_xdp_meta) bytes right in front
 * of rte_pktmbuf_mtod(m) hold what the XDP program wrote in front of the frame (the magic at
 * data - 4), or a magic that is not PCF_META_MAGIC when it wrote nothing. That is where the
 * metadata sits in an mbuf whose buffer is the UMEM frame itself (the PMD's zero-copy mbufs),
 * so pcf_mbuf_meta() reads it the same way whatever the port. */
#ifndef PCF_PORT_H
#define PCF_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include "pcf_common.h"

struct pcf_port;

/* The port's own counters: what happened below the pipeline. */
struct pcf_port_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t rx_no_mbuf;   /* frames dropped: the mempool was empty */
	uint64_t rx_too_long;  /* frames dropped: longer than an mbuf's data room */
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_kick_errors; /* sendto() wakeups that failed with anything but EAGAIN/EBUSY/ENOBUFS */
};

struct pcf_port_ops {
	/* Up to n packets into pkts; returns how many. The mbufs are the caller's. */
	uint16_t (*rx_burst)(struct pcf_port *p, struct rte_mbuf **pkts, uint16_t n);
	/* Sends a prefix of pkts and returns its length; those mbufs are the port's now, the
	 * rest stay the caller's (to count and free). */
	uint16_t (*tx_burst)(struct pcf_port *p, struct rte_mbuf **pkts, uint16_t n);
	/* Blocks until packets may be there or timeout_ms passed (wakeup mode). */
	void (*wait_rx)(struct pcf_port *p, int timeout_ms);
	void (*stats)(const struct pcf_port *p, struct pcf_port_stats *s);
	void (*close)(struct pcf_port *p);
};

struct pcf_port {
	const struct pcf_port_ops *ops;
	char name[48];              /* for messages: "dut0 queue 0", "tap pcf-tap0 queue 0" */
	const char *mode;           /* "zero-copy", "copy" (AF_XDP) or "ethdev" */
	char mode_note[64];         /* why not zero-copy in --zero-copy auto, else empty */
	struct rte_ether_addr mac;  /* the interface's address */
	uint32_t queue;
};

static inline uint16_t pcf_port_rx_burst(struct pcf_port *p, struct rte_mbuf **pkts, uint16_t n)
{
	return p->ops->rx_burst(p, pkts, n);
}

static inline uint16_t pcf_port_tx_burst(struct pcf_port *p, struct rte_mbuf **pkts, uint16_t n)
{
	return p->ops->tx_burst(p, pkts, n);
}

static inline void pcf_port_wait_rx(struct pcf_port *p, int timeout_ms)
{
	p->ops->wait_rx(p, timeout_ms);
}

static inline void pcf_port_stats(const struct pcf_port *p, struct pcf_port_stats *s)
{
	p->ops->stats(p, s);
}

static inline void pcf_port_close(struct pcf_port *p)
{
	if (p)
		p->ops->close(p);
}

static inline const struct pcf_xdp_meta *pcf_mbuf_meta(const struct rte_mbuf *m)
{
	return (const struct pcf_xdp_meta *)(rte_pktmbuf_mtod(m, const uint8_t *) -
					     sizeof(struct pcf_xdp_meta));
}

/* ---- AF_XDP (port_afxdp.c) --------------------------------------------------------------- */

enum pcf_zc_mode { PCF_ZC_AUTO, PCF_ZC_ON, PCF_ZC_OFF };

struct pcf_afxdp_conf {
	const char *ifname;
	uint32_t queue;
	uint32_t xsk_key;         /* rx: its key in pcf_xskmap, PCF_XSK_KEY(attachment, queue) */
	bool rx;                  /* an RX ring (and a fill ring kept full) */
	bool tx;                  /* a TX ring (and a completion ring) */
	enum pcf_zc_mode zc;      /* auto: zero-copy, else copy */
	struct rte_mempool *mp;   /* rx: mbufs the frames are copied into */
};

/* Opens one AF_XDP socket with a UMEM of its own (hugepage memory from an rte_memzone).
 * With both rx and tx, the RX half (rx_burst, wait_rx) and the TX half (tx_burst) may be
 * used by two different lcores, one each: the rings and frames of each half are its own.
 * No XDP program is loaded (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): the loader owns it.
 * NULL on failure, with the reason in err; *err_no says why (EBUSY: another socket is on
 * that queue; EOPNOTSUPP: zero-copy asked and not supported). */
struct pcf_port *pcf_afxdp_open(const struct pcf_afxdp_conf *conf, char *err, size_t errlen,
				int *err_no);

/* Writes / deletes this socket's entry (key: conf.xsk_key) in the pinned XSKMAP. */
int pcf_afxdp_xskmap_set(struct pcf_port *p, int xskmap_fd);
int pcf_afxdp_xskmap_clear(struct pcf_port *p, int xskmap_fd);

/* ---- DPDK ethdev: net_tap (port_tap.c) --------------------------------------------------- */

/* Creates the net_tap vdev with interface ifname in this network namespace, n TX queues, and
 * starts it; ports[i] transmits on queue i. The last port closed stops and removes the vdev. */
int pcf_tap_open(const char *ifname, unsigned int n, struct rte_mempool *mp,
		 struct pcf_port **ports, char *err, size_t errlen);

#endif /* PCF_PORT_H */
