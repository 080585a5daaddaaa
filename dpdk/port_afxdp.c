/* port_afxdp.c - a pcf_port on one AF_XDP socket, opened with libxdp's xsk API.
 *
 * Each socket has a UMEM of its own in an rte_memzone (hugepage memory when the EAL has it),
 * RING_SIZE frames per direction it uses: RX frames live in the fill ring / RX ring and are
 * copied into mbufs at once, so they go back to the fill ring in the same call; TX frames come
 * from a free list and return through the completion ring. Copying costs one memcpy per
 * packet and keeps the UMEM independent of the mbuf pool, which is what a veth (copy mode)
 * does anyway; a zero-copy NIC would gain from mbufs carved out of the UMEM, which is what the
 * DPDK >= 23.11 PMD does behind the same pcf_port interface. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include <rte_malloc.h>
#include <rte_memcpy.h>
#include <rte_memzone.h>
#include "port.h"

#define RING_SIZE  2048u                           /* every ring; frames per direction */
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE     /* 4096: one page, aligned chunks */
#define META_LEN   sizeof(struct pcf_xdp_meta)

/* One socket may be used by two lcores (--reverse): the one that receives on it owns the RX
 * half (fill and RX rings, frames 0..RING_SIZE-1 of the UMEM, the RX counters), the one that
 * transmits into it owns the TX half (TX and completion rings, the other RING_SIZE frames and
 * their free list, the TX counters). Each ring has one user-space side, each frame one owner
 * at a time; the halves sit on cache lines of their own. */
struct afxdp_port {
	struct pcf_port base; /* first: the pcf_port handed out is this struct */
	const struct rte_memzone *mz;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	int fd;
	uint32_t xsk_key;             /* its key in pcf_xskmap: PCF_XSK_KEY(attachment, queue) */
	/* RX half */
	struct xsk_ring_prod fq __rte_cache_aligned;
	struct xsk_ring_cons rx;
	struct rte_mempool *mp;
	struct pcf_port_stats rx_st;  /* rx_* fields */
	/* RX chunks the worker is done with that the fill ring had no room for yet: the kernel
	 * may publish its fill-ring consumer index after it published the frames it put in
	 * those chunks, so room for a burst's chunks is not certain when the burst is read. */
	uint32_t n_refill;
	uint64_t refill[RING_SIZE];
	/* TX half */
	struct xsk_ring_cons cq __rte_cache_aligned;
	struct xsk_ring_prod tx;
	uint32_t tx_outstanding;      /* frames handed to the kernel, not completed yet */
	uint32_t n_free;
	struct pcf_port_stats tx_st;  /* tx_* fields */
	uint64_t free_frames[RING_SIZE];
};

static inline struct afxdp_port *afxdp(struct pcf_port *p)
{
	return (struct afxdp_port *)p;
}

/* ---- RX ------------------------------------------------------------------------------------ */

/* The metadata the XDP program wrote sits right in front of the frame in the UMEM, copy mode
 * included: it goes in front of the mbuf's data (port.h). */
static inline void take_meta(const uint8_t *frame, uint64_t off_in_chunk, struct rte_mbuf *m)
{
	uint8_t *dst = rte_pktmbuf_mtod(m, uint8_t *) - META_LEN;

	if (off_in_chunk >= META_LEN)
		rte_memcpy(dst, frame - META_LEN, META_LEN);
	else
		memset(dst, 0, META_LEN);
}

/* The next frame in this chunk lands at the same offset, and one without metadata must not
 * show this one's magic: wipe it before the chunk goes back to the fill ring. */
static inline void wipe_magic(uint8_t *frame, uint64_t off_in_chunk)
{
	if (off_in_chunk >= sizeof(uint32_t))
		memset(frame - sizeof(uint32_t), 0, sizeof(uint32_t));
}

