/* main.c - pcf-worker, the DPDK worker of pcf-afxdp, shaped like DPDK's examples/l2fwd: EAL
 * init, the application's options after `--`, ports (I/O handles, port.h) opened (rte_exit on
 * a bad configuration),
 * one datapath lcore per RX queue, the main lcore on a timer (mirror, neighbours and routes,
 * report snapshots; a report thread sends them), a force_quit flag set by SIGINT/SIGTERM, and an
 * orderly stop.
 *
 * Life cycle of the pcf_xskmap entries: they are written last at start (once the lcores poll
 * and the egress is up, so XDP redirects only to a worker that can forward) and deleted first
 * at stop (new packets take the kernel path at once, the lcores then forward what is already
 * in their RX rings). A worker killed with SIGKILL loses its sockets and the kernel deletes
 * the entries itself; a restarted worker writes them again. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include "config.h"
#include "counters.h"
#include "datapath.h"
#include "mirror.h"
#include "neigh.h"
#include "pins.h"
#include "pipeline.h"
#include "port.h"
#include "report.h"
#include "route.h"

#define MBUFS_PER_QUEUE   4096
#define MBUF_CACHE        256
#define MAIN_TICK_US      10000 /* the main lcore's timer */
#define NEIGH_REFRESH_MS  1000  /* re-read the kernel's neighbours and routes, and after a miss at most this often: */
#define NEIGH_MISS_MS     100
#define STOP_DRAIN_US     50000 /* after the xskmap entries are gone: the RX rings empty */

static volatile bool force_quit;

/* The worker's state: static, as the telemetry thread reads the view until rte_eal_cleanup. */
static struct pcf_worker_conf conf;
static struct pcf_stats_view view;
/* One datapath lcore per RX socket, index i: i < n_queues is queue i of --iface (attachment
 * conf.attachment in the pin dir), with --reverse n_queues + q is queue q of the egress
 * (attachment conf.reverse_attachment). rx_ports/tx_ports are the worker's I/O handles
 * (struct pcf_port, port.h), not attachments.
 * tx_ports[i] is where lcore i transmits: the egress's queue q for --iface's queue q and, with
 * --reverse, --iface's queue q for the egress's queue q. With --reverse every socket does RX
 * and TX: its RX half belongs to the lcore that receives on it, its TX half (TX ring, completion
 * ring, TX frames) to the lcore of the same queue on the other interface (port_afxdp.c). */
static unsigned int n_rx;
static struct pcf_lcore *lcores[PCF_WORKER_MAX_RX];
static struct pcf_port *rx_ports[PCF_WORKER_MAX_RX];
static struct pcf_port *tx_ports[PCF_WORKER_MAX_RX];
static struct pcf_l2 l2, l2_rev;                 /* out of the egress; out of --iface (--reverse) */
static struct pcf_neigh *neigh, *neigh_rev;
static struct pcf_routes *routes, *routes_rev;    /* with neigh, neigh_rev */
/* The datapath lcores' quiescent states (thread id = RX socket index): the main lcore frees
 * what it took out of the neighbour and route tables only after a grace period. */
static struct rte_rcu_qsbr *qsbr;
static uint32_t rule_slots;        /* the per-rule tables: pcf_rule_stats' max_entries */
static char reverse_desc[2 * IF_NAMESIZE + 32];
static char mirror_rx_desc[2 * IF_NAMESIZE + 64];
static struct pcf_mirror *mirror;
static struct pcf_reporter reporter;
static int xskmap_fd = -1;
static unsigned int n_registered;
static struct pcf_nat6_table nat6; /* the pinned pcf_nat6, mmapped read-only */

