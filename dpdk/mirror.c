/* mirror.c - copies of PCF_F_MIRROR packets to a pcapng file and/or an interface (mirror.h).
 *
 * rte_pcapng (DPDK 22.11) describes only ethdev ports in the file and maps each packet to one
 * of them by port id; the worker's AF_XDP sockets are not ethdevs, so a net_null vdev stands
 * for the capture point (its interface block is named "dpdk:<port>"; the section comment names
 * the RX interface). The interface copy goes out through an AF_PACKET socket from the main
 * lcore: an AF_XDP socket would take a queue of that interface for a copy that is not on the
 * fast path. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pcapng.h>
#include <rte_ring.h>
#include "mirror.h"

#define MIRROR_RING   1024
#define MIRROR_POOL   (MIRROR_RING * 2 - 1)
#define PCAPNG_POOL   255
#define DRAIN_BURST   64
#define NULL_VDEV     "net_null_pcf_mirror"

struct pcf_mirror {
	struct rte_ring *ring;
	struct rte_mempool *pool;        /* the datapath's copies */
	struct rte_mempool *pcapng_pool; /* rte_pcapng_copy's blocks */
	rte_pcapng_t *pcapng;
	uint16_t pcapng_port;            /* the net_null port the file's packets belong to */
	bool vdev;
	int sock;                        /* AF_PACKET, -1 without --mirror-iface */
	int ts_off;                      /* the mbuf timestamp dynfield: TSC of the copy */
	struct pcf_mirror_stats st;
};

static inline uint64_t *copy_tsc(struct rte_mbuf *m, int off)
{
	return RTE_MBUF_DYNFIELD(m, off, uint64_t *);
}

bool pcf_mirror_copy(struct pcf_mirror *mr, const struct rte_mbuf *m, uint32_t queue)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(m, mr->pool, 0, UINT32_MAX);

	if (!c)
		return false;
	*copy_tsc(c, mr->ts_off) = rte_get_tsc_cycles();
	c->hash.usr = queue;
	if (rte_ring_mp_enqueue(mr->ring, c)) {
		rte_pktmbuf_free(c);
		return false;
	}
	return true;
}

static void send_copy(struct pcf_mirror *mr, struct rte_mbuf *c)
{
	/* Copies are one segment: rte_pktmbuf_copy into a pool of full-size buffers. */
	if (send(mr->sock, rte_pktmbuf_mtod(c, void *), rte_pktmbuf_data_len(c), MSG_DONTWAIT) < 0)
		mr->st.errors++;
	else
		mr->st.sent++;
}

void pcf_mirror_drain(struct pcf_mirror *mr)
{
	struct rte_mbuf *copies[DRAIN_BURST], *blocks[DRAIN_BURST];
	unsigned int n, nb, i;

	do {
		n = rte_ring_sc_dequeue_burst(mr->ring, (void **)copies, DRAIN_BURST, NULL);
		nb = 0;
		for (i = 0; i < n; i++) {
			if (mr->pcapng) {
				blocks[nb] = rte_pcapng_copy(mr->pcapng_port, copies[i]->hash.usr, copies[i],
							     mr->pcapng_pool, UINT32_MAX,
							     *copy_tsc(copies[i], mr->ts_off),
							     RTE_PCAPNG_DIRECTION_IN);
				if (blocks[nb])
					nb++;
				else
					mr->st.errors++;
			}
			if (mr->sock >= 0)
				send_copy(mr, copies[i]);
		}
		if (nb) {
			if (rte_pcapng_write_packets(mr->pcapng, blocks, (uint16_t)nb) < 0)
				mr->st.errors += nb;
			else
				mr->st.written += nb;
			/* 22.11 leaves them to the caller (its header says otherwise; dpdk-dumpcap frees). */
			rte_pktmbuf_free_bulk(blocks, nb);
		}
		rte_pktmbuf_free_bulk(copies, n);
	} while (n == DRAIN_BURST);
}

void pcf_mirror_stats(const struct pcf_mirror *mr, struct pcf_mirror_stats *s)
{
	*s = mr->st;
}

void pcf_mirror_close(struct pcf_mirror *mr)
{
	if (!mr)
		return;
	if (mr->ring)
		pcf_mirror_drain(mr);
	if (mr->pcapng)
		rte_pcapng_close(mr->pcapng); /* closes the file */
	if (mr->vdev)
		rte_eal_hotplug_remove("vdev", NULL_VDEV);
	if (mr->sock >= 0)
		close(mr->sock);
	rte_ring_free(mr->ring);
	rte_mempool_free(mr->pool);
	rte_mempool_free(mr->pcapng_pool);
	rte_free(mr);
}

static int open_pcapng(struct pcf_mirror *mr, const char *path, const char *rx_iface)
{
	char comment[128];
	int fd, ret;

	mr->pcapng_pool = rte_pktmbuf_pool_create("pcf_mirror_pcapng", PCAPNG_POOL, 0, 0,
						  rte_pcapng_mbuf_size(RTE_MBUF_DEFAULT_DATAROOM),
						  SOCKET_ID_ANY);
	if (!mr->pcapng_pool)
		return -rte_errno;
	/* Before the file: rte_pcapng_fdopen writes one interface block per ethdev port. */
	ret = rte_eal_hotplug_add("vdev", NULL_VDEV, "");
	if (ret)
		return ret;
	mr->vdev = true;
	ret = rte_eth_dev_get_port_by_name(NULL_VDEV, &mr->pcapng_port);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	snprintf(comment, sizeof(comment),
		 "pcf-worker: PCF_F_MIRROR packets received on %s, after NAT and TTL", rx_iface);
	mr->pcapng = rte_pcapng_fdopen(fd, NULL, NULL, "pcf-worker", comment);
	if (!mr->pcapng) {
		close(fd);
		return -rte_errno;
	}
	return 0;
}

static int open_socket(struct pcf_mirror *mr, const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -ENODEV;
	/* protocol 0: a send-only socket, nothing is queued to it on receive */
	mr->sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (mr->sock < 0)
		return -errno;
	if (bind(mr->sock, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

struct pcf_mirror *pcf_mirror_open(const char *pcap_path, const char *ifname, const char *rx_iface,
				   char *err, size_t errlen)
{
	const char *stage = "allocate";
	struct pcf_mirror *mr;
	int ret = -ENOMEM;

	mr = rte_zmalloc("pcf_mirror", sizeof(*mr), 0);
	if (!mr)
		goto fail;
	mr->sock = -1;
	stage = "register the mbuf timestamp field";
	if (rte_mbuf_dyn_rx_timestamp_register(&mr->ts_off, NULL) < 0) {
		ret = -rte_errno;
		goto fail;
	}
	stage = "create the mirror ring and pool";
	mr->ring = rte_ring_create("pcf_mirror", MIRROR_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	mr->pool = rte_pktmbuf_pool_create("pcf_mirror", MIRROR_POOL, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	if (!mr->ring || !mr->pool) {
		ret = -rte_errno;
		goto fail;
	}
	if (pcap_path && pcap_path[0]) {
		stage = "open the pcapng file";
		ret = open_pcapng(mr, pcap_path, rx_iface);
		if (ret)
			goto fail;
	}
	if (ifname && ifname[0]) {
		stage = "open an AF_PACKET socket on the mirror interface";
		ret = open_socket(mr, ifname);
		if (ret)
			goto fail;
	}
	return mr;

fail:
	snprintf(err, errlen, "mirror: failed to %s: %s", stage, rte_strerror(-ret));
	pcf_mirror_close(mr);
	return NULL;
}
