// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc.c - pcf_tc_mark at TC ingress: a pinned tcx link, or a clsact filter before Linux 6.6. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader.h"

int read_tc_state(__u32 attachment, int ifindex, struct tc_state *t)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = PCF_TC_HANDLE, .priority = PCF_TC_PRIORITY);
	struct bpf_prog_info pinfo;
	struct bpf_link_info info;
	int fd;

	memset(t, 0, sizeof(*t));
	fd = open_pin(attachment_pin(PIN_TC_LINK, attachment).s);
	if (fd >= 0) {
		if (!get_link_info(fd, &info) && info.type == PCF_LINK_TYPE_TCX &&
		    info.xdp.ifindex == (__u32)ifindex && ifindex) {
			t->kind = "tcx";
			t->prog_id = info.prog_id;
			t->link_id = info.id;
		}
		close(fd);
		return 0;
	}
	if (!ifindex)
		return 0;
	if (bpf_tc_query(&hook, &q) == 0 && !get_prog_info_by_id(q.prog_id, &pinfo) &&
	    !strcmp(pinfo.name, PROG_TC)) {
		t->kind = "clsact";
		t->prog_id = q.prog_id;
	}
	return 0;
}

static bool tcx_disabled(void)
{
	const char *e = getenv("PCF_XDP_TC");

	return e && !strcmp(e, "clsact"); /* for tests of the pre-6.6 path */
}

/* Attach pcf_tc_mark at ingress; *made tells what to undo on a later failure. */
int tc_attach(__u32 attachment, int ifindex, int prog_fd, int *made)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = PCF_TC_HANDLE, .priority = PCF_TC_PRIORITY,
			    .flags = BPF_TC_F_REPLACE, .prog_fd = prog_fd);
	char path[PATH_MAX];
	int fd = -1, err;

	*made = 0;
	if (!tcx_disabled()) {
		fd = bpf_link_create(prog_fd, ifindex, PCF_ATTACH_TCX_INGRESS, NULL);
		if (fd >= 0) {
			pin_path(path, sizeof(path), attachment_pin(PIN_TC_LINK, attachment).s);
			if (bpf_obj_pin(fd, path)) {
				err = -errno;
				msg("failed to pin %s: %s", path, strerror(errno));
				close(fd);
				return err;
			}
			close(fd);
			*made = 1;
			return 0;
		}
		if (errno != EINVAL && errno != EOPNOTSUPP) {
			err = -errno;
			msg("failed to attach %s at tcx ingress: %s", PROG_TC, strerror(errno));
			return err;
		}
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		msg("failed to create the clsact qdisc: %s", strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &to);
	if (err) {
		msg("failed to attach %s as a clsact ingress filter: %s", PROG_TC, strerror(-err));
		return err;
	}
	*made = 2;
	return 0;
}

/* Remove our TC program: the tcx link (pinned), or our clsact filter (by handle and name). */
int tc_detach(__u32 attachment, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = PCF_TC_HANDLE, .priority = PCF_TC_PRIORITY);
	struct bpf_prog_info pinfo;
	int fd, err;

	fd = open_pin(attachment_pin(PIN_TC_LINK, attachment).s);
	if (fd >= 0) {
		bpf_link_detach(fd); /* a defunct link (interface gone) has nothing to detach */
		close(fd);
		err = unpin(attachment_pin(PIN_TC_LINK, attachment).s);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir,
			    attachment_pin(PIN_TC_LINK, attachment).s, strerror(-err));
			return err;
		}
	}
	if (!ifindex)
		return 0;
	if (bpf_tc_query(&hook, &q) == 0 && !get_prog_info_by_id(q.prog_id, &pinfo) &&
	    !strcmp(pinfo.name, PROG_TC)) {
		q.prog_id = 0;
		q.flags = 0;
		q.prog_fd = 0;
		err = bpf_tc_detach(&hook, &q);
		if (err) {
			msg("failed to remove the clsact filter of %s: %s", PROG_TC, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Point our TC attachment at a new program (replace, or re-attach of a changed program). */
int tc_update(__u32 attachment, int ifindex, int prog_fd)
{
	struct tc_state t;
	int fd, err, made;

	read_tc_state(attachment, ifindex, &t);
	if (t.kind && !strcmp(t.kind, "tcx")) {
		fd = open_pin(attachment_pin(PIN_TC_LINK, attachment).s);
		if (fd < 0)
			return fd;
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (err) {
			msg("failed to update the tcx link: %s", strerror(errno));
			return -errno;
		}
		return 0;
	}
	/* clsact replaces in place (BPF_TC_F_REPLACE); nothing attached yet: attach. */
	return tc_attach(attachment, ifindex, prog_fd, &made);
}
