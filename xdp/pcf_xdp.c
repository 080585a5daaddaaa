// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pcf_xdp.c - pcf-xdp, the loader of the datapath: loads pcf_xdp.bpf.o, creates and pins the
 * maps under the pin dir (or reuses the pinned ones, so rules survive), attaches pcf_xdp to an
 * interface through a pinned bpf_link and pcf_tc_mark at TC ingress, replaces the program
 * atomically, reports status and detaches. Run it inside another network namespace with
 * `nsenter --net=/run/netns/NS pcf-xdp ...` (not `ip netns exec`, which hides bpffs).
 *
 * One pin dir serves up to PCF_MAX_PORTS interfaces ("ports" 0..PCF_MAX_PORTS-1, --port N):
 * the maps are shared, each port has its own program instance (its pcf_port set before load),
 * its own links and its own pcf_config[N] entry. Pin layout under the pin dir (default
 * /sys/fs/bpf/pcf):
 *   pcf_flow_map pcf_stats pcf_rule_stats pcf_xskmap pcf_config   the maps (pcf_common.h)
 *   xdp_link_N                                                    port N's XDP bpf_link
 *   tc_link_N                                                     port N's tcx ingress link
 * On kernels without tcx (< 6.6) pcf_tc_mark is a clsact ingress filter with a fixed
 * handle/priority instead, and tc_link_N does not exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"
#include "pcf_xdp.skel.h" /* only for pcf_xdp_bpf__elf_bytes(): the embedded default object */

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* tcx (Linux 6.6) is newer than the uapi headers of Debian 12: the values from the kernel's
 * include/uapi/linux/bpf.h. In bpf_link_info, tcx.ifindex sits where xdp.ifindex does. */
#define PCF_ATTACH_TCX_INGRESS 46 /* BPF_TCX_INGRESS */
#define PCF_LINK_TYPE_TCX      11 /* BPF_LINK_TYPE_TCX */

/* clsact fallback: our filter is recognised by this handle/priority and the program name. */
#define PCF_TC_HANDLE   0x50c1
#define PCF_TC_PRIORITY 0x50c1

#define PIN_XDP_LINK "xdp_link" /* + "_N": port N's (bpffs refuses dots in names) */
#define PIN_TC_LINK  "tc_link"  /* + "_N" */
#define PORT_VAR     "pcf_port" /* the program's load-time port knob (.rodata) */
#define PROG_XDP     "pcf_xdp"
#define PROG_TC      "pcf_tc_mark"

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_NO_BPFFS = 3,
	EXIT_NO_IFACE = 4,
	EXIT_FOREIGN = 5,
	EXIT_VERIFIER = 6,
};

enum xdp_mode { MODE_AUTO, MODE_NATIVE, MODE_GENERIC };

enum map_idx {
	M_FLOW, M_STATS, M_RULE_STATS, M_XSKMAP, M_CONFIG,
	M_RULES, M_MATCH, M_SHAPES, M_RULESET, M_CACHE, /* the classifier of rules with a precedence */
	M_NAT6, M_CACHE4,
	N_MAPS
};

static const char *const map_names[N_MAPS] = {
	[M_FLOW] = PCF_PIN_FLOW_MAP,
	[M_STATS] = PCF_PIN_STATS,
	[M_RULE_STATS] = PCF_PIN_RULE_STATS,
	[M_XSKMAP] = PCF_PIN_XSKMAP,
	[M_CONFIG] = PCF_PIN_CONFIG,
	[M_RULES] = PCF_PIN_RULES,
	[M_MATCH] = PCF_PIN_MATCH_MAP,
	[M_SHAPES] = PCF_PIN_SHAPES,
	[M_RULESET] = PCF_PIN_RULESET,
	[M_CACHE] = PCF_PIN_FLOW_CACHE,
	[M_NAT6] = PCF_PIN_NAT6,
	[M_CACHE4] = PCF_PIN_FLOW_CACHE4,
};

/* The maps sized like pcf_flow_map (--max-rules): one slot space, one bucket per rule. */
static bool rule_sized(size_t i)
{
	return i == M_FLOW || i == M_RULE_STATS || i == M_RULES || i == M_MATCH || i == M_NAT6;
}

struct opts {
	const char *cmd;
	const char *iface;
	const char *pin_dir;
	const char *obj_path;
	enum xdp_mode mode;
	__u32 max_rules;     /* 0: default / keep the pinned size */
	__u32 port;          /* --port N */
	bool port_set;       /* --port given (status otherwise finds IF's port) */
	int default_action;  /* -1: unset */
	int frag_action;     /* enum pcf_frag_action; -1: unset */
	__u32 flow_cache;    /* tuples in each flow cache; 0: default / keep the pinned size */
	bool json;
	bool purge;
	bool verbose;
};

