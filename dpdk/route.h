/* route.h - the kernel's routes through one interface (the egress), for each packet's next hop,
 * as DPDK's l3fwd looks up its LPM tables: the main lcore dumps the main routing table of this
 * network namespace (netlink RTM_GETROUTE, AF_INET and AF_INET6) on the neighbours' timer and
 * keeps the unicast routes whose output interface is this one, in an rte_lpm (IPv4) and an
 * rte_lpm6 (IPv6): prefix -> gateway, or on-link. The datapath looks up the next hop there and
 * then its neighbour entry (neigh.h). A destination without a route through the interface is
 * taken as on-link: its own neighbour entry, as the worker did before it read routes.
 *
 * Lock-free readers: a family's table is immutable once published. A changed route set is
 * built into a new table, published with one pointer store, and the old table is freed after an
 * RCU QSBR grace period (rte_rcu_qsbr_synchronize: the datapath lcores report quiescent states
 * in their loop, datapath.c) - rte_lpm6 has no RCU integration of its own, and a swap keeps a
 * table and its gateways consistent for a reader. An LPM table holds 64 MiB of hugepages (the
 * tbl24 of either family), twice that while a change is swapped in, so one exists only while
 * the interface has a route through a gateway: with on-link routes only nothing is allocated. */
#ifndef PCF_ROUTE_H
#define PCF_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_rcu_qsbr.h>

#define PCF_ROUTE_MAX 1024          /* prefixes per family */
#define PCF_ROUTE_NONE UINT32_MAX   /* no default route */

/* One immutable table of a family. Next hop index i: 0 on-link, else gw[i]. */
struct pcf_route4 {
	struct rte_lpm *lpm;          /* prefixes of length 1..32; NULL: a default route only */
	uint32_t def;                 /* the default route's next hop index, or PCF_ROUTE_NONE */
	uint32_t gw[PCF_ROUTE_MAX + 1]; /* network order */
};

struct pcf_route6 {
	struct rte_lpm6 *lpm;         /* prefixes of length 1..128 */
	uint32_t def;
	uint8_t gw[PCF_ROUTE_MAX + 1][16];
};

struct pcf_route_entry;

struct pcf_routes {
	struct pcf_route4 *v4;        /* published (RCU); NULL: every IPv4 destination on-link */
	struct pcf_route6 *v6;
	struct rte_rcu_qsbr *qsbr;
	char ifname[32];
	uint32_t loaded;              /* prefixes in both tables (telemetry) */
	/* Main lcore only: the route sets the published tables were built from. */
	struct pcf_route_entry *cur[2];
	int n_cur[2];
	bool warned_build, warned_routes; /* said once */
};

/* qsbr: the datapath lcores' RCU variable. NULL with rte_errno on failure. */
struct pcf_routes *pcf_routes_create(const char *ifname, struct rte_rcu_qsbr *qsbr);
/* Re-reads the routes (main lcore); a family whose route set changed gets a new table. Returns
 * the prefixes loaded, or -1 with errno when a dump failed (that family's table is kept). */
int pcf_routes_refresh(struct pcf_routes *r);
/* After the datapath lcores stopped. */
void pcf_routes_destroy(struct pcf_routes *r);
/* For telemetry (any thread). */
uint32_t pcf_routes_loaded(const struct pcf_routes *r);

/* The next hop of an IPv4 destination (network order): its route's gateway, or dst itself. */
static inline uint32_t pcf_route_next_hop(const struct pcf_routes *r, uint32_t dst)
{
	const struct pcf_route4 *t = __atomic_load_n(&r->v4, __ATOMIC_ACQUIRE);
	uint32_t i;

	if (!t)
		return dst;
	if (!t->lpm || rte_lpm_lookup(t->lpm, rte_be_to_cpu_32(dst), &i) != 0) {
		i = t->def;
		if (i == PCF_ROUTE_NONE)
			return dst;
	}
	return i ? t->gw[i] : dst;
}

/* The same for IPv6: 16 bytes, valid until the lcore's next quiescent state. */
static inline const uint8_t *pcf_route_next_hop6(const struct pcf_routes *r, const uint8_t *dst)
{
	const struct pcf_route6 *t = __atomic_load_n(&r->v6, __ATOMIC_ACQUIRE);
	uint32_t i;

	if (!t)
		return dst;
	if (!t->lpm || rte_lpm6_lookup(t->lpm, dst, &i) != 0) {
		i = t->def;
		if (i == PCF_ROUTE_NONE)
			return dst;
	}
	return i ? t->gw[i] : dst;
}

#endif /* PCF_ROUTE_H */
