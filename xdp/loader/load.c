// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* load.c - open the object (skeleton or --obj), set pcf_attachment, reuse or pin the maps, load. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "pcf_xdp.skel.h" /* bpftool gen skeleton of build/pcf_xdp.bpf.o: the built-in object */

const char *const map_names[N_MAPS] = {
#define PCF_X_NAME(id, name) [M_##id] = name,
	PCF_PINNED_MAPS(PCF_X_NAME)
#undef PCF_X_NAME
};

/* The maps sized like pcf_flow_map (--max-rules): one slot space, one bucket per rule. */
static bool rule_sized(size_t i)
{
	return i == M_FLOW || i == M_RULE_STATS || i == M_RULES || i == M_MATCH || i == M_NAT6;
}

/* Maps that hold nothing the control plane wrote but its event choice, which it writes again
 * when it sees the map: replace may create them (an upgrade from a loader without packet
 * events), where every other map must already be pinned. */
static bool created_by_replace(size_t i)
{
	return i == M_EVENTS || i == M_EVENT_CONFIG || i == M_EVENT_STATE;
}

#define LOG_BUF_SIZE (1 << 20)

static void print_log_tail(const char *name, const char *log)
{
	const char *p = log + strlen(log);
	int lines = 0;

	while (p > log && lines < 20)
		if (*--p == '\n' && p[1] != '\0')
			lines++;
	if (*p == '\n')
		p++;
	msg("verifier rejected program %s; log tail:", name);
	fprintf(stderr, "%s%s", p, (*p && log[strlen(log) - 1] != '\n') ? "\n" : "");
}

static const char *map_type_str(__u32 type)
{
	const char *s = libbpf_bpf_map_type_str((enum bpf_map_type)type);

	return s ? s : "unknown";
}

/* Is the pinned map (its info) usable as the object's map m? Says why not. A pinned map of
 * another layout (another type, key or value size, flags) must never be reused: the program
 * would count into, and the control plane read, the wrong thing. */
static bool pinned_fits(struct bpf_map *m, const struct bpf_map_info *info, const char *name)
{
	/* pcf_xskmap and pcf_config are indexed by attachment, pcf_shapes by generation parity: their
	 * size is part of the layout (a pcf_xskmap of 64 entries or a pcf_config of one does not
	 * fit). The rule maps' size is the operator's (--max-rules) and checked in load(). */
	bool sized = !strcmp(name, PCF_PIN_XSKMAP) || !strcmp(name, PCF_PIN_CONFIG) ||
		     !strcmp(name, PCF_PIN_SHAPES) || !strcmp(name, PCF_PIN_RULESET);

	/* Flags too: pcf_rules and pcf_ruleset must be mmapable (the control plane stores into them). */
	if (info->type == (__u32)bpf_map__type(m) && info->key_size == bpf_map__key_size(m) &&
	    info->value_size == bpf_map__value_size(m) && info->map_flags == bpf_map__map_flags(m) &&
	    (!sized || info->max_entries == bpf_map__max_entries(m)))
		return true;
	if (sized)
		msg("pinned map %s/%s is %s key %u value %u max_entries %u flags %#x; this program "
		    "needs %s key %u value %u max_entries %u flags %#x", opt.pin_dir, name,
		    map_type_str(info->type), info->key_size, info->value_size, info->max_entries,
		    info->map_flags, map_type_str(bpf_map__type(m)), bpf_map__key_size(m),
		    bpf_map__value_size(m), bpf_map__max_entries(m), bpf_map__map_flags(m));
	else
		msg("pinned map %s/%s is %s key %u value %u flags %#x; this program needs %s key %u "
		    "value %u flags %#x", opt.pin_dir, name, map_type_str(info->type), info->key_size,
		    info->value_size, info->map_flags, map_type_str(bpf_map__type(m)),
		    bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__map_flags(m));
	return false;
}

void unload(struct loaded *l)
{
	if (l->skel)
		pcf_xdp__destroy(l->skel); /* closes l->obj too */
	else
		bpf_object__close(l->obj);
	free(l->log_xdp);
	free(l->log_tc);
	memset(l, 0, sizeof(*l));
}

