// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* classifier_cost.c - bench_classifier_cost, the timer behind bench/classifier_cost.ts: the
 * per-packet cost of the attached pcf_xdp (the program in the pinned link DIR/xdp_link_0, with
 * the rules the control plane wrote) beside the XDP_PASS floor, other programs given by id
 * (xdp-filter) and program objects loaded here beside it (--beside NAME=OBJ: the old pcf_xdp,
 * and as a control the current one) with a copy of the pinned pcf_flow_map, all with
 * BPF_PROG_TEST_RUN on the same frame, in one process, interleaved.
 *
 * --mode time (default), per round:
 *   repeat   one test run of --repeat R iterations of the timed frame per program: ns/packet is
 *            the syscall's wall time / R (the kernel's own average, integer ns, is kept too).
 *            A repeated run reuses one xdp_buff, so the metadata one iteration adds is still
 *            there in the next (DESIGN.md): the metadata writers (pcf, --beside) run behind
 *            xdp_cost_shim.bpf.o (metadata reset + tail call), as does the floor once more,
 *            so that the shim's own cost can be taken off. Floor and --prog run directly.
 *   stats    the kernel's BPF stats (BPF_ENABLE_STATS, the fd form of
 *            sysctl kernel.bpf_stats_enabled=1, off again when the fd closes, even if this
 *            process dies): run_time_ns / run_cnt of each program over --per-round test runs
 *            of repeat 1 (a fresh xdp_buff each: no shim needed): "hot" runs the timed frame
 *            every time, "flows" (all but the floor) the round's distinct frames of --flows,
 *            each once, in --phases P phases of N frames each (phase p of round r takes frames
 *            (r * P + p) * N onwards, modulo the file's frames); --clear-cache empties the pinned
 *            pcf_flow_cache and pcf_flow_cache4 before pcf's phase 0 of each round: phase 0 then meets a cache with
 *            room, phase 1 (new tuples again) a cache full of phase 0's, evicting on each insert.
 *            --beside programs run phase 0 only.
 *   Parking: a test run with repeat > 1 puts its program into the kernel's XDP dispatcher and
 *   takes it out again (bpf_prog_change_xdp), a text update with an RCU wait, milliseconds of
 *   wall time per run, unless the program is already in it, as every program attached to a
 *   device in driver or generic mode is. --park IF (one per program, up to MAX_PARK) attaches
 *   each entry program that is not attached yet (the floor, the shims, --beside) to an idle
 *   device for the whole run through a bpf_link that closes with this process: then the
 *   wall time is the loop's own, and every program is called the same way (directly, from
 *   the dispatcher), in the repeat runs and in the runs of repeat 1 alike.
 *   The JSON on stdout holds every round's sample, the verdicts, and the deltas of each
 *   program's pcf_stats (index order of the header the program was built with) and of the
 *   timed rule's slot per phase, for the caller to check that the runs took the path it meant.
 *
 * --mode poll: the attached pcf_xdp runs --frame once every --poll-us until its verdict is
 *   --expect-ret; prints "ready <gen> <retval>" first, then "visible <t_ns> <t_gen_ns> <gen>
 *   <polls>": CLOCK_MONOTONIC (the clock of node's process.hrtime) when the verdict changed,
 *   and when pcf_ruleset's generation first moved (0: it did not).
 *
 * Usage: bench_classifier_cost --pin-dir DIR --frame HEX... [--floor OBJ --shim OBJ] [--slot N]...
 *          [--prog NAME=ID]... [--beside NAME=OBJ]... [--flows FILE] [--per-round N] [--repeat N]
 *          [--rounds N] [--cpu N] [--park IF]... [--phases P] [--clear-cache]
 *          [--mode time|poll] [--expect-ret N] [--poll-us N] [--timeout-ms N]
 *   --frame, --slot  the timed frame and the stats slot of the rule it hits; given several
 *                 times, round r takes the r-th (modulo how many), the frame of every program
 *   --flows FILE  frames as <u16 length, little-endian><bytes>... (N = --per-round, 65536)
 * Exit: 0 ok, 1 error, 2 usage, 77 not root / no BPF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"

#define MAX_PROGS  4       /* --prog */
#define MAX_PARK   8       /* --park */
#define MAX_PHASES 2       /* --phases */
#define MAX_ROUNDS 64
#define MAX_FRAME  2048
#define MAX_CNT    64      /* pcf_stats entries read (both layouts have fewer) */
#define COPY_CHUNK 8192    /* pcf_flow_map entries per batch when copying for --beside */
#define MAX_BESIDE 2       /* --beside */

static const char *prog_name = "bench_classifier_cost";

