/* neigh.h - the kernel's IPv4 and IPv6 neighbour entries of one interface, for the Ethernet
 * destination on TX. The main lcore re-reads them (netlink RTM_GETNEIGH dumps of this process's
 * network namespace, AF_INET and AF_INET6) and is the only writer; datapath lcores look up
 * without locks: one rte_hash per family with lock-free reader-writer concurrency and DPDK's
 * RCU integration (rte_hash_rcu_qsbr_add, defer-queue mode). An entry the kernel no longer
 * lists as complete is deleted; its key slot goes back to the table only after every datapath
 * lcore has passed a quiescent state (datapath.c), so a reader never sees a slot reused under
 * it. The MAC is the hash's data word itself: an update is one atomic store and there is nothing
 * to free. The worker sends no ARP requests or neighbour solicitations of its own. */
#ifndef PCF_NEIGH_H
#define PCF_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#define PCF_NEIGH_MAX 1024            /* complete entries per family and interface at once */
#define PCF_NEIGH_VALID (1ull << 63)

struct pcf_neigh {
	struct rte_hash *h;   /* IPv4 address (network order) -> MAC | PCF_NEIGH_VALID */
	struct rte_hash *h6;  /* IPv6 address (16 bytes) -> likewise */
	char ifname[32];
	/* Written by the main lcore, read by telemetry. */
	uint32_t entries;     /* in both tables after the last refresh */
	uint64_t refreshed_ms; /* CLOCK_MONOTONIC of the last refresh */
	bool warned_full;
};

/* qsbr: the datapath lcores' RCU variable (they report quiescent states in their loop). */
struct pcf_neigh *pcf_neigh_create(const char *ifname, struct rte_rcu_qsbr *qsbr);
/* Re-reads the kernel's tables; returns the number of complete entries of the interface (both
 * families), or -1 with errno when a table could not be read (the other is still updated). */
int pcf_neigh_refresh(struct pcf_neigh *n);
/* After the datapath lcores stopped. */
void pcf_neigh_destroy(struct pcf_neigh *n);

/* For telemetry (any thread). */
uint32_t pcf_neigh_entries(const struct pcf_neigh *n);
uint64_t pcf_neigh_age_ms(const struct pcf_neigh *n);

static inline bool pcf_neigh_mac(const void *data, struct rte_ether_addr *mac)
{
	uint64_t v = (uint64_t)(uintptr_t)data;
	int i;

	if (!(v & PCF_NEIGH_VALID))
		return false;
	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac->addr_bytes[i] = (uint8_t)(v >> (8 * (RTE_ETHER_ADDR_LEN - 1 - i)));
	return true;
}

/* ip: network order. */
static inline bool pcf_neigh_lookup(const struct pcf_neigh *n, uint32_t ip, struct rte_ether_addr *mac)
{
	void *data;

	return rte_hash_lookup_data(n->h, &ip, &data) >= 0 && pcf_neigh_mac(data, mac);
}

/* ip6: 16 bytes, network order. */
static inline bool pcf_neigh_lookup6(const struct pcf_neigh *n, const uint8_t *ip6, struct rte_ether_addr *mac)
{
	void *data;

	return rte_hash_lookup_data(n->h6, ip6, &data) >= 0 && pcf_neigh_mac(data, mac);
}

#endif /* PCF_NEIGH_H */
