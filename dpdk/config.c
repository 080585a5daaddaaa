/* config.c - the worker's options and their checks (see config.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <rte_debug.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include "config.h"

static const char USAGE[] =
	"usage: pcf-worker [EAL options] -- --iface IF --egress iface:NAME|tap[:NAME] [options]\n"
	"  --iface IF                 RX interface (pcf-xdp attached there)\n"
	"  --pin-dir D                the loader's pin dir (default " PCF_DEFAULT_PIN_DIR ")\n"
	"  --attachment N             IF's attachment in the pin dir (pcf-xdp attach --attachment N;\n"
	"                             default 0): its sockets go to pcf_xskmap[N * 64 + queue]\n"
	"  --queues N                 RX queues 0..N-1, one worker lcore each (default: all of IF's)\n"
	"  --egress iface:NAME        transmit out NAME over AF_XDP\n"
	"  --egress tap[:NAME]        transmit into the kernel stack through a TAP (default " PCF_DEFAULT_TAP ")\n"
	"  --reverse                  with --egress iface:NAME: also receive on NAME's queues (its\n"
	"                             XDP program attached as --reverse-attachment) and transmit those\n"
	"                             packets out of IF: one socket and one lcore per (interface,\n"
	"                             queue), 2 x N worker lcores\n"
	"  --reverse-attachment N     NAME's attachment in the pin dir (default 1)\n"
	"  (--port and --reverse-port: the old names of --attachment and --reverse-attachment)\n"
	"  --reverse-dst-mac MAC      destination MAC out of IF (default: IF's kernel neighbour entry)\n"
	"  --reverse-next-hop IP      the neighbour on IF to send to (default: each packet's destination);\n"
	"                             once per family: an IPv4 one for IPv4 packets, an IPv6 one for IPv6\n"
	"  --dst-mac MAC, --src-mac MAC  Ethernet addresses on TX (default: the next hop's kernel\n"
	"                             neighbour entry; the egress interface's address)\n"
	"  --next-hop IP              the neighbour to send to (default: each packet's destination);\n"
	"                             once per family: an IPv4 one for IPv4 packets, an IPv6 one for IPv6\n"
	"  --poll busy|wakeup         busy polling, or need_wakeup + poll() when idle (default busy)\n"
	"  --zero-copy auto|on|off    AF_XDP zero-copy (auto: try it, fall back to copy; default auto)\n"
	"  --no-meta drop|pass        a frame without valid pcf metadata: drop it, or forward it\n"
	"                             unchanged (default drop); counted either way\n"
	"  --mirror-pcap FILE         PCF_F_MIRROR packets to a pcapng file\n"
	"  --mirror-iface IF          PCF_F_MIRROR packets out of IF\n"
	"  --report TARGET            gRPC pcf.v1.WorkerReport at HOST:PORT or unix:PATH\n"
	"  --report-interval-ms N     (default 1000)\n"
	"  --worker-id ID             (default: <netns name>/<iface>)\n";

enum {
	OPT_IFACE = 256, OPT_PIN_DIR, OPT_QUEUES, OPT_EGRESS, OPT_DST_MAC, OPT_SRC_MAC,
	OPT_NEXT_HOP, OPT_POLL, OPT_ZERO_COPY, OPT_NO_META, OPT_MIRROR_PCAP, OPT_MIRROR_IFACE,
	OPT_REPORT, OPT_REPORT_INTERVAL, OPT_WORKER_ID, OPT_HELP, OPT_ATTACHMENT, OPT_REVERSE,
	OPT_REVERSE_ATTACHMENT, OPT_REVERSE_DST_MAC, OPT_REVERSE_NEXT_HOP,
};

static const struct option OPTIONS[] = {
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "egress", required_argument, NULL, OPT_EGRESS },
	{ "dst-mac", required_argument, NULL, OPT_DST_MAC },
	{ "src-mac", required_argument, NULL, OPT_SRC_MAC },
	{ "next-hop", required_argument, NULL, OPT_NEXT_HOP },
	{ "poll", required_argument, NULL, OPT_POLL },
	{ "zero-copy", required_argument, NULL, OPT_ZERO_COPY },
	{ "no-meta", required_argument, NULL, OPT_NO_META },
	{ "mirror-pcap", required_argument, NULL, OPT_MIRROR_PCAP },
	{ "mirror-iface", required_argument, NULL, OPT_MIRROR_IFACE },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "report-interval-ms", required_argument, NULL, OPT_REPORT_INTERVAL },
	{ "worker-id", required_argument, NULL, OPT_WORKER_ID },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "attachment", required_argument, NULL, OPT_ATTACHMENT },
	{ "port", required_argument, NULL, OPT_ATTACHMENT }, /* the old name of --attachment */
	{ "reverse", no_argument, NULL, OPT_REVERSE },
	{ "reverse-attachment", required_argument, NULL, OPT_REVERSE_ATTACHMENT },
	{ "reverse-port", required_argument, NULL, OPT_REVERSE_ATTACHMENT }, /* old name */
	{ "reverse-dst-mac", required_argument, NULL, OPT_REVERSE_DST_MAC },
	{ "reverse-next-hop", required_argument, NULL, OPT_REVERSE_NEXT_HOP },
	{ NULL, 0, NULL, 0 },
};