/* A program under test. The shim (if any) tail-calls it; via_shim programs are timed only so. */
struct target {
	char name[32];
	int fd;                    /* the program itself */
	int shim_fd;               /* its shim, -1 when timed directly */
	struct bpf_object *shim;
	bool beside;               /* loaded here (--beside) */
	struct bpf_object *obj;    /* --beside: the object loaded */
	int stats_fd;              /* its pcf_stats, -1 when it has none */
	int rule_stats_fd;         /* its pcf_rule_stats, -1 when it has none */
	__u32 n_cnt;               /* entries of its pcf_stats */
	double rep[MAX_ROUNDS], rep_kernel[MAX_ROUNDS];
	double hot[MAX_ROUNDS], flows[MAX_PHASES][MAX_ROUNDS];
	__u32 ret_rep, ret_hot, ret_flows;
	__u64 bad_hot, bad_flows;  /* stats runs whose verdict differed from the first */
	__u64 cnt_rep[MAX_CNT], cnt_hot[MAX_CNT], cnt_flows[MAX_PHASES][MAX_CNT];
	__u64 slot_rep, slot_hot, slot_flows[MAX_PHASES];
	__u64 runs_hot, runs_flows[MAX_PHASES]; /* run_cnt deltas */
};

static struct {
	const char *pin_dir, *floor_obj, *shim_obj, *flows_path;
	char *beside[MAX_BESIDE];
	__u32 n_beside;
	const char *frame_hex[MAX_ROUNDS];
	__u32 slots[MAX_ROUNDS], n_frames, n_slots;
	const char *mode;
	__u32 slot, per_round, repeat, rounds, poll_us, timeout_ms, phases;
	int cpu, expect_ret;
	bool has_slot, clear_cache;
} opt = { .mode = "time", .per_round = 65536, .repeat = 1000000, .rounds = 7, .poll_us = 20,
	  .timeout_ms = 60000, .cpu = -1, .expect_ret = -1, .phases = 1 };

static int n_cpus;
static char pcf_tag[2 * BPF_TAG_SIZE + 1]; /* the attached program's tag, in the JSON */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int parse_hex(const char *s, __u8 *out, __u32 cap, __u32 *len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = v;
	}
	*len = n / 2;
	return 0;
}

/* Every frame of FILE into one buffer, with offsets. */
struct flows {
	__u8 *data;
	size_t *off;
	__u16 *len;
	size_t n;
};

static int read_flows(const char *path, struct flows *f)
{
	FILE *in = fopen(path, "rb");
	long size;
	size_t pos = 0, cap = 0;
	int err = 0;

	if (!in)
		return -errno;
	if (fseek(in, 0, SEEK_END) || (size = ftell(in)) < 0 || fseek(in, 0, SEEK_SET)) {
		err = -errno;
		goto out;
	}
	f->data = malloc(size ? size : 1);
	if (!f->data || fread(f->data, 1, size, in) != (size_t)size) {
		err = -EIO;
		goto out;
	}
	while (pos + 2 <= (size_t)size) {
		__u16 l = f->data[pos] | f->data[pos + 1] << 8;

		if (l < 14 || l > MAX_FRAME || pos + 2 + l > (size_t)size) {
			err = -EINVAL;
			goto out;
		}
		if (f->n == cap) {
			cap = cap ? 2 * cap : 65536;
			f->off = realloc(f->off, cap * sizeof(*f->off));
			f->len = realloc(f->len, cap * sizeof(*f->len));
			if (!f->off || !f->len) {
				err = -ENOMEM;
				goto out;
			}
		}
		f->off[f->n] = pos + 2;
		f->len[f->n++] = l;
		pos += 2 + l;
	}
	if (pos != (size_t)size || !f->n)
		err = -EINVAL;
out:
	fclose(in);
	return err;
}

/* The program inside the pinned link DIR/xdp_link_0. */
static int open_link_prog(const char *pin_dir)
{
	struct bpf_link_info link = {};
	__u32 len = sizeof(link);
	char path[PATH_MAX];
	int link_fd, fd;

	snprintf(path, sizeof(path), "%s/xdp_link_0", pin_dir);
	link_fd = bpf_obj_get(path);
	if (link_fd < 0) {
		fprintf(stderr, "%s: failed to open the pinned link %s: %s\n", prog_name, path,
			strerror(errno));
		return -1;
	}
	/* libbpf 1.1 has no bpf_link_get_info_by_fd(); this is what it wraps. */
	if (bpf_obj_get_info_by_fd(link_fd, &link, &len) || link.type != BPF_LINK_TYPE_XDP) {
		fprintf(stderr, "%s: %s is not a readable XDP link\n", prog_name, path);
		close(link_fd);
		return -1;
	}
	close(link_fd);
	fd = bpf_prog_get_fd_by_id(link.prog_id);
	if (fd < 0) {
		fprintf(stderr, "%s: failed to open program id %u: %s\n", prog_name, link.prog_id,
			strerror(errno));
		return fd;
	}
	{
		struct bpf_prog_info info = {};

		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			for (int i = 0; i < BPF_TAG_SIZE; i++)
				sprintf(pcf_tag + 2 * i, "%02x", info.tag[i]);
	}
	return fd;
}

