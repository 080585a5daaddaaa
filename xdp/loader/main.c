// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* main.c - pcf-xdp's command line: options, usage, messages and dispatch to the commands. */

/* pcf-xdp is the loader of the datapath: it loads pcf_xdp.bpf.o, creates and pins the maps
 * under the pin dir (or reuses the pinned ones, so rules survive), attaches pcf_xdp to an
 * interface through a pinned bpf_link and pcf_tc_mark at TC ingress, replaces the program
 * atomically, reports status and detaches. Run it inside another network namespace with
 * `nsenter --net=/run/netns/NS pcf-xdp ...` (not `ip netns exec`, which hides bpffs).
 *
 * One pin dir serves up to PCF_MAX_ATTACHMENTS interfaces, each at its own "attachment" N
 * (0..PCF_MAX_ATTACHMENTS-1, --attachment N; not an L4 port): the maps are shared, each
 * attachment has its own program instance (its pcf_attachment set before load), its own links
 * and its own pcf_config[N] entry. Pin layout under the pin dir (default /sys/fs/bpf/pcf):
 *   pcf_flow_map pcf_stats pcf_rule_stats pcf_xskmap pcf_config ...  the maps (pcf_common.h)
 *   xdp_link_N                                                       attachment N's XDP link
 *   tc_link_N                                                        attachment N's tcx link
 * On kernels without tcx (< 6.6) pcf_tc_mark is a clsact ingress filter with a fixed
 * handle/priority instead, and tc_link_N does not exist. The other files: loader.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

struct opts opt = {
	.pin_dir = PCF_DEFAULT_PIN_DIR,
	.default_action = -1,
	.frag_action = -1,
};

static const char *prog_name = "pcf-xdp";

void msg(const char *fmt, ...)
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
"Usage: pcf-xdp COMMAND --iface IF [--attachment N] [options]\n"
"\n"
"Loads the pcf datapath (pcf_xdp at XDP, pcf_tc_mark at TC ingress) and pins its maps.\n"
"One pin dir serves up to %d interfaces, one per attachment N (0..%d, default 0): the rule\n"
"maps and counters are shared, each attachment has its own links and pcf_config[N].\n"
"\n"
"Commands:\n"
"  attach   --iface IF [--attachment N] [--pin-dir D] [--mode auto|native|generic]\n"
"           [--max-rules N] [--default pass|drop] [--fragments default|pass|drop]\n"
"           [--flow-cache N] [--obj PATH]\n"
"           Create (or reuse) the pinned maps, attach through a bpf_link pinned at\n"
"           D/xdp_link_N (native first, generic as fallback in auto mode) and the TC mark\n"
"           program (D/tc_link_N). Idempotent: the same program already attached is left\n"
"           alone. Refuses (exit 5) when IF has an XDP program that is not ours, and\n"
"           (exit 1) when attachment N is attached to another interface or IF is\n"
"           another attachment.\n"
"  detach   --iface IF [--attachment N] [--pin-dir D] [--purge]\n"
"           Remove attachment N's XDP link and TC program and zero pcf_config[N]; --purge\n"
"           also unpins the maps and removes D, unless another attachment is still in use\n"
"           (then the maps stay, exit 1). Never detaches a foreign program. Works when IF\n"
"           is gone (removes the stale pins).\n"
"  status   --iface IF [--attachment N] [--pin-dir D] [--json]\n"
"           IF's attachment (the one given, else the one IF is attached as, else 0) and\n"
"           every attachment of D in use.\n"
"  replace  --iface IF [--attachment N] [--pin-dir D] [--obj PATH]\n"
"           Load the program again (new object) on the pinned maps and swap it into\n"
"           attachment N's pinned links atomically; maps and their contents stay.\n"
"\n"
"Options:\n"
"  --attachment N IF's place in the pin dir, 0..%d (default 0; --port N is an old name)\n"
"  --pin-dir D   pin directory on a BPF filesystem (default %s)\n"
"  --obj PATH    BPF object to load (default: the pcf_xdp.bpf.o built into pcf-xdp);\n"
"                loaded as it is, so it serves attachment 0 only\n"
"  --max-rules N size of pcf_flow_map and pcf_rule_stats when they are created\n"
"                (default %u; pinned maps keep their size); rules' stats slots\n"
"                must be below it to be counted\n"
"  --default A   action for packets that match no rule on this attachment: pass\n"
"                (default) or drop\n"
"  --fragments A action for a later IP fragment (no ports) that no port-less rule\n"
"                matches: default (the --default action; the default), pass or drop\n"
"  --flow-cache N tuples in each flow cache (IPv4, IPv6) when created (default %u)\n"
"  --json        status as one JSON object\n"
"  -v, --verbose libbpf messages on stderr\n"
"  -h, --help    this text\n"
"\n"
"Pinned under D: %s %s %s %s %s (shared), %s_N %s_N (attachment N)\n"
"\n"
"Exit codes:\n"
"  0 ok   1 other error   2 usage   3 no BPF filesystem at the pin dir\n"
"  4 no such interface   5 a foreign XDP program is attached\n"
"  6 the verifier rejected the program (the tail of its log is printed)\n",
		PCF_MAX_ATTACHMENTS, PCF_MAX_ATTACHMENTS - 1, PCF_MAX_ATTACHMENTS - 1,
		PCF_DEFAULT_PIN_DIR, PCF_DEFAULT_MAX_RULES, PCF_DEFAULT_FLOW_CACHE, PCF_PIN_FLOW_MAP,
		PCF_PIN_STATS, PCF_PIN_RULE_STATS,
		PCF_PIN_XSKMAP, PCF_PIN_CONFIG, PIN_XDP_LINK, PIN_TC_LINK);
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "attachment", required_argument, NULL, 'N' },
		{ "port", required_argument, NULL, 'N' }, /* the old name of --attachment */
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
			if (errno || !*optarg || *end || n >= PCF_MAX_ATTACHMENTS) {
				msg("--attachment must be a number from 0 to %d", PCF_MAX_ATTACHMENTS - 1);
				return EXIT_USAGE;
			}
			opt.attachment = n;
			opt.attachment_set = true;
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