static void signal_handler(int signum)
{
	if (signum == SIGINT || signum == SIGTERM)
		force_quit = true;
}

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The EAL's own messages say what went wrong; this adds the one line that says what to do. */
static int eal_init(int argc, char **argv)
{
	int ret = rte_eal_init(argc, argv);

	if (ret >= 0)
		return ret;
	switch (rte_errno) {
	case EACCES: /* "Cannot get hugepage information" */
	case ENOMEM: /* "Cannot init memory" */
		rte_exit(PCF_EXIT_HUGEPAGES,
			 "pcf-worker: the EAL could not get hugepage memory (%s): reserve hugepages (echo 256 > /proc/sys/vm/nr_hugepages) and, without --in-memory, mount hugetlbfs (mount -t hugetlbfs nodev /dev/hugepages); or pass --no-huge\n",
			 rte_strerror(rte_errno));
	case EINVAL:
		rte_exit(PCF_EXIT_USAGE, "pcf-worker: invalid EAL arguments (see the EAL messages above)\n");
	default:
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
	}
}

static struct pcf_port *open_afxdp(const struct pcf_afxdp_conf *c)
{
	struct pcf_port *p;
	char err[256];
	int err_no;

	p = pcf_afxdp_open(c, err, sizeof(err), &err_no);
	if (!p)
		rte_exit(err_no == EBUSY ? PCF_EXIT_BUSY : PCF_EXIT_ERROR, "pcf-worker: %s%s\n", err,
			 err_no != EBUSY ? "" : c->rx ? " (another AF_XDP socket is bound to it: another worker?)"
						     : " (another AF_XDP socket is bound to it)");
	return p;
}

static void open_ports(struct rte_mempool *mp)
{
	char err[256];
	unsigned int q;

	for (q = 0; q < conf.n_queues; q++) {
		const struct pcf_afxdp_conf c = { .ifname = conf.iface, .queue = q, .rx = true,
						  .tx = conf.reverse, .zc = conf.zc, .mp = mp,
						  .xsk_key = PCF_XSK_KEY(conf.attachment, q) };

		rx_ports[q] = open_afxdp(&c);
	}
	if (conf.reverse) {
		/* One socket per (interface, queue): a queue takes only one. */
		for (q = 0; q < conf.n_queues; q++) {
			const struct pcf_afxdp_conf c = { .ifname = conf.egress, .queue = q, .rx = true,
							  .tx = true, .zc = conf.zc, .mp = mp,
							  .xsk_key = PCF_XSK_KEY(conf.reverse_attachment, q) };

			rx_ports[conf.n_queues + q] = open_afxdp(&c);
			tx_ports[q] = rx_ports[conf.n_queues + q];
			tx_ports[conf.n_queues + q] = rx_ports[q];
		}
		return;
	}
	if (conf.egress_kind == PCF_EGRESS_TAP) {
		if (pcf_tap_open(conf.egress, conf.n_queues, mp, tx_ports, err, sizeof(err)))
			rte_exit(PCF_EXIT_ERROR, "pcf-worker: %s\n", err);
		return;
	}
	/* TX queue q of the egress for RX queue q: one socket per lcore, no sharing. */
	for (q = 0; q < conf.n_queues; q++) {
		const struct pcf_afxdp_conf c = { .ifname = conf.egress, .queue = q, .tx = true,
						  .zc = conf.zc };

		tx_ports[q] = open_afxdp(&c);
	}
}

static void close_ports(void)
{
	unsigned int i;

	for (i = 0; i < n_rx; i++)
		pcf_port_close(rx_ports[i]);
	if (!conf.reverse) /* else the TX ports are the RX ports of the other interface */
		for (i = 0; i < conf.n_queues; i++)
			pcf_port_close(tx_ports[i]);
}

static void setup_rcu(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(n_rx);
	unsigned int q;

	qsbr = rte_zmalloc("pcf_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (!qsbr || rte_rcu_qsbr_init(qsbr, n_rx))
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: failed to set up RCU for %u lcores: %s\n", n_rx,
			 rte_strerror(rte_errno));
	for (q = 0; q < n_rx; q++)
		rte_rcu_qsbr_thread_register(qsbr, q); /* offline until its loop starts */
}

