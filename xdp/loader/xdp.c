// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp.c - an attachment's XDP link: what is attached, attach, replace, detach and --purge. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>

#include "loader.h"

const char *mode_name(const struct xdp_state *s)
{
	if (!s->ours)
		return "none";
	if (s->link.prog_id == s->drv_id)
		return "native";
	if (s->link.prog_id == s->skb_id)
		return "generic";
	if (s->link.prog_id == s->hw_id)
		return "offload";
	return "unknown";
}

/* What is attached to ifindex (0: interface gone) and whether the attachment's pinned link is it. */
int read_xdp_state(__u32 attachment, int ifindex, struct xdp_state *s)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct pin_name pin = attachment_pin(PIN_XDP_LINK, attachment);
	int err;

	memset(s, 0, sizeof(*s));
	s->link_fd = open_pin(pin.s);
	if (s->link_fd < 0 && s->link_fd != -ENOENT) {
		msg("failed to open %s/%s: %s", opt.pin_dir, pin.s, strerror(-s->link_fd));
		return s->link_fd;
	}
	if (s->link_fd >= 0) {
		err = get_link_info(s->link_fd, &s->link);
		if (err || s->link.type != BPF_LINK_TYPE_XDP) {
			msg("%s/%s is not an XDP link", opt.pin_dir, pin.s);
			close(s->link_fd);
			s->link_fd = -1;
			return -EINVAL;
		}
	}
	if (ifindex) {
		err = bpf_xdp_query(ifindex, 0, &q);
		if (err) {
			msg("failed to query XDP programs of ifindex %d: %s", ifindex, strerror(-err));
			return err;
		}
		s->drv_id = q.drv_prog_id;
		s->skb_id = q.skb_prog_id;
		s->hw_id = q.hw_prog_id;
	}
	s->ours = s->link_fd >= 0 && ifindex && s->link.xdp.ifindex == (__u32)ifindex &&
		  s->link.prog_id &&
		  (s->link.prog_id == s->drv_id || s->link.prog_id == s->skb_id ||
		   s->link.prog_id == s->hw_id);
	if (s->drv_id && !(s->ours && s->drv_id == s->link.prog_id))
		s->foreign_id = s->drv_id;
	else if (s->skb_id && !(s->ours && s->skb_id == s->link.prog_id))
		s->foreign_id = s->skb_id;
	else if (s->hw_id && !(s->ours && s->hw_id == s->link.prog_id))
		s->foreign_id = s->hw_id;
	return 0;
}

void free_xdp_state(struct xdp_state *s)
{
	if (s->link_fd >= 0)
		close(s->link_fd);
	s->link_fd = -1;
}

/* The attachment whose live XDP link is on ifindex, other than skip; -1 when there is none. */
int attachment_of_iface(int ifindex, int skip)
{
	struct xdp_state o;
	__u32 p;
	int found = -1;

	if (!ifindex)
		return -1;
	for (p = 0; p < PCF_MAX_ATTACHMENTS && found < 0; p++) {
		if ((int)p == skip || read_xdp_state(p, 0, &o))
			continue;
		if (o.link_fd >= 0 && o.link.xdp.ifindex == (__u32)ifindex)
			found = p;
		free_xdp_state(&o);
	}
	return found;
}

static int xdp_link_create(int ifindex, int prog_fd, const char **mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd = -1;

	if (opt.mode != MODE_GENERIC) {
		lo.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (fd >= 0) {
			*mode = "native";
			return fd;
		}
		if (opt.mode == MODE_NATIVE) {
			msg("failed to attach %s in native mode: %s", PROG_XDP, strerror(errno));
			return -errno;
		}
		if (opt.verbose)
			msg("native mode refused (%s), trying generic", strerror(errno));
	}
	lo.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		msg("failed to attach %s in generic mode: %s", PROG_XDP, strerror(errno));
		return -errno;
	}
	*mode = "generic";
	return fd;
}

