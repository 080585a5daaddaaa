/* neigh.c - the kernel neighbour entries of one interface, by netlink RTM_GETNEIGH dumps, in
 * two lock-free rte_hash tables with RCU-deferred deletion (neigh.h). Main lcore only, but for
 * the two getters telemetry calls. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include "neigh.h"
#include "nl.h"

/* The kernel's NUD_VALID (include/net/neighbour.h) without NUD_NOARP: the entries that
 * /proc/net/arp shows as complete (ATF_COM; it skips NOARP ones). */
#define NUD_COMPLETE (NUD_PERMANENT | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)
/* Room for PCF_NEIGH_MAX entries with the cuckoo table well below full, and for the key slots
 * of deleted entries that wait in the RCU defer queue for a grace period. */
#define NEIGH_HASH_ENTRIES (2 * PCF_NEIGH_MAX)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct rte_hash *create_hash(unsigned int seq, const char *family, uint32_t key_len,
				    struct rte_rcu_qsbr *qsbr)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.name = name,
		.entries = NEIGH_HASH_ENTRIES,
		.key_len = key_len,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	/* Defer-queue mode: a deleted key's slot is freed by a later add or delete once the
	 * readers have passed a quiescent state; the main lcore never waits for them. */
	struct rte_hash_rcu_config rcu = { .v = qsbr, .mode = RTE_HASH_QSBR_MODE_DQ };
	struct rte_hash *h;

	snprintf(name, sizeof(name), "pcf_nb%s_%u", family, seq);
	h = rte_hash_create(&p);
	if (h && rte_hash_rcu_qsbr_add(h, &rcu)) {
		rte_hash_free(h);
		return NULL;
	}
	return h;
}

struct pcf_neigh *pcf_neigh_create(const char *ifname, struct rte_rcu_qsbr *qsbr)
{
	static unsigned int seq;
	struct pcf_neigh *n;

	n = rte_zmalloc("pcf_neigh", sizeof(*n), 0);
	if (!n)
		return NULL;
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	n->h = create_hash(seq, "4", sizeof(uint32_t), qsbr);
	n->h6 = create_hash(seq, "6", 16, qsbr);
	seq++;
	if (!n->h || !n->h6) {
		pcf_neigh_destroy(n);
		return NULL;
	}
	return n;
}

struct entry {
	uint8_t ip[16]; /* IPv4: the first 4 bytes, the rest zero */
	uint64_t v;
};

struct table {
	int ifindex;
	uint8_t family;
	int n;
	bool truncated;
	struct entry e[PCF_NEIGH_MAX];
};

/* One RTM_NEWNEIGH of the dump: a complete entry of the interface with an Ethernet address. */
static void parse_neigh(const struct nlmsghdr *nh, void *arg)
{
	const struct ndmsg *ndm = NLMSG_DATA(nh);
	int alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ndm));
	size_t ip_len = 0;
	struct table *t = arg;
	struct entry e = {0};
	bool have_mac = false;
	const uint8_t *mac;
	struct rtattr *rta;
	int i;

	if (alen < 0 || ndm->ndm_family != t->family || ndm->ndm_ifindex != t->ifindex ||
	    !(ndm->ndm_state & NUD_COMPLETE))
		return;
	for (rta = (struct rtattr *)((char *)ndm + NLMSG_ALIGN(sizeof(*ndm))); RTA_OK(rta, alen);
	     rta = RTA_NEXT(rta, alen)) {
		if (rta->rta_type == NDA_DST && RTA_PAYLOAD(rta) == (t->family == AF_INET ? 4u : 16u)) {
			ip_len = RTA_PAYLOAD(rta);
			memcpy(e.ip, RTA_DATA(rta), ip_len);
		} else if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == RTE_ETHER_ADDR_LEN) {
			mac = RTA_DATA(rta);
			e.v = PCF_NEIGH_VALID;
			for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
				e.v |= (uint64_t)mac[i] << (8 * (RTE_ETHER_ADDR_LEN - 1 - i));
			have_mac = true;
		}
	}
	if (!ip_len || !have_mac)
		return;
	if (t->n == PCF_NEIGH_MAX) {
		t->truncated = true;
		return;
	}
	t->e[t->n++] = e;
}

