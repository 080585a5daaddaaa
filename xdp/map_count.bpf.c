// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* map_count.bpf.c - pcf_map_count, a BPF iterator over the maps of the system. pcf-xdp pins
 * its link in the pin dir (PCF_PIN_MAP_COUNTS); reading that file prints one line for each map
 * whose name starts with "pcf_": its id, its name and the number of elements the kernel counts
 * in it (bpf_map_sum_elem_count, Linux 6.6: every hash map counts; an array's count is 0, its
 * entries are all there). So the element counts of a map of a million rules cost one read,
 * not a walk over its keys.
 * The kernel's types are declared here as far as they are read: CO-RE relocates the fields
 * against the running kernel's BTF at load, so no vmlinux.h is needed to build it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_map {
	__u32 id;
	char name[BPF_OBJ_NAME_LEN];
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

SEC("iter/bpf_map")
int pcf_map_count(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_map *map = ctx->map;

	if (!map || map->name[0] != 'p' || map->name[1] != 'c' || map->name[2] != 'f' || map->name[3] != '_')
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %s %lld\n", map->id, map->name, bpf_map_sum_elem_count(map));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