static struct opts opt = {
	.pin_dir = PCF_DEFAULT_PIN_DIR,
	.default_action = -1,
	.frag_action = -1,
};

static const char *prog_name = "pcf-xdp";

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!opt.verbose)
		return 0;
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pcf-xdp COMMAND --iface IF [--port N] [options]\n"
"\n"
"Loads the pcf datapath (pcf_xdp at XDP, pcf_tc_mark at TC ingress) and pins its maps.\n"
"One pin dir serves up to %d interfaces, one per port N (0..%d, default 0): the rule\n"
"maps and counters are shared, each port has its own links and pcf_config[N].\n"
"\n"
"Commands:\n"
"  attach   --iface IF [--port N] [--pin-dir D] [--mode auto|native|generic]\n"
"           [--max-rules N] [--default pass|drop] [--fragments default|pass|drop]\n"
"           [--flow-cache N] [--obj PATH]\n"
"           Create (or reuse) the pinned maps, attach through a bpf_link pinned at\n"
"           D/xdp_link_N (native first, generic as fallback in auto mode) and the TC mark\n"
"           program (D/tc_link_N). Idempotent: the same program already attached is left\n"
"           alone. Refuses (exit 5) when IF has an XDP program that is not ours, and\n"
"           (exit 1) when port N is attached to another interface or IF to another port.\n"
"  detach   --iface IF [--port N] [--pin-dir D] [--purge]\n"
"           Remove port N's XDP link and TC program and zero pcf_config[N]; --purge also\n"
"           unpins the maps and removes D, unless another port is still attached (then\n"
"           the maps stay, exit 1). Never detaches a foreign program. Works when IF is\n"
"           gone (removes the stale pins).\n"
"  status   --iface IF [--port N] [--pin-dir D] [--json]\n"
"           IF's port (the one given, else the port IF is attached as, else 0) and\n"
"           every attached port of D.\n"
"  replace  --iface IF [--port N] [--pin-dir D] [--obj PATH]\n"
"           Load the program again (new object) on the pinned maps and swap it into\n"
"           port N's pinned links atomically; maps and their contents stay.\n"
"\n"
"Options:\n"
"  --port N      port number of IF in the pin dir, 0..%d (default 0)\n"
"  --pin-dir D   pin directory on a BPF filesystem (default %s)\n"
"  --obj PATH    BPF object to load (default: the pcf_xdp.bpf.o built into pcf-xdp)\n"
"  --max-rules N size of pcf_flow_map and pcf_rule_stats when they are created\n"
"                (default %u; pinned maps keep their size); rules' stats slots\n"
"                must be below it to be counted\n"
"  --default A   action for packets that match no rule on this port: pass (default)\n"
"                or drop\n"
"  --fragments A action for a later IP fragment (no ports) that no port-less rule\n"
"                matches: default (the --default action; the default), pass or drop\n"
"  --flow-cache N tuples in each flow cache (IPv4, IPv6) when created (default %u)\n"
"  --json        status as one JSON object\n"
"  -v, --verbose libbpf messages on stderr\n"
"  -h, --help    this text\n"
"\n"
"Pinned under D: %s %s %s %s %s (shared), %s_N %s_N (port N)\n"
"\n"
"Exit codes:\n"
"  0 ok   1 other error   2 usage   3 no BPF filesystem at the pin dir\n"
"  4 no such interface   5 a foreign XDP program is attached\n"
"  6 the verifier rejected the program (the tail of its log is printed)\n",
		PCF_MAX_PORTS, PCF_MAX_PORTS - 1, PCF_MAX_PORTS - 1, PCF_DEFAULT_PIN_DIR,
		PCF_DEFAULT_MAX_RULES, PCF_DEFAULT_FLOW_CACHE, PCF_PIN_FLOW_MAP, PCF_PIN_STATS, PCF_PIN_RULE_STATS,
		PCF_PIN_XSKMAP, PCF_PIN_CONFIG, PIN_XDP_LINK, PIN_TC_LINK);
}

/* ---- small helpers ------------------------------------------------------------------- */

static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", opt.pin_dir, name);
}

/* Port N's link pins: "xdp_link_N", "tc_link_N". */
struct pin_name {
	char s[32];
};

static struct pin_name port_pin(const char *kind, __u32 port)
{
	struct pin_name n;

	snprintf(n.s, sizeof(n.s), "%s_%u", kind, port);
	return n;
}