#define usage_error(...) rte_exit(PCF_EXIT_USAGE, "pcf-worker: " __VA_ARGS__)

const char *pcf_poll_name(enum pcf_poll_mode m)
{
	return m == PCF_POLL_WAKEUP ? "wakeup" : "busy";
}

static void copy_name(char *dst, size_t size, const char *src, const char *opt)
{
	if (strlen(src) == 0 || strlen(src) >= size)
		usage_error("%s: '%s' is empty or too long (at most %zu characters)\n", opt, src, size - 1);
	memcpy(dst, src, strlen(src) + 1);
}

static unsigned long parse_uint(const char *s, const char *opt, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || *s == '-' || v < min || v > max)
		usage_error("%s: '%s' is not a number in %lu..%lu\n", opt, s, min, max);
	return v;
}

static int parse_choice(const char *s, const char *opt, const char *a, const char *b, const char *c)
{
	if (!strcmp(s, a))
		return 0;
	if (!strcmp(s, b))
		return 1;
	if (c && !strcmp(s, c))
		return 2;
	usage_error("%s: '%s' is not one of %s, %s%s%s\n", opt, s, a, b, c ? ", " : "", c ? c : "");
}

/* --next-hop / --reverse-next-hop: an IPv4 address (for IPv4 packets) or an IPv6 one (for
 * IPv6 packets), at most one of each; not the unspecified address. */
static void parse_next_hop(const char *s, const char *opt, uint32_t *ip4, bool *have6, uint8_t *ip6)
{
	static const uint8_t zero[16];
	struct in_addr a;
	uint8_t a6[16];

	if (inet_pton(AF_INET, s, &a) == 1 && a.s_addr != 0) {
		if (*ip4)
			usage_error("%s: '%s': an IPv4 next hop was already given (one per family)\n", opt, s);
		*ip4 = a.s_addr;
	} else if (inet_pton(AF_INET6, s, a6) == 1 && memcmp(a6, zero, sizeof(zero))) {
		if (*have6)
			usage_error("%s: '%s': an IPv6 next hop was already given (one per family)\n", opt, s);
		memcpy(ip6, a6, sizeof(a6));
		*have6 = true;
	} else {
		usage_error("%s: '%s' is not an IPv4 or IPv6 address\n", opt, s);
	}
}

static void parse_egress(const char *s, struct pcf_worker_conf *c)
{
	if (!strncmp(s, "iface:", 6)) {
		c->egress_kind = PCF_EGRESS_IFACE;
		copy_name(c->egress, sizeof(c->egress), s + 6, "--egress iface:NAME");
	} else if (!strcmp(s, "tap")) {
		c->egress_kind = PCF_EGRESS_TAP;
		copy_name(c->egress, sizeof(c->egress), PCF_DEFAULT_TAP, "--egress tap");
	} else if (!strncmp(s, "tap:", 4)) {
		c->egress_kind = PCF_EGRESS_TAP;
		copy_name(c->egress, sizeof(c->egress), s + 4, "--egress tap:NAME");
	} else {
		usage_error("--egress: '%s' is neither iface:NAME nor tap[:NAME]\n", s);
	}
	snprintf(c->egress_desc, sizeof(c->egress_desc), "%s:%s",
		 c->egress_kind == PCF_EGRESS_TAP ? "tap" : "iface", c->egress);
}

/* <netns name>/<iface>: the name under /run/netns whose inode is this process's netns, as the
 * proto suggests (e.g. pcf-dut/dut0); the host name when the netns has no name. */
static void default_worker_id(struct pcf_worker_conf *c)
{
	char path[PATH_MAX], host[64] = "worker";
	const char *name = NULL;
	struct stat self, st;
	struct dirent *de;
	DIR *d;

	gethostname(host, sizeof(host) - 1);
	d = opendir("/run/netns");
	if (d && stat("/proc/self/ns/net", &self) == 0) {
		while ((de = readdir(d))) {
			snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
			if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == self.st_ino &&
			    st.st_dev == self.st_dev) {
				name = de->d_name;
				break;
			}
		}
	}
	snprintf(c->worker_id, sizeof(c->worker_id), "%.100s/%s", name ? name : host, c->iface);
	if (d)
		closedir(d);
}

