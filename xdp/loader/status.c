// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* status.c - pcf-xdp status: IF's attachment, the pinned maps, every attachment in use; text or --json. */
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "pcf_map_info.h"

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}


/* One attachment in use as a JSON object (status --json "attachments"). */
static void json_attachment(__u32 p, const struct xdp_state *o, const struct tc_state *t,
			    const struct pcf_config *cfg, bool have_cfg)
{
	char name[IF_NAMESIZE];

	printf("{\"attachment\":%u,\"iface\":", p);
	if (o->link.xdp.ifindex && if_indextoname(o->link.xdp.ifindex, name))
		json_str(stdout, name);
	else
		printf("null");
	printf(",\"ifindex\":%u,\"prog_id\":%u,\"link_id\":%u,\"mode\":\"%s\"",
	       o->link.xdp.ifindex, o->link.prog_id, o->link.id, mode_name(o));
	if (have_cfg)
		printf(",\"n_rx_queues\":%u,\"default_action\":\"%s\",\"frag_action\":\"%s\","
		       "\"config_ifindex\":%u", cfg->n_rx_queues, action_name(cfg->default_action),
		       frag_name(cfg->frag_action), cfg->ifindex);
	else
		printf(",\"n_rx_queues\":null,\"default_action\":null,\"config_ifindex\":null");
	printf(",\"tc\":%s%s%s}", t->kind ? "\"" : "", t->kind ? t->kind : "null",
	       t->kind ? "\"" : "");
}

