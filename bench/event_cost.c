// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* event_cost.c - what packet events cost pcf_xdp per packet (xdp/README.md: Packet events),
 * BPF_PROG_TEST_RUN on a 64-byte UDP frame that hits a DROP rule, every variant in one
 * process, interleaved over several rounds (min and median of the rounds):
 *   before    pcf_xdp built without events (-DPCF_BENCH_NO_EVENTS): the program as it was
 *   off       events off (pcf_event_config.on 0: nobody watches, or disabled)
 *   unsampled events on, this action not sampled (sample 0): a packet that emits nothing
 *   limited   on, sampled, over its CPU's rate limit: counted event_limited, not sent
 *   emitted   on, every packet an event into pcf_events, drained between test runs
 * Each sample is the mean of --runs test runs of --repeat packets (the ring, 1 MiB, holds
 * 14,563 events: --repeat stays below that and the ring is drained after each run, outside
 * the timing). The emitted variant checks that every packet made exactly one event.
 *
 * Usage: bench_event_cost [--json] [--repeat N] [--runs N] [--rounds N] [--cpu N] [--obj-dir DIR]
 * Exit: 0 ok, 1 error, 2 usage, 77 not root / no BPF. */
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
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"
#include "bench_common.h"

#define MAX_ROUNDS 64

enum variant { V_BEFORE, V_OFF, V_UNSAMPLED, V_LIMITED, V_EMITTED, V__MAX };
static const char *const keys[V__MAX] = { "before", "off", "unsampled", "limited", "emitted" };
static const char *const names[V__MAX] = {
	"before: built without events", "events off (nobody watches)", "on, DROP not sampled",
	"on, over the rate limit", "on, an event every packet",
};

static __u32 opt_repeat = 10000, opt_runs = 20, opt_rounds = 9;
static int opt_cpu = -1;
static bool opt_json;

struct prog {
	struct bpf_object *obj;
	int prog_fd, flow_fd, stats_fd, config_fd, state_fd, events_fd;
	int n_cpus;
};

static __u64 n_events;
static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	n_events++;
	return 0;
}

/* 64-byte Ethernet/IPv4/UDP frame 198.18.0.1:1000 -> 198.18.1.1:2000. */
static void build_udp(__u8 *b)
{
	__u8 *ip = b + 14, *udp = ip + 20;
	__u32 a;
	__u16 p;

	memset(b, 0, 64);
	b[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 50;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = htonl(0xc6120001);
	memcpy(ip + 12, &a, 4);
	a = htonl(0xc6120101);
	memcpy(ip + 16, &a, 4);
	p = htons(1000);
	memcpy(udp, &p, 2);
	p = htons(2000);
	memcpy(udp + 2, &p, 2);
	udp[5] = 30;
}

static int load(struct prog *p, const char *path, int n_cpus)
{
	struct pcf_flow_key k = { .src_ip = htonl(0xc6120001), .dst_ip = htonl(0xc6120101),
				  .src_port = htons(1000), .dst_port = htons(2000), .proto = IPPROTO_UDP };
	struct pcf_flow_action a = { .rule_id = 1, .stats_slot = 0, .type = PCF_ACT_DROP, .queue_id = PCF_QUEUE_ANY };
	struct pcf_counter zero[n_cpus];
	__u32 slot = 0;

	p->obj = bpf_object__open_file(path, NULL);
	if (!p->obj || bpf_object__load(p->obj)) {
		fprintf(stderr, "failed to load %s: %s\n", path, strerror(errno));
		return errno == EPERM ? -EPERM : -1;
	}
	p->prog_fd = bpf_program__fd(bpf_object__find_program_by_name(p->obj, "pcf_xdp"));
	p->flow_fd = bpf_map__fd(bpf_object__find_map_by_name(p->obj, PCF_PIN_FLOW_MAP));
	p->stats_fd = bpf_map__fd(bpf_object__find_map_by_name(p->obj, PCF_PIN_RULE_STATS));
	p->config_fd = bpf_map__fd(bpf_object__find_map_by_name(p->obj, PCF_PIN_EVENT_CONFIG));
	p->events_fd = bpf_map__fd(bpf_object__find_map_by_name(p->obj, PCF_PIN_EVENTS));
	p->state_fd = bpf_map__fd(bpf_object__find_map_by_name(p->obj, PCF_PIN_EVENT_STATE));
	p->n_cpus = n_cpus;
	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(p->stats_fd, &slot, zero, BPF_ANY) || bpf_map_update_elem(p->flow_fd, &k, &a, BPF_ANY))
		return -1;
	return 0;
}

/* The event setting of a variant (the control plane's writeConfig) and a fresh bucket on
 * every CPU: an empty one, or for `limited` one spent far into the future. */
static int configure(const struct prog *p, enum variant v)
{
	/* 10 million a second after a burst of a million: the emitted variant is never limited. */
	struct pcf_event_config c = { .interval_ns = 100, .burst_ns = 100ull * 1000000, .on = v != V_OFF };
	struct pcf_event_state st[p->n_cpus];
	__u32 zero = 0;

	if (v != V_UNSAMPLED)
		c.sample[PCF_ACT_DROP] = 1;
	memset(st, 0, sizeof(st));
	for (int i = 0; v == V_LIMITED && i < p->n_cpus; i++)
		st[i].tat_ns = 1ull << 62;
	if (bpf_map_update_elem(p->state_fd, &zero, st, BPF_ANY) || bpf_map_update_elem(p->config_fd, &zero, &c, BPF_ANY))
		return -errno;
	return 0;
}

