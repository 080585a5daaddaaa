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

/* Reads the pinned iterator once; out[i] is ids[i]'s element count, -1 when it is not listed.
 * Returns 0, or -errno (-ENOENT: not pinned). */
int counts_read(const __u32 *ids, __s64 *out, size_t n)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, cap = 0, i;
	int link_fd, fd, err = 0;
	ssize_t got;

	for (i = 0; i < n; i++)
		out[i] = -1;
	link_fd = open_pin(PCF_PIN_MAP_COUNTS);
	if (link_fd < 0)
		return link_fd;
	fd = bpf_iter_create(link_fd);
	close(link_fd);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *more = realloc(text, cap += 65536);
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

		if (sscanf(line, "%u %*s %lld", &id, &count) != 2)
			continue;
		for (i = 0; i < n; i++)
			if (ids[i] == id)
				out[i] = count;
	}
out:
	free(text);
	close(fd);
	return err;
}