/* Hands back to the fill ring as many of the pending chunks as it has room for, oldest first. */
static void refill(struct afxdp_port *p)
{
	uint32_t room, idx = 0, i;

	if (p->n_refill == 0)
		return;
	room = xsk_prod_nb_free(&p->fq, p->n_refill);
	if (room > p->n_refill)
		room = p->n_refill;
	if (room == 0 || xsk_ring_prod__reserve(&p->fq, room, &idx) != room)
		return;
	for (i = 0; i < room; i++)
		*xsk_ring_prod__fill_addr(&p->fq, idx + i) = p->refill[i];
	xsk_ring_prod__submit(&p->fq, room);
	p->n_refill -= room;
	if (p->n_refill)
		memmove(p->refill, p->refill + room, p->n_refill * sizeof(p->refill[0]));
}

static uint16_t afxdp_rx_burst(struct pcf_port *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct afxdp_port *p = afxdp(port);
	uint32_t idx_rx = 0, got, i;
	uint16_t nb = 0;
	bool have_mbufs;

	refill(p);
	got = xsk_ring_cons__peek(&p->rx, n, &idx_rx);
	if (got == 0) {
		/* A zero-copy driver may wait for a kick to refill from the fill ring. */
		if (xsk_ring_prod__needs_wakeup(&p->fq))
			recvfrom(p->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return 0;
	}
	have_mbufs = rte_pktmbuf_alloc_bulk(p->mp, pkts, got) == 0;
	if (!have_mbufs)
		p->rx_st.rx_no_mbuf += got;

	for (i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&p->rx, idx_rx + i);
		uint64_t chunk = d->addr & ~(uint64_t)(FRAME_SIZE - 1);
		uint8_t *frame = xsk_umem__get_data(p->mz->addr, d->addr);

		if (have_mbufs) {
			struct rte_mbuf *m = pkts[i];

			if (d->len <= rte_pktmbuf_tailroom(m)) {
				take_meta(frame, d->addr - chunk, m);
				rte_memcpy(rte_pktmbuf_mtod(m, void *), frame, d->len);
				m->data_len = (uint16_t)d->len;
				m->pkt_len = d->len;
				p->rx_st.rx_bytes += d->len;
				pkts[nb++] = m;
			} else {
				p->rx_st.rx_too_long++;
				rte_pktmbuf_free(m);
			}
		}
		wipe_magic(frame, d->addr - chunk);
		/* Never more than RING_SIZE: every RX chunk is in the fill ring, the kernel, the RX
		 * ring or here, once. */
		p->refill[p->n_refill++] = chunk;
	}
	xsk_ring_cons__release(&p->rx, got);
	refill(p);
	p->rx_st.rx_packets += nb;
	return nb;
}

static void afxdp_wait_rx(struct pcf_port *port, int timeout_ms)
{
	struct afxdp_port *p = afxdp(port);
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	/* Chunks still waiting for fill-ring room: the kernel may need them before a frame
	 * arrives that would wake us, so look again soon. */
	refill(p);
	poll(&pfd, 1, p->n_refill ? 1 : timeout_ms);
}

/* ---- TX ------------------------------------------------------------------------------------ */

static void tx_complete(struct afxdp_port *p)
{
	uint32_t idx = 0, n, i;

	n = xsk_ring_cons__peek(&p->cq, RING_SIZE, &idx);
	for (i = 0; i < n; i++)
		p->free_frames[p->n_free++] = *xsk_ring_cons__comp_addr(&p->cq, idx + i);
	xsk_ring_cons__release(&p->cq, n);
	p->tx_outstanding -= n;
}

/* Copy mode transmits only inside a syscall (the kernel sets need_wakeup on the TX ring for
 * it); a zero-copy driver asks when its NAPI is not running. */
static void tx_kick(struct afxdp_port *p)
{
	if (!xsk_ring_prod__needs_wakeup(&p->tx))
		return;
	if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
	    errno != EBUSY && errno != ENOBUFS && errno != EINTR)
		p->tx_st.tx_kick_errors++;
}