int cmd_status(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 }, o;
	struct bpf_map_info minfo[N_MAPS];
	long long memlock[N_MAPS];
	__u32 ids[N_MAPS];
	__s64 elems[N_MAPS];
	struct pcf_config cfg = {}, ocfg;
	bool have_cfg, pinned[N_MAPS] = {}, first = true;
	char path[PATH_MAX], name[IF_NAMESIZE];
	struct tc_state t, ot;
	__u32 len, p;
	size_t i;
	int fd, found, ret = EXIT_ERR;

	if (check_bpffs(false)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	/* IF's attachment: the one given, else the one IF is attached as, else 0. */
	if (!opt.attachment_set && (found = attachment_of_iface(ifindex, -1)) >= 0)
		opt.attachment = found;
	if (read_xdp_state(opt.attachment, ifindex, &s))
		goto cleanup;
	read_tc_state(opt.attachment, ifindex, &t);
	for (i = 0; i < N_MAPS; i++) {
		memset(&minfo[i], 0, sizeof(minfo[i]));
		memlock[i] = -1;
		fd = open_pin(map_names[i]);
		if (fd < 0)
			continue;
		len = sizeof(minfo[i]);
		pinned[i] = !bpf_obj_get_info_by_fd(fd, &minfo[i], &len);
		memlock[i] = pcf_map_memlock(fd);
		close(fd);
	}
	for (i = 0; i < N_MAPS; i++)
		ids[i] = pinned[i] ? minfo[i].id : 0;
	counts_read(ids, elems, N_MAPS); /* none pinned: every count stays -1 */
	for (i = 0; i < N_MAPS; i++)
		if (!pinned[i] || !pcf_map_counts_elements(minfo[i].type))
			elems[i] = -1;
	have_cfg = config_read(opt.attachment, &cfg);

	if (opt.json) {
		printf("{\"iface\":");
		json_str(stdout, opt.iface);
		printf(",\"ifindex\":%d,\"attachment\":%u,\"pin_dir\":", ifindex, opt.attachment);
		json_str(stdout, opt.pin_dir);
		printf(",\"attached\":%s,\"mode\":\"%s\"", s.ours ? "true" : "false", mode_name(&s));
		if (s.ours)
			printf(",\"prog_id\":%u,\"link_id\":%u", s.link.prog_id, s.link.id);
		else
			printf(",\"prog_id\":null,\"link_id\":null");
		pin_path(path, sizeof(path), attachment_pin(PIN_XDP_LINK, opt.attachment).s);
		printf(",\"link_pin\":");
		if (s.link_fd >= 0)
			json_str(stdout, path);
		else
			printf("null");
		printf(",\"foreign_prog_id\":");
		if (s.foreign_id)
			printf("%u", s.foreign_id);
		else
			printf("null");
		printf(",\"tc\":{\"attached\":%s,\"kind\":", t.kind ? "true" : "false");
		if (t.kind)
			printf("\"%s\",\"prog_id\":%u,\"link_id\":", t.kind, t.prog_id);
		else
			printf("null,\"prog_id\":null,\"link_id\":");
		if (t.link_id)
			printf("%u}", t.link_id);
		else
			printf("null}");
		printf(",\"maps\":{");
		for (i = 0; i < N_MAPS; i++) {
			pin_path(path, sizeof(path), map_names[i]);
			printf("%s\"%s\":", i ? "," : "", map_names[i]);
			if (pinned[i]) {
				printf("{\"id\":%u,\"pin\":", minfo[i].id);
				json_str(stdout, path);
				printf(",\"max_entries\":%u,\"elements\":", minfo[i].max_entries);
				if (elems[i] >= 0)
					printf("%lld", (long long)elems[i]);
				else
					printf("null");
				printf(",\"memlock\":");
				if (memlock[i] >= 0)
					printf("%lld}", memlock[i]);
				else
					printf("null}");
			} else {
				printf("null");
			}
		}
		printf("}");
		if (have_cfg)
			printf(",\"n_rx_queues\":%u,\"default_action\":\"%s\",\"frag_action\":\"%s\","
			       "\"config_ifindex\":%u", cfg.n_rx_queues,
			       action_name(cfg.default_action), frag_name(cfg.frag_action), cfg.ifindex);
		else
			printf(",\"n_rx_queues\":null,\"default_action\":null,\"config_ifindex\":null");
		printf(",\"attachments\":[");
	} else {
		printf("iface:          %s (ifindex %d), attachment %u\n", opt.iface, ifindex, opt.attachment);
		printf("pin dir:        %s\n", opt.pin_dir);
		if (s.ours)
			printf("xdp:            attached, %s mode, prog id %u, link id %u (%s/%s)\n",
			       mode_name(&s), s.link.prog_id, s.link.id, opt.pin_dir,
			       attachment_pin(PIN_XDP_LINK, opt.attachment).s);
		else
			printf("xdp:            not attached\n");
		if (s.foreign_id)
			printf("foreign xdp:    prog id %u (not ours)\n", s.foreign_id);
		if (t.kind)
			printf("tc ingress:     %s, prog id %u\n", t.kind, t.prog_id);
		else
			printf("tc ingress:     not attached\n");
		for (i = 0; i < N_MAPS; i++) {
			pin_path(path, sizeof(path), map_names[i]);
			if (pinned[i]) {
				char el[24] = "-";

				if (elems[i] >= 0)
					snprintf(el, sizeof(el), "%lld", (long long)elems[i]);
				printf("map:            %-15s id %-6u max_entries %-7u elements %-7s "
				       "memlock %-9lld %s\n", map_names[i], minfo[i].id,
				       minfo[i].max_entries, el, memlock[i], path);
			}
			else
				printf("map:            %-15s not pinned\n", map_names[i]);
		}
		if (have_cfg)
			printf("n_rx_queues:    %u\ndefault action: %s\nfragments:      %s\n",
			       cfg.n_rx_queues, action_name(cfg.default_action),
			       frag_name(cfg.frag_action));
	}
	/* Every attachment of the pin dir in use (a live XDP link). */
	for (p = 0; p < PCF_MAX_ATTACHMENTS; p++) {
		if (read_xdp_state(p, 0, &o))
			continue;
		if (o.link_fd < 0 || !o.link.xdp.ifindex) {
			free_xdp_state(&o);
			continue;
		}
		free_xdp_state(&o);
		read_xdp_state(p, o.link.xdp.ifindex, &o);
		read_tc_state(p, o.link.xdp.ifindex, &ot);
		have_cfg = config_read(p, &ocfg);
		if (opt.json) {
			printf("%s", first ? "" : ",");
			json_attachment(p, &o, &ot, &ocfg, have_cfg);
		} else {
			printf("attachment %u:   %s (ifindex %u), %s mode, prog id %u, link id %u, "
			       "rx queues %u, default %s, tc %s\n", p,
			       ifname_of(o.link.xdp.ifindex, name), o.link.xdp.ifindex, mode_name(&o),
			       o.link.prog_id, o.link.id, have_cfg ? ocfg.n_rx_queues : 0,
			       have_cfg ? action_name(ocfg.default_action) : "?",
			       ot.kind ? ot.kind : "none");
		}
		first = false;
		free_xdp_state(&o);
	}
	if (opt.json)
		printf("]}\n");
	else if (first)
		printf("attachments:    none attached\n");
	ret = EXIT_OK;
cleanup:
	free_xdp_state(&s);
	return ret;
}
