// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp_cost.c - what pcf_xdp costs per packet, measured with BPF_PROG_TEST_RUN (repeat 1M by
 * default) on a 64-byte UDP frame against the floor, an XDP program that only returns XDP_PASS
 * (pass.bpf.o). All variants run in the same process, interleaved over several rounds; the
 * table gives the fastest round (min: the least disturbed) and the median round:
 *   hit drop, hit pass (+ metadata), hit redirect without a socket (fallback to PASS + metadata)
 *   and miss (default pass), with rule 1 alone in pcf_flow_map and then with 100,000 rules
 *   in a map sized for them. Rule N counts at stats slot N - 1 of pcf_rule_stats (a per-CPU
 *   array as large as pcf_flow_map), zeroed before the rule is written, as the control plane
 *   does; the benchmark checks that the hits did count at rule 1's slot.
 * A test run with repeat reuses one xdp_buff, so the metadata one run adds is still there in
 * the next; the programs that write metadata are timed behind xdp_cost_shim.bpf.o (metadata
 * reset + tail call) and the shim's own cost (shim->floor minus floor) is subtracted.
 * The same frame runs every time, so the map entry is cache-hot: this is the datapath's own
 * cost, not a cache-miss workload.
 *
 * Usage: bench_xdp_cost [--json] [--repeat N] [--rounds N] [--rules N] [--cpu N]
 *                       [--max-ratio R] [--obj-dir DIR]
 *   --max-ratio R  exit 1 if a hit costs more than R times the floor (min statistic)
 * Exit: 0 ok, 1 error or ratio exceeded, 2 usage, 77 not root / no BPF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"
#include "bench_common.h"

#define CLIENT 0xc6120001 /* 198.18.0.1 */
#define SERVER 0xc6120101 /* 198.18.1.1 */

/* A measured variant: a program (direct, or through the shim), a frame and, for hits, the
 * action rule 1 carries while it runs. */
enum prog_sel { P_PASS, P_PCF, P_SHIM_PASS, P_SHIM_PCF, P__MAX };

struct variant {
	const char *key, *name;
	enum prog_sel prog;
	int action;        /* rule 1's action type for a hit, -1 for a miss or the floor */
	bool meta_writer;  /* mutates the buffer across repeats: only valid through the shim */
};

