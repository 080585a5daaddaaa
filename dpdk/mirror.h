/* mirror.h - copies of PCF_F_MIRROR packets, to a pcapng file (DPDK's rte_pcapng) and/or out of
 * another interface. Datapath lcores only copy the mbuf into a ring (multi-producer); the main
 * lcore writes the file and sends the copies, so no file or socket I/O happens on the fast
 * path. A full ring or an empty pool loses the copy, never the packet. */
#ifndef PCF_MIRROR_H
#define PCF_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_mbuf.h>

struct pcf_mirror;

struct pcf_mirror_stats {
	uint64_t written;      /* packets in the pcapng file */
	uint64_t sent;         /* packets sent out of the mirror interface */
	uint64_t errors;       /* failed writes or sends */
};

/* pcap_path and/or ifname (NULL or "" for none); rx_iface names the capture in the file. */
struct pcf_mirror *pcf_mirror_open(const char *pcap_path, const char *ifname, const char *rx_iface,
				   char *err, size_t errlen);

/* Datapath: queues a copy of m (as it is now); false when the copy could not be queued. */
bool pcf_mirror_copy(struct pcf_mirror *mr, const struct rte_mbuf *m, uint32_t queue);

/* Main lcore: writes and sends what was queued. */
void pcf_mirror_drain(struct pcf_mirror *mr);

void pcf_mirror_stats(const struct pcf_mirror *mr, struct pcf_mirror_stats *s);

/* Drains, closes the file and the socket. */
void pcf_mirror_close(struct pcf_mirror *mr);

#endif /* PCF_MIRROR_H */
