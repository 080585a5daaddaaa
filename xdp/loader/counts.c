// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* counts.c - the map-count iterator (xdp/map_count.bpf.c) pinned in the pin dir as
 * PCF_PIN_MAP_COUNTS, and reading it for status (each pinned map's elements). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "map_count.skel.h" /* bpftool gen skeleton of build/map_count.bpf.o */
#include "pcf_map_info.h"

/* Pins the iterator unless it is pinned already. Without bpf_map_sum_elem_count (before
 * Linux 6.6) it does not load: status and the control plane then show no element counts,
 * and attach goes on. */
void counts_pin(void)
{
	char path[PATH_MAX];
	struct map_count *skel;
	struct bpf_link *link;
	int fd, err;

	fd = open_pin(PCF_PIN_MAP_COUNTS);
	if (fd >= 0) {
		close(fd);
		return;
	}
	/* a kernel without the kfunc is a note, not a verifier dump */
	libbpf_print_fn_t was = libbpf_set_print(NULL);
	skel = map_count__open_and_load();
	libbpf_set_print(was);
	if (!skel) {
		msg("note: no map element counts (the kernel lacks bpf_map_sum_elem_count, Linux 6.6): %s",
		    strerror(errno));
		return;
	}
	link = bpf_program__attach_iter(skel->progs.pcf_map_count, NULL);
	err = link ? 0 : -errno;
	if (!err) {
		pin_path(path, sizeof(path), PCF_PIN_MAP_COUNTS);
		err = bpf_link__pin(link, path);
	}
	if (err)
		msg("note: no map element counts: pinning %s/%s failed: %s", opt.pin_dir,
		    PCF_PIN_MAP_COUNTS, strerror(-err));
	bpf_link__destroy(link); /* the pin keeps the link */
	map_count__destroy(skel);
}

struct wanted {
	const __u32 *ids;
	__s64 *out;
	size_t n;
};

static void take(__u32 id, long long elements, void *ctx)
{
	struct wanted *w = ctx;

	for (size_t i = 0; i < w->n; i++)
		if (w->ids[i] == id)
			w->out[i] = elements;
}

/* Reads the pinned iterator once; out[i] is ids[i]'s element count, -1 when it is not listed.
 * Returns 0, or -errno (-ENOENT: not pinned). */
int counts_read(const __u32 *ids, __s64 *out, size_t n)
{
	struct wanted w = { ids, out, n };
	char path[PATH_MAX];

	for (size_t i = 0; i < n; i++)
		out[i] = -1;
	pin_path(path, sizeof(path), PCF_PIN_MAP_COUNTS);
	return pcf_map_counts_read(path, take, &w);
}