static int by_ip(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->ip, ((const struct entry *)b)->ip, 16);
}

/* Makes h hold exactly the table's entries: keys the kernel no longer lists are deleted (their
 * slots reclaimed after a grace period), the others added or updated (one atomic store of the
 * data word). Returns the entries now in h. */
static int sync_hash(struct pcf_neigh *n, struct rte_hash *h, uint32_t key_len, struct table *t)
{
	static uint8_t stale[NEIGH_HASH_ENTRIES][16]; /* main lcore only */
	struct entry probe = {0};
	unsigned int n_stale = 0, i;
	const void *key;
	uint32_t iter = 0;
	void *data;
	int in = 0, ret;

	qsort(t->e, (size_t)t->n, sizeof(t->e[0]), by_ip);
	while (rte_hash_iterate(h, &key, &data, &iter) >= 0 && n_stale < NEIGH_HASH_ENTRIES) {
		memcpy(probe.ip, key, key_len);
		if (!bsearch(&probe, t->e, (size_t)t->n, sizeof(t->e[0]), by_ip))
			memcpy(stale[n_stale++], key, key_len);
	}
	for (i = 0; i < n_stale; i++)
		rte_hash_del_key(h, stale[i]);
	for (i = 0; i < (unsigned int)t->n; i++) {
		ret = rte_hash_add_key_data(h, t->e[i].ip, (void *)(uintptr_t)t->e[i].v);
		if (ret == 0)
			in++;
		else if (!n->warned_full) {
			printf("pcf-worker: warning: neighbour table of %s: cannot add an entry (%s); entries beyond %d per family are not used\n",
			       n->ifname, strerror(-ret), PCF_NEIGH_MAX);
			n->warned_full = true;
		}
	}
	if (t->truncated && !n->warned_full) {
		printf("pcf-worker: warning: %s has more than %d complete IPv%c neighbour entries: the rest are not used\n",
		       n->ifname, PCF_NEIGH_MAX, t->family == AF_INET ? '4' : '6');
		n->warned_full = true;
	}
	return in;
}

int pcf_neigh_refresh(struct pcf_neigh *n)
{
	static struct table t; /* main lcore only */
	const uint8_t families[2] = { AF_INET, AF_INET6 };
	int ifindex = (int)if_nametoindex(n->ifname), total = 0, err = 0, i;

	for (i = 0; i < 2; i++) {
		t.ifindex = ifindex;
		t.family = families[i];
		t.n = 0;
		t.truncated = false;
		/* An interface that is gone has no entries (if_nametoindex 0 matches none). */
		if (ifindex && pcf_nl_dump(RTM_GETNEIGH, families[i], sizeof(struct ndmsg), RTM_NEWNEIGH,
					   parse_neigh, &t) < 0) {
			err = errno; /* keep what the table had: a failed read is not an empty table */
			total += (int)rte_hash_count(i ? n->h6 : n->h);
			continue;
		}
		total += sync_hash(n, i ? n->h6 : n->h, i ? 16 : sizeof(uint32_t), &t);
	}
	__atomic_store_n(&n->entries, (uint32_t)total, __ATOMIC_RELAXED);
	if (err) {
		errno = err;
		return -1;
	}
	__atomic_store_n(&n->refreshed_ms, now_ms(), __ATOMIC_RELAXED);
	return total;
}

uint32_t pcf_neigh_entries(const struct pcf_neigh *n)
{
	return __atomic_load_n(&n->entries, __ATOMIC_RELAXED);
}

uint64_t pcf_neigh_age_ms(const struct pcf_neigh *n)
{
	uint64_t at = __atomic_load_n(&n->refreshed_ms, __ATOMIC_RELAXED), now = now_ms();

	return now > at ? now - at : 0;
}

void pcf_neigh_destroy(struct pcf_neigh *n)
{
	if (!n)
		return;
	rte_hash_free(n->h); /* with its RCU defer queue */
	rte_hash_free(n->h6);
	rte_free(n);
}