static const struct variant variants[] = {
	{ "floor", "floor (XDP_PASS only)", P_PASS, -1, false },
	{ "hit_drop", "hit drop", P_PCF, PCF_ACT_DROP, false },
	{ "miss", "miss (default pass)", P_PCF, -1, false },
	{ "floor", "floor (XDP_PASS only)", P_SHIM_PASS, -1, false },
	{ "hit_drop", "hit drop", P_SHIM_PCF, PCF_ACT_DROP, false },
	{ "hit_pass", "hit pass + metadata", P_SHIM_PCF, PCF_ACT_PASS, true },
	{ "hit_redirect_fallback", "hit redirect, no socket", P_SHIM_PCF, PCF_ACT_REDIRECT, true },
	{ "miss", "miss (default pass)", P_SHIM_PCF, -1, false },
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static __u32 opt_repeat = 1000000, opt_rounds = 7, opt_rules = 100000;
static int opt_cpu = -1;
static double opt_max_ratio;
static bool opt_json;

/* 64-byte Ethernet/IPv4/UDP frame CLIENT:sport -> SERVER:dport. */
static void build_udp(__u8 *b, __u16 sport, __u16 dport)
{
	__u8 *ip = b + 14, *udp = ip + 20;
	__u32 a;
	__u16 p;

	memset(b, 0, 64);
	b[0] = 2; b[5] = 2; b[6] = 2; b[11] = 1;
	b[12] = ETH_P_IP >> 8; b[13] = ETH_P_IP & 0xff;
	ip[0] = 0x45;
	ip[3] = 50;             /* tot_len 50 */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = htonl(CLIENT);
	memcpy(ip + 12, &a, 4);
	a = htonl(SERVER);
	memcpy(ip + 16, &a, 4);
	p = htons(sport);
	memcpy(udp, &p, 2);
	p = htons(dport);
	memcpy(udp + 2, &p, 2);
	udp[5] = 30;            /* udp len 30 */
}

static int run_ns(int prog_fd, const __u8 *pkt, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = 64, .repeat = opt_repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*ns = o.duration; /* the kernel's average ns per run */
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Rule id's stats slot: dense from 0, as the control plane hands them out. */
static __u32 slot_of(__u32 id)
{
	return id - 1;
}

/* Zero the rule's slot, then write the rule (the control plane's order). With zero_slot false
 * (switching rule 1's action between variants) the slot keeps counting. */
static int add_rule(int flow_fd, int stats_fd, __u32 id, __u16 sport, __u16 dport, __u8 type,
		    int n_cpus, bool zero_slot)
{
	struct pcf_flow_key k = { .src_ip = htonl(CLIENT), .dst_ip = htonl(SERVER),
				  .src_port = htons(sport), .dst_port = htons(dport),
				  .proto = IPPROTO_UDP };
	struct pcf_flow_action a = { .rule_id = id, .stats_slot = slot_of(id), .type = type,
				     .queue_id = PCF_QUEUE_ANY };
	struct pcf_counter zero[n_cpus];

	memset(zero, 0, sizeof(zero));
	if ((zero_slot && bpf_map_update_elem(stats_fd, &a.stats_slot, zero, BPF_ANY)) ||
	    bpf_map_update_elem(flow_fd, &k, &a, BPF_ANY))
		return -errno;
	return 0;
}

/* Packets counted at rule id's slot, all CPUs. */
static __u64 slot_packets(int stats_fd, __u32 id, int n_cpus)
{
	struct pcf_counter v[n_cpus];
	__u32 slot = slot_of(id);
	__u64 sum = 0;

	if (bpf_map_lookup_elem(stats_fd, &slot, v))
		return 0;
	for (int c = 0; c < n_cpus; c++)
		sum += v[c].packets;
	return sum;
}

/* Median over rounds of each variant, variants interleaved within a round. Hits use rule 1
 * (sport 1000), whose action is switched outside the timing; misses use sport 9999. */
static int measure(const int *progs, int flow_fd, int stats_fd, int n_cpus, double *med,
		   double *min)
{
	double samples[N_VARIANTS][64];
	__u8 hit[64], miss[64];
	size_t v;
	__u32 r;
	int err;

	build_udp(hit, 1000, 2000);
	build_udp(miss, 9999, 9999);
	for (r = 0; r < opt_rounds; r++)
		for (v = 0; v < N_VARIANTS; v++) {
			if (variants[v].action >= 0) {
				err = add_rule(flow_fd, stats_fd, 1, 1000, 2000, variants[v].action,
					       n_cpus, false);
				if (err)
					return err;
			}
			err = run_ns(progs[variants[v].prog],
				     variants[v].action >= 0 || variants[v].prog == P_PASS ||
				     variants[v].prog == P_SHIM_PASS ? hit : miss, &samples[v][r]);
			if (err)
				return err;
		}
	for (v = 0; v < N_VARIANTS; v++) {
		qsort(samples[v], opt_rounds, sizeof(double), cmp_double);
		med[v] = samples[v][opt_rounds / 2];
		min[v] = samples[v][0];
	}
	return 0;
}

struct row {
	const char *key, *name;
	__u32 rules;
	bool via_shim;
	double direct, shim;  /* min of the raw measurements */
	double cost[2];       /* ns per packet: [0] from the min round, [1] from the median */
	double ratio[2];      /* cost / floor, same statistic */
};

/* One row per variant and rule count: direct measurements where the program can run alone,
 * shim measurements less the shim's own cost for the metadata writers. The floor is round 0's. */
static __u32 report_rows(double (*med)[N_VARIANTS], double (*min)[N_VARIANTS],
			 const __u32 *sizes, struct row *rows)
{
	const size_t floor_v = 0, shim_floor_v = 3;
	__u32 n = 0;

	for (int round = 0; round < 2; round++)
		for (size_t v = 0; v < N_VARIANTS; v++) {
			const struct variant *va = &variants[v];
			struct row *r = &rows[n];
			double *stat[2] = { min[round], med[round] };
			size_t twin = v;

			if (va->prog == P_SHIM_PASS || (va->prog == P_SHIM_PCF && !va->meta_writer))
				continue;
			if (round == 1 && va->prog == P_PASS)
				continue;
			for (size_t w = 0; w < N_VARIANTS; w++)
				if (w != v && !strcmp(variants[w].key, va->key))
					twin = w;
			memset(r, 0, sizeof(*r));
			r->key = va->key;
			r->name = va->name;
			r->rules = va->prog == P_PASS ? 0 : sizes[round];
			r->via_shim = va->meta_writer;
			r->direct = va->meta_writer ? -1 : min[round][v];
			r->shim = min[round][va->meta_writer ? v : twin];
			for (int k = 0; k < 2; k++) {
				double floor_ns = (k ? med : min)[0][floor_v];
				double shim_cost = (k ? med : min)[0][shim_floor_v] - floor_ns;

				r->cost[k] = va->meta_writer ? stat[k][v] - shim_cost : stat[k][v];
				r->ratio[k] = r->cost[k] / floor_ns;
			}
			n++;
		}
	return n;
}

static int load_shim(const char *dir, int target_fd, struct bpf_object **objp)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int err;

	snprintf(path, sizeof(path), "%s/xdp_cost_shim.bpf.o", dir);
	*objp = bpf_object__open_file(path, NULL);
	if (!*objp)
		return -errno;
	err = bpf_object__load(*objp);
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(*objp, "target")), &zero,
				&target_fd, BPF_ANY))
		return -errno;
	return bpf_program__fd(bpf_object__find_program_by_name(*objp, "xdp_cost_shim"));
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: bench_xdp_cost [--json] [--repeat N] [--rounds N] [--rules N] [--cpu N]\n"
		   "                      [--max-ratio R] [--obj-dir DIR]\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "rules", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "max-ratio", required_argument, NULL, 'm' },
		{ "obj-dir", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bpf_object *pass_obj = NULL, *obj = NULL, *shim_pass = NULL, *shim_pcf = NULL;
	char dir[PATH_MAX] = "", path[PATH_MAX];
	double med[2][N_VARIANTS], min[2][N_VARIANTS], worst = 0;
	int progs[P__MAX], flow_fd, stats_fd, n_cpus, c, err, ret = 1;
	__u32 max_entries, i, n_rows, sizes[2];
	__u64 hits, want_hits;
	struct row rows[2 * N_VARIANTS];
	struct utsname un;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': opt_json = true; break;
		case 'r': opt_repeat = strtoul(optarg, NULL, 10); break;
		case 'R': opt_rounds = strtoul(optarg, NULL, 10); break;
		case 'n': opt_rules = strtoul(optarg, NULL, 10); break;
		case 'c': opt_cpu = atoi(optarg); break;
		case 'm': opt_max_ratio = strtod(optarg, NULL); break;
		case 'o': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (opt_repeat < 1 || opt_rounds < 1 || opt_rounds > 64 || opt_rules < 2) {
		fprintf(stderr, "bench_xdp_cost: --repeat >= 1, --rounds 1..64, --rules >= 2\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("bench_xdp_cost: needs root (BPF_PROG_TEST_RUN): skipped\n");
		return 77;
	}
	bench_obj_dir(dir, sizeof(dir));
	if (bench_pin_cpu(opt_cpu))
		return 1;
	libbpf_set_print(libbpf_quiet);
	n_cpus = libbpf_num_possible_cpus();

	snprintf(path, sizeof(path), "%s/pass.bpf.o", dir);
	pass_obj = bpf_object__open_file(path, NULL);
	if (!pass_obj || bpf_object__load(pass_obj)) {
		fprintf(stderr, "failed to load %s: %s\n", path, strerror(errno));
		ret = errno == EPERM ? 77 : 1;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/pcf_xdp.bpf.o", dir);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "failed to open %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	max_entries = opt_rules > PCF_DEFAULT_MAX_RULES ? opt_rules : PCF_DEFAULT_MAX_RULES;
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, PCF_PIN_FLOW_MAP), max_entries);
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, PCF_PIN_RULE_STATS), max_entries);
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "failed to load %s: %s\n", path, strerror(-err));
		goto cleanup;
	}
	flow_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_FLOW_MAP));
	stats_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, PCF_PIN_RULE_STATS));
	progs[P_PASS] = bpf_program__fd(bpf_object__find_program_by_name(pass_obj, "pcf_xdp_pass"));
	progs[P_PCF] = bpf_program__fd(bpf_object__find_program_by_name(obj, "pcf_xdp"));
	progs[P_SHIM_PASS] = load_shim(dir, progs[P_PASS], &shim_pass);
	progs[P_SHIM_PCF] = load_shim(dir, progs[P_PCF], &shim_pcf);
	if (progs[P_SHIM_PASS] < 0 || progs[P_SHIM_PCF] < 0) {
		fprintf(stderr, "failed to load %s/xdp_cost_shim.bpf.o\n", dir);
		goto cleanup;
	}

	/* Round 0: rule 1 alone. Round 1: opt_rules rules (rule 1 and opt_rules - 1 others). */
	if (add_rule(flow_fd, stats_fd, 1, 1000, 2000, PCF_ACT_DROP, n_cpus, true)) {
		fprintf(stderr, "failed to add rule 1: %s\n", strerror(errno));
		goto cleanup;
	}
	sizes[0] = 1;
	sizes[1] = opt_rules;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			for (i = 2; i <= opt_rules; i++)
				/* distinct tuples: sport 10000.., dport varies */
				if (add_rule(flow_fd, stats_fd, i, 10000 + i / 60000, i % 60000 + 1,
					     PCF_ACT_PASS, n_cpus, true)) {
					fprintf(stderr, "failed to add rule %u: %s\n", i, strerror(errno));
					goto cleanup;
				}
		err = measure(progs, flow_fd, stats_fd, n_cpus, med[round], min[round]);
		if (err) {
			fprintf(stderr, "failed to run the test: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	/* Every hit run counted at rule 1's slot, and only those: otherwise this did not time
	 * the datapath's hit path. */
	for (i = 0, want_hits = 0; i < N_VARIANTS; i++)
		if (variants[i].action >= 0)
			want_hits += 2ull * opt_rounds * opt_repeat;
	hits = slot_packets(stats_fd, 1, n_cpus);
	if (hits != want_hits) {
		fprintf(stderr, "rule 1's stats slot counted %llu packets, want %llu\n",
			(unsigned long long)hits, (unsigned long long)want_hits);
		goto cleanup;
	}
	n_rows = report_rows(med, min, sizes, rows);

	uname(&un);
	if (opt_json) {
		printf("{\"kernel\":\"%s\",\"repeat\":%u,\"rounds\":%u,\"frame_bytes\":64,"
		       "\"flow_map_max_entries\":%u,\"stat\":\"min\",\"floor_ns\":%.2f,"
		       "\"shim_floor_ns\":%.2f,\"results\":[", un.release, opt_repeat, opt_rounds,
		       max_entries, min[0][0], min[0][3]);
		for (i = 0; i < n_rows; i++) {
			struct row *r = &rows[i];

			char direct[32] = "null";

			if (r->direct >= 0)
				snprintf(direct, sizeof(direct), "%.2f", r->direct);
			printf("%s{\"variant\":\"%s\",\"rules\":%u,\"method\":\"%s\","
			       "\"ns_per_pkt\":%.2f,\"ratio\":%.2f,\"ns_per_pkt_median\":%.2f,"
			       "\"ratio_median\":%.2f,\"direct_ns\":%s,\"shim_ns\":%.2f}",
			       i ? "," : "", r->key, r->rules, r->via_shim ? "shim" : "direct",
			       r->cost[0], r->ratio[0], r->cost[1], r->ratio[1], direct, r->shim);
			if (!strncmp(r->key, "hit", 3) && r->ratio[0] > worst)
				worst = r->ratio[0];
		}
		printf("],\"worst_hit_ratio\":%.2f}\n", worst);
	} else {
		printf("pcf_xdp cost per packet: BPF_PROG_TEST_RUN, 64-byte UDP frame, repeat %u, "
		       "%u rounds\n(variants interleaved), kernel %s, pcf_flow_map max_entries %u.\n"
		       "ns/packet is the fastest round (min) and the median round; 'via shim' rows "
		       "(programs\nthat write metadata) are measured behind xdp_cost_shim, less the "
		       "shim's own cost.\n\n", opt_repeat, opt_rounds, un.release, max_entries);
		printf("%-26s %7s %7s %8s %8s %8s %8s\n", "variant", "rules", "method", "ns min",
		       "x floor", "ns med", "x floor");
		for (i = 0; i < n_rows; i++) {
			struct row *r = &rows[i];

			printf("%-26s %7u %7s %8.1f %8.2f %8.1f %8.2f\n", r->name, r->rules,
			       r->via_shim ? "shim" : "direct", r->cost[0], r->ratio[0], r->cost[1],
			       r->ratio[1]);
			if (!strncmp(r->key, "hit", 3) && r->ratio[0] > worst)
				worst = r->ratio[0];
		}
		printf("\nworst hit / floor (min): %.2f   shim overhead: %.1f ns\n", worst,
		       min[0][3] - min[0][0]);
	}
	ret = 0;
	if (opt_max_ratio > 0 && worst > opt_max_ratio) {
		fprintf(stderr, "bench_xdp_cost: a hit costs %.2fx the floor, above %.2f\n", worst,
			opt_max_ratio);
		ret = 1;
	}
cleanup:
	bpf_object__close(shim_pcf);
	bpf_object__close(shim_pass);
	bpf_object__close(obj);
	bpf_object__close(pass_obj);
	return ret;
}
