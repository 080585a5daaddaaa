/* neigh.c - the kernel neighbour entries of one interface, from /proc/net/arp (see neigh.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <net/if_arp.h>
#include <rte_malloc.h>
#include "neigh.h"

struct pcf_neigh *pcf_neigh_create(const char *ifname)
{
	static unsigned int seq;
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.name = name,
		.entries = PCF_NEIGH_MAX,
		.key_len = sizeof(uint32_t),
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct pcf_neigh *n;

	n = rte_zmalloc("pcf_neigh", sizeof(*n), 0);
	if (!n)
		return NULL;
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	snprintf(name, sizeof(name), "pcf_neigh_%u", seq++);
	n->h = rte_hash_create(&p);
	if (!n->h) {
		rte_free(n);
		return NULL;
	}
	return n;
}

struct entry {
	uint32_t ip;
	uint64_t v;
};

/* The complete entries of our interface: "IP HWtype Flags HWaddress Mask Device" lines. */
static int read_table(const char *ifname, struct entry *e, int max)
{
	char line[256], ip[64], mac[64], mask[64], dev[64];
	unsigned int hwtype, flags, b[6];
	struct in_addr a;
	int n = 0, i;
	FILE *f;

	f = fopen("/proc/net/arp", "r");
	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s 0x%x 0x%x %63s %63s %63s", ip, &hwtype, &flags, mac, mask, dev) != 6)
			continue; /* the header line */
		if (strcmp(dev, ifname) || hwtype != ARPHRD_ETHER || !(flags & ATF_COM))
			continue;
		if (inet_pton(AF_INET, ip, &a) != 1 ||
		    sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
			continue;
		e[n].ip = a.s_addr;
		e[n].v = PCF_NEIGH_VALID;
		for (i = 0; i < 6; i++)
			e[n].v |= (uint64_t)(b[i] & 0xff) << (8 * (5 - i));
		n++;
	}
	fclose(f);
	return n;
}

int pcf_neigh_refresh(struct pcf_neigh *n)
{
	static struct entry e[PCF_NEIGH_MAX]; /* main lcore only */
	const void *key;
	void *data;
	uint32_t iter = 0;
	int cnt, i;

	cnt = read_table(n->ifname, e, PCF_NEIGH_MAX);
	if (cnt < 0)
		return -1;
	/* Entries gone from the kernel read as absent; keys stay (deleting under lock-free
	 * readers would need RCU for the key slots), the table is bounded by PCF_NEIGH_MAX. */
	while (rte_hash_iterate(n->h, &key, &data, &iter) >= 0) {
		uint32_t ip;

		memcpy(&ip, key, sizeof(ip));
		for (i = 0; i < cnt && e[i].ip != ip; i++)
			;
		if (i == cnt && data)
			rte_hash_add_key_data(n->h, &ip, NULL);
	}
	for (i = 0; i < cnt; i++)
		rte_hash_add_key_data(n->h, &e[i].ip, (void *)(uintptr_t)e[i].v);
	return cnt;
}

void pcf_neigh_destroy(struct pcf_neigh *n)
{
	if (!n)
		return;
	rte_hash_free(n->h);
	rte_free(n);
}
