/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pcf_map_info.h - what the loader (pcf-xdp status) and the addon (mapInfo) both read of a
 * pinned map, beside its bpf_map_info: the kernel's memory figure and whether the kernel
 * counts its elements (for PCF_PIN_MAP_COUNTS). User space only. */
#ifndef PCF_MAP_INFO_H
#define PCF_MAP_INFO_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/bpf.h>

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

#endif /* PCF_MAP_INFO_H */
