/* route.c - the routes through one interface in LPM tables swapped under RCU (route.h). Main
 * lcore only, but for the getter telemetry calls. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include "nl.h"
#include "route.h"

/* One route of the dump that goes through our interface. IPv4: the first 4 bytes. */
struct pcf_route_entry {
	uint8_t dst[16];
	uint8_t gw[16];       /* all zero: on-link */
	uint8_t len;          /* prefix length; 0: the default route */
	uint8_t has_gw;
	uint8_t pad[2];
	uint32_t metric;      /* the lowest wins among routes of one prefix; 0 once chosen */
};

static unsigned int table_seq; /* LPM names are global: one sequence for every table */

struct dump {
	int ifindex;
	uint8_t family;
	int n;
	bool truncated, unsupported;
	struct pcf_route_entry *e; /* [PCF_ROUTE_MAX] */
};

struct pcf_routes *pcf_routes_create(const char *ifname, struct rte_rcu_qsbr *qsbr)
{
	struct pcf_routes *r = rte_zmalloc("pcf_routes", sizeof(*r), 0);
	int f;

	if (!r) {
		rte_errno = ENOMEM;
		return NULL;
	}
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	r->qsbr = qsbr;
	for (f = 0; f < 2; f++) {
		r->cur[f] = calloc(PCF_ROUTE_MAX, sizeof(*r->cur[f]));
		if (!r->cur[f]) {
			pcf_routes_destroy(r);
			rte_errno = ENOMEM;
			return NULL;
		}
	}
	return r;
}

/* The gateway of a nexthop's attributes (RTA_GATEWAY); false for RTA_VIA (an IPv4 route via
 * an IPv6 gateway, RFC 5549), which the worker does not follow. */
static bool nexthop_gw(const struct rtattr *rta, int alen, size_t ip_len, struct pcf_route_entry *e,
		       bool *unsupported)
{
	for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
		if (rta->rta_type == RTA_GATEWAY && RTA_PAYLOAD(rta) == ip_len) {
			memcpy(e->gw, RTA_DATA(rta), ip_len);
			e->has_gw = 1;
		} else if (rta->rta_type == RTA_VIA) {
			*unsupported = true;
			return false;
		}
	}
	return true;
}

/* One RTM_NEWROUTE: a unicast route of the main table through our interface (for a multipath
 * route, its first nexthop through it). */
static void parse_route(const struct nlmsghdr *nh, void *arg)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	const int attrs_len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rtm));
	const struct rtattr *attrs = (const struct rtattr *)((const char *)rtm + NLMSG_ALIGN(sizeof(*rtm)));
	const struct rtattr *rta, *gw_attrs = attrs;
	const struct rtnexthop *rtnh = NULL;
	size_t ip_len = rtm->rtm_family == AF_INET ? 4 : 16;
	struct pcf_route_entry e = { .len = rtm->rtm_dst_len };
	uint32_t table = rtm->rtm_table, oif = 0;
	int alen = attrs_len, gw_len = attrs_len, mp_len = 0;
	struct dump *d = arg;

	if (attrs_len < 0 || rtm->rtm_family != d->family || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_dst_len > ip_len * 8)
		return;
	for (rta = attrs; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
		if (rta->rta_type == RTA_TABLE && RTA_PAYLOAD(rta) == 4)
			memcpy(&table, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_DST && RTA_PAYLOAD(rta) == ip_len)
			memcpy(e.dst, RTA_DATA(rta), ip_len);
		else if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) == 4)
			memcpy(&oif, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_PRIORITY && RTA_PAYLOAD(rta) == 4)
			memcpy(&e.metric, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_MULTIPATH) {
			rtnh = RTA_DATA(rta);
			mp_len = (int)RTA_PAYLOAD(rta);
		}
	}
	if (table != RT_TABLE_MAIN)
		return;
	/* Multipath: the first nexthop through our interface, with its own attributes. */
	for (; rtnh && mp_len >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       (int)rtnh->rtnh_len <= mp_len;
	     mp_len -= (int)RTNH_ALIGN(rtnh->rtnh_len), rtnh = RTNH_NEXT(rtnh)) {
		if (rtnh->rtnh_ifindex == d->ifindex) {
			oif = (uint32_t)d->ifindex;
			gw_attrs = (const struct rtattr *)RTNH_DATA(rtnh);
			gw_len = (int)rtnh->rtnh_len - (int)RTNH_LENGTH(0);
			break;
		}
	}
	if (oif != (uint32_t)d->ifindex || !nexthop_gw(gw_attrs, gw_len, ip_len, &e, &d->unsupported))
		return;
	if (d->n == PCF_ROUTE_MAX) {
		d->truncated = true;
		return;
	}
	d->e[d->n++] = e;
}

static int by_prefix_metric(const void *a, const void *b)
{
	const struct pcf_route_entry *x = a, *y = b;
	int c = memcmp(x->dst, y->dst, sizeof(x->dst));

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	/* A total order: of equal-cost routes (ECMP) the same one wins at every refresh. */
	return memcmp(x->gw, y->gw, sizeof(x->gw));
}

