// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* testrun.c - pcf-testrun: runs crafted frames through the XDP program that is attached right
 * now (the one inside the pinned bpf_link DIR/xdp_link_N, as pcf-xdp attached it), with
 * BPF_PROG_TEST_RUN, for the TypeScript tests (test/lib/packets.ts builds the frames).
 *
 * Usage: pcf-testrun --pin-dir DIR [--attachment N]
 *   stdin, one frame a line:  <frame as hex> [<slot>]
 *   stdout, one line a frame: <retval> <rule_id> <type> <delta>
 *     retval   the XDP verdict (0 ABORTED, 1 DROP, 2 PASS, 3 TX, 4 REDIRECT)
 *     rule_id  action.rule_id of the struct pcf_xdp_meta right in front of the returned frame
 *     type     action.type of that metadata; both "-" without metadata (or not PCF_META_MAGIC)
 *     delta    how much pcf_rule_stats[slot].packets (summed over the CPUs) grew during this
 *              frame's run; "-" when the line gave no slot or the slot is beyond the map
 * Blank lines are skipped. Every line is parsed before the first run and every frame runs
 * before the first line is printed (100,000 lines take a few seconds at most). Each frame runs
 * once (repeat 1), without metadata in front, as received on RX queue 0 of no device: the
 * program's pcf_config[attachment] and maps are the live ones, so a rule or default action a test
 * installed applies. Frames of fewer than 14 bytes are refused by the kernel (an error here).
 * Exit: 0 done, 1 an error (with a message), 2 usage, 77 cannot run here (not root, no BPF).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"

#define PIN_XDP_LINK "xdp_link" /* + "_N", as pcf-xdp pins attachment N's link */
#define MAX_FRAME    65535      /* bytes of one input frame */
#define OUT_ROOM     4096       /* data_out beyond the frame: metadata, a grown tail */
#define NO_SLOT      UINT32_MAX /* a line without a slot (slots are u32 map keys) */

enum exit_code { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_SKIP = 77 };

struct frame {
	size_t off;       /* into frames.data */
	__u32 len;
	__u32 slot;       /* NO_SLOT: none given */
	unsigned long line;
};

struct result {
	__u32 retval;
	bool meta;
	__u32 rule_id;
	__u8 type;
	bool has_delta;
	__u64 delta;
};

struct input {
	__u8 *data;       /* every frame's bytes, one after the other */
	size_t data_len, data_cap;
	struct frame *f;
	size_t n, cap;
};

static const char *prog_name = "pcf-testrun";

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s --pin-dir DIR [--attachment N]\n"
"Runs each stdin line's frame (\"<hex> [<slot>]\") once through the XDP program of the\n"
"pinned link DIR/xdp_link_N (N default 0) and prints \"<retval> <meta rule_id|-> <meta\n"
"type|-> <pcf_rule_stats[slot] packets delta|->\" per frame.\n", prog_name);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* All of stdin, NUL-terminated. */
static char *read_all(FILE *in, size_t *len)
{
	size_t cap = 1 << 20, n = 0, got;
	char *buf = malloc(cap), *nbuf;

	if (!buf)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
			cap *= 2;
		}
		got = fread(buf + n, 1, cap - n - 1, in);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 1024;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* One line (without its newline): "<hex> [<slot>]". 0, or -1 with the reason in why. */
static int parse_line(struct input *in, char *s, size_t len, unsigned long line, char *why,
		      size_t why_len)
{
	struct frame fr = { .off = in->data_len, .slot = NO_SLOT, .line = line };
	size_t i = 0, hex_start, hex_len;
	char *end;
	unsigned long long slot;
	int hi, lo;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	hex_start = i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	hex_len = i - hex_start;
	if (hex_len % 2) {
		snprintf(why, why_len, "odd number of hex digits (%zu)", hex_len);
		return -1;
	}
	if (hex_len / 2 > MAX_FRAME) {
		snprintf(why, why_len, "frame of %zu bytes, at most %d", hex_len / 2, MAX_FRAME);
		return -1;
	}
	if (grow((void **)&in->data, &in->data_cap, in->data_len + hex_len / 2, 1) ||
	    grow((void **)&in->f, &in->cap, in->n + 1, sizeof(*in->f))) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	for (size_t k = hex_start; k < hex_start + hex_len; k += 2) {
		hi = hexval(s[k]);
		lo = hexval(s[k + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(why, why_len, "not a hex digit at column %zu", hi < 0 ? k + 1 : k + 2);
			return -1;
		}
		in->data[in->data_len++] = hi << 4 | lo;
	}
	fr.len = hex_len / 2;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < len) {
		errno = 0;
		slot = strtoull(s + i, &end, 10);
		while (end < s + len && (*end == ' ' || *end == '\t'))
			end++;
		if (errno || end != s + len || s[i] == '-' || s[i] == '+' || slot >= NO_SLOT) {
			snprintf(why, why_len, "slot is not a number below %u", NO_SLOT);
			return -1;
		}
		fr.slot = slot;
	}
	in->f[in->n++] = fr;
	return 0;
}