static uint16_t afxdp_tx_burst(struct pcf_port *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct afxdp_port *p = afxdp(port);
	uint32_t idx = 0, i;

	tx_complete(p);
	if (n > p->n_free)
		n = (uint16_t)p->n_free;
	/* A frame longer than a UMEM frame ends the burst (the prefix rule of tx_burst). */
	for (i = 0; i < n && pkts[i]->pkt_len <= FRAME_SIZE; i++)
		;
	n = (uint16_t)i;
	/* Room is certain: the TX ring can hold all RING_SIZE TX frames. */
	xsk_ring_prod__reserve(&p->tx, n, &idx);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&p->tx, idx + i);
		uint64_t addr = p->free_frames[--p->n_free];
		uint8_t *frame = xsk_umem__get_data(p->mz->addr, addr);
		/* Points into the mbuf when it is one segment, else gathers into the frame. */
		const void *src = rte_pktmbuf_read(m, 0, m->pkt_len, frame);

		if (src != frame)
			rte_memcpy(frame, src, m->pkt_len);
		d->addr = addr;
		d->len = m->pkt_len;
		p->tx_st.tx_bytes += m->pkt_len;
		rte_pktmbuf_free(m);
	}
	xsk_ring_prod__submit(&p->tx, i);
	p->tx_outstanding += i;
	p->tx_st.tx_packets += i;
	if (p->tx_outstanding)
		tx_kick(p);
	return (uint16_t)i;
}

/* ---- the rest -------------------------------------------------------------------------- */

static void afxdp_stats(const struct pcf_port *port, struct pcf_port_stats *s)
{
	const struct afxdp_port *p = (const struct afxdp_port *)port;

	*s = p->rx_st;
	s->tx_packets = p->tx_st.tx_packets;
	s->tx_bytes = p->tx_st.tx_bytes;
	s->tx_kick_errors = p->tx_st.tx_kick_errors;
}

static void afxdp_close(struct pcf_port *port)
{
	struct afxdp_port *p = afxdp(port);

	if (p->xsk)
		xsk_socket__delete(p->xsk);
	if (p->umem)
		xsk_umem__delete(p->umem);
	rte_memzone_free(p->mz);
	rte_free(p);
}

static const struct pcf_port_ops afxdp_ops = {
	.rx_burst = afxdp_rx_burst,
	.tx_burst = afxdp_tx_burst,
	.wait_rx = afxdp_wait_rx,
	.stats = afxdp_stats,
	.close = afxdp_close,
};

static int read_mac(const char *ifname, struct rte_ether_addr *mac)
{
	struct ifreq ifr = {0};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac->addr_bytes, ifr.ifr_hwaddr.sa_data, RTE_ETHER_ADDR_LEN);
	close(fd);
	return err;
}

/* One attempt with the given bind flags; on failure nothing of it is left (a retry with other
 * flags needs a fresh UMEM: its fill and completion rings are set up once per socket). */
static int open_socket(struct afxdp_port *p, const struct pcf_afxdp_conf *c, uint16_t bind_flags)
{
	const struct xsk_umem_config ucfg = {
		.fill_size = RING_SIZE,
		.comp_size = RING_SIZE,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};
	const struct xsk_socket_config scfg = {
		.rx_size = RING_SIZE,
		.tx_size = RING_SIZE,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = 0,
		.bind_flags = bind_flags,
	};
	int err;

	err = xsk_umem__create(&p->umem, p->mz->addr, p->mz->len, &p->fq, &p->cq, &ucfg);
	if (err) {
		p->umem = NULL;
		return err;
	}
	err = xsk_socket__create(&p->xsk, c->ifname, c->queue, p->umem, c->rx ? &p->rx : NULL,
				 c->tx ? &p->tx : NULL, &scfg);
	if (err) {
		p->xsk = NULL;
		xsk_umem__delete(p->umem);
		p->umem = NULL;
	}
	return err;
}

