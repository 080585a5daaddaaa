/* pins.c - open and check the pinned maps the worker uses (see pins.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "pcf_common.h"
#include "pins.h"

/* The hint for the usual mistake: `ip netns exec` mounts a fresh /sys, hiding bpffs. */
#define NSENTER_HINT "(run the worker with nsenter --net=/run/netns/NS, not ip netns exec, which hides /sys/fs/bpf)"

/* True when /sys/fs/bpf is not a BPF filesystem, as under `ip netns exec`. */
static bool bpffs_hidden(void)
{
	struct statfs st;

	return statfs("/sys/fs/bpf", &st) < 0 || st.f_type != BPF_FS_MAGIC;
}

/* pcf_config[port] says which interface the program behind this pin dir is attached to as
 * that port. For port 0 a pin dir without it, or with ifindex 0 (an older loader), is not
 * refused; other ports are strict. */
static int check_config(const char *pin_dir, unsigned int port, unsigned int ifindex,
			const char *ifname, char *err, size_t errlen)
{
	struct pcf_config cfg = {0};
	char path[PATH_MAX];
	__u32 key = port;
	int fd, ret = 0;
	bool found;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PCF_PIN_CONFIG);
	fd = bpf_obj_get(path);
	found = fd >= 0 && bpf_map_lookup_elem(fd, &key, &cfg) == 0;
	if (fd >= 0)
		close(fd);
	if (found && cfg.ifindex && cfg.ifindex != ifindex) {
		snprintf(err, errlen,
			 "the XDP program of pin dir %s (port %u) is attached to ifindex %u, not to %s (ifindex %u): wrong --pin-dir, --iface or --port",
			 pin_dir, port, cfg.ifindex, ifname, ifindex);
		ret = -1;
	} else if (port != 0 && (!found || !cfg.ifindex)) {
		snprintf(err, errlen,
			 "no XDP program is attached as port %u in pin dir %s (pcf_config[%u] %s): pcf-xdp attach --iface %s --port %u --pin-dir %s",
			 port, pin_dir, port, found ? "is empty" : "does not exist", ifname, port, pin_dir);
		ret = -1;
	}
	return ret;
}

int pcf_pins_check_port(const char *pin_dir, int xskmap_fd, unsigned int port, unsigned int ifindex,
			const char *ifname, uint32_t n_queues, char *err, size_t errlen)
{
	struct bpf_map_info info = {0};
	__u32 info_len = sizeof(info);
	uint32_t need = PCF_XSK_KEY(port, n_queues - 1) + 1;

	if (bpf_obj_get_info_by_fd(xskmap_fd, &info, &info_len) < 0) {
		snprintf(err, errlen, "failed to read %s/%s: %s", pin_dir, PCF_PIN_XSKMAP, strerror(errno));
		return -1;
	}
	if (info.max_entries < need) {
		if (port == 0)
			snprintf(err, errlen, "%s/%s has %u entries, fewer than the %u queues asked for",
				 pin_dir, PCF_PIN_XSKMAP, info.max_entries, n_queues);
		else
			snprintf(err, errlen,
				 "%s/%s has %u entries, port %u needs keys up to %u (port * %u + queue): the loader of this pin dir knows no ports; attach with a pcf-xdp that has --port (pcf-xdp attach --iface %s --port %u)",
				 pin_dir, PCF_PIN_XSKMAP, info.max_entries, port, need - 1, PCF_MAX_QUEUES,
				 ifname, port);
		return -1;
	}
	return check_config(pin_dir, port, ifindex, ifname, err, errlen);
}

int pcf_pins_open_xskmap(const char *pin_dir, unsigned int port, unsigned int ifindex,
			 const char *ifname, uint32_t n_queues, char *err, size_t errlen)
{
	struct bpf_map_info info = {0};
	__u32 info_len = sizeof(info);
	char path[PATH_MAX];
	struct statfs st;
	int fd = -1;

	if (statfs(pin_dir, &st) < 0) {
		snprintf(err, errlen, "no pin dir %s: %s; attach the XDP program first (pcf-xdp attach --iface %s --pin-dir %s)%s%s",
			 pin_dir, strerror(errno), ifname, pin_dir, bpffs_hidden() ? " " : "",
			 bpffs_hidden() ? NSENTER_HINT : "");
		goto fail;
	}
	if (st.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen, "pin dir %s is not on a BPF filesystem %s", pin_dir, NSENTER_HINT);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, PCF_PIN_XSKMAP);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(err, errlen, "no pinned %s in %s: %s; attach the XDP program first (pcf-xdp attach --iface %s --pin-dir %s)",
			 PCF_PIN_XSKMAP, pin_dir, strerror(errno), ifname, pin_dir);
		goto fail;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) < 0) {
		snprintf(err, errlen, "failed to read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (info.type != BPF_MAP_TYPE_XSKMAP) {
		snprintf(err, errlen, "%s is not an XSKMAP (map type %u)", path, info.type);
		goto fail;
	}
	if (pcf_pins_check_port(pin_dir, fd, port, ifindex, ifname, n_queues, err, errlen))
		goto fail;
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	return -1;
}