/* The program's load-time attachment, `const volatile __u32 pcf_attachment` (.rodata), is set
 * before load through the skeleton of the built-in object. An --obj file is loaded as it is:
 * its .rodata is not the skeleton's (its knobs, if any, could sit anywhere), so it serves
 * attachment 0 only
 * (xdp/README.md, Loader). */
static int set_attachment(struct loaded *l, __u32 attachment)
{
	if (l->skel) {
		if (!l->skel->rodata) {
			msg("failed to set pcf_attachment: the built-in object has no .rodata");
			return -ENOENT;
		}
		l->skel->rodata->pcf_attachment = attachment;
		return 0;
	}
	if (attachment == 0)
		return 0;
	msg("--obj %s is loaded as it is and serves attachment 0 only: pcf-xdp sets "
	    "pcf_attachment (attachment %u) in its built-in object only", opt.obj_path, attachment);
	return -EINVAL;
}

/* Open the object, reuse every pinned map (or, with !need_pinned, create and pin the missing
 * ones after load) and load. Returns 0, or an exit code. */
int load(struct loaded *l, bool need_pinned)
{
	struct bpf_map_info pinfo[N_MAPS];
	struct bpf_map *maps[N_MAPS], *m;
	int pin_fd[N_MAPS];
	char path[PATH_MAX];
	bool misfit = false;
	__u32 len, rules_size;
	size_t i;
	int fd, err, ret = EXIT_ERR;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < N_MAPS; i++)
		pin_fd[i] = -1;
	if (opt.obj_path) {
		l->obj = bpf_object__open_file(opt.obj_path, NULL);
	} else {
		/* The skeleton's object name is pcf_xdp (xdp/Makefile), as its internal maps
		 * (pcf_xdp.rodata) expect. */
		l->skel = pcf_xdp__open();
		l->obj = l->skel ? l->skel->obj : NULL;
	}
	if (!l->obj) {
		msg("failed to open BPF object %s: %s", opt.obj_path ? opt.obj_path : "(built-in)",
		    strerror(errno));
		goto cleanup;
	}
	l->xdp = bpf_object__find_program_by_name(l->obj, PROG_XDP);
	l->tc = bpf_object__find_program_by_name(l->obj, PROG_TC);
	if (!l->xdp || !l->tc) {
		msg("failed to find programs %s and %s in the object", PROG_XDP, PROG_TC);
		goto cleanup;
	}
	l->log_xdp = calloc(1, LOG_BUF_SIZE);
	l->log_tc = calloc(1, LOG_BUF_SIZE);
	if (!l->log_xdp || !l->log_tc) {
		msg("failed to allocate the verifier log");
		goto cleanup;
	}
	bpf_program__set_log_buf(l->xdp, l->log_xdp, LOG_BUF_SIZE);
	bpf_program__set_log_buf(l->tc, l->log_tc, LOG_BUF_SIZE);
	if (set_attachment(l, opt.attachment))
		goto cleanup;

	/* Look at every pinned map before reusing any, so that all misfits are reported. */
	for (i = 0; i < N_MAPS; i++) {
		maps[i] = bpf_object__find_map_by_name(l->obj, map_names[i]);
		if (!maps[i]) {
			msg("failed to find map %s in the object", map_names[i]);
			goto cleanup;
		}
		fd = open_pin(map_names[i]);
		if (fd == -ENOENT) {
			if (need_pinned && !created_by_replace(i)) {
				msg("map %s/%s is not pinned: attach first", opt.pin_dir, map_names[i]);
				goto cleanup;
			}
			continue;
		}
		if (fd < 0) {
			msg("failed to open pinned map %s/%s: %s", opt.pin_dir, map_names[i],
			    strerror(-fd));
			goto cleanup;
		}
		pin_fd[i] = fd;
		len = sizeof(pinfo[i]);
		memset(&pinfo[i], 0, sizeof(pinfo[i]));
		if (bpf_obj_get_info_by_fd(fd, &pinfo[i], &len)) {
			msg("failed to get info of pinned map %s/%s: %s", opt.pin_dir, map_names[i],
			    strerror(errno));
			goto cleanup;
		}
		if (!pinned_fits(maps[i], &pinfo[i], map_names[i]))
			misfit = true;
	}
	/* pcf_rule_stats and pcf_rules are indexed by the stats slots of the rules: the control
	 * plane hands out slots below the size of all four rule maps, so they have one size. */
	for (i = 0; i < N_MAPS; i++) {
		if (i == M_FLOW || !rule_sized(i) || pin_fd[i] < 0 || pin_fd[M_FLOW] < 0 ||
		    pinfo[M_FLOW].max_entries == pinfo[i].max_entries)
			continue;
		msg("pinned %s has %u entries but %s has %u; they must be the same size",
		    map_names[M_FLOW], pinfo[M_FLOW].max_entries, map_names[i], pinfo[i].max_entries);
		misfit = true;
	}
	if (misfit) {
		msg("the maps pinned under %s were not made for this program (an older "
		    "pcf_common.h?) and are left as they are. Run `pcf-xdp detach --iface %s "
		    "--pin-dir %s --purge` first: it unpins them, dropping their rules and "
		    "counters, which the control plane then writes again", opt.pin_dir, opt.iface,
		    opt.pin_dir);
		goto cleanup;
	}

	/* One size for both rule maps: a pinned one's (pinned maps keep their size), else
	 * --max-rules, else the object's default. */
	for (i = 0; i < N_MAPS && !(rule_sized(i) && pin_fd[i] >= 0); i++)
		;
	if (i < N_MAPS) {
		rules_size = pinfo[i].max_entries;
		if (opt.max_rules && opt.max_rules != rules_size)
			msg("note: pinned %s keeps its %u entries (--max-rules %u applies when it "
			    "is created)", map_names[i], rules_size, opt.max_rules);
	} else {
		rules_size = opt.max_rules ? opt.max_rules : bpf_map__max_entries(maps[M_FLOW]);
	}
	for (i = 0; i < N_MAPS; i++) {
		if (pin_fd[i] >= 0) {
			err = bpf_map__reuse_fd(maps[i], pin_fd[i]);
			if (err) {
				msg("failed to reuse pinned map %s: %s", map_names[i], strerror(-err));
				goto cleanup;
			}
		} else if (rule_sized(i)) {
			bpf_map__set_max_entries(maps[i], rules_size);
		} else if ((i == M_CACHE || i == M_CACHE4) && opt.flow_cache) {
			bpf_map__set_max_entries(maps[i], opt.flow_cache);
		}
	}

	err = bpf_object__load(l->obj);
	if (err) {
		if (l->log_xdp[0] || l->log_tc[0]) {
			print_log_tail(l->log_xdp[0] ? PROG_XDP : PROG_TC,
				       l->log_xdp[0] ? l->log_xdp : l->log_tc);
			ret = EXIT_VERIFIER;
		} else {
			msg("failed to load BPF object: %s", strerror(-err));
		}
		goto cleanup;
	}

	for (i = 0; i < N_MAPS; i++) {
		m = bpf_object__find_map_by_name(l->obj, map_names[i]);
		fd = open_pin(map_names[i]);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		pin_path(path, sizeof(path), map_names[i]);
		err = bpf_map__pin(m, path);
		if (err) {
			msg("failed to pin map %s: %s", path, strerror(-err));
			goto cleanup;
		}
		l->pinned_now[i] = true;
	}
	ret = EXIT_OK;
cleanup:
	for (i = 0; i < N_MAPS; i++)
		if (pin_fd[i] >= 0)
			close(pin_fd[i]); /* the object holds its own copy (bpf_map__reuse_fd) */
	if (ret != EXIT_OK) {
		for (i = 0; i < N_MAPS; i++)
			if (l->pinned_now[i])
				unpin(map_names[i]);
		unload(l);
	}
	return ret;
}

void unpin_new_maps(struct loaded *l)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++)
		if (l->pinned_now[i])
			unpin(map_names[i]);
}

int prog_tag(int prog_fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}