int cmd_attach(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 };
	bool dir_created = false, loaded = false;
	struct loaded l = {};
	char path[PATH_MAX], name[IF_NAMESIZE];
	const char *mode = NULL;
	struct pin_name xdp_pin = attachment_pin(PIN_XDP_LINK, opt.attachment);
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	int link_fd = -1, tc_made = 0, prog_fd, other, err, ret = EXIT_ERR;

	if (check_bpffs(true)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	if (make_pin_dir(&dir_created))
		goto cleanup;
	/* One interface, one attachment: its traffic would be steered by two programs otherwise. */
	other = attachment_of_iface(ifindex, opt.attachment);
	if (other >= 0) {
		msg("%s is already attachment %d of %s; detach it there first "
		    "(pcf-xdp detach --iface %s --attachment %d)", opt.iface, other, opt.pin_dir,
		    opt.iface, other);
		goto cleanup;
	}
	if (read_xdp_state(opt.attachment, ifindex, &s))
		goto cleanup;

	if (s.link_fd >= 0 && !s.ours && s.link.xdp.ifindex) {
		msg("attachment %u of pin dir %s is attached to %s (ifindex %u), not %s (%d); detach "
		    "it first or use another --attachment (or --pin-dir)", opt.attachment, opt.pin_dir,
		    ifname_of(s.link.xdp.ifindex, name), s.link.xdp.ifindex, opt.iface, ifindex);
		goto cleanup;
	}
	if (s.foreign_id) {
		msg("%s already has an XDP program (id %u) that is not ours; refusing to replace it",
		    opt.iface, s.foreign_id);
		ret = EXIT_FOREIGN;
		goto cleanup;
	}
	if (s.link_fd >= 0 && !s.ours) {
		/* Defunct link: its interface went away. */
		free_xdp_state(&s);
		if (unpin(xdp_pin.s))
			goto cleanup;
		msg("removed a stale %s/%s", opt.pin_dir, xdp_pin.s);
	}
	if (s.ours && opt.mode != MODE_AUTO &&
	    strcmp(mode_name(&s), opt.mode == MODE_NATIVE ? "native" : "generic")) {
		msg("%s is attached to %s in %s mode; detach first to change the mode",
		    PROG_XDP, opt.iface, mode_name(&s));
		goto cleanup;
	}

	/* Maps pinned by an earlier attach (of any attachment) are reused, so rules survive. */
	ret = load(&l, false);
	if (ret)
		goto cleanup;
	loaded = true;
	ret = EXIT_ERR;
	if (config_update(&l, opt.attachment, ifindex, opt.iface))
		goto cleanup;
	prog_fd = bpf_program__fd(l.xdp);

	if (s.ours) {
		struct bpf_prog_info old;
		struct tc_state t;

		/* Opening a program by id needs CAP_SYS_ADMIN; with only CAP_BPF (a container)
		 * the tags cannot be compared: then the link is updated, which changes nothing
		 * when the program is the same. */
		err = get_prog_info_by_id(s.link.prog_id, &old);
		if (!err)
			memcpy(old_tag, old.tag, BPF_TAG_SIZE);
		else if (err == -EPERM)
			memset(old_tag, 0, BPF_TAG_SIZE);
		if ((err && err != -EPERM) || prog_tag(prog_fd, new_tag)) {
			msg("failed to read the attached program's info");
			goto cleanup;
		}
		read_tc_state(opt.attachment, ifindex, &t);
		if (!memcmp(old_tag, new_tag, BPF_TAG_SIZE) && t.kind) {
			printf("%s already attached to %s as attachment %u (%s mode, prog id %u, "
			       "link id %u): no change%s%s\n", PROG_XDP, opt.iface, opt.attachment, mode_name(&s),
			       s.link.prog_id, s.link.id,
			       opt.default_action >= 0 ? "; default action " : "",
			       opt.default_action >= 0 ? action_name(opt.default_action) : "");
			ret = EXIT_OK;
			goto cleanup;
		}
		if (memcmp(old_tag, new_tag, BPF_TAG_SIZE) && bpf_link_update(s.link_fd, prog_fd, NULL)) {
			msg("failed to update the XDP link: %s", strerror(errno));
			goto cleanup;
		}
		if (tc_update(opt.attachment, ifindex, bpf_program__fd(l.tc)))
			goto cleanup;
		printf("%s updated on %s as attachment %u (%s mode, link id %u)\n", PROG_XDP, opt.iface,
		       opt.attachment, mode_name(&s), s.link.id);
		ret = EXIT_OK;
		goto cleanup;
	}

	/* A TC attachment of ours without our XDP link is left over from an earlier run. */
	if (tc_detach(opt.attachment, ifindex) ||
	    tc_attach(opt.attachment, ifindex, bpf_program__fd(l.tc), &tc_made))
		goto cleanup;
	link_fd = xdp_link_create(ifindex, prog_fd, &mode);
	if (link_fd < 0)
		goto cleanup;
	pin_path(path, sizeof(path), xdp_pin.s);
	if (bpf_obj_pin(link_fd, path)) {
		msg("failed to pin %s: %s", path, strerror(errno));
		goto cleanup;
	}
	free_xdp_state(&s);
	read_xdp_state(opt.attachment, ifindex, &s);
	printf("%s attached to %s as attachment %u (%s mode, prog id %u, link id %u), pin dir %s\n",
	       PROG_XDP, opt.iface, opt.attachment, mode, s.link.prog_id, s.link.id, opt.pin_dir);
	ret = EXIT_OK;
cleanup:
	if (ret == EXIT_OK)
		counts_pin(); /* also for a pin dir made before there was one */
	if (ret != EXIT_OK) {
		/* Tear down only what this run created. */
		if (link_fd >= 0)
			bpf_link_detach(link_fd);
		if (tc_made)
			tc_detach(opt.attachment, ifindex);
		if (loaded)
			unpin_new_maps(&l);
		if (dir_created)
			rmdir(opt.pin_dir);
	}
	if (link_fd >= 0)
		close(link_fd);
	if (loaded)
		unload(&l);
	free_xdp_state(&s);
	return ret;
}

