/* neigh.c - the kernel neighbour entries of one interface: IPv4 from /proc/net/arp, IPv6 by a
 * netlink RTM_GETNEIGH dump (see neigh.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <rte_malloc.h>
#include "neigh.h"

/* The kernel's NUD_VALID (include/net/neighbour.h) without NUD_NOARP: the entries that
 * /proc/net/arp shows as complete (ATF_COM; it skips NOARP ones). */
#define NUD_COMPLETE (NUD_PERMANENT | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)
#define NL_BUF 32768 /* the largest dump message the kernel sends (netlink max_recvmsg_len) */

static struct rte_hash *create_hash(unsigned int seq, const char *family, uint32_t key_len)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.name = name,
		.entries = PCF_NEIGH_MAX,
		.key_len = key_len,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	snprintf(name, sizeof(name), "pcf_neigh%s_%u", family, seq);
	return rte_hash_create(&p);
}

struct pcf_neigh *pcf_neigh_create(const char *ifname)
{
	static unsigned int seq;
	struct pcf_neigh *n;

	n = rte_zmalloc("pcf_neigh", sizeof(*n), 0);
	if (!n)
		return NULL;
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	n->h = create_hash(seq, "", sizeof(uint32_t));
	n->h6 = create_hash(seq, "6", 16);
	seq++;
	if (!n->h || !n->h6) {
		pcf_neigh_destroy(n);
		return NULL;
	}
	return n;
}

struct entry {
	uint8_t ip[16]; /* IPv4: the first 4 bytes */
	uint64_t v;
};

static uint64_t mac_word(const unsigned int b[6])
{
	uint64_t v = PCF_NEIGH_VALID;
	int i;

	for (i = 0; i < 6; i++)
		v |= (uint64_t)(b[i] & 0xff) << (8 * (5 - i));
	return v;
}

/* The complete entries of our interface: "IP HWtype Flags HWaddress Mask Device" lines. */
static int read_table(const char *ifname, struct entry *e, int max)
{
	char line[256], ip[64], mac[64], mask[64], dev[64];
	unsigned int hwtype, flags, b[6];
	struct in_addr a;
	int n = 0;
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
		memset(e[n].ip, 0, sizeof(e[n].ip));
		memcpy(e[n].ip, &a.s_addr, sizeof(a.s_addr));
		e[n].v = mac_word(b);
		n++;
	}
	fclose(f);
	return n;
}

/* One RTM_NEWNEIGH of the dump: a complete IPv6 entry of ifindex with an Ethernet address. */
static bool parse_neigh6(struct nlmsghdr *nh, int ifindex, struct entry *e)
{
	struct ndmsg *ndm = NLMSG_DATA(nh);
	int alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ndm));
	bool have_ip = false, have_mac = false;
	unsigned int b[6];
	struct rtattr *rta;
	const uint8_t *mac;
	int i;

	if (alen < 0 || ndm->ndm_family != AF_INET6 || ndm->ndm_ifindex != ifindex ||
	    !(ndm->ndm_state & NUD_COMPLETE))
		return false;
	for (rta = (struct rtattr *)((char *)ndm + NLMSG_ALIGN(sizeof(*ndm))); RTA_OK(rta, alen);
	     rta = RTA_NEXT(rta, alen)) {
		if (rta->rta_type == NDA_DST && RTA_PAYLOAD(rta) == 16) {
			memcpy(e->ip, RTA_DATA(rta), 16);
			have_ip = true;
		} else if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6) {
			mac = RTA_DATA(rta);
			for (i = 0; i < 6; i++)
				b[i] = mac[i];
			have_mac = true;
		}
	}
	if (have_mac)
		e->v = mac_word(b);
	return have_ip && have_mac;
}

/* The complete IPv6 entries of our interface: a netlink dump of the AF_INET6 neighbour table
 * (there is no /proc file for it), filtered here by ifindex. An interface that is gone has
 * none, as in /proc/net/arp. -1 with errno when the dump fails. */
static int read_table6(const char *ifname, struct entry *e, int max)
{
	static char buf[NL_BUF] __attribute__((aligned(8))); /* main lcore only */
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 }; /* the kernel answers at once; never hang the main lcore */
	int ifindex = (int)if_nametoindex(ifname), fd, len, n = 0, ret = -1, err;
	struct nlmsghdr *nh;
	bool done = false;

	if (!ifindex)
		return 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ndm));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.ndm.ndm_family = AF_INET6;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	while (!done) {
		len = (int)recv(fd, buf, sizeof(buf), 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			if (len == 0)
				errno = EPROTO;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				errno = err ? -err : EPROTO;
				goto out;
			}
			if (nh->nlmsg_type == RTM_NEWNEIGH && n < max && parse_neigh6(nh, ifindex, &e[n]))
				n++;
		}
	}
	ret = n;
out:
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

/* Makes h hold exactly the cnt entries: those gone from the kernel read as absent; keys stay
 * (deleting under lock-free readers would need RCU for the key slots), the table is bounded
 * by PCF_NEIGH_MAX. */
static void sync_hash(struct rte_hash *h, uint32_t key_len, const struct entry *e, int cnt)
{
	const void *key;
	void *data;
	uint32_t iter = 0;
	int i;

	while (rte_hash_iterate(h, &key, &data, &iter) >= 0) {
		uint8_t k[16];

		memcpy(k, key, key_len);
		for (i = 0; i < cnt && memcmp(e[i].ip, k, key_len); i++)
			;
		if (i == cnt && data)
			rte_hash_add_key_data(h, k, NULL);
	}
	for (i = 0; i < cnt; i++)
		rte_hash_add_key_data(h, e[i].ip, (void *)(uintptr_t)e[i].v);
}

int pcf_neigh_refresh(struct pcf_neigh *n)
{
	static struct entry e[PCF_NEIGH_MAX]; /* main lcore only */
	int cnt, cnt6, err = 0;

	cnt = read_table(n->ifname, e, PCF_NEIGH_MAX);
	if (cnt < 0)
		err = errno;
	else
		sync_hash(n->h, sizeof(uint32_t), e, cnt);
	cnt6 = read_table6(n->ifname, e, PCF_NEIGH_MAX);
	if (cnt6 < 0)
		err = errno;
	else
		sync_hash(n->h6, 16, e, cnt6);
	if (cnt < 0 || cnt6 < 0) {
		errno = err;
		return -1;
	}
	return cnt + cnt6;
}

void pcf_neigh_destroy(struct pcf_neigh *n)
{
	if (!n)
		return;
	rte_hash_free(n->h);
	rte_hash_free(n->h6);
	rte_free(n);
}