void pcf_conf_parse(int argc, char **argv, struct pcf_worker_conf *c)
{
	bool have_reverse_attachment = false;
	int opt;

	memset(c, 0, sizeof(*c));
	c->reverse_attachment = 1;
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", PCF_DEFAULT_PIN_DIR);
	c->report_interval_ms = 1000;
	c->egress_kind = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", OPTIONS, NULL)) != -1) {
		switch (opt) {
		case OPT_IFACE:
			copy_name(c->iface, sizeof(c->iface), optarg, "--iface");
			break;
		case OPT_PIN_DIR:
			copy_name(c->pin_dir, sizeof(c->pin_dir), optarg, "--pin-dir");
			break;
		case OPT_QUEUES:
			c->n_queues = (unsigned int)parse_uint(optarg, "--queues", 1, PCF_MAX_QUEUES);
			break;
		case OPT_EGRESS:
			parse_egress(optarg, c);
			break;
		case OPT_DST_MAC:
		case OPT_SRC_MAC:
			if (rte_ether_unformat_addr(optarg, opt == OPT_DST_MAC ? &c->dst_mac : &c->src_mac))
				usage_error("%s: '%s' is not a MAC address\n",
					    opt == OPT_DST_MAC ? "--dst-mac" : "--src-mac", optarg);
			if (opt == OPT_DST_MAC)
				c->have_dst_mac = true;
			else
				c->have_src_mac = true;
			break;
		case OPT_NEXT_HOP:
			parse_next_hop(optarg, "--next-hop", &c->next_hop, &c->have_next_hop6, c->next_hop6);
			break;
		case OPT_POLL:
			c->poll = parse_choice(optarg, "--poll", "busy", "wakeup", NULL) ? PCF_POLL_WAKEUP
										   : PCF_POLL_BUSY;
			break;
		case OPT_ZERO_COPY:
			c->zc = (enum pcf_zc_mode)parse_choice(optarg, "--zero-copy", "auto", "on", "off");
			break;
		case OPT_NO_META:
			c->no_meta = parse_choice(optarg, "--no-meta", "drop", "pass", NULL) ? PCF_NO_META_PASS
											     : PCF_NO_META_DROP;
			break;
		case OPT_MIRROR_PCAP:
			copy_name(c->mirror_pcap, sizeof(c->mirror_pcap), optarg, "--mirror-pcap");
			break;
		case OPT_MIRROR_IFACE:
			copy_name(c->mirror_iface, sizeof(c->mirror_iface), optarg, "--mirror-iface");
			break;
		case OPT_REPORT:
			copy_name(c->report, sizeof(c->report), optarg, "--report");
			break;
		case OPT_REPORT_INTERVAL:
			c->report_interval_ms =
				(unsigned int)parse_uint(optarg, "--report-interval-ms", 10, 3600000);
			break;
		case OPT_WORKER_ID:
			copy_name(c->worker_id, sizeof(c->worker_id), optarg, "--worker-id");
			break;
		case OPT_ATTACHMENT:
			c->attachment = (unsigned int)parse_uint(optarg, "--attachment", 0,
								 PCF_MAX_ATTACHMENTS - 1);
			break;
		case OPT_REVERSE:
			c->reverse = true;
			break;
		case OPT_REVERSE_ATTACHMENT:
			c->reverse_attachment = (unsigned int)parse_uint(optarg, "--reverse-attachment", 0,
									 PCF_MAX_ATTACHMENTS - 1);
			have_reverse_attachment = true;
			break;
		case OPT_REVERSE_DST_MAC:
			if (rte_ether_unformat_addr(optarg, &c->reverse_dst_mac))
				usage_error("--reverse-dst-mac: '%s' is not a MAC address\n", optarg);
			c->have_reverse_dst_mac = true;
			break;
		case OPT_REVERSE_NEXT_HOP:
			parse_next_hop(optarg, "--reverse-next-hop", &c->reverse_next_hop,
				       &c->have_reverse_next_hop6, c->reverse_next_hop6);
			break;
		case OPT_HELP:
			fputs(USAGE, stdout);
			rte_eal_cleanup();
			exit(0);
		default:
			fputs(USAGE, stderr);
			usage_error("unknown option or missing value (see usage above)\n");
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'\n", argv[optind]);
	if (!c->iface[0])
		usage_error("--iface is required\n");
	if ((int)c->egress_kind == -1)
		usage_error("--egress iface:NAME or --egress tap[:NAME] is required\n");
	if (c->egress_kind == PCF_EGRESS_IFACE && !strcmp(c->egress, c->iface))
		usage_error("--egress iface:%s is the RX interface: its queues are the RX sockets'\n",
			    c->egress);
	if (c->egress_kind == PCF_EGRESS_TAP && (c->next_hop || c->have_next_hop6))
		usage_error("--next-hop has no meaning with --egress tap: the kernel routes the packet\n");
	if (!c->reverse && (have_reverse_attachment || c->have_reverse_dst_mac || c->reverse_next_hop ||
			    c->have_reverse_next_hop6))
		usage_error("--reverse-attachment, --reverse-dst-mac and --reverse-next-hop need --reverse\n");
	if (c->reverse && c->egress_kind != PCF_EGRESS_IFACE)
		usage_error("--reverse needs --egress iface:NAME (it receives on NAME's queues)\n");
	if (c->reverse && c->reverse_attachment == c->attachment)
		usage_error("--reverse-attachment %u is --attachment %u: each interface needs an attachment of its own\n",
			    c->reverse_attachment, c->attachment);
	if (!c->worker_id[0])
		default_worker_id(c);
}

/* ethtool channels, in this process's netns (sysfs would show the netns /sys was mounted in).
 * Drivers without channel information have one queue each way. */
static void count_queues(const char *ifname, unsigned int *rx, unsigned int *tx)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = {0};
	int fd;

	*rx = *tx = 1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0 && ch.combined_count + ch.rx_count > 0) {
		*rx = ch.combined_count + ch.rx_count;
		*tx = ch.combined_count + ch.tx_count;
	}
	close(fd);
}