static int get_link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static int get_prog_info_by_id(__u32 id, struct bpf_prog_info *info)
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
static int open_pin(const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int unpin(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

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

/* ---- the pin dir --------------------------------------------------------------------- */

static bool under_sys_fs_bpf(const char *path)
{
	return !strcmp(path, "/sys/fs/bpf") || !strncmp(path, "/sys/fs/bpf/", 12);
}

/* The pin dir (or, if it does not exist yet, its nearest existing parent) must be on bpffs.
 * With may_mount, bpffs is mounted at /sys/fs/bpf when the pin dir is below it and nothing is
 * mounted there (as bpftool does). Returns 0 or -EXIT_NO_BPFFS-style negative errno. */
static int check_bpffs(bool may_mount)
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
static int make_pin_dir(bool *created)
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

/* ---- the interface ------------------------------------------------------------------- */

/* RX queues: ethtool channels (works in the caller's netns), else /sys/class/net/IF/queues
 * when that sysfs view is of the same netns (same ifindex), else 1. */
static __u32 count_rx_queues(const char *iface, int ifindex)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	char path[PATH_MAX], buf[32];
	struct ifreq ifr = {};
	struct dirent *de;
	__u32 n = 0;
	FILE *f;
	DIR *d;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
		ifr.ifr_data = (void *)&ch;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			n = ch.combined_count + ch.rx_count;
		close(fd);
	}
	if (n)
		return n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", iface);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (!fgets(buf, sizeof(buf), f) || atoi(buf) != ifindex) {
		fclose(f);
		return 1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
	d = opendir(path);
	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "rx-", 3))
			n++;
	closedir(d);
	return n ? n : 1;
}

struct xdp_state {
	__u32 drv_id, skb_id, hw_id;  /* programs attached to the interface, by mode */
	int link_fd;                  /* our pinned XDP link, or -1 */
	struct bpf_link_info link;    /* its info when link_fd >= 0 */
	bool ours;                    /* our link is attached to this interface */
	__u32 foreign_id;             /* an XDP program on the interface that is not ours */
};

static const char *mode_name(const struct xdp_state *s)
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

/* What is attached to ifindex (0: interface gone) and whether port's pinned link is it. */
static int read_xdp_state(__u32 port, int ifindex, struct xdp_state *s)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct pin_name pin = port_pin(PIN_XDP_LINK, port);
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

static void free_xdp_state(struct xdp_state *s)
{
	if (s->link_fd >= 0)
		close(s->link_fd);
	s->link_fd = -1;
}

/* ---- loading ------------------------------------------------------------------------- */

#define LOG_BUF_SIZE (1 << 20)

struct loaded {
	struct bpf_object *obj;
	struct bpf_program *xdp, *tc;
	bool pinned_now[N_MAPS];  /* maps this run created and pinned (to unpin on failure) */
	char *log_xdp, *log_tc;
};

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
 * another layout (say pcf_rule_stats as the PERCPU_HASH of an older pcf_common.h) must never be
 * reused: the program would count into, and the control plane read, the wrong thing. */
static bool pinned_fits(struct bpf_map *m, const struct bpf_map_info *info, const char *name)
{
	/* pcf_xskmap and pcf_config are indexed by port, pcf_shapes by generation parity: their
	 * size is part of the layout (the 64-entry pcf_xskmap and 1-entry pcf_config of the
	 * single-port layout do not fit). The
	 * rule maps' size is the operator's (--max-rules) and checked in load(). */
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

/* Set the program's load-time port (const volatile __u32 pcf_port, in .rodata) before load.
 * An object without the knob (a foreign or test object) can serve port 0 only. */
static int set_port(struct bpf_object *obj, __u32 port)
{
	const struct btf_var_secinfo *vi;
	const struct btf_type *sec, *var;
	struct bpf_map *m, *rodata = NULL;
	struct btf *btf = bpf_object__btf(obj);
	const void *init;
	size_t size;
	char *data;
	int id, i, err;

	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t len = strlen(n);

		if (bpf_map__is_internal(m) && len >= 7 && !strcmp(n + len - 7, ".rodata"))
			rodata = m;
	}
	id = btf && rodata ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	sec = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, vi = sec ? btf_var_secinfos(sec) : NULL; sec && i < btf_vlen(sec); i++, vi++) {
		var = btf__type_by_id(btf, vi->type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), PORT_VAR))
			continue;
		init = bpf_map__initial_value(rodata, &size);
		if (!init || vi->size != sizeof(port) || vi->offset + sizeof(port) > size)
			break;
		data = malloc(size);
		if (!data)
			return -ENOMEM;
		memcpy(data, init, size);
		memcpy(data + vi->offset, &port, sizeof(port));
		err = bpf_map__set_initial_value(rodata, data, size);
		free(data);
		if (err) {
			msg("failed to set %s: %s", PORT_VAR, strerror(-err));
			return err;
		}
		return 0;
	}
	if (port == 0)
		return 0;
	msg("the BPF object has no %s (const volatile __u32): it cannot serve port %u",
	    PORT_VAR, port);
	return -ENOENT;
}