/* The kernel's neighbour entries and routes of ifname, read once now. */
static struct pcf_neigh *open_neigh(const char *ifname, struct pcf_routes **rt)
{
	struct pcf_neigh *n = pcf_neigh_create(ifname, qsbr);

	if (!n)
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: failed to create the neighbour table of %s: %s\n",
			 ifname, rte_strerror(rte_errno));
	if (pcf_neigh_refresh(n) < 0)
		rte_exit(PCF_EXIT_ERROR,
			 "pcf-worker: failed to read the kernel's neighbour entries of %s (netlink RTM_GETNEIGH): %s\n",
			 ifname, strerror(errno));
	*rt = pcf_routes_create(ifname, qsbr);
	if (!*rt)
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: failed to create the route table of %s: %s\n",
			 ifname, rte_strerror(rte_errno));
	if (pcf_routes_refresh(*rt) < 0)
		rte_exit(PCF_EXIT_ERROR,
			 "pcf-worker: failed to read the kernel's routes through %s (netlink RTM_GETROUTE): %s\n",
			 ifname, strerror(errno));
	return n;
}

/* Source: --src-mac, else the egress's address. Destination: --dst-mac; for a TAP its own
 * address (the kernel side receives what the PMD sends); else the kernel's neighbour entry of
 * --next-hop or of the next hop of each packet's destination (its route's gateway, or itself). */
static void setup_l2(void)
{
	l2.src = conf.have_src_mac ? conf.src_mac : tx_ports[0]->mac;
	l2.next_hop = conf.next_hop;
	l2.has_next_hop6 = conf.have_next_hop6;
	memcpy(l2.next_hop6, conf.next_hop6, sizeof(l2.next_hop6));
	if (conf.have_dst_mac || conf.egress_kind == PCF_EGRESS_TAP) {
		l2.fixed_dst = true;
		l2.dst = conf.have_dst_mac ? conf.dst_mac : tx_ports[0]->mac;
		return;
	}
	neigh = open_neigh(conf.egress, &routes);
	l2.neigh = neigh;
	l2.routes = routes;
}

/* --reverse, out of --iface: its own address; --reverse-dst-mac, else its kernel neighbour
 * entry of --reverse-next-hop or of each packet's destination (after DNAT). */
static void setup_l2_reverse(void)
{
	if (!conf.reverse)
		return;
	l2_rev.src = rx_ports[0]->mac;
	l2_rev.next_hop = conf.reverse_next_hop;
	l2_rev.has_next_hop6 = conf.have_reverse_next_hop6;
	memcpy(l2_rev.next_hop6, conf.reverse_next_hop6, sizeof(l2_rev.next_hop6));
	if (conf.have_reverse_dst_mac) {
		l2_rev.fixed_dst = true;
		l2_rev.dst = conf.reverse_dst_mac;
		return;
	}
	neigh_rev = open_neigh(conf.iface, &routes_rev);
	l2_rev.neigh = neigh_rev;
	l2_rev.routes = routes_rev;
}

static void setup_mirror(void)
{
	char err[256];

	if (!conf.mirror_pcap[0] && !conf.mirror_iface[0])
		return;
	if (conf.reverse)
		snprintf(mirror_rx_desc, sizeof(mirror_rx_desc),
			 "%s and %s (--reverse; queue = attachment * %u + queue)", conf.iface, conf.egress,
			 PCF_MAX_QUEUES);
	else
		snprintf(mirror_rx_desc, sizeof(mirror_rx_desc), "%s", conf.iface);
	mirror = pcf_mirror_open(conf.mirror_pcap, conf.mirror_iface, mirror_rx_desc, err, sizeof(err));
	if (!mirror)
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: %s\n", err);
}

/* The attachment (place in the pin dir) of RX socket i's interface. */
static unsigned int rx_attachment_no(unsigned int i)
{
	return i < conf.n_queues ? conf.attachment : conf.reverse_attachment;
}

