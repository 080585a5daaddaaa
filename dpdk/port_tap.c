/* port_tap.c - pcf_ports on a DPDK ethdev: the net_tap vdev, whose kernel side is an interface
 * in the worker's network namespace. Frames the worker transmits here are received by that
 * interface and go on through the kernel stack (routing, netfilter, sockets). One TX queue per
 * datapath lcore; the one RX queue the ethdev needs is set up and never polled. */
#include <stdio.h>
#include <string.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include "port.h"

#define TAP_RING_SIZE 1024
#define TAP_MAX_BURST 64

/* The ethdev, shared by the ports of all queues. */
struct tap_dev {
	char vdev[RTE_DEV_NAME_MAX_LEN];
	uint16_t port_id;
	unsigned int refs;
	bool started;
};

struct tap_port {
	struct pcf_port base; /* first: the pcf_port handed out is this struct */
	struct tap_dev *dev;
	struct pcf_port_stats st;
};

static inline struct tap_port *tap(struct pcf_port *p)
{
	return (struct tap_port *)p;
}

static uint16_t tap_rx_burst(struct pcf_port *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct tap_port *p = tap(port);
	uint16_t nb = rte_eth_rx_burst(p->dev->port_id, (uint16_t)port->queue, pkts, n), i;

	/* No XDP in front of a TAP: no metadata (port.h). */
	for (i = 0; i < nb; i++) {
		memset(rte_pktmbuf_mtod(pkts[i], uint8_t *) - sizeof(uint32_t), 0, sizeof(uint32_t));
		p->st.rx_bytes += pkts[i]->pkt_len;
	}
	p->st.rx_packets += nb;
	return nb;
}

static uint16_t tap_tx_burst(struct pcf_port *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct tap_port *p = tap(port);
	uint32_t len[TAP_MAX_BURST];
	uint16_t sent, i;

	/* Lengths first: the PMD may free an mbuf as soon as it has it. */
	if (n > TAP_MAX_BURST)
		n = TAP_MAX_BURST;
	for (i = 0; i < n; i++)
		len[i] = pkts[i]->pkt_len;
	sent = rte_eth_tx_burst(p->dev->port_id, (uint16_t)port->queue, pkts, n);
	for (i = 0; i < sent; i++)
		p->st.tx_bytes += len[i];
	p->st.tx_packets += sent;
	return sent;
}

static void tap_wait_rx(struct pcf_port *port, int timeout_ms)
{
	(void)port;
	rte_delay_us_sleep((unsigned int)timeout_ms * 1000);
}

static void tap_stats(const struct pcf_port *port, struct pcf_port_stats *s)
{
	*s = ((const struct tap_port *)port)->st;
}

static void tap_dev_release(struct tap_dev *d)
{
	if (--d->refs)
		return;
	if (d->started)
		rte_eth_dev_stop(d->port_id);
	rte_eth_dev_close(d->port_id);
	rte_eal_hotplug_remove("vdev", d->vdev);
	rte_free(d);
}

static void tap_close(struct pcf_port *port)
{
	struct tap_port *p = tap(port);

	tap_dev_release(p->dev);
	rte_free(p);
}

static const struct pcf_port_ops tap_ops = {
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.wait_rx = tap_wait_rx,
	.stats = tap_stats,
	.close = tap_close,
};

int pcf_tap_open(const char *ifname, unsigned int n, struct rte_mempool *mp,
		 struct pcf_port **ports, char *err, size_t errlen)
{
	const struct rte_eth_conf conf = {0};
	char args[64];
	const char *stage = "allocate";
	struct tap_dev *d;
	struct rte_ether_addr mac;
	unsigned int i;
	int ret = -ENOMEM;

	memset(ports, 0, n * sizeof(*ports));
	d = rte_zmalloc("pcf_tap_dev", sizeof(*d), 0);
	if (!d)
		goto fail;
	d->refs = 1; /* this function's own, dropped at the end */
	snprintf(d->vdev, sizeof(d->vdev), "net_tap_%s", ifname);
	snprintf(args, sizeof(args), "iface=%s", ifname);

	stage = "create the net_tap vdev";
	ret = rte_eal_hotplug_add("vdev", d->vdev, args);
	if (ret)
		goto fail_free;
	stage = "find the net_tap port";
	ret = rte_eth_dev_get_port_by_name(d->vdev, &d->port_id);
	if (ret)
		goto fail_uninit;
	stage = "configure the net_tap port";
	ret = rte_eth_dev_configure(d->port_id, 1, (uint16_t)n, &conf);
	if (ret)
		goto fail_close;
	ret = rte_eth_rx_queue_setup(d->port_id, 0, TAP_RING_SIZE, rte_socket_id(), NULL, mp);
	for (i = 0; i < n && !ret; i++)
		ret = rte_eth_tx_queue_setup(d->port_id, (uint16_t)i, TAP_RING_SIZE, rte_socket_id(), NULL);
	if (ret)
		goto fail_close;
	stage = "start the net_tap port";
	ret = rte_eth_dev_start(d->port_id);
	if (ret)
		goto fail_close;
	d->started = true;
	rte_eth_macaddr_get(d->port_id, &mac);

	for (i = 0; i < n; i++) {
		struct tap_port *p = rte_zmalloc("pcf_tap_port", sizeof(*p), RTE_CACHE_LINE_SIZE);

		if (!p) {
			stage = "allocate a port";
			ret = -ENOMEM;
			goto fail_ports;
		}
		p->base.ops = &tap_ops;
		p->base.mode = "ethdev";
		p->base.queue = i;
		p->base.mac = mac;
		snprintf(p->base.name, sizeof(p->base.name), "tap %s queue %u", ifname, i);
		p->dev = d;
		d->refs++;
		ports[i] = &p->base;
	}
	tap_dev_release(d);
	return 0;

fail_ports:
	for (i = 0; i < n; i++)
		pcf_port_close(ports[i]);
	memset(ports, 0, n * sizeof(*ports));
	tap_dev_release(d); /* the last reference: stops, closes, uninits */
	goto fail;
fail_close:
	rte_eth_dev_close(d->port_id);
fail_uninit:
	rte_eal_hotplug_remove("vdev", d->vdev);
fail_free:
	rte_free(d);
fail:
	snprintf(err, errlen, "TAP %s: failed to %s: %s", ifname, stage, rte_strerror(-ret));
	return ret < 0 ? ret : -EIO;
}