/* Sorted by prefix, one route per prefix (the lowest metric, then the lowest gateway),
 * metrics cleared: equal sets compare equal byte for byte. */
static void normalise(struct dump *d)
{
	int i, n = 0;

	qsort(d->e, (size_t)d->n, sizeof(d->e[0]), by_prefix_metric);
	for (i = 0; i < d->n; i++) {
		if (n && d->e[n - 1].len == d->e[i].len && !memcmp(d->e[n - 1].dst, d->e[i].dst, 16))
			continue;
		d->e[n] = d->e[i];
		d->e[n].metric = 0;
		n++;
	}
	d->n = n;
}

/* The index of gw among the table's gateways, added if new. */
static uint32_t gw_index(uint8_t (*gws)[16], uint32_t *n_gw, const uint8_t *gw, size_t ip_len)
{
	uint32_t i;

	for (i = 1; i <= *n_gw; i++)
		if (!memcmp(gws[i], gw, ip_len))
			return i;
	memcpy(gws[++*n_gw], gw, ip_len);
	return *n_gw;
}

static bool any_gateway(const struct dump *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->e[i].has_gw)
			return true;
	return false;
}

/* A new IPv4 table of d's routes; *t = NULL when every route is on-link. -1 with rte_errno. */
static int build4(const struct dump *d, struct pcf_route4 **out)
{
	uint8_t (*gws)[16] = calloc(PCF_ROUTE_MAX + 1, 16);
	struct rte_lpm_config cfg = {0};
	struct pcf_route4 *t = NULL;
	char name[RTE_LPM_NAMESIZE];
	uint32_t n_gw = 0, nh, ip;
	int i, ret = -1;

	*out = NULL;
	if (!gws) {
		rte_errno = ENOMEM;
		return -1;
	}
	if (!any_gateway(d)) {
		ret = 0;
		goto cleanup;
	}
	t = rte_zmalloc("pcf_route4", sizeof(*t), 0);
	if (!t) {
		rte_errno = ENOMEM;
		goto cleanup;
	}
	t->def = PCF_ROUTE_NONE;
	for (i = 0; i < d->n; i++) {
		if (d->e[i].len == 0)
			continue;
		cfg.max_rules++;
		if (d->e[i].len > 24)
			cfg.number_tbl8s++; /* at most one tbl8 group per prefix longer than /24 */
	}
	if (cfg.max_rules) {
		cfg.number_tbl8s++;
		snprintf(name, sizeof(name), "pcf_rt4_%u", table_seq++);
		t->lpm = rte_lpm_create(name, SOCKET_ID_ANY, &cfg);
		if (!t->lpm)
			goto cleanup;
	}
	for (i = 0; i < d->n; i++) {
		nh = d->e[i].has_gw ? gw_index(gws, &n_gw, d->e[i].gw, 4) : 0;
		if (d->e[i].len == 0) {
			t->def = nh;
			continue;
		}
		memcpy(&ip, d->e[i].dst, 4);
		if (rte_lpm_add(t->lpm, rte_be_to_cpu_32(ip), d->e[i].len, nh) < 0) {
			rte_errno = ENOSPC;
			goto cleanup;
		}
	}
	for (i = 1; i <= (int)n_gw; i++)
		memcpy(&t->gw[i], gws[i], 4);
	*out = t;
	t = NULL;
	ret = 0;
cleanup:
	if (t) {
		rte_lpm_free(t->lpm);
		rte_free(t);
	}
	free(gws);
	return ret;
}

static int build6(const struct dump *d, struct pcf_route6 **out)
{
	struct rte_lpm6_config cfg = {0};
	struct pcf_route6 *t = NULL;
	char name[RTE_LPM6_NAMESIZE];
	uint32_t n_gw = 0, nh;
	int i, ret = -1;

	*out = NULL;
	if (!any_gateway(d))
		return 0;
	t = rte_zmalloc("pcf_route6", sizeof(*t), 0);
	if (!t) {
		rte_errno = ENOMEM;
		return -1;
	}
	t->def = PCF_ROUTE_NONE;
	for (i = 0; i < d->n; i++) {
		if (d->e[i].len == 0)
			continue;
		cfg.max_rules++;
		if (d->e[i].len > 24) /* a tbl8 group per byte beyond the first three, at most */
			cfg.number_tbl8s += (uint32_t)(d->e[i].len - 24 + 7) / 8;
	}
	if (cfg.max_rules) {
		cfg.number_tbl8s++;
		snprintf(name, sizeof(name), "pcf_rt6_%u", table_seq++);
		t->lpm = rte_lpm6_create(name, SOCKET_ID_ANY, &cfg);
		if (!t->lpm)
			goto cleanup;
	}
	for (i = 0; i < d->n; i++) {
		nh = d->e[i].has_gw ? gw_index(t->gw, &n_gw, d->e[i].gw, 16) : 0;
		if (d->e[i].len == 0) {
			t->def = nh;
			continue;
		}
		if (rte_lpm6_add(t->lpm, d->e[i].dst, d->e[i].len, nh) < 0) {
			rte_errno = ENOSPC;
			goto cleanup;
		}
	}
	*out = t;
	t = NULL;
	ret = 0;
cleanup:
	if (t) {
		rte_lpm6_free(t->lpm);
		rte_free(t);
	}
	return ret;
}