static unsigned int rx_queue_no(unsigned int i)
{
	return i < conf.n_queues ? i : i - conf.n_queues;
}

/* RX socket i goes to the i-th worker lcore (--iface's queues first, then the egress's), with
 * its own counters on that lcore's socket. */
static void setup_lcores(void)
{
	unsigned int q = 0, lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct pcf_lcore *lc;
		int socket = (int)rte_lcore_to_socket_id(lcore);

		if (q == n_rx)
			break;
		lc = rte_zmalloc_socket("pcf_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE, socket);
		if (lc)
			lc->stats = rte_zmalloc_socket("pcf_lcore_stats", sizeof(*lc->stats),
						       RTE_CACHE_LINE_SIZE, socket);
		if (!lc || !lc->stats || pcf_rule_table_init(&lc->stats->rules, rule_slots, socket))
			rte_exit(PCF_EXIT_ERROR,
				 "pcf-worker: failed to allocate the counters of lcore %u (%u rule slots, %zu MiB): reserve more hugepages\n",
				 lcore, rule_slots,
				 ((size_t)rule_slots * (sizeof(struct pcf_rule_entry) + sizeof(uint32_t))) >> 20);
		lc->queue = PCF_XSK_KEY(rx_attachment_no(q), rx_queue_no(q));
		lc->rx = rx_ports[q];
		lc->tx = tx_ports[q];
		lc->l2 = q < conf.n_queues ? &l2 : &l2_rev;
		lc->mirror = mirror;
		lc->nat6 = &nat6;
		lc->qsbr = qsbr;
		lc->qsbr_id = q;
		lc->pass_no_meta = conf.no_meta == PCF_NO_META_PASS;
		lc->wakeup = conf.poll == PCF_POLL_WAKEUP;
		lcores[q] = lc;
		printf("pcf-worker: %s -> %s on lcore %u: attachment %u, pcf_xskmap[%u], AF_XDP %s%s%s\n",
		       rx_ports[q]->name, tx_ports[q]->name, lcore, rx_attachment_no(q), lc->queue,
		       rx_ports[q]->mode, rx_ports[q]->mode_note[0] ? ", " : "", rx_ports[q]->mode_note);
		q++;
	}
}

/* pcf_nat6: IPv6 NAT addresses by stats_slot (an IPv6 packet of a NAT rule whose slot is
 * beyond it is dropped as nat6_missing). */
static void setup_nat6(void)
{
	char err[PATH_MAX + 256];

	if (pcf_pins_map_nat6(conf.pin_dir, &nat6, err, sizeof(err)))
		rte_exit(PCF_EXIT_PIN, "pcf-worker: %s\n", err);
	printf("pcf-worker: %s/%s mapped read-only: %u entries\n", conf.pin_dir, PCF_PIN_NAT6, nat6.n);
}

/* The per-rule tables are indexed by stats_slot: as many entries as pcf_rule_stats has. */
static void setup_rule_slots(void)
{
	char err[PATH_MAX + 256];

	if (pcf_pins_rule_slots(conf.pin_dir, &rule_slots, err, sizeof(err)))
		rte_exit(PCF_EXIT_PIN, "pcf-worker: %s\n", err);
	if (rule_slots > PCF_RULE_SLOTS_MAX) {
		printf("pcf-worker: warning: %s has %u entries: per-rule counters for the first %u slots (the rest count as rule_overflow)\n",
		       PCF_PIN_RULE_STATS, rule_slots, PCF_RULE_SLOTS_MAX);
		rule_slots = PCF_RULE_SLOTS_MAX;
	}
	printf("pcf-worker: per-rule counters by stats slot: %u slots, %zu KiB per datapath lcore\n",
	       rule_slots, ((size_t)rule_slots * (sizeof(struct pcf_rule_entry) + sizeof(uint32_t))) >> 10);
}

