// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* config.c - an attachment's pcf_config entry (set on attach, zeroed on detach), the RX queues. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>

#include "loader.h"

/* RX queues: ethtool channels (works in the caller's netns), else /sys/class/net/IF/queues
 * when that sysfs view is of the same netns (same ifindex), else 1. */
static __u32 count_rx_queues(const char *iface, int ifindex)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	char path[PATH_MAX], buf[32];
	struct ifreq ifr = {};
	struct dirent *de;
	__u32 n = 0;
	FILE *f;
	DIR *d;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
		ifr.ifr_data = (void *)&ch;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			n = ch.combined_count + ch.rx_count;
		close(fd);
	}
	if (n)
		return n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", iface);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (!fgets(buf, sizeof(buf), f) || atoi(buf) != ifindex) {
		fclose(f);
		return 1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
	d = opendir(path);
	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "rx-", 3))
			n++;
	closedir(d);
	return n ? n : 1;
}

const char *action_name(__u32 a)
{
	return a == PCF_ACT_DROP ? "drop" : a == PCF_ACT_PASS ? "pass" : "invalid";
}

const char *frag_name(__u32 f)
{
	return f == PCF_FRAG_PASS ? "pass" : f == PCF_FRAG_DROP ? "drop" : "default";
}

const char *ifname_of(__u32 ifindex, char buf[IF_NAMESIZE])
{
	return ifindex && if_indextoname(ifindex, buf) ? buf : "?";
}

/* pcf_config[attachment]: the entry of this attachment only (the others stay as they are). A
 * new interface at the attachment starts from the default action pass unless --default says. */
int config_update(struct loaded *l, __u32 attachment, int ifindex, const char *iface)
{
	struct pcf_config cfg = {};
	int fd = bpf_map__fd(bpf_object__find_map_by_name(l->obj, PCF_PIN_CONFIG));

	if (bpf_map_lookup_elem(fd, &attachment, &cfg)) {
		msg("failed to read %s[%u]: %s", PCF_PIN_CONFIG, attachment, strerror(errno));
		return -errno;
	}
	if (opt.default_action >= 0)
		cfg.default_action = opt.default_action;
	else if (cfg.ifindex != (__u32)ifindex)
		cfg.default_action = PCF_ACT_PASS;
	cfg.n_rx_queues = count_rx_queues(iface, ifindex);
	cfg.ifindex = ifindex;
	if (opt.frag_action >= 0)
		cfg.frag_action = opt.frag_action;
	else if (cfg.ifindex != (__u32)ifindex)
		cfg.frag_action = PCF_FRAG_AS_DEFAULT;
	if (bpf_map_update_elem(fd, &attachment, &cfg, BPF_ANY)) {
		msg("failed to write %s[%u]: %s", PCF_PIN_CONFIG, attachment, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Read pcf_config[attachment] from the pinned map; false when there is none (or too small). */
bool config_read(__u32 attachment, struct pcf_config *cfg)
{
	int fd = open_pin(PCF_PIN_CONFIG);
	bool ok;

	memset(cfg, 0, sizeof(*cfg));
	if (fd < 0)
		return false;
	ok = !bpf_map_lookup_elem(fd, &attachment, cfg);
	close(fd);
	return ok;
}

/* Zero pcf_config[attachment] (detach): the attachment has no interface any more. */
int config_clear(__u32 attachment)
{
	struct pcf_config cfg = {}, cur;
	int fd = open_pin(PCF_PIN_CONFIG), err = 0;

	if (fd < 0)
		return 0;
	/* a map of another layout (too small, other value size) is left to --purge */
	if (!bpf_map_lookup_elem(fd, &attachment, &cur) &&
	    bpf_map_update_elem(fd, &attachment, &cfg, BPF_ANY)) {
		err = -errno;
		msg("failed to clear %s[%u]: %s", PCF_PIN_CONFIG, attachment, strerror(errno));
	}
	close(fd);
	return err;
}
