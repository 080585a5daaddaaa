/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pcf_map_info.h - what the loader (pcf-xdp status) and the addon (mapInfo) both read of a
 * pinned map, beside its bpf_map_info: the kernel's memory figure, whether the kernel counts
 * its elements, and those counts from the map-count iterator (PCF_PIN_MAP_COUNTS). User space
 * only. */
#ifndef PCF_MAP_INFO_H
#define PCF_MAP_INFO_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

/* The kernel keeps an element count for the hash maps; an array's entries are all there. */
static inline bool pcf_map_counts_elements(__u32 type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* The "memlock:" line of a map fd's fdinfo, in bytes; -1 when there is none. */
static inline long long pcf_map_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Reads the map-count iterator pinned at `path` once and calls fn(id, elements, ctx) for each
 * of its lines "<map id> <name> <elements>". Returns 0, or -errno (-ENOENT: not pinned). */
static inline int pcf_map_counts_read(const char *path, void (*fn)(__u32 id, long long elements, void *ctx), void *ctx)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, cap = 0;
	int link_fd, fd, err = 0;
	ssize_t got;

	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return -errno;
	fd = bpf_iter_create(link_fd);
	close(link_fd);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *more = (char *)realloc(text, cap += 65536);
			if (!more) {
				err = -ENOMEM;
				goto out;
			}
			text = more;
		}
		got = read(fd, text + len, cap - len - 1);
		if (got < 0) {
			err = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	text[len] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int id;
		long long count;

		if (sscanf(line, "%u %*s %lld", &id, &count) == 2)
			fn(id, count, ctx);
	}
out:
	free(text);
	close(fd);
	return err;
}

#endif /* PCF_MAP_INFO_H */