/* What telemetry and the reports show. */
static void setup_reporting(void)
{
	const char *mode = rx_ports[0]->mode;
	char err[256];
	unsigned int q;

	for (q = 1; q < n_rx; q++)
		if (strcmp(rx_ports[q]->mode, mode))
			mode = "mixed";
	if (conf.reverse)
		snprintf(reverse_desc, sizeof(reverse_desc), "%s attachment %u -> %s", conf.egress,
			 conf.reverse_attachment, conf.iface);
	view = (struct pcf_stats_view){ .worker_id = conf.worker_id, .iface = conf.iface,
					.egress = conf.egress_desc, .xdp_mode = mode,
					.poll_mode = pcf_poll_name(conf.poll),
					.reverse = conf.reverse ? reverse_desc : NULL,
					.started_at_unix_ms = clock_ms(CLOCK_REALTIME),
					.tsc_hz = rte_get_tsc_hz(),
					.rule_slots = rule_slots,
					.neigh = { neigh, neigh_rev }, .routes = { routes, routes_rev },
					.n_queues = n_rx };
	for (q = 0; q < n_rx; q++)
		view.queues[q] = (struct pcf_stats_queue){ lcores[q]->queue, rx_attachment_no(q), rx_queue_no(q),
							   lcores[q]->stats, rx_ports[q], tx_ports[q] };
	if (pcf_stats_telemetry_register(&view))
		printf("pcf-worker: warning: telemetry command /pcf/stats not registered\n");
	if (pcf_reporter_init(&reporter, conf.report, conf.report_interval_ms, &view, err, sizeof(err)))
		rte_exit(PCF_EXIT_USAGE, "pcf-worker: --report %s: %s\n", conf.report, err);
}

static void launch_lcores(void)
{
	unsigned int q = 0, lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (q == n_rx)
			break;
		rte_eal_remote_launch(pcf_datapath_loop, lcores[q++], lcore);
	}
}

