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

/* pcf_config says which interface the program behind this pin dir is attached to. A pin dir
 * without it (an older loader) is not refused. */
static int check_config(const char *pin_dir, unsigned int ifindex, const char *ifname,
			char *err, size_t errlen)
{
	struct pcf_config cfg;
	char path[PATH_MAX];
	__u32 key = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PCF_PIN_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &cfg) == 0 && cfg.ifindex && cfg.ifindex != ifindex) {
		snprintf(err, errlen,
			 "the XDP program of pin dir %s is attached to ifindex %u, not to %s (ifindex %u): wrong --pin-dir or --iface",
			 pin_dir, cfg.ifindex, ifname, ifindex);
		ret = -1;
	}
	close(fd);
	return ret;
}

int pcf_pins_open_xskmap(const char *pin_dir, unsigned int ifindex, const char *ifname,
			 uint32_t n_queues, char *err, size_t errlen)
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
	if (info.max_entries < n_queues) {
		snprintf(err, errlen, "%s has %u entries, fewer than the %u queues asked for",
			 path, info.max_entries, n_queues);
		goto fail;
	}
	if (check_config(pin_dir, ifindex, ifname, err, errlen))
		goto fail;
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	return -1;
}