static void unload(struct loaded *l)
{
	bpf_object__close(l->obj);
	free(l->log_xdp);
	free(l->log_tc);
	memset(l, 0, sizeof(*l));
}

/* Open the object, reuse every pinned map (or, with !need_pinned, create and pin the missing
 * ones after load) and load. Returns 0, or an exit code. */
static int load(struct loaded *l, bool need_pinned)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "pcf_xdp");
	struct bpf_map_info pinfo[N_MAPS];
	struct bpf_map *maps[N_MAPS], *m;
	int pin_fd[N_MAPS];
	char path[PATH_MAX];
	bool misfit = false;
	__u32 len, rules_size;
	size_t i, sz;
	int fd, err, ret = EXIT_ERR;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < N_MAPS; i++)
		pin_fd[i] = -1;
	if (opt.obj_path) {
		l->obj = bpf_object__open_file(opt.obj_path, NULL);
	} else {
		const void *bytes = pcf_xdp_bpf__elf_bytes(&sz);

		l->obj = bpf_object__open_mem(bytes, sz, &oo);
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
	if (set_port(l->obj, opt.port))
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
			if (need_pinned) {
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

static void unpin_new_maps(struct loaded *l)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++)
		if (l->pinned_now[i])
			unpin(map_names[i]);
}