static int register_sockets(void)
{
	int ret;

	for (n_registered = 0; n_registered < n_rx; n_registered++) {
		ret = pcf_afxdp_xskmap_set(rx_ports[n_registered], xskmap_fd);
		if (ret) {
			printf("pcf-worker: failed to write %s/%s[%u]: %s\n", conf.pin_dir, PCF_PIN_XSKMAP,
			       lcores[n_registered]->queue, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* The main lcore's timer: mirror copies to disk and wire, neighbour entries and routes, report
 * snapshots. Nothing here waits on anything outside this process (the report thread does). */
static void service_loop(void)
{
	uint64_t now, next_neigh = 0, last_neigh = 0;
	unsigned int q;
	bool miss;

	while (!force_quit) {
		now = clock_ms(CLOCK_MONOTONIC);
		if (mirror)
			pcf_mirror_drain(mirror);
		if (neigh || neigh_rev) {
			for (miss = false, q = 0; q < n_rx; q++)
				miss |= lcores[q]->want_neigh;
			if (now >= next_neigh || (miss && now >= last_neigh + NEIGH_MISS_MS)) {
				for (q = 0; q < n_rx; q++)
					lcores[q]->want_neigh = false;
				if (neigh) {
					pcf_routes_refresh(routes);
					pcf_neigh_refresh(neigh);
				}
				if (neigh_rev) {
					pcf_routes_refresh(routes_rev);
					pcf_neigh_refresh(neigh_rev);
				}
				last_neigh = now;
				next_neigh = now + NEIGH_REFRESH_MS;
			}
		}
		pcf_reporter_tick(&reporter, now);
		rte_delay_us_sleep(MAIN_TICK_US);
	}
}

static void stop_worker(void)
{
	char deleted[PCF_WORKER_MAX_RX * 6 + 1] = "";
	size_t len = 0;
	unsigned int q;
	int ret;

	/* First: once this returns no telemetry call is reading the view, the ports or the tables,
	 * and any later one answers an error. */
	pcf_stats_telemetry_detach();
	for (q = 0; q < n_registered; q++) {
		ret = pcf_afxdp_xskmap_clear(rx_ports[q], xskmap_fd);
		if (ret)
			printf("pcf-worker: failed to delete %s[%u]: %s\n", PCF_PIN_XSKMAP, lcores[q]->queue,
			       strerror(-ret));
		else
			len += (size_t)snprintf(deleted + len, sizeof(deleted) - len, " %u", lcores[q]->queue);
	}
	if (len)
		printf("pcf-worker: deleted %s entries:%s\n", PCF_PIN_XSKMAP, deleted);
	rte_delay_us_sleep(STOP_DRAIN_US);
	pcf_datapath_stop = true;
	rte_eal_mp_wait_lcore();
	if (mirror)
		pcf_mirror_close(mirror); /* drains the last copies */
	pcf_reporter_fini(&reporter); /* the final counters, sent by the report thread (bounded wait) */
	close_ports();
	for (q = 0; q < n_rx; q++)
		rte_rcu_qsbr_thread_unregister(qsbr, q);
	pcf_routes_destroy(routes);
	pcf_routes_destroy(routes_rev);
	pcf_neigh_destroy(neigh);
	pcf_neigh_destroy(neigh_rev);
	rte_free(qsbr);
	pcf_pins_unmap_nat6(&nat6);
	if (xskmap_fd >= 0)
		close(xskmap_fd);
}

int main(int argc, char **argv)
{
	struct rte_mempool *mp;
	char err[512];
	int ret, status = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = eal_init(argc, argv);
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"pcf-worker";
	force_quit = false;
	signal(SIGINT, signal_handler);
	signal(SIGTERM, signal_handler);

	pcf_conf_parse(argc, argv, &conf);
	pcf_conf_check(&conf);
	n_rx = conf.reverse ? 2 * conf.n_queues : conf.n_queues;
	xskmap_fd = pcf_pins_open_xskmap(conf.pin_dir, conf.attachment, conf.ifindex, conf.iface,
					 conf.n_queues, err, sizeof(err));
	if (xskmap_fd < 0)
		rte_exit(PCF_EXIT_PIN, "pcf-worker: %s\n", err);
	if (conf.reverse && pcf_pins_check_attachment(conf.pin_dir, xskmap_fd, conf.reverse_attachment,
						      conf.egress_ifindex, conf.egress, conf.n_queues, err,
						      sizeof(err)))
		rte_exit(PCF_EXIT_PIN, "pcf-worker: --reverse: %s\n", err);
	setup_nat6();
	setup_rule_slots();

	mp = rte_pktmbuf_pool_create("pcf_mbufs", MBUFS_PER_QUEUE * (n_rx + 1) - 1, MBUF_CACHE,
				     0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!mp)
		rte_exit(PCF_EXIT_ERROR, "pcf-worker: failed to create the mbuf pool: %s\n", rte_strerror(rte_errno));
	open_ports(mp);
	setup_rcu();
	setup_l2();
	setup_l2_reverse();
	setup_mirror();
	setup_lcores();
	setup_reporting();
	launch_lcores();

	if (register_sockets() == 0) {
		printf("pcf-worker: ready: worker-id %s, %s, %u queue%s, poll %s, no-meta %s, egress %s%s%s%s%s\n",
		       conf.worker_id, view.xdp_mode, conf.n_queues, conf.n_queues == 1 ? "" : "s",
		       view.poll_mode, conf.no_meta == PCF_NO_META_PASS ? "pass" : "drop", conf.egress_desc,
		       conf.reverse ? ", reverse " : "", conf.reverse ? reverse_desc : "",
		       conf.report[0] ? ", report " : "", conf.report);
		service_loop();
		printf("pcf-worker: stopping\n");
	} else {
		status = PCF_EXIT_PIN;
	}
	stop_worker();
	rte_eal_cleanup();
	printf("pcf-worker: stopped\n");
	return status;
}
