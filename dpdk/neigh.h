/* neigh.h - the kernel's IPv4 neighbour entries of one interface, for the Ethernet destination
 * on TX. The main lcore re-reads /proc/net/arp (this process's network namespace) and is the
 * only writer; datapath lcores look up without locks (rte_hash with lock-free reader-writer
 * concurrency). The MAC is stored in the hash's data word itself, so an update is one atomic
 * store and there is nothing to free under a reader; an entry the kernel dropped or that is
 * not complete reads as absent. The worker sends no ARP requests of its own. */
#ifndef PCF_NEIGH_H
#define PCF_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>
#include <rte_hash.h>

#define PCF_NEIGH_MAX 1024
#define PCF_NEIGH_VALID (1ull << 63)

struct pcf_neigh {
	struct rte_hash *h;
	char ifname[32];
};

struct pcf_neigh *pcf_neigh_create(const char *ifname);
/* Re-reads the kernel's table; returns the number of complete entries of the interface. */
int pcf_neigh_refresh(struct pcf_neigh *n);
void pcf_neigh_destroy(struct pcf_neigh *n);

/* ip: network order. */
static inline bool pcf_neigh_lookup(const struct pcf_neigh *n, uint32_t ip, struct rte_ether_addr *mac)
{
	void *data;
	uint64_t v;
	int i;

	if (rte_hash_lookup_data(n->h, &ip, &data) < 0)
		return false;
	v = (uint64_t)(uintptr_t)data;
	if (!(v & PCF_NEIGH_VALID))
		return false;
	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac->addr_bytes[i] = (uint8_t)(v >> (8 * (RTE_ETHER_ADDR_LEN - 1 - i)));
	return true;
}

#endif /* PCF_NEIGH_H */