static int parse_input(char *buf, size_t len, struct input *in)
{
	unsigned long line = 0;
	char *s = buf, *nl, why[128];
	size_t l;

	while (s < buf + len) {
		nl = memchr(s, '\n', buf + len - s);
		l = nl ? (size_t)(nl - s) : (size_t)(buf + len - s);
		line++;
		if (l && s[l - 1] == '\r')
			l--;
		if (strspn(s, " \t") < l && parse_line(in, s, l, line, why, sizeof(why))) {
			fprintf(stderr, "%s: line %lu: %s\n", prog_name, line, why);
			return -1;
		}
		if (!nl)
			break;
		s = nl + 1;
	}
	return 0;
}

/* pcf_rule_stats[slot].packets over every CPU; -ENOENT for a slot beyond the map. */
static int slot_packets(int map_fd, __u32 slot, struct pcf_counter *vals, int n_cpus, __u64 *sum)
{
	if (bpf_map_lookup_elem(map_fd, &slot, vals))
		return -errno;
	*sum = 0;
	for (int c = 0; c < n_cpus; c++)
		*sum += vals[c].packets;
	return 0;
}

static int run_frame(int prog_fd, int stats_fd, int n_cpus, struct pcf_counter *vals,
		     const __u8 *frame, const struct frame *fr, __u8 *out, size_t out_size,
		     struct result *r)
{
	struct xdp_md ctx_in = {}, ctx_out = {};
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct pcf_xdp_meta m;
	__u64 before = 0, after = 0;
	bool counted = false;
	__u32 metalen;
	int err;

	memset(r, 0, sizeof(*r));
	if (fr->slot != NO_SLOT) {
		err = slot_packets(stats_fd, fr->slot, vals, n_cpus, &before);
		if (err && err != -ENOENT) {
			fprintf(stderr, "%s: line %lu: failed to read pcf_rule_stats[%u]: %s\n",
				prog_name, fr->line, fr->slot, strerror(-err));
			return err;
		}
		counted = !err;
	}
	/* No metadata in front (data 0); the run hands back how much there is (ctx_out.data)
	 * and data_out starts at data_meta, as in test_xdp.c. */
	ctx_in.data = 0;
	ctx_in.data_end = fr->len;
	o.data_in = frame;
	o.data_size_in = fr->len;
	o.data_out = out;
	o.data_size_out = out_size;
	o.ctx_in = &ctx_in;
	o.ctx_size_in = sizeof(ctx_in);
	o.ctx_out = &ctx_out;
	o.ctx_size_out = sizeof(ctx_out);
	o.repeat = 1;
	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		err = -errno;
		fprintf(stderr, "%s: line %lu: failed to run the frame (%u bytes) through the "
			"program: %s%s\n", prog_name, fr->line, fr->len, strerror(-err),
			err == -EINVAL && fr->len < 14 ? " (the kernel refuses frames under 14 bytes)"
							  : "");
		return err;
	}
	r->retval = o.retval;
	metalen = ctx_out.data;
	if (metalen >= sizeof(m) && metalen <= o.data_size_out) {
		memcpy(&m, out + metalen - sizeof(m), sizeof(m));
		if (m.magic == PCF_META_MAGIC) {
			r->meta = true;
			r->rule_id = m.action.rule_id;
			r->type = m.action.type;
		}
	}
	if (counted) {
		err = slot_packets(stats_fd, fr->slot, vals, n_cpus, &after);
		if (err) {
			fprintf(stderr, "%s: line %lu: failed to read pcf_rule_stats[%u]: %s\n",
				prog_name, fr->line, fr->slot, strerror(-err));
			return err;
		}
		r->has_delta = true;
		r->delta = after - before;
	}
	return 0;
}

/* The program inside the pinned link DIR/xdp_link_N of attachment N. */
static int open_link_prog(const char *pin_dir, unsigned attachment, int *link_fd, int *prog_fd)
{
	struct bpf_link_info link = {};
	struct bpf_prog_info prog = {};
	__u32 len = sizeof(link);
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s_%u", pin_dir, PIN_XDP_LINK, attachment);
	*link_fd = bpf_obj_get(path);
	if (*link_fd < 0) {
		err = -errno;
		fprintf(stderr, "%s: failed to open the pinned link %s: %s%s\n", prog_name, path,
			strerror(-err), err == -ENOENT ? " (nothing attached as this attachment: pcf-xdp attach)" : "");
		return err;
	}
	/* libbpf 1.1 has no bpf_link_get_info_by_fd(); this is what it wraps. */
	if (bpf_obj_get_info_by_fd(*link_fd, &link, &len)) {
		err = -errno;
		fprintf(stderr, "%s: failed to read the link info of %s: %s\n", prog_name, path,
			strerror(-err));
		return err;
	}
	if (link.type != BPF_LINK_TYPE_XDP) {
		fprintf(stderr, "%s: %s is not an XDP link (link type %u)\n", prog_name, path,
			link.type);
		return -EINVAL;
	}
	*prog_fd = bpf_prog_get_fd_by_id(link.prog_id);
	if (*prog_fd < 0) {
		err = -errno;
		fprintf(stderr, "%s: failed to open program id %u of %s: %s\n", prog_name,
			link.prog_id, path, strerror(-err));
		return err;
	}
	len = sizeof(prog);
	if (bpf_obj_get_info_by_fd(*prog_fd, &prog, &len)) {
		err = -errno;
		fprintf(stderr, "%s: failed to read the info of program id %u: %s\n", prog_name,
			link.prog_id, strerror(-err));
		return err;
	}
	if (prog.type != BPF_PROG_TYPE_XDP) {
		fprintf(stderr, "%s: program id %u of %s is not an XDP program (type %u)\n",
			prog_name, link.prog_id, path, prog.type);
		return -EINVAL;
	}
	return 0;
}

