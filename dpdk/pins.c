/* pins.c - open and check the pinned maps the worker uses (see pins.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

/* pcf_config[attachment] says which interface the program behind this pin dir is attached to
 * as that attachment (pcf-xdp writes it on attach, zeroes it on detach). */
static int check_config(const char *pin_dir, unsigned int attachment, unsigned int ifindex,
			const char *ifname, char *err, size_t errlen)
{
	struct pcf_config cfg = {0};
	char path[PATH_MAX];
	__u32 key = attachment;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PCF_PIN_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(err, errlen, "failed to open %s: %s", path, strerror(errno));
		return -1;
	}
	if (bpf_map_lookup_elem(fd, &key, &cfg)) {
		snprintf(err, errlen, "failed to read %s[%u]: %s", path, attachment, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (!cfg.ifindex) {
		snprintf(err, errlen,
			 "no XDP program is attached as attachment %u in pin dir %s (pcf_config[%u] is empty): pcf-xdp attach --iface %s --attachment %u --pin-dir %s",
			 attachment, pin_dir, attachment, ifname, attachment, pin_dir);
		return -1;
	}
	if (cfg.ifindex != ifindex) {
		snprintf(err, errlen,
			 "the XDP program of pin dir %s (attachment %u) is attached to ifindex %u, not to %s (ifindex %u): wrong --pin-dir, --iface or --attachment",
			 pin_dir, attachment, cfg.ifindex, ifname, ifindex);
		return -1;
	}
	return 0;
}

int pcf_pins_check_attachment(const char *pin_dir, int xskmap_fd, unsigned int attachment,
			      unsigned int ifindex, const char *ifname, uint32_t n_queues, char *err,
			      size_t errlen)
{
	struct bpf_map_info info = {0};
	__u32 info_len = sizeof(info);
	uint32_t need = PCF_XSK_KEY(attachment, n_queues - 1) + 1;

	if (bpf_obj_get_info_by_fd(xskmap_fd, &info, &info_len) < 0) {
		snprintf(err, errlen, "failed to read %s/%s: %s", pin_dir, PCF_PIN_XSKMAP, strerror(errno));
		return -1;
	}
	if (info.max_entries < need) {
		snprintf(err, errlen, "%s/%s has %u entries, attachment %u queue %u needs key %u",
			 pin_dir, PCF_PIN_XSKMAP, info.max_entries, attachment, n_queues - 1, need - 1);
		return -1;
	}
	return check_config(pin_dir, attachment, ifindex, ifname, err, errlen);
}

int pcf_pins_open_xskmap(const char *pin_dir, unsigned int attachment, unsigned int ifindex,
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
	if (pcf_pins_check_attachment(pin_dir, fd, attachment, ifindex, ifname, n_queues, err, errlen))
		goto fail;
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The bytes of an mmapable array: max_entries values of value_size rounded up to 8 (the
 * kernel's elem_size), page-rounded. */
static size_t nat6_map_len(uint32_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = (size_t)n * ((sizeof(struct pcf_nat6) + 7) & ~(size_t)7);

	return (bytes + page - 1) / page * page;
}

/* Opens pin_dir/name and reads its map info. Returns the fd, or -1 with err set. */
static int open_map(const char *pin_dir, const char *name, struct bpf_map_info *info,
		    char *path, size_t pathlen, char *err, size_t errlen)
{
	__u32 info_len = sizeof(*info);
	int fd;

	memset(info, 0, sizeof(*info));
	snprintf(path, pathlen, "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(err, errlen, "failed to open %s: %s", path, strerror(errno));
		return -1;
	}
	if (bpf_obj_get_info_by_fd(fd, info, &info_len) < 0) {
		snprintf(err, errlen, "failed to read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int pcf_pins_map_nat6(const char *pin_dir, struct pcf_nat6_table *t, char *err, size_t errlen)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	void *p;
	int fd, ret = -1;

	*t = (struct pcf_nat6_table){0};
	fd = open_map(pin_dir, PCF_PIN_NAT6, &info, path, sizeof(path), err, errlen);
	if (fd < 0)
		return -1;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(__u32) ||
	    info.value_size != sizeof(struct pcf_nat6) || !(info.map_flags & BPF_F_MMAPABLE)) {
		snprintf(err, errlen,
			 "%s is not an mmapable ARRAY of struct pcf_nat6 (type %u, key %u, value %u bytes, flags 0x%x): a loader of another version?",
			 path, info.type, info.key_size, info.value_size, info.map_flags);
		goto cleanup;
	}
	if (info.max_entries == 0) {
		snprintf(err, errlen, "%s has no entries", path);
		goto cleanup;
	}
	p = mmap(NULL, nat6_map_len(info.max_entries), PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "failed to mmap %s (%u entries): %s", path, info.max_entries,
			 strerror(errno));
		goto cleanup;
	}
	t->entries = p;
	t->n = info.max_entries;
	ret = 0;
cleanup:
	close(fd); /* the mapping holds the map */
	return ret;
}

void pcf_pins_unmap_nat6(struct pcf_nat6_table *t)
{
	if (t->entries)
		munmap((void *)t->entries, nat6_map_len(t->n));
	*t = (struct pcf_nat6_table){0};
}

int pcf_pins_rule_slots(const char *pin_dir, uint32_t *n, char *err, size_t errlen)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd, ret = -1;

	fd = open_map(pin_dir, PCF_PIN_RULE_STATS, &info, path, sizeof(path), err, errlen);
	if (fd < 0)
		return -1;
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.key_size != sizeof(__u32) ||
	    info.value_size != sizeof(struct pcf_counter) || info.max_entries == 0) {
		snprintf(err, errlen,
			 "%s is not a PERCPU_ARRAY of struct pcf_counter (type %u, key %u, value %u bytes, %u entries): a loader of another version?",
			 path, info.type, info.key_size, info.value_size, info.max_entries);
		goto cleanup;
	}
	*n = info.max_entries;
	ret = 0;
cleanup:
	close(fd);
	return ret;
}