struct pcf_port *pcf_afxdp_open(const struct pcf_afxdp_conf *c, char *err, size_t errlen,
				int *err_no)
{
	static unsigned int seq;
	uint32_t n_frames = (c->rx ? RING_SIZE : 0) + (c->tx ? RING_SIZE : 0), idx = 0, i;
	const char *stage = "allocate the port";
	struct afxdp_port *p;
	char mz_name[RTE_MEMZONE_NAMESIZE];
	int ret = -ENOMEM;

	p = rte_zmalloc("pcf_afxdp_port", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (!p)
		goto fail;
	p->base.ops = &afxdp_ops;
	p->base.queue = c->queue;
	p->xsk_key = c->xsk_key;
	p->mp = c->mp;
	snprintf(p->base.name, sizeof(p->base.name), "%s queue %u", c->ifname, c->queue);

	stage = "reserve the UMEM (hugepage memory)";
	snprintf(mz_name, sizeof(mz_name), "pcf_umem_%u", seq++);
	p->mz = rte_memzone_reserve_aligned(mz_name, (size_t)n_frames * FRAME_SIZE, SOCKET_ID_ANY,
					    0, getpagesize());
	if (!p->mz)
		goto fail;
	/* No stale metadata magic anywhere in a fresh UMEM (see take_meta). */
	memset(p->mz->addr, 0, p->mz->len);

	stage = "create the AF_XDP socket";
	ret = -EOPNOTSUPP;
	if (c->zc != PCF_ZC_OFF) {
		ret = open_socket(p, c, XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY);
		p->base.mode = "zero-copy";
	}
	if (ret && c->zc == PCF_ZC_ON) {
		stage = "bind in zero-copy mode (--zero-copy on)";
		goto fail;
	}
	if (ret) {
		if (c->zc == PCF_ZC_AUTO)
			snprintf(p->base.mode_note, sizeof(p->base.mode_note),
				 "zero-copy refused: %s", strerror(-ret));
		ret = open_socket(p, c, XDP_USE_NEED_WAKEUP | XDP_COPY);
		p->base.mode = "copy";
	}
	if (ret)
		goto fail;
	p->fd = xsk_socket__fd(p->xsk);

	stage = "read the interface's MAC address";
	ret = read_mac(c->ifname, &p->base.mac);
	if (ret)
		goto fail;

	if (c->rx) {
		xsk_ring_prod__reserve(&p->fq, RING_SIZE, &idx);
		for (i = 0; i < RING_SIZE; i++)
			*xsk_ring_prod__fill_addr(&p->fq, idx + i) = (uint64_t)i * FRAME_SIZE;
		xsk_ring_prod__submit(&p->fq, RING_SIZE);
	}
	if (c->tx) {
		for (i = n_frames - RING_SIZE; i < n_frames; i++)
			p->free_frames[p->n_free++] = (uint64_t)i * FRAME_SIZE;
	}
	*err_no = 0;
	return &p->base;

fail:
	snprintf(err, errlen, "%s %s queue %u: failed to %s: %s", c->rx ? (c->tx ? "RX/TX" : "RX") : "TX", c->ifname,
		 c->queue, stage, strerror(-ret));
	*err_no = -ret;
	if (p)
		afxdp_close(&p->base);
	return NULL;
}

int pcf_afxdp_xskmap_set(struct pcf_port *port, int xskmap_fd)
{
	uint32_t key = afxdp(port)->xsk_key;
	int fd = afxdp(port)->fd;

	return bpf_map_update_elem(xskmap_fd, &key, &fd, BPF_ANY) ? -errno : 0;
}

int pcf_afxdp_xskmap_clear(struct pcf_port *port, int xskmap_fd)
{
	uint32_t key = afxdp(port)->xsk_key;

	if (bpf_map_delete_elem(xskmap_fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}