static void free4(struct pcf_route4 *t)
{
	if (t) {
		rte_lpm_free(t->lpm);
		rte_free(t);
	}
}

static void free6(struct pcf_route6 *t)
{
	if (t) {
		rte_lpm6_free(t->lpm);
		rte_free(t);
	}
}

static uint32_t count_loaded(const struct pcf_routes *r)
{
	return (r->v4 ? (uint32_t)r->n_cur[0] : 0) + (r->v6 ? (uint32_t)r->n_cur[1] : 0);
}

/* Builds and publishes family f's table for d, then frees the old one after a grace period. */
static int swap_in(struct pcf_routes *r, int f, const struct dump *d)
{
	struct pcf_route4 *t4 = NULL, *old4;
	struct pcf_route6 *t6 = NULL, *old6;
	int ret, gws = 0, i;

	ret = f == 0 ? build4(d, &t4) : build6(d, &t6);
	if (ret < 0) {
		if (!r->warned_build)
			printf("pcf-worker: warning: routes of %s: failed to build the IPv%c LPM table (%s): the previous one stays, retried at the next refresh\n",
			       r->ifname, f == 0 ? '4' : '6', rte_strerror(rte_errno));
		r->warned_build = true;
		return -1;
	}
	if (f == 0) {
		old4 = r->v4;
		__atomic_store_n(&r->v4, t4, __ATOMIC_RELEASE);
		if (old4) {
			rte_rcu_qsbr_synchronize(r->qsbr, RTE_QSBR_THRID_INVALID);
			free4(old4);
		}
	} else {
		old6 = r->v6;
		__atomic_store_n(&r->v6, t6, __ATOMIC_RELEASE);
		if (old6) {
			rte_rcu_qsbr_synchronize(r->qsbr, RTE_QSBR_THRID_INVALID);
			free6(old6);
		}
	}
	memcpy(r->cur[f], d->e, sizeof(d->e[0]) * (size_t)d->n);
	r->n_cur[f] = d->n;
	r->warned_build = false;
	for (i = 0; i < d->n; i++)
		gws += d->e[i].has_gw;
	printf("pcf-worker: routes of %s: %d IPv%c prefix%s, %d via a gateway%s\n", r->ifname, d->n,
	       f == 0 ? '4' : '6', d->n == 1 ? "" : "es", gws,
	       gws ? " (LPM table in use)" : ": every destination on-link");
	__atomic_store_n(&r->loaded, count_loaded(r), __ATOMIC_RELAXED);
	return 0;
}

int pcf_routes_refresh(struct pcf_routes *r)
{
	static struct pcf_route_entry e[PCF_ROUTE_MAX]; /* main lcore only */
	const uint8_t families[2] = { AF_INET, AF_INET6 };
	int ifindex = (int)if_nametoindex(r->ifname), f, err = 0;
	struct dump d;

	for (f = 0; f < 2; f++) {
		d = (struct dump){ .ifindex = ifindex, .family = families[f], .e = e };
		if (ifindex && pcf_nl_dump(RTM_GETROUTE, families[f], sizeof(struct rtmsg), RTM_NEWROUTE,
					   parse_route, &d) < 0) {
			err = errno; /* keep the table: a failed read is not an empty one */
			continue;
		}
		if ((d.truncated || d.unsupported) && !r->warned_routes) {
			printf("pcf-worker: warning: routes of %s: %s\n", r->ifname,
			       d.truncated ? "more IPv4/IPv6 prefixes than the worker keeps (1024 per family): the rest are not used"
					   : "a route via a gateway of the other family (RTA_VIA) is not used");
			r->warned_routes = true;
		}
		normalise(&d);
		if (d.n == r->n_cur[f] && !memcmp(d.e, r->cur[f], sizeof(d.e[0]) * (size_t)d.n))
			continue;
		if (swap_in(r, f, &d) < 0)
			err = ENOMEM;
	}
	if (err) {
		errno = err;
		return -1;
	}
	return (int)count_loaded(r);
}

uint32_t pcf_routes_loaded(const struct pcf_routes *r)
{
	return __atomic_load_n(&r->loaded, __ATOMIC_RELAXED);
}

void pcf_routes_destroy(struct pcf_routes *r)
{
	if (!r)
		return;
	free4(r->v4);
	free6(r->v6);
	free(r->cur[0]);
	free(r->cur[1]);
	rte_free(r);
}