static int open_pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "%s: failed to open %s: %s\n", prog_name, path, strerror(errno));
	return fd;
}

static __u32 map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

static int prog_stats(int fd, __u64 *run_ns, __u64 *run_cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*run_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

/* Packets of every entry of a pcf_stats-like per-CPU counter array, summed over the CPUs. */
static int read_counters(int fd, __u32 n, __u64 *out)
{
	struct pcf_counter v[n_cpus];

	for (__u32 i = 0; i < n; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			return -errno;
		for (int c = 0; c < n_cpus; c++)
			out[i] += v[c].packets;
	}
	return 0;
}

static __u64 slot_packets(int fd, __u32 slot)
{
	struct pcf_counter v[n_cpus];
	__u64 sum = 0;

	if (fd < 0 || !opt.has_slot || bpf_map_lookup_elem(fd, &slot, v))
		return 0;
	for (int c = 0; c < n_cpus; c++)
		sum += v[c].packets;
	return sum;
}

/* Counter snapshots around a phase: acc += after - before. */
struct snap {
	__u64 cnt[MAX_CNT], slot;
};

static void take(const struct target *t, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (t->stats_fd >= 0)
		read_counters(t->stats_fd, t->n_cnt, s->cnt);
	s->slot = slot_packets(t->rule_stats_fd, opt.slot);
}

static void add_delta(const struct target *t, const struct snap *a, __u64 *cnt, __u64 *slot)
{
	struct snap b;

	take(t, &b);
	for (__u32 i = 0; i < t->n_cnt; i++)
		cnt[i] += b.cnt[i] - a->cnt[i];
	*slot += b.slot - a->slot;
}

static int load_shim(const char *path, int target_fd, struct bpf_object **objp)
{
	struct bpf_object *obj;
	__u32 zero = 0;
	int err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -errno;
	*objp = obj;
	err = bpf_object__load(obj);
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "target")), &zero,
				&target_fd, BPF_ANY))
		return -errno;
	return bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_cost_shim"));
}

/* One test run of repeat R: wall ns per iteration (sub-ns resolution) and the kernel's. */
static int run_repeat(int fd, const __u8 *pkt, __u32 len, double *wall, double *kern, __u32 *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .repeat = opt.repeat);
	__u64 t0, t1;

	t0 = now_ns();
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	t1 = now_ns();
	*wall = (double)(t1 - t0) / opt.repeat;
	*kern = o.duration;
	*ret = o.retval;
	return 0;
}

/* n test runs of repeat 1, frame i of `frames` (or `pkt` every time): the program's own
 * run_time_ns / run_cnt delta (BPF stats must be on). */
static int run_stats(int fd, const struct flows *frames, size_t first, const __u8 *pkt,
		     __u32 len, __u32 n, double *ns, __u32 *ret0, __u64 *bad, __u64 *runs)
{
	__u64 ns0 = 0, cnt0 = 0, ns1 = 0, cnt1 = 0;
	int err;

	err = prog_stats(fd, &ns0, &cnt0);
	if (err)
		return err;
	for (__u32 i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

		if (frames) {
			size_t k = (first + i) % frames->n;

			o.data_in = frames->data + frames->off[k];
			o.data_size_in = frames->len[k];
		} else {
			o.data_in = pkt;
			o.data_size_in = len;
		}
		if (bpf_prog_test_run_opts(fd, &o))
			return -errno;
		if (i == 0)
			*ret0 = o.retval;
		else if (o.retval != *ret0)
			(*bad)++;
	}
	err = prog_stats(fd, &ns1, &cnt1);
	if (err)
		return err;
	if (cnt1 == cnt0)
		return -ENODATA; /* stats are off */
	*ns = (double)(ns1 - ns0) / (cnt1 - cnt0);
	*runs += cnt1 - cnt0;
	return 0;
}

struct entry {
	struct pcf_flow_key k;
	struct pcf_flow_action v;
};

static int by_slot(const void *a, const void *b)
{
	__u32 x = ((const struct entry *)a)->v.stats_slot, y = ((const struct entry *)b)->v.stats_slot;

	return x < y ? -1 : x > y;
}

/* A program object (the old pcf_xdp, or the current one as a control), loaded here with maps
 * of its own sized like the pinned ones, and every entry of the pinned pcf_flow_map copied
 * into its pcf_flow_map in stats_slot order (the order the control plane wrote them). Element
 * layout and hash seed still differ from the pinned map's: load the current object beside
 * too, to tell the program's cost from the map's. */
