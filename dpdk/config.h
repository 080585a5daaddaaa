/* config.h - the worker's options (after the EAL's, behind `--`), their checks against this
 * network namespace, and the exit codes of a bad configuration. */
#ifndef PCF_CONFIG_H
#define PCF_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>
#include "port.h"

/* Exit codes (README.md). 3 and 4 mean what they mean for build/pcf-xdp. */
enum pcf_exit {
	PCF_EXIT_ERROR = 1,     /* anything else: a socket, memory, the TAP, ... */
	PCF_EXIT_USAGE = 2,     /* a bad option or EAL argument */
	PCF_EXIT_PIN = 3,       /* no pin dir, no pinned pcf_xskmap, program on another interface */
	PCF_EXIT_IFACE = 4,     /* no such interface */
	PCF_EXIT_QUEUES = 5,    /* more queues than the interface has, or than worker lcores */
	PCF_EXIT_HUGEPAGES = 6, /* the EAL found no usable hugepages */
	PCF_EXIT_BUSY = 7,      /* another AF_XDP socket holds the queue (another worker?) */
};

enum pcf_egress_kind { PCF_EGRESS_IFACE, PCF_EGRESS_TAP };
enum pcf_poll_mode { PCF_POLL_BUSY, PCF_POLL_WAKEUP };
enum pcf_no_meta { PCF_NO_META_DROP, PCF_NO_META_PASS };

#define PCF_DEFAULT_TAP "pcf-tap0"

struct pcf_worker_conf {
	char iface[IF_NAMESIZE];
	unsigned int ifindex;
	unsigned int attachment;        /* --attachment: IF's place in the pin dir (pcf_xskmap keys) */
	char pin_dir[PATH_MAX];
	unsigned int n_queues;          /* after pcf_conf_check: the queues used, 0..n-1 (both
					 * interfaces with --reverse) */
	enum pcf_egress_kind egress_kind;
	char egress[IF_NAMESIZE];       /* the egress interface, or the TAP's name */
	char egress_desc[IF_NAMESIZE + 8]; /* "iface:dut1" / "tap:pcf-tap0", as reported */
	unsigned int egress_ifindex;    /* after pcf_conf_check, with --egress iface: */
	/* --reverse: the egress's queues receive too (its XDP program attached as
	 * reverse_attachment) and those packets leave through IF; Ethernet addresses from IF's
	 * neighbour table or --reverse-dst-mac / --reverse-next-hop. */
	bool reverse;
	unsigned int reverse_attachment;
	bool have_reverse_dst_mac;
	struct rte_ether_addr reverse_dst_mac;
	uint32_t reverse_next_hop;      /* network order; 0: each packet's destination */
	bool have_reverse_next_hop6;    /* --reverse-next-hop with an IPv6 address */
	uint8_t reverse_next_hop6[16];
	bool have_dst_mac, have_src_mac;
	struct rte_ether_addr dst_mac, src_mac;
	uint32_t next_hop;              /* network order; 0: each IPv4 packet's destination */
	bool have_next_hop6;            /* --next-hop with an IPv6 address, for IPv6 packets */
	uint8_t next_hop6[16];
	enum pcf_poll_mode poll;
	enum pcf_zc_mode zc;
	enum pcf_no_meta no_meta;
	char mirror_pcap[PATH_MAX];
	char mirror_iface[IF_NAMESIZE];
	char report[256];               /* gRPC target: HOST:PORT, unix:PATH, ... */
	unsigned int report_interval_ms;
	char worker_id[128];
};

/* Parses the application's options; rte_exit(PCF_EXIT_USAGE) with the reason on a bad one. */
void pcf_conf_parse(int argc, char **argv, struct pcf_worker_conf *c);

/* Checks the options against this namespace and the EAL's lcores and settles n_queues;
 * rte_exit with the matching exit code and a one-line reason when something is off. */
void pcf_conf_check(struct pcf_worker_conf *c);

const char *pcf_poll_name(enum pcf_poll_mode m);

#endif /* PCF_CONFIG_H */
