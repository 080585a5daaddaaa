// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pins.c - the pin dir on bpffs (mounted when missing) and the objects pinned in it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>

#include "loader.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", opt.pin_dir, name);
}

/* Attachment N's link pins: "xdp_link_N", "tc_link_N". */
struct pin_name attachment_pin(const char *kind, __u32 attachment)
{
	struct pin_name n;

	snprintf(n.s, sizeof(n.s), "%s_%u", kind, attachment);
	return n;
}

int get_link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int get_prog_info_by_id(__u32 id, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd, err = 0;

	memset(info, 0, sizeof(*info));
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

/* Open a pinned object; -ENOENT when there is none. */
int open_pin(const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int unpin(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static bool under_sys_fs_bpf(const char *path)
{
	return !strcmp(path, "/sys/fs/bpf") || !strncmp(path, "/sys/fs/bpf/", 12);
}

/* The pin dir (or, if it does not exist yet, its nearest existing parent) must be on bpffs.
 * With may_mount, bpffs is mounted at /sys/fs/bpf when the pin dir is below it and nothing is
 * mounted there (as bpftool does). Returns 0 or -EXIT_NO_BPFFS-style negative errno. */
int check_bpffs(bool may_mount)
{
	char path[PATH_MAX];
	struct statfs st;
	char *slash;

	if (opt.pin_dir[0] != '/') {
		msg("pin dir %s must be an absolute path", opt.pin_dir);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s", opt.pin_dir);
	while (statfs(path, &st)) {
		if (errno != ENOENT || !(slash = strrchr(path, '/')) || slash == path) {
			msg("failed to statfs %s: %s", path, strerror(errno));
			return -ENOTSUP;
		}
		*slash = '\0';
	}
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (may_mount && under_sys_fs_bpf(opt.pin_dir) && !strcmp(path, "/sys/fs/bpf")) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			msg("failed to mount bpffs at /sys/fs/bpf: %s", strerror(errno));
			return -ENOTSUP;
		}
		msg("mounted bpffs at /sys/fs/bpf");
		return 0;
	}
	msg("pin dir %s is not on a BPF filesystem (%s has fs magic 0x%lx); "
	    "mount -t bpf bpf /sys/fs/bpf or pick a dir under a bpffs mount",
	    opt.pin_dir, path, (unsigned long)st.f_type);
	return -ENOTSUP;
}

/* mkdir -p; *created tells whether the last component is new (to remove it on failure). */
int make_pin_dir(bool *created)
{
	char path[PATH_MAX];
	char *p;

	*created = false;
	snprintf(path, sizeof(path), "%s", opt.pin_dir);
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) == 0) {
			if (c == '\0')
				*created = true;
		} else if (errno != EEXIST) {
			msg("failed to create pin dir %s: %s", path, strerror(errno));
			return -errno;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}