static int load_beside(const char *path, int pinned_flow_fd, int pinned_rule_stats_fd,
		       struct bpf_object **objp, struct target *t, __u64 *copied)
{
	struct pcf_flow_key keys[COPY_CHUNK];
	struct pcf_flow_action vals[COPY_CHUNK];
	struct bpf_map *flow, *rstats, *stats;
	struct entry *all = NULL;
	size_t n_all = 0, cap;
	struct bpf_object *obj;
	__u32 out_batch, count;
	bool first = true;
	int err, fd;

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -errno;
	*objp = obj;
	flow = bpf_object__find_map_by_name(obj, PCF_PIN_FLOW_MAP);
	rstats = bpf_object__find_map_by_name(obj, PCF_PIN_RULE_STATS);
	stats = bpf_object__find_map_by_name(obj, PCF_PIN_STATS);
	if (!flow || !rstats || !stats)
		return -ENOENT;
	bpf_map__set_max_entries(flow, map_max_entries(pinned_flow_fd));
	bpf_map__set_max_entries(rstats, map_max_entries(pinned_rule_stats_fd));
	err = bpf_object__load(obj);
	if (err)
		return err;
	fd = bpf_map__fd(flow);
	cap = map_max_entries(pinned_flow_fd);
	all = calloc(cap ? cap : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (;;) {
		count = COPY_CHUNK;
		err = bpf_map_lookup_batch(pinned_flow_fd, first ? NULL : &out_batch, &out_batch,
					   keys, vals, &count, NULL);
		if (err && errno != ENOENT) {
			err = -errno;
			goto out;
		}
		for (__u32 i = 0; i < count && n_all < cap; i++) {
			all[n_all].k = keys[i];
			all[n_all++].v = vals[i];
		}
		first = false;
		if (err)
			break; /* ENOENT: that was the last chunk */
	}
	qsort(all, n_all, sizeof(*all), by_slot);
	for (size_t i = 0; i < n_all; i++)
		if (bpf_map_update_elem(fd, &all[i].k, &all[i].v, BPF_NOEXIST)) {
			err = -errno;
			goto out;
		}
	*copied = n_all;
	err = 0;
out:
	free(all);
	if (err)
		return err;
	t->fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "pcf_xdp"));
	t->stats_fd = bpf_map__fd(stats);
	t->n_cnt = bpf_map__max_entries(stats);
	t->rule_stats_fd = bpf_map__fd(rstats);
	return t->fd < 0 ? -ENOENT : 0;
}

static void print_array(const char *key, const double *v, __u32 n, bool comma)
{
	printf("\"%s\":[", key);
	for (__u32 i = 0; i < n; i++)
		printf("%s%.4f", i ? "," : "", v[i]);
	printf("]%s", comma ? "," : "");
}

static void print_u64s(const char *key, const __u64 *v, __u32 n, bool comma)
{
	printf("\"%s\":[", key);
	for (__u32 i = 0; i < n; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)v[i]);
	printf("]%s", comma ? "," : "");
}

static void print_target(const struct target *t, bool stats, bool flows, bool comma)
{
	printf("\"%s\":{\"via_shim\":%s,\"ret\":%u,", t->name, t->shim_fd >= 0 ? "true" : "false",
	       t->ret_rep);
	print_array("repeat_wall_ns", t->rep, opt.rounds, true);
	print_array("repeat_kernel_ns", t->rep_kernel, opt.rounds, true);
	print_u64s("counters_repeat", t->cnt_rep, t->n_cnt, true);
	printf("\"slot_repeat\":%llu", (unsigned long long)t->slot_rep);
	if (stats) {
		printf(",\"ret_hot\":%u,\"bad_hot\":%llu,\"runs_hot\":%llu,\"slot_hot\":%llu,",
		       t->ret_hot, (unsigned long long)t->bad_hot, (unsigned long long)t->runs_hot,
		       (unsigned long long)t->slot_hot);
		print_array("stats_hot_ns", t->hot, opt.rounds, true);
		print_u64s("counters_hot", t->cnt_hot, t->n_cnt, false);
	}
	if (stats && flows && t->runs_flows[0]) {
		printf(",\"ret_flows\":%u,\"bad_flows\":%llu,\"phases\":[", t->ret_flows,
		       (unsigned long long)t->bad_flows);
		for (__u32 p = 0; p < opt.phases; p++) {
			printf("%s{\"runs\":%llu,\"slot\":%llu,", p ? "," : "",
			       (unsigned long long)t->runs_flows[p],
			       (unsigned long long)t->slot_flows[p]);
			print_array("stats_ns", t->flows[p], opt.rounds, true);
			print_u64s("counters", t->cnt_flows[p], t->n_cnt, false);
			printf("}");
		}
		printf("]");
	}
	printf("}%s", comma ? "," : "");
}

/* --clear-cache: every entry of a pinned flow cache deleted (keys collected first: a delete
 * while walking would restart the walk). Any key size: the IPv4 and the IPv6 cache. */