/* Says which attachment IF is attached as, when it is not the attachment given. */
static void hint_other_attachment(int ifindex)
{
	int other = attachment_of_iface(ifindex, opt.attachment);

	if (other >= 0)
		msg("%s is attachment %d: add --attachment %d", opt.iface, other, other);
}

int cmd_replace(int ifindex)
{
	LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = BPF_F_REPLACE);
	struct xdp_state s = { .link_fd = -1 };
	struct bpf_link_info after;
	struct loaded l = {};
	bool loaded = false;
	int old_fd = -1, ret = EXIT_ERR;

	if (check_bpffs(false)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	if (read_xdp_state(opt.attachment, ifindex, &s))
		goto cleanup;
	if (!s.ours) {
		if (s.foreign_id && attachment_of_iface(ifindex, opt.attachment) < 0) {
			msg("%s has an XDP program (id %u) that is not ours", opt.iface, s.foreign_id);
			ret = EXIT_FOREIGN;
		} else {
			msg("%s is not attached to %s as attachment %u (no live %s/%s): attach first",
			    PROG_XDP, opt.iface, opt.attachment, opt.pin_dir,
			    attachment_pin(PIN_XDP_LINK, opt.attachment).s);
			hint_other_attachment(ifindex);
		}
		goto cleanup;
	}
	ret = load(&l, true);
	if (ret)
		goto cleanup;
	loaded = true;
	ret = EXIT_ERR;

	/* Compare-and-swap: fails if someone replaced the program since we looked. Opening the
	 * attached program by id needs CAP_SYS_ADMIN; with only CAP_BPF (a container) the
	 * update is unconditional: the pinned link is ours and the loader its only writer. */
	old_fd = bpf_prog_get_fd_by_id(s.link.prog_id);
	if (old_fd >= 0) {
		uo.old_prog_fd = old_fd;
	} else if (errno == EPERM) {
		uo.flags = 0;
	} else {
		msg("failed to open the attached program (id %u): %s", s.link.prog_id,
		    strerror(errno));
		goto cleanup;
	}
	if (bpf_link_update(s.link_fd, bpf_program__fd(l.xdp), &uo)) {
		msg("failed to update the XDP link: %s", strerror(errno));
		goto cleanup;
	}
	if (tc_update(opt.attachment, ifindex, bpf_program__fd(l.tc)))
		goto cleanup;
	get_link_info(s.link_fd, &after);
	printf("%s replaced on %s (attachment %u): prog id %u -> %u (link id %u, %s mode)\n",
	       PROG_XDP, opt.iface, opt.attachment, s.link.prog_id, after.prog_id, after.id,
	       mode_name(&s));
	ret = EXIT_OK;
cleanup:
	if (old_fd >= 0)
		close(old_fd);
	if (loaded)
		unload(&l);
	free_xdp_state(&s);
	return ret;
}