static void need_iface(const char *name, const char *what)
{
	if (!if_nametoindex(name))
		rte_exit(PCF_EXIT_IFACE, "pcf-worker: no such interface: %s (%s) in this network namespace\n",
			 name, what);
}

void pcf_conf_check(struct pcf_worker_conf *c)
{
	unsigned int rx, tx, egress_rx, egress_tx, workers = rte_lcore_count() - 1, need;

	need_iface(c->iface, "--iface");
	c->ifindex = if_nametoindex(c->iface);
	if (c->egress_kind == PCF_EGRESS_IFACE) {
		need_iface(c->egress, "--egress");
		c->egress_ifindex = if_nametoindex(c->egress);
	}
	if (c->mirror_iface[0])
		need_iface(c->mirror_iface, "--mirror-iface");

	count_queues(c->iface, &rx, &tx);
	if (c->n_queues > rx)
		rte_exit(PCF_EXIT_QUEUES, "pcf-worker: --queues %u: %s has %u RX queue%s\n",
			 c->n_queues, c->iface, rx, rx == 1 ? "" : "s");
	if (!c->n_queues)
		c->n_queues = rx;
	if (c->n_queues > PCF_MAX_QUEUES)
		rte_exit(PCF_EXIT_QUEUES, "pcf-worker: %s has %u RX queues, pcf_xskmap holds %u: pass --queues\n",
			 c->iface, c->n_queues, PCF_MAX_QUEUES);
	need = c->reverse ? 2 * c->n_queues : c->n_queues;
	if (workers < need)
		rte_exit(PCF_EXIT_QUEUES,
			 "pcf-worker: %u queue%s%s need%s %u worker lcore%s besides the main one; the EAL has %u (-l)\n",
			 c->n_queues, c->n_queues == 1 ? "" : "s", c->reverse ? " on each of two interfaces (--reverse)" : "",
			 need == 1 ? "s" : "", need, need == 1 ? "" : "s", workers);
	if (c->egress_kind == PCF_EGRESS_IFACE) {
		count_queues(c->egress, &egress_rx, &egress_tx);
		/* an AF_XDP socket may bind to any queue below the larger of the two counts */
		if (egress_tx < c->n_queues && egress_rx < c->n_queues)
			rte_exit(PCF_EXIT_QUEUES,
				 "pcf-worker: egress %s has %u TX queue%s, the %u RX queues need one each\n",
				 c->egress, egress_tx, egress_tx == 1 ? "" : "s", c->n_queues);
		if (c->reverse && egress_rx < c->n_queues)
			rte_exit(PCF_EXIT_QUEUES,
				 "pcf-worker: --reverse: egress %s has %u RX queue%s, fewer than the %u queues used on %s\n",
				 c->egress, egress_rx, egress_rx == 1 ? "" : "s", c->n_queues, c->iface);
		if (c->reverse && egress_rx > c->n_queues)
			printf("pcf-worker: warning: --reverse: %s has %u RX queues, the worker receives on 0..%u; REDIRECT packets on the others take the kernel path, without NAT\n",
			       c->egress, egress_rx, c->n_queues - 1);
	}
}