static int open_rule_stats(const char *pin_dir, int *fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PCF_PIN_RULE_STATS);
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		err = -errno;
		fprintf(stderr, "%s: failed to open %s: %s\n", prog_name, path, strerror(-err));
		return err;
	}
	if (bpf_obj_get_info_by_fd(*fd, &info, &len)) {
		err = -errno;
		fprintf(stderr, "%s: failed to read the map info of %s: %s\n", prog_name, path,
			strerror(-err));
		return err;
	}
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.key_size != sizeof(__u32) ||
	    info.value_size != sizeof(struct pcf_counter)) {
		fprintf(stderr, "%s: %s is not a per-CPU array of struct pcf_counter (type %u, "
			"key %u, value %u bytes)\n", prog_name, path, info.type, info.key_size,
			info.value_size);
		return -EINVAL;
	}
	return 0;
}

static bool no_bpf(int err)
{
	return err == -EPERM || err == -EACCES || err == -ENOSYS;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "attachment", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'p' }, /* the old name of --attachment */
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct input in = {};
	struct result *res = NULL;
	struct pcf_counter *vals = NULL;
	const char *pin_dir = NULL;
	unsigned long attachment = 0;
	char *buf = NULL, *end;
	__u8 *out = NULL;
	size_t buf_len = 0, out_size = MAX_FRAME + OUT_ROOM;
	int link_fd = -1, prog_fd = -1, stats_fd = -1, n_cpus, c, err;
	int ret = EXIT_ERR;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			pin_dir = optarg;
			break;
		case 'p':
			errno = 0;
			attachment = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || attachment >= PCF_MAX_ATTACHMENTS) {
				fprintf(stderr, "%s: --attachment takes 0..%d\n", prog_name,
					PCF_MAX_ATTACHMENTS - 1);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!pin_dir || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (pinned BPF objects, BPF_PROG_TEST_RUN)\n",
			prog_name);
		return EXIT_SKIP;
	}
	libbpf_set_print(libbpf_quiet);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20); /* written once, at the end */

	n_cpus = libbpf_num_possible_cpus();
	if (n_cpus <= 0) {
		fprintf(stderr, "%s: failed to count the possible CPUs: %s\n", prog_name,
			strerror(n_cpus ? -n_cpus : EINVAL));
		goto cleanup;
	}
	err = open_link_prog(pin_dir, attachment, &link_fd, &prog_fd);
	if (!err)
		err = open_rule_stats(pin_dir, &stats_fd);
	if (err) {
		ret = no_bpf(err) ? EXIT_SKIP : EXIT_ERR;
		goto cleanup;
	}

	buf = read_all(stdin, &buf_len);
	if (!buf) {
		fprintf(stderr, "%s: failed to read stdin: %s\n", prog_name, strerror(errno));
		goto cleanup;
	}
	if (parse_input(buf, buf_len, &in))
		goto cleanup;
	vals = calloc(n_cpus, sizeof(*vals));
	out = malloc(out_size);
	res = calloc(in.n ? in.n : 1, sizeof(*res));
	if (!vals || !out || !res) {
		fprintf(stderr, "%s: failed to allocate memory for %zu frames\n", prog_name, in.n);
		goto cleanup;
	}

	for (size_t i = 0; i < in.n; i++) {
		err = run_frame(prog_fd, stats_fd, n_cpus, vals, in.data + in.f[i].off, &in.f[i],
				out, out_size, &res[i]);
		if (err) {
			ret = no_bpf(err) ? EXIT_SKIP : EXIT_ERR;
			goto cleanup;
		}
	}

	for (size_t i = 0; i < in.n; i++) {
		printf("%u ", res[i].retval);
		if (res[i].meta)
			printf("%u %u ", res[i].rule_id, res[i].type);
		else
			printf("- - ");
		if (res[i].has_delta)
			printf("%llu\n", (unsigned long long)res[i].delta);
		else
			printf("-\n");
	}
	if (fflush(stdout)) {
		fprintf(stderr, "%s: failed to write stdout: %s\n", prog_name, strerror(errno));
		goto cleanup;
	}
	ret = EXIT_OK;
cleanup:
	free(res);
	free(out);
	free(vals);
	free(in.f);
	free(in.data);
	free(buf);
	if (stats_fd >= 0)
		close(stats_fd);
	if (prog_fd >= 0)
		close(prog_fd);
	if (link_fd >= 0)
		close(link_fd);
	return ret;
}
