/* nl.h - one rtnetlink dump (RTM_GETNEIGH, RTM_GETROUTE) of this process's network namespace,
 * for the tables the main lcore keeps (neigh.c, route.c). Bounded: the socket has a one-second
 * receive timeout (the kernel answers a dump at once; the main lcore must never hang). */
#ifndef PCF_NL_H
#define PCF_NL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

typedef void (*pcf_nl_cb)(const struct nlmsghdr *nh, void *arg);

/* Sends a dump request of `type` whose family-specific header (struct ndmsg, struct rtmsg, ...)
 * is hdr_len zero bytes but for its first, the family; calls cb(nh, arg) for each message of
 * type `reply`. 0, or -1 with errno (the dump failed or was cut short: what cb saw is partial). */
int pcf_nl_dump(uint16_t type, uint8_t family, size_t hdr_len, uint16_t reply, pcf_nl_cb cb, void *arg);

#endif /* PCF_NL_H */