static int prog_tag(int prog_fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

/* ---- TC ingress (tcx link, or a clsact filter on kernels without tcx) --------------- */

struct tc_state {
	const char *kind;   /* "tcx", "clsact" or NULL */
	__u32 prog_id;
	__u32 link_id;
};

static int read_tc_state(__u32 port, int ifindex, struct tc_state *t)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = PCF_TC_HANDLE, .priority = PCF_TC_PRIORITY);
	struct bpf_prog_info pinfo;
	struct bpf_link_info info;
	int fd;

	memset(t, 0, sizeof(*t));
	fd = open_pin(port_pin(PIN_TC_LINK, port).s);
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
static int tc_attach(__u32 port, int ifindex, int prog_fd, int *made)
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
			pin_path(path, sizeof(path), port_pin(PIN_TC_LINK, port).s);
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
static int tc_detach(__u32 port, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = PCF_TC_HANDLE, .priority = PCF_TC_PRIORITY);
	struct bpf_prog_info pinfo;
	int fd, err;

	fd = open_pin(port_pin(PIN_TC_LINK, port).s);
	if (fd >= 0) {
		bpf_link_detach(fd); /* a defunct link (interface gone) has nothing to detach */
		close(fd);
		err = unpin(port_pin(PIN_TC_LINK, port).s);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir, port_pin(PIN_TC_LINK, port).s,
			    strerror(-err));
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
static int tc_update(__u32 port, int ifindex, int prog_fd)
{
	struct tc_state t;
	int fd, err, made;

	read_tc_state(port, ifindex, &t);
	if (t.kind && !strcmp(t.kind, "tcx")) {
		fd = open_pin(port_pin(PIN_TC_LINK, port).s);
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
	return tc_attach(port, ifindex, prog_fd, &made);
}

/* ---- commands ------------------------------------------------------------------------ */

static const char *action_name(__u32 a)
{
	return a == PCF_ACT_DROP ? "drop" : a == PCF_ACT_PASS ? "pass" : "invalid";
}

static const char *frag_name(__u32 f)
{
	return f == PCF_FRAG_PASS ? "pass" : f == PCF_FRAG_DROP ? "drop" : "default";
}

static const char *ifname_of(__u32 ifindex, char buf[IF_NAMESIZE])
{
	return ifindex && if_indextoname(ifindex, buf) ? buf : "?";
}

/* pcf_config[port]: the entry of this port only (the other ports' stay as they are). A new
 * interface at the port starts from the default action pass unless --default says. */
static int config_update(struct loaded *l, __u32 port, int ifindex, const char *iface)
{
	struct pcf_config cfg = {};
	int fd = bpf_map__fd(bpf_object__find_map_by_name(l->obj, PCF_PIN_CONFIG));

	if (bpf_map_lookup_elem(fd, &port, &cfg)) {
		msg("failed to read %s[%u]: %s", PCF_PIN_CONFIG, port, strerror(errno));
		return -errno;
	}
	if (opt.default_action >= 0)
		cfg.default_action = opt.default_action;
	else if (cfg.ifindex != (__u32)ifindex)
		cfg.default_action = PCF_ACT_PASS;
	cfg.n_rx_queues = count_rx_queues(iface, ifindex);
	cfg.ifindex = ifindex;
	if (opt.frag_action >= 0)
		cfg.frag_action = opt.frag_action;
	else if (cfg.ifindex != (__u32)ifindex)
		cfg.frag_action = PCF_FRAG_AS_DEFAULT;
	if (bpf_map_update_elem(fd, &port, &cfg, BPF_ANY)) {
		msg("failed to write %s[%u]: %s", PCF_PIN_CONFIG, port, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Read pcf_config[port] from the pinned map; false when there is none (or it is too small). */
static bool config_read(__u32 port, struct pcf_config *cfg)
{
	int fd = open_pin(PCF_PIN_CONFIG);
	bool ok;

	memset(cfg, 0, sizeof(*cfg));
	if (fd < 0)
		return false;
	ok = !bpf_map_lookup_elem(fd, &port, cfg);
	close(fd);
	return ok;
}

/* Zero pcf_config[port] (detach): the port has no interface any more. */
static int config_clear(__u32 port)
{
	struct pcf_config cfg = {}, cur;
	int fd = open_pin(PCF_PIN_CONFIG), err = 0;

	if (fd < 0)
		return 0;
	/* a map of another layout (too small, other value size) is left to --purge */
	if (!bpf_map_lookup_elem(fd, &port, &cur) && bpf_map_update_elem(fd, &port, &cfg, BPF_ANY)) {
		err = -errno;
		msg("failed to clear %s[%u]: %s", PCF_PIN_CONFIG, port, strerror(errno));
	}
	close(fd);
	return err;
}

/* The port whose live XDP link is on ifindex, other than skip; -1 when there is none. */
static int port_of_iface(int ifindex, int skip)
{
	struct xdp_state o;
	__u32 p;
	int found = -1;

	if (!ifindex)
		return -1;
	for (p = 0; p < PCF_MAX_PORTS && found < 0; p++) {
		if ((int)p == skip || read_xdp_state(p, 0, &o))
			continue;
		if (o.link_fd >= 0 && o.link.xdp.ifindex == (__u32)ifindex)
			found = p;
		free_xdp_state(&o);
	}
	return found;
}

/* The single-port layout pinned its links as xdp_link / tc_link (no port). */
static bool legacy_links(void)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), PIN_XDP_LINK);
	if (!access(path, F_OK))
		return true;
	pin_path(path, sizeof(path), PIN_TC_LINK);
	return !access(path, F_OK);
}

/* Remove a link of the single-port layout if it is on ifindex or defunct (detach). */
static void legacy_detach(int ifindex)
{
	static const char *const names[] = { PIN_XDP_LINK, PIN_TC_LINK };
	struct bpf_link_info info;
	size_t i;
	int fd;

	for (i = 0; i < 2; i++) {
		fd = open_pin(names[i]);
		if (fd < 0)
			continue;
		if (!get_link_info(fd, &info) &&
		    (!info.xdp.ifindex || info.xdp.ifindex == (__u32)ifindex)) {
			bpf_link_detach(fd);
			unpin(names[i]);
			printf("removed %s/%s of the single-port layout\n", opt.pin_dir, names[i]);
		}
		close(fd);
	}
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

static int cmd_attach(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 };
	bool dir_created = false, loaded = false;
	struct loaded l = {};
	char path[PATH_MAX], name[IF_NAMESIZE];
	const char *mode = NULL;
	struct pin_name xdp_pin = port_pin(PIN_XDP_LINK, opt.port);
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	int link_fd = -1, tc_made = 0, prog_fd, other, err, ret = EXIT_ERR;

	if (check_bpffs(true)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	if (make_pin_dir(&dir_created))
		goto cleanup;
	if (legacy_links()) {
		msg("pin dir %s holds the links of the single-port layout (%s, %s) and its maps: "
		    "run `pcf-xdp detach --iface IF --pin-dir %s --purge` first", opt.pin_dir,
		    PIN_XDP_LINK, PIN_TC_LINK, opt.pin_dir);
		goto cleanup;
	}
	/* One interface, one port: its traffic would be steered by two programs otherwise. */
	other = port_of_iface(ifindex, opt.port);
	if (other >= 0) {
		msg("%s is already attached as port %d of %s; detach it there first "
		    "(pcf-xdp detach --iface %s --port %d)", opt.iface, other, opt.pin_dir,
		    opt.iface, other);
		goto cleanup;
	}
	if (read_xdp_state(opt.port, ifindex, &s))
		goto cleanup;

	if (s.link_fd >= 0 && !s.ours && s.link.xdp.ifindex) {
		msg("port %u of pin dir %s is attached to %s (ifindex %u), not %s (%d); detach it "
		    "first or use another --port (or --pin-dir)", opt.port, opt.pin_dir,
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

	/* Maps pinned by an earlier attach (of any port) are reused, so rules survive. */
	ret = load(&l, false);
	if (ret)
		goto cleanup;
	loaded = true;
	ret = EXIT_ERR;
	if (config_update(&l, opt.port, ifindex, opt.iface))
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
		read_tc_state(opt.port, ifindex, &t);
		if (!memcmp(old_tag, new_tag, BPF_TAG_SIZE) && t.kind) {
			printf("%s already attached to %s as port %u (%s mode, prog id %u, link id %u): "
			       "no change%s%s\n", PROG_XDP, opt.iface, opt.port, mode_name(&s),
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
		if (tc_update(opt.port, ifindex, bpf_program__fd(l.tc)))
			goto cleanup;
		printf("%s updated on %s as port %u (%s mode, link id %u)\n", PROG_XDP, opt.iface,
		       opt.port, mode_name(&s), s.link.id);
		ret = EXIT_OK;
		goto cleanup;
	}

	/* A TC attachment of ours without our XDP link is left over from an earlier run. */
	if (tc_detach(opt.port, ifindex) ||
	    tc_attach(opt.port, ifindex, bpf_program__fd(l.tc), &tc_made))
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
	read_xdp_state(opt.port, ifindex, &s);
	printf("%s attached to %s as port %u (%s mode, prog id %u, link id %u), pin dir %s\n",
	       PROG_XDP, opt.iface, opt.port, mode, s.link.prog_id, s.link.id, opt.pin_dir);
	ret = EXIT_OK;
cleanup:
	if (ret != EXIT_OK) {
		/* Tear down only what this run created. */
		if (link_fd >= 0)
			bpf_link_detach(link_fd);
		if (tc_made)
			tc_detach(opt.port, ifindex);
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

/* Says which port IF is attached as, when it is not the port given. */
static void hint_other_port(int ifindex)
{
	int other = port_of_iface(ifindex, opt.port);

	if (other >= 0)
		msg("%s is attached as port %d: add --port %d", opt.iface, other, other);
}

static int cmd_replace(int ifindex)
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
	if (read_xdp_state(opt.port, ifindex, &s))
		goto cleanup;
	if (!s.ours) {
		if (s.foreign_id && port_of_iface(ifindex, opt.port) < 0) {
			msg("%s has an XDP program (id %u) that is not ours", opt.iface, s.foreign_id);
			ret = EXIT_FOREIGN;
		} else {
			msg("%s is not attached to %s as port %u (no live %s/%s): attach first",
			    PROG_XDP, opt.iface, opt.port, opt.pin_dir,
			    port_pin(PIN_XDP_LINK, opt.port).s);
			hint_other_port(ifindex);
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
	if (tc_update(opt.port, ifindex, bpf_program__fd(l.tc)))
		goto cleanup;
	get_link_info(s.link_fd, &after);
	printf("%s replaced on %s (port %u): prog id %u -> %u (link id %u, %s mode)\n", PROG_XDP,
	       opt.iface, opt.port, s.link.prog_id, after.prog_id, after.id, mode_name(&s));
	ret = EXIT_OK;
cleanup:
	if (old_fd >= 0)
		close(old_fd);
	if (loaded)
		unload(&l);
	free_xdp_state(&s);
	return ret;
}

/* --purge: the maps go only when no other port is attached; stale (defunct) links of other
 * ports go with them. Returns 0, or EXIT_ERR with the maps kept. */
static int purge(void)
{
	char name[IF_NAMESIZE];
	struct xdp_state o;
	bool busy = false;
	size_t i;
	__u32 p;
	int err;

	for (p = 0; p < PCF_MAX_PORTS; p++) {
		if (p == opt.port || read_xdp_state(p, 0, &o))
			continue;
		if (o.link_fd >= 0 && o.link.xdp.ifindex) {
			msg("port %u (%s, ifindex %u) is still attached to %s: the maps stay. Detach "
			    "every port, then --purge", p, ifname_of(o.link.xdp.ifindex, name),
			    o.link.xdp.ifindex, opt.pin_dir);
			busy = true;
		}
		free_xdp_state(&o);
	}
	if (busy)
		return EXIT_ERR;
	for (p = 0; p < PCF_MAX_PORTS; p++) {
		if (p == opt.port)
			continue;
		if (unpin(port_pin(PIN_XDP_LINK, p).s) || tc_detach(p, 0))
			return EXIT_ERR;
	}
	legacy_detach(0);
	for (i = 0; i < N_MAPS; i++) {
		err = unpin(map_names[i]);
		if (err) {
			msg("failed to unpin %s/%s: %s", opt.pin_dir, map_names[i], strerror(-err));
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

static int cmd_detach(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 };
	struct pin_name xdp_pin = port_pin(PIN_XDP_LINK, opt.port);
	char name[IF_NAMESIZE];
	int err, ret = EXIT_ERR;

	if (check_bpffs(false)) {
		ret = EXIT_NO_BPFFS;
		goto cleanup;
	}
	if (read_xdp_state(opt.port, ifindex, &s))
		goto cleanup;
	if (s.link_fd >= 0 && !s.ours && s.link.xdp.ifindex) {
		msg("port %u of pin dir %s is attached to %s (ifindex %u), not %s; leaving it",
		    opt.port, opt.pin_dir, ifname_of(s.link.xdp.ifindex, name), s.link.xdp.ifindex,
		    opt.iface);
		hint_other_port(ifindex);
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
		printf("%s detached from %s (port %u)\n", PROG_XDP, opt.iface, opt.port);
	} else {
		printf("%s is not attached to %s as port %u\n", PROG_XDP, opt.iface, opt.port);
		hint_other_port(ifindex);
	}
	if (s.foreign_id && s.link_fd < 0 && port_of_iface(ifindex, opt.port) < 0)
		msg("note: %s keeps its XDP program id %u (not ours)", opt.iface, s.foreign_id);
	if (port_of_iface(ifindex, opt.port) < 0 && tc_detach(opt.port, ifindex))
		goto cleanup;
	legacy_detach(ifindex);
	if (config_clear(opt.port))
		goto cleanup;
	ret = opt.purge ? purge() : EXIT_OK;
cleanup:
	free_xdp_state(&s);
	return ret;
}

/* One attached port as a JSON object (status --json "ports"). */
static void json_port(__u32 p, const struct xdp_state *o, const struct tc_state *t,
		      const struct pcf_config *cfg, bool have_cfg)
{
	char name[IF_NAMESIZE];

	printf("{\"port\":%u,\"iface\":", p);
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

static int cmd_status(int ifindex)
{
	struct xdp_state s = { .link_fd = -1 }, o;
	struct bpf_map_info minfo[N_MAPS];
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
	/* IF's port: the one given, else the one IF is attached as, else 0. */
	if (!opt.port_set && (found = port_of_iface(ifindex, -1)) >= 0)
		opt.port = found;
	if (read_xdp_state(opt.port, ifindex, &s))
		goto cleanup;
	read_tc_state(opt.port, ifindex, &t);
	for (i = 0; i < N_MAPS; i++) {
		memset(&minfo[i], 0, sizeof(minfo[i]));
		fd = open_pin(map_names[i]);
		if (fd < 0)
			continue;
		len = sizeof(minfo[i]);
		pinned[i] = !bpf_obj_get_info_by_fd(fd, &minfo[i], &len);
		close(fd);
	}
	have_cfg = config_read(opt.port, &cfg);

	if (opt.json) {
		printf("{\"iface\":");
		json_str(stdout, opt.iface);
		printf(",\"ifindex\":%d,\"port\":%u,\"pin_dir\":", ifindex, opt.port);
		json_str(stdout, opt.pin_dir);
		printf(",\"attached\":%s,\"mode\":\"%s\"", s.ours ? "true" : "false", mode_name(&s));
		if (s.ours)
			printf(",\"prog_id\":%u,\"link_id\":%u", s.link.prog_id, s.link.id);
		else
			printf(",\"prog_id\":null,\"link_id\":null");
		pin_path(path, sizeof(path), port_pin(PIN_XDP_LINK, opt.port).s);
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
				printf(",\"max_entries\":%u}", minfo[i].max_entries);
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
		printf(",\"ports\":[");
	} else {
		printf("iface:          %s (ifindex %d), port %u\n", opt.iface, ifindex, opt.port);
		printf("pin dir:        %s\n", opt.pin_dir);
		if (s.ours)
			printf("xdp:            attached, %s mode, prog id %u, link id %u (%s/%s)\n",
			       mode_name(&s), s.link.prog_id, s.link.id, opt.pin_dir,
			       port_pin(PIN_XDP_LINK, opt.port).s);
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
			if (pinned[i])
				printf("map:            %-15s id %-6u max_entries %-7u %s\n",
				       map_names[i], minfo[i].id, minfo[i].max_entries, path);
			else
				printf("map:            %-15s not pinned\n", map_names[i]);
		}
		if (have_cfg)
			printf("n_rx_queues:    %u\ndefault action: %s\nfragments:      %s\n",
			       cfg.n_rx_queues, action_name(cfg.default_action),
			       frag_name(cfg.frag_action));
	}
	/* Every attached port of the pin dir (a live XDP link). */
	for (p = 0; p < PCF_MAX_PORTS; p++) {
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
			json_port(p, &o, &ot, &ocfg, have_cfg);
		} else {
			printf("port %u:         %s (ifindex %u), %s mode, prog id %u, link id %u, "
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
		printf("ports:          none attached\n");
	ret = EXIT_OK;
cleanup:
	free_xdp_state(&s);
	return ret;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'N' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "max-rules", required_argument, NULL, 'n' },
		{ "default", required_argument, NULL, 'd' },
		{ "fragments", required_argument, NULL, 'F' },
		{ "flow-cache", required_argument, NULL, 'C' },
		{ "obj", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "purge", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, ifindex;
	unsigned long n;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	opt.cmd = argv[1];
	if (strcmp(opt.cmd, "attach") && strcmp(opt.cmd, "detach") && strcmp(opt.cmd, "status") &&
	    strcmp(opt.cmd, "replace")) {
		msg("unknown command '%s' (attach, detach, status, replace; --help)", opt.cmd);
		return EXIT_USAGE;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "i:p:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.iface = optarg;
			break;
		case 'p':
			opt.pin_dir = optarg;
			break;
		case 'N':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || n >= PCF_MAX_PORTS) {
				msg("--port must be a number from 0 to %d", PCF_MAX_PORTS - 1);
				return EXIT_USAGE;
			}
			opt.port = n;
			opt.port_set = true;
			break;
		case 'm':
			if (!strcmp(optarg, "auto"))
				opt.mode = MODE_AUTO;
			else if (!strcmp(optarg, "native"))
				opt.mode = MODE_NATIVE;
			else if (!strcmp(optarg, "generic"))
				opt.mode = MODE_GENERIC;
			else {
				msg("--mode must be auto, native or generic");
				return EXIT_USAGE;
			}
			break;
		case 'n':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || n < 1 || n > (1UL << 26)) {
				msg("--max-rules must be a number from 1 to %lu", 1UL << 26);
				return EXIT_USAGE;
			}
			opt.max_rules = n;
			break;
		case 'd':
			if (!strcmp(optarg, "pass"))
				opt.default_action = PCF_ACT_PASS;
			else if (!strcmp(optarg, "drop"))
				opt.default_action = PCF_ACT_DROP;
			else {
				msg("--default must be pass or drop");
				return EXIT_USAGE;
			}
			break;
		case 'F':
			if (!strcmp(optarg, "default"))
				opt.frag_action = PCF_FRAG_AS_DEFAULT;
			else if (!strcmp(optarg, "pass"))
				opt.frag_action = PCF_FRAG_PASS;
			else if (!strcmp(optarg, "drop"))
				opt.frag_action = PCF_FRAG_DROP;
			else {
				msg("--fragments must be default, pass or drop");
				return EXIT_USAGE;
			}
			break;
		case 'C':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || n < 1 || n > (1UL << 24)) {
				msg("--flow-cache must be a number from 1 to %lu", 1UL << 24);
				return EXIT_USAGE;
			}
			opt.flow_cache = n;
			break;
		case 'o':
			opt.obj_path = optarg;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'P':
			opt.purge = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		msg("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!opt.iface) {
		msg("%s needs --iface IF", opt.cmd);
		return EXIT_USAGE;
	}
	libbpf_set_print(libbpf_print);

	ifindex = if_nametoindex(opt.iface);
	if (!ifindex && strcmp(opt.cmd, "detach")) {
		msg("no such interface: %s", opt.iface);
		return EXIT_NO_IFACE;
	}
	if (!ifindex)
		msg("note: no interface %s: removing stale pins only", opt.iface);

	if (!strcmp(opt.cmd, "attach"))
		return cmd_attach(ifindex);
	if (!strcmp(opt.cmd, "detach"))
		return cmd_detach(ifindex);
	if (!strcmp(opt.cmd, "replace"))
		return cmd_replace(ifindex);
	return cmd_status(ifindex);
}