/* Mean ns per packet over opt_runs test runs; the ring drained after each. */
static int sample(const struct prog *p, struct ring_buffer *rb, const __u8 *pkt, double *ns)
{
	double sum = 0;

	for (__u32 i = 0; i < opt_runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = 64, .repeat = opt_repeat);
		if (bpf_prog_test_run_opts(p->prog_fd, &o))
			return -errno;
		if (o.retval != XDP_DROP)
			return -EPROTO;
		sum += o.duration;
		if (rb && ring_buffer__consume(rb) < 0)
			return -EIO;
	}
	*ns = sum / opt_runs;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },   { "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'u' }, { "rounds", required_argument, NULL, 'R' },
		{ "cpu", required_argument, NULL, 'c' }, { "obj-dir", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },   { NULL, 0, NULL, 0 },
	};
	double samples[V__MAX][MAX_ROUNDS], min[V__MAX], med[V__MAX];
	char dir[PATH_MAX] = "", path[PATH_MAX];
	struct prog before = { 0 }, now = { 0 };
	struct ring_buffer *rb = NULL;
	struct utsname un;
	__u8 pkt[64];
	int c, err, ret = 1, n_cpus;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': opt_json = true; break;
		case 'r': opt_repeat = strtoul(optarg, NULL, 10); break;
		case 'u': opt_runs = strtoul(optarg, NULL, 10); break;
		case 'R': opt_rounds = strtoul(optarg, NULL, 10); break;
		case 'c': opt_cpu = atoi(optarg); break;
		case 'o': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'h':
			printf("usage: bench_event_cost [--json] [--repeat N] [--runs N] [--rounds N] [--cpu N] [--obj-dir DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (opt_repeat < 1 || opt_repeat > 14000 || opt_runs < 1 || opt_rounds < 1 || opt_rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench_event_cost: --repeat 1..14000 (the ring holds 14,563 events), --runs >= 1, --rounds 1..%d\n", MAX_ROUNDS);
		return 2;
	}
	if (geteuid() != 0) {
		printf("bench_event_cost: needs root (BPF_PROG_TEST_RUN): skipped\n");
		return 77;
	}
	bench_obj_dir(dir, sizeof(dir));
	if (bench_pin_cpu(opt_cpu))
		return 1;
	libbpf_set_print(libbpf_quiet);
	n_cpus = libbpf_num_possible_cpus();
	snprintf(path, sizeof(path), "%s/pcf_xdp_noevents.bpf.o", dir);
	if ((err = load(&before, path, n_cpus))) {
		ret = err == -EPERM ? 77 : 1;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/pcf_xdp.bpf.o", dir);
	if (load(&now, path, n_cpus))
		goto cleanup;
	rb = ring_buffer__new(now.events_fd, on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
		goto cleanup;
	}
	build_udp(pkt);
	for (__u32 r = 0; r < opt_rounds; r++)
		for (int v = 0; v < V__MAX; v++) {
			const struct prog *p = v == V_BEFORE ? &before : &now;
			__u64 had = n_events;
			if (v != V_BEFORE && (err = configure(p, (enum variant)v)))
				goto fail;
			if ((err = sample(p, v == V_BEFORE ? NULL : rb, pkt, &samples[v][r])))
				goto fail;
			ring_buffer__consume(rb);
			if (n_events - had != (v == V_EMITTED ? (__u64)opt_runs * opt_repeat : 0)) {
				fprintf(stderr, "%s: %llu events from %u packets\n", keys[v],
					(unsigned long long)(n_events - had), opt_runs * opt_repeat);
				goto cleanup;
			}
		}
	for (int v = 0; v < V__MAX; v++) {
		qsort(samples[v], opt_rounds, sizeof(double), cmp_double);
		min[v] = samples[v][0];
		med[v] = samples[v][opt_rounds / 2];
	}
	uname(&un);
	if (opt_json) {
		printf("{\"kernel\":\"%s\",\"repeat\":%u,\"runs\":%u,\"rounds\":%u,\"frame_bytes\":64,\"events\":%llu,\"results\":[",
		       un.release, opt_repeat, opt_runs, opt_rounds, (unsigned long long)n_events);
		for (int v = 0; v < V__MAX; v++)
			printf("%s{\"variant\":\"%s\",\"name\":\"%s\",\"ns_min\":%.2f,\"ns_median\":%.2f,\"more_than_before_min\":%.2f,\"more_than_before_median\":%.2f}",
			       v ? "," : "", keys[v], names[v], min[v], med[v], min[v] - min[V_BEFORE], med[v] - med[V_BEFORE]);
		printf("]}\n");
	} else {
		printf("packet event cost: pcf_xdp on a 64-byte UDP frame hitting a DROP rule, BPF_PROG_TEST_RUN,\n"
		       "%u runs of %u packets per sample, %u rounds interleaved, kernel %s\n\n",
		       opt_runs, opt_repeat, opt_rounds, un.release);
		printf("%-32s %8s %10s %8s %10s\n", "variant", "ns min", "vs before", "ns med", "vs before");
		for (int v = 0; v < V__MAX; v++)
			printf("%-32s %8.1f %+10.1f %8.1f %+10.1f\n", names[v], min[v], min[v] - min[V_BEFORE], med[v], med[V_BEFORE] ? med[v] - med[V_BEFORE] : 0);
	}
	ret = 0;
	goto cleanup;
fail:
	fprintf(stderr, "bench_event_cost: %s\n", strerror(-err));
cleanup:
	ring_buffer__free(rb);
	bpf_object__close(now.obj);
	bpf_object__close(before.obj);
	return ret;
}