/* --purge: the maps go only when no other attachment is in use; stale (defunct) links of
 * other attachments go with them. Returns 0, or EXIT_ERR with the maps kept. */
static int purge(void)
{
	char name[IF_NAMESIZE];
	struct xdp_state o;
	bool busy = false;
	size_t i;
	__u32 p;
	int err;

	for (p = 0; p < PCF_MAX_ATTACHMENTS; p++) {
		if (p == opt.attachment || read_xdp_state(p, 0, &o))
			continue;
		if (o.link_fd >= 0 && o.link.xdp.ifindex) {
			msg("attachment %u (%s, ifindex %u) of %s is still attached: the maps stay. "
			    "Detach every attachment, then --purge", p, ifname_of(o.link.xdp.ifindex, name),
			    o.link.xdp.ifindex, opt.pin_dir);
			busy = true;
		}
		free_xdp_state(&o);
	}
	if (busy)
		return EXIT_ERR;
	for (p = 0; p < PCF_MAX_ATTACHMENTS; p++) {
		if (p == opt.attachment)
			continue;
		if (unpin(attachment_pin(PIN_XDP_LINK, p).s) || tc_detach(p, 0))
			return EXIT_ERR;
	}
	for (i = 0; i < N_MAPS; i++) {
		err = unpin(map_names[i]);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir, map_names[i], strerror(-err));
			return EXIT_ERR;
		}
	}
	/* The map-count iterator, and a pcf-trace's pins: a running one keeps its maps through its
	 * fds (and stops publishing), a killed one's would keep the pin dir from going. */
	static const char *const others[] = { PCF_PIN_MAP_COUNTS, PCF_PIN_TRACE_META, PCF_PIN_TRACE_BURSTS };
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		err = unpin(others[i]);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir, others[i], strerror(-err));
			return EXIT_ERR;
		}
	}
	if (rmdir(opt.pin_dir) && errno != ENOENT) {
		msg("failed to remove pin dir %s: %s", opt.pin_dir, strerror(errno));
		return EXIT_ERR;
	}
	printf("maps unpinned, %s removed\n", opt.pin_dir);
	return 0;
}

int cmd_detach(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 };
	struct pin_name xdp_pin = attachment_pin(PIN_XDP_LINK, opt.attachment);
	char name[IF_NAMESIZE];
	int err, ret = EXIT_ERR;

	if (check_bpffs(false)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	if (read_xdp_state(opt.attachment, ifindex, &s))
		goto cleanup;
	if (s.link_fd >= 0 && !s.ours && s.link.xdp.ifindex) {
		msg("attachment %u of pin dir %s is attached to %s (ifindex %u), not %s; leaving it",
		    opt.attachment, opt.pin_dir, ifname_of(s.link.xdp.ifindex, name),
		    s.link.xdp.ifindex,
		    opt.iface);
		hint_other_attachment(ifindex);
		goto cleanup;
	}
	if (s.link_fd >= 0) {
		if (s.ours && bpf_link_detach(s.link_fd)) {
			msg("failed to detach the XDP link: %s", strerror(errno));
			goto cleanup;
		}
		err = unpin(xdp_pin.s);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir, xdp_pin.s, strerror(-err));
			goto cleanup;
		}
		printf("%s detached from %s (attachment %u)\n", PROG_XDP, opt.iface, opt.attachment);
	} else {
		printf("%s is not attached to %s as attachment %u\n", PROG_XDP, opt.iface, opt.attachment);
		hint_other_attachment(ifindex);
	}
	if (s.foreign_id && s.link_fd < 0 && attachment_of_iface(ifindex, opt.attachment) < 0)
		msg("note: %s keeps its XDP program id %u (not ours)", opt.iface, s.foreign_id);
	if (attachment_of_iface(ifindex, opt.attachment) < 0 && tc_detach(opt.attachment, ifindex))
		goto cleanup;
	if (config_clear(opt.attachment))
		goto cleanup;
	ret = opt.purge ? purge() : EXIT_OK;
cleanup:
	free_xdp_state(&s);
	return ret;
}