static int clear_flow_cache(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t n = 0, cap = 65536, ks;
	unsigned char *keys, *prev = NULL, *nk;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	ks = info.key_size;
	keys = malloc(cap * ks);
	if (!keys)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			nk = realloc(keys, 2 * cap * ks);
			if (!nk) {
				err = -ENOMEM;
				goto out;
			}
			keys = nk;
			cap *= 2;
			prev = n ? keys + (n - 1) * ks : NULL;
		}
		if (bpf_map_get_next_key(fd, prev, keys + n * ks)) {
			if (errno != ENOENT)
				err = -errno;
			break;
		}
		prev = keys + ks * n++;
	}
	for (size_t i = 0; i < n && !err; i++)
		if (bpf_map_delete_elem(fd, keys + i * ks) && errno != ENOENT)
			err = -errno;
out:
	free(keys);
	return err;
}

/* --mode poll: see the header. */
static int poll_visible(int prog_fd, const __u8 *pkt, __u32 len)
{
	struct timespec pause = { .tv_nsec = opt.poll_us * 1000L };
	struct pcf_ruleset rs = {};
	__u64 t_gen = 0, polls = 0, deadline, gen0, gen;
	__u32 zero = 0;
	int rs_fd;

	rs_fd = open_pinned(opt.pin_dir, PCF_PIN_RULESET);
	if (rs_fd < 0)
		return 1;
	bpf_map_lookup_elem(rs_fd, &zero, &rs);
	gen0 = rs.gen;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "%s: failed to run the probe: %s\n", prog_name,
				strerror(errno));
			return 1;
		}
		printf("ready %llu %u\n", (unsigned long long)gen0, o.retval);
		fflush(stdout);
		if ((int)o.retval == opt.expect_ret) {
			fprintf(stderr, "%s: the probe already has verdict %d\n", prog_name,
				opt.expect_ret);
			return 1;
		}
	}
	deadline = now_ns() + opt.timeout_ms * 1000000ull;
	for (;;) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
		__u64 t;

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "%s: failed to run the probe: %s\n", prog_name,
				strerror(errno));
			return 1;
		}
		t = now_ns();
		polls++;
		if (!t_gen && !bpf_map_lookup_elem(rs_fd, &zero, &rs) && rs.gen != gen0)
			t_gen = t;
		if ((int)o.retval == opt.expect_ret) {
			gen = bpf_map_lookup_elem(rs_fd, &zero, &rs) ? 0 : rs.gen;
			printf("visible %llu %llu %llu %llu\n", (unsigned long long)t,
			       (unsigned long long)t_gen, (unsigned long long)gen,
			       (unsigned long long)polls);
			return 0;
		}
		if (t > deadline) {
			fprintf(stderr, "%s: the probe's verdict did not become %d in %u ms\n",
				prog_name, opt.expect_ret, opt.timeout_ms);
			return 1;
		}
		if (opt.poll_us)
			nanosleep(&pause, NULL);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s --pin-dir DIR --frame HEX [--floor OBJ --shim OBJ] [--slot N]\n"
		   "         [--prog NAME=ID]... [--beside NAME=OBJ]... [--flows FILE] [--per-round N]\n"
		   "         [--repeat N] [--rounds N] [--cpu N] [--park IF]... [--phases P]\n"
		   "         [--clear-cache] [--mode time|poll] [--expect-ret N] [--poll-us N]\n"
		   "         [--timeout-ms N]\n", prog_name);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "frame", required_argument, NULL, 'f' },
		{ "floor", required_argument, NULL, 'F' },
		{ "shim", required_argument, NULL, 's' },
		{ "slot", required_argument, NULL, 'S' },
		{ "prog", required_argument, NULL, 'p' },
		{ "beside", required_argument, NULL, 'b' },
		{ "flows", required_argument, NULL, 'w' },
		{ "per-round", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "expect-ret", required_argument, NULL, 'e' },
		{ "poll-us", required_argument, NULL, 'u' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "park", required_argument, NULL, 'P' },
		{ "phases", required_argument, NULL, 'H' },
		{ "clear-cache", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct target tg[3 + MAX_PROGS + MAX_BESIDE] = {}, *floor_t, *shim_floor_t, *pcf_t;
	struct bpf_object *floor_obj = NULL;
	char *prog_args[MAX_PROGS], *park_if[MAX_PARK];
	int park_fd[MAX_PARK], n_park = 0, n_parked = 0;
	int n_progs = 0, n_tg = 0, c, err, ret = 1, stats_fd = -1, flow_fd = -1, cache_fd = -1, cache4_fd = -1;
	struct flows flows = {};
	static __u8 frames_in[MAX_ROUNDS][MAX_FRAME];
	__u32 frame_len[MAX_ROUNDS];
	__u8 *pkt;
	__u64 copied = 0;
	__u32 len;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.pin_dir = optarg; break;
		case 'f':
			if (opt.n_frames == MAX_ROUNDS) {
				fprintf(stderr, "%s: at most %d --frame\n", prog_name, MAX_ROUNDS);
				return 2;
			}
			opt.frame_hex[opt.n_frames++] = optarg;
			break;
		case 'F': opt.floor_obj = optarg; break;
		case 's': opt.shim_obj = optarg; break;
		case 'S':
			if (opt.n_slots == MAX_ROUNDS) {
				fprintf(stderr, "%s: at most %d --slot\n", prog_name, MAX_ROUNDS);
				return 2;
			}
			opt.slots[opt.n_slots++] = strtoul(optarg, NULL, 10);
			opt.slot = opt.slots[0];
			opt.has_slot = true;
			break;
		case 'p':
			if (n_progs == MAX_PROGS) {
				fprintf(stderr, "%s: at most %d --prog\n", prog_name, MAX_PROGS);
				return 2;
			}
			prog_args[n_progs++] = optarg;
			break;
		case 'b':
			if (opt.n_beside == MAX_BESIDE) {
				fprintf(stderr, "%s: at most %d --beside\n", prog_name, MAX_BESIDE);
				return 2;
			}
			opt.beside[opt.n_beside++] = optarg;
			break;
		case 'w': opt.flows_path = optarg; break;
		case 'n': opt.per_round = strtoul(optarg, NULL, 10); break;
		case 'r': opt.repeat = strtoul(optarg, NULL, 10); break;
		case 'R': opt.rounds = strtoul(optarg, NULL, 10); break;
		case 'c': opt.cpu = atoi(optarg); break;
		case 'm': opt.mode = optarg; break;
		case 'e': opt.expect_ret = atoi(optarg); break;
		case 'u': opt.poll_us = strtoul(optarg, NULL, 10); break;
		case 't': opt.timeout_ms = strtoul(optarg, NULL, 10); break;
		case 'H': opt.phases = strtoul(optarg, NULL, 10); break;
		case 'C': opt.clear_cache = true; break;
		case 'P':
			if (n_park == MAX_PARK) {
				fprintf(stderr, "%s: at most %d --park\n", prog_name, MAX_PARK);
				return 2;
			}
			park_if[n_park++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!opt.pin_dir || !opt.n_frames || opt.rounds < 1 || opt.rounds > MAX_ROUNDS ||
	    opt.repeat < 1 || opt.per_round < 1 || opt.phases < 1 || opt.phases > MAX_PHASES ||
	    (strcmp(opt.mode, "time") && strcmp(opt.mode, "poll")) ||
	    (!strcmp(opt.mode, "time") && (!opt.floor_obj || !opt.shim_obj)) ||
	    (!strcmp(opt.mode, "poll") && opt.expect_ret < 0)) {
		usage(stderr);
		return 2;
	}
	for (__u32 i = 0; i < opt.n_frames; i++)
		if (parse_hex(opt.frame_hex[i], frames_in[i], MAX_FRAME, &frame_len[i]) ||
		    frame_len[i] < 14) {
			fprintf(stderr, "%s: --frame: an even number of hex digits, 14..%d bytes\n",
				prog_name, MAX_FRAME);
			return 2;
		}
	pkt = frames_in[0];
	len = frame_len[0];
	if (geteuid() != 0) {
		printf("%s: needs root (BPF_PROG_TEST_RUN): skipped\n", prog_name);
		return 77;
	}
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "%s: failed to pin to CPU %d: %s\n", prog_name, opt.cpu,
				strerror(errno));
			return 1;
		}
	}
	libbpf_set_print(libbpf_quiet);
	n_cpus = libbpf_num_possible_cpus();

	if (!strcmp(opt.mode, "poll")) {
		int fd = open_link_prog(opt.pin_dir);

		return fd < 0 ? 1 : poll_visible(fd, pkt, len);
	}
	if (opt.flows_path) {
		err = read_flows(opt.flows_path, &flows);
		if (err) {
			fprintf(stderr, "%s: failed to read the frames of %s: %s\n", prog_name,
				opt.flows_path, strerror(-err));
			goto cleanup;
		}
	}

	/* The targets: floor, floor behind the shim, pcf behind the shim, --prog..., --beside... */
	for (size_t i = 0; i < sizeof(tg) / sizeof(tg[0]); i++)
		tg[i].fd = tg[i].shim_fd = tg[i].stats_fd = tg[i].rule_stats_fd = -1;
	floor_t = &tg[0];
	shim_floor_t = &tg[1];
	pcf_t = &tg[2];
	n_tg = 3;
	floor_obj = bpf_object__open_file(opt.floor_obj, NULL);
	if (!floor_obj || bpf_object__load(floor_obj)) {
		fprintf(stderr, "%s: failed to load %s: %s\n", prog_name, opt.floor_obj,
			strerror(errno));
		ret = errno == EPERM ? 77 : 1;
		goto cleanup;
	}
	snprintf(floor_t->name, sizeof(floor_t->name), "floor");
	floor_t->fd = bpf_program__fd(bpf_object__find_program_by_name(floor_obj, "pcf_xdp_pass"));
	snprintf(shim_floor_t->name, sizeof(shim_floor_t->name), "shim_floor");
	shim_floor_t->fd = floor_t->fd;

	snprintf(pcf_t->name, sizeof(pcf_t->name), "pcf");
	pcf_t->fd = open_link_prog(opt.pin_dir);
	if (pcf_t->fd < 0)
		goto cleanup;
	pcf_t->stats_fd = open_pinned(opt.pin_dir, PCF_PIN_STATS);
	pcf_t->rule_stats_fd = open_pinned(opt.pin_dir, PCF_PIN_RULE_STATS);
	flow_fd = open_pinned(opt.pin_dir, PCF_PIN_FLOW_MAP);
	if (pcf_t->stats_fd < 0 || pcf_t->rule_stats_fd < 0 || flow_fd < 0)
		goto cleanup;
	if (opt.clear_cache) {
		cache_fd = open_pinned(opt.pin_dir, PCF_PIN_FLOW_CACHE);
		cache4_fd = open_pinned(opt.pin_dir, PCF_PIN_FLOW_CACHE4);
		if (cache_fd < 0 || cache4_fd < 0)
			goto cleanup;
	}
	pcf_t->n_cnt = map_max_entries(pcf_t->stats_fd);

	for (int i = 0; i < n_progs; i++) {
		struct target *t = &tg[n_tg++];
		char *eq = strchr(prog_args[i], '=');

		if (!eq || eq == prog_args[i] || (size_t)(eq - prog_args[i]) >= sizeof(t->name)) {
			fprintf(stderr, "%s: --prog NAME=ID, not %s\n", prog_name, prog_args[i]);
			ret = 2;
			goto cleanup;
		}
		memcpy(t->name, prog_args[i], eq - prog_args[i]);
		t->fd = bpf_prog_get_fd_by_id(strtoul(eq + 1, NULL, 10));
		if (t->fd < 0) {
			fprintf(stderr, "%s: failed to open program id %s: %s\n", prog_name, eq + 1,
				strerror(errno));
			goto cleanup;
		}
	}
	if (pcf_t->n_cnt > MAX_CNT) {
		fprintf(stderr, "%s: pcf_stats has more than %d entries\n", prog_name, MAX_CNT);
		goto cleanup;
	}
	for (__u32 i = 0; i < opt.n_beside; i++) {
		struct target *t = &tg[n_tg++];
		char *eq = strchr(opt.beside[i], '=');

		if (!eq || eq == opt.beside[i] || (size_t)(eq - opt.beside[i]) >= sizeof(t->name)) {
			fprintf(stderr, "%s: --beside NAME=OBJ, not %s\n", prog_name, opt.beside[i]);
			ret = 2;
			goto cleanup;
		}
		memcpy(t->name, opt.beside[i], eq - opt.beside[i]);
		t->beside = true;
		copied = 0;
		err = load_beside(eq + 1, flow_fd, pcf_t->rule_stats_fd, &t->obj, t, &copied);
		if (err) {
			fprintf(stderr, "%s: failed to load %s with the pinned rules: %s\n",
				prog_name, eq + 1, strerror(-err));
			goto cleanup;
		}
		if (t->n_cnt > MAX_CNT) {
			fprintf(stderr, "%s: pcf_stats of %s has more than %d entries\n", prog_name,
				eq + 1, MAX_CNT);
			goto cleanup;
		}
	}
	/* Metadata writers behind a shim of their own, and the floor once more. */
	for (int i = 0; i < n_tg; i++) {
		struct target *t = &tg[i];

		if (t != shim_floor_t && t != pcf_t && !t->beside)
			continue;
		t->shim_fd = load_shim(opt.shim_obj, t->fd, &t->shim);
		if (t->shim_fd < 0) {
			fprintf(stderr, "%s: failed to load %s for %s: %s\n", prog_name,
				opt.shim_obj, t->name, strerror(-t->shim_fd));
			goto cleanup;
		}
	}

	/* Park every entry program that no device holds yet (see the header). */
	{
		int entry[3 + 2 * MAX_BESIDE] = { floor_t->fd, shim_floor_t->shim_fd, pcf_t->shim_fd };
		size_t n_entry = 3;

		for (int i = 0; i < n_tg; i++)
			if (tg[i].beside) {
				entry[n_entry++] = tg[i].shim_fd;
				entry[n_entry++] = tg[i].fd;
			}
		for (size_t i = 0; i < n_entry; i++) {
			unsigned ifindex;

			if (entry[i] < 0 || !n_park)
				continue;
			if (n_parked == n_park) {
				fprintf(stderr, "%s: %d --park devices for more programs\n", prog_name,
					n_park);
				goto cleanup;
			}
			ifindex = if_nametoindex(park_if[n_parked]);
			if (!ifindex) {
				fprintf(stderr, "%s: no device %s to park a program on\n", prog_name,
					park_if[n_parked]);
				goto cleanup;
			}
			park_fd[n_parked] = bpf_link_create(entry[i], ifindex, BPF_XDP, NULL);
			if (park_fd[n_parked] < 0) {
				fprintf(stderr, "%s: failed to attach a program to %s: %s\n",
					prog_name, park_if[n_parked], strerror(errno));
				goto cleanup;
			}
			n_parked++;
		}
	}

	/* One untimed warm-up run of each (caches, branch predictors, CPU frequency). */
	for (int i = 0; i < n_tg; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = opt.repeat / 10 + 1);

		if (bpf_prog_test_run_opts(tg[i].shim_fd >= 0 ? tg[i].shim_fd : tg[i].fd, &o)) {
			fprintf(stderr, "%s: failed to run %s: %s\n", prog_name, tg[i].name,
				strerror(errno));
			goto cleanup;
		}
	}

	for (__u32 r = 0; r < opt.rounds; r++) {
		struct snap s;

		/* Round r times frame r (modulo the --frame given), counted at slot r. */
		pkt = frames_in[r % opt.n_frames];
		len = frame_len[r % opt.n_frames];
		if (opt.n_slots)
			opt.slot = opt.slots[r % opt.n_slots];

		for (int i = 0; i < n_tg; i++) {
			struct target *t = &tg[i];

			take(t, &s);
			err = run_repeat(t->shim_fd >= 0 ? t->shim_fd : t->fd, pkt, len, &t->rep[r],
					 &t->rep_kernel[r], &t->ret_rep);
			if (err) {
				fprintf(stderr, "%s: failed to run %s: %s\n", prog_name, t->name,
					strerror(-err));
				goto cleanup;
			}
			add_delta(t, &s, t->cnt_rep, &t->slot_rep);
		}
		/* Stats phase: on only while it runs (it slows every program down). */
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			fprintf(stderr, "%s: failed to enable BPF stats: %s\n", prog_name,
				strerror(errno));
			goto cleanup;
		}
		for (int i = 0; i < n_tg; i++) {
			struct target *t = &tg[i];

			if (t == shim_floor_t)
				continue;
			take(t, &s);
			err = run_stats(t->fd, NULL, 0, pkt, len, opt.per_round, &t->hot[r],
					&t->ret_hot, &t->bad_hot, &t->runs_hot);
			add_delta(t, &s, t->cnt_hot, &t->slot_hot);
			/* The flows: phase p of round r takes frames (r * phases + p) * N... */
			for (__u32 p = 0; !err && flows.n && t != floor_t && p < opt.phases; p++) {
				if (t->beside && p)
					break; /* exact sets only: one phase tells it all */
				if (t == pcf_t && p == 0 && cache_fd >= 0) {
					err = clear_flow_cache(cache_fd) ?: clear_flow_cache(cache4_fd);
					if (err)
						break;
				}
				take(t, &s);
				err = run_stats(t->fd, &flows,
						((size_t)r * opt.phases + p) * opt.per_round, NULL, 0,
						opt.per_round, &t->flows[p][r], &t->ret_flows,
						&t->bad_flows, &t->runs_flows[p]);
				add_delta(t, &s, t->cnt_flows[p], &t->slot_flows[p]);
			}
			if (err) {
				fprintf(stderr, "%s: failed the stats runs of %s: %s\n", prog_name,
					t->name, strerror(-err));
				goto cleanup;
			}
		}
		close(stats_fd);
		stats_fd = -1;
	}

	printf("{\"cpu\":%d,\"repeat\":%u,\"rounds\":%u,\"per_round\":%u,\"frame_bytes\":%u,"
	       "\"flows_in_file\":%zu,\"slot\":%d,\"beside_rules_copied\":%llu,\"parked\":%d,"
	       "\"pcf_tag\":\"%s\",\"targets\":{", opt.cpu, opt.repeat, opt.rounds, opt.per_round,
	       len, flows.n, opt.has_slot ? (int)opt.slot : -1, (unsigned long long)copied, n_parked,
	       pcf_tag);
	for (int i = 0; i < n_tg; i++)
		print_target(&tg[i], &tg[i] != shim_floor_t, flows.n > 0, i + 1 < n_tg);
	printf("}}\n");
	ret = 0;
cleanup:
	if (stats_fd >= 0)
		close(stats_fd);
	if (cache_fd >= 0)
		close(cache_fd);
	if (cache4_fd >= 0)
		close(cache4_fd);
	for (int i = 0; i < n_parked; i++)
		close(park_fd[i]);
	for (size_t i = 0; i < sizeof(tg) / sizeof(tg[0]); i++)
		bpf_object__close(tg[i].shim);
	for (size_t i = 0; i < sizeof(tg) / sizeof(tg[0]); i++)
		bpf_object__close(tg[i].obj);
	bpf_object__close(floor_obj);
	free(flows.data);
	free(flows.off);
	free(flows.len);
	return ret;
}
