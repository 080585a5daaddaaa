// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdpgen.c - pcf-xdpgen: bench/rfc2544.ts's generator. It sends one frame, over and over, out
 * of a veth with the kernel's own XDP traffic generator: BPF_PROG_TEST_RUN in live-frames
 * mode (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18) runs xdpgen.bpf.c on the frame, and its
 * redirect hands the frame to the veth's ndo_xdp_xmit. The frame reaches the peer (the DUT's
 * interface) as an xdp_frame, as a NIC's DMA'd page reaches its driver: the peer's XDP program
 * runs on it directly, and an skb is built only for what it passes. trafgen's frames are skbs,
 * which veth copies into a new page before XDP can run (about 400 ns a frame here), a cost no
 * NIC driver has; this generator is also many times faster.
 *
 * Usage: pcf-xdpgen --dev IFNAME --frame HEX --count N [--pps RATE] [--seconds S]
 *                   [--batch-us US] [--hold IFNAME] [--obj FILE]
 *   --pps     the rate (0, the default: as fast as it goes). The program paces: each frame
 *             waits in it until it is due. A run covers 1 ms of frames; below 1,000 pps, one
 *             frame, with a sleep before it.
 *   --batch-us  how much of the schedule one batch covers (default 50, at most 64 frames).
 *             The kernel flushes a batch's redirects at its end, so the DUT receives a batch
 *             at once and wakes once for it, as a NIC's interrupt moderation (rx-usecs) makes
 *             it. The generator's CPU has its softirqs off for the batch: a smaller batch
 *             delays less what else that CPU receives (latency probes).
 *   --seconds the most it may take (default: count / pps + 2 s, unpaced 10 s)
 *   --hold    an interface that carries nothing (a veth of its own, down) to attach the program
 *             to while it runs. Each BPF_PROG_TEST_RUN otherwise puts the program into the
 *             kernel's XDP dispatcher and takes it out again, and each change waits for an
 *             RCU grace period (about 24 ms here). Attached, it stays in the dispatcher.
 * It stops at the count, the time bound, or SIGINT/SIGTERM, and prints one line:
 *   {"sent":N,"secs":S,"late":L}  frames the program ran on, the time from the first frame's
 *                                 due time to the end of the last run, and frames it sent
 *                                 more than XDPGEN_LATE_NS late (it was preempted; the schedule starts
 *                                 again rather than bursting to catch up)
 * A frame the peer could not take (its queue was full) is counted in `sent`: it is the DUT's
 * loss, as a NIC's full RX ring is; veth counts it in the sender's xdp_xmit_errors.
 * Why runs of 1 ms: each run registers a page pool with an id from a space of 65,534, freed
 * only a second after its last page comes back (the frames an skb holds); a run per frame
 * exhausts them in under a second (ENOSPC).
 * Exit: 0 done, 1 an error (with a message), 2 usage, 77 cannot run here (no live-frames mode).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdpgen.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

#define MAX_FRAME   3000     /* live frames fit one page with the kernel's head and tail room */
#define RUN_NS      1000000  /* frames per run: this much of the schedule */
#define UNPACED_RUN 4096u
#define MAX_BATCH   64u

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static __u64 mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000000000ull + (__u64)t.tv_nsec;
}

static void sleep_until(__u64 ns)
{
	struct timespec t = { .tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
}

static int usage(const char *why)
{
	fprintf(stderr, "pcf-xdpgen: %s\nusage: pcf-xdpgen --dev IFNAME --frame HEX --count N "
		"[--pps RATE] [--seconds S] [--batch-us US] [--hold IFNAME] [--obj FILE]\n", why);
	return 2;
}

static int unhex(const char *s, unsigned char *out, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > MAX_FRAME || n / 2 < XDPGEN_HEAD)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	*len = n / 2;
	return 0;
}

static const char *default_obj(const char *argv0)
{
	static char path[4096];
	const char *slash = strrchr(argv0, '/');

	/* beside the binary: build/pcf-xdpgen and build/xdpgen.bpf.o */
	snprintf(path, sizeof(path), "%.*sxdpgen.bpf.o", slash ? (int)(slash - argv0 + 1) : 0, argv0);
	return path;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' }, { "frame", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' }, { "pps", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' }, { "hold", required_argument, NULL, 'h' },
		{ "obj", required_argument, NULL, 'o' }, { "batch-us", required_argument, NULL, 'b' }, { 0 },
	};
	static unsigned char frame[MAX_FRAME];
	const char *dev = NULL, *hex = NULL, *obj_path = NULL, *hold = NULL;
	double pps = 0, seconds = 0, batch_us = 50;
	unsigned long long count = 0;
	size_t frame_len = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'd': dev = optarg; break;
		case 'f': hex = optarg; break;
		case 'o': obj_path = optarg; break;
		case 'h': hold = optarg; break;
		case 'n': count = strtoull(optarg, &end, 10); break;
		case 'r': pps = strtod(optarg, &end); break;
		case 's': seconds = strtod(optarg, &end); break;
		case 'b': batch_us = strtod(optarg, &end); break;
		default: return usage("unknown option");
		}
		if (end && *end)
			return usage("a number is not a number");
	}
	if (!dev || !hex || !count)
		return usage("--dev, --frame and --count are needed");
	if (unhex(hex, frame, &frame_len))
		return usage("--frame: an even number of hex digits, 60 to 3000 bytes");
	if (pps < 0 || pps > 1e9 || seconds < 0 || batch_us <= 0)
		return usage("--pps 0..1e9, --seconds at least 0, --batch-us more than 0");
	if (!seconds)
		seconds = pps ? (double)count / pps + 2 : 10;

	unsigned int ifindex = if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "pcf-xdpgen: no interface %s in this network namespace\n", dev);
		return 1;
	}
	const char *file = obj_path ? obj_path : default_obj(argv[0]);
	struct bpf_object *obj = bpf_object__open_file(file, NULL);
	if (!obj) {
		fprintf(stderr, "pcf-xdpgen: cannot open %s: %s\n", file, strerror(errno));
		return 1;
	}
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	if (!rodata || bpf_map__value_size(rodata) != sizeof(__u32) || !bss ||
	    bpf_map__value_size(bss) != sizeof(struct xdpgen_state) ||
	    bpf_map__set_initial_value(rodata, &ifindex, sizeof(ifindex))) {
		fprintf(stderr, "pcf-xdpgen: %s is not xdpgen.bpf.o (out_ifindex, pacing)\n", file);
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "pcf-xdpgen: cannot load the program: %s\n", strerror(errno));
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdpgen_out"));
	struct xdpgen_state *pace = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
				   bpf_map__fd(bss), 0);
	if (pace == MAP_FAILED) {
		fprintf(stderr, "pcf-xdpgen: cannot map the program's .bss: %s\n", strerror(errno));
		return 1;
	}
	unsigned int hold_ifindex = hold ? if_nametoindex(hold) : 0;
	if (hold && (!hold_ifindex || bpf_xdp_attach((int)hold_ifindex, prog, XDP_FLAGS_DRV_MODE, NULL))) {
		fprintf(stderr, "pcf-xdpgen: cannot attach to %s (native XDP): %s\n", hold, strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* per run and per batch: 1 ms and batch_us of frames at the rate */
	unsigned long long per_run = pps ? (unsigned long long)(pps * RUN_NS / 1e9) : UNPACED_RUN;
	unsigned int batch = pps ? (unsigned int)(pps * batch_us / 1e6) : MAX_BATCH;
	if (!per_run)
		per_run = 1;
	batch = batch < 1 ? 1 : batch > MAX_BATCH ? MAX_BATCH : batch;
	__u64 t0 = mono_ns(), end = t0, bound = t0 + (__u64)(seconds * 1e9);
	pace->gap_ns = pps ? (__u64)(1e9 / pps) : 0;
	pace->next_ns = t0;
	pace->late = 0;
	memcpy(pace->head, frame, XDPGEN_HEAD);
	unsigned long long sent = 0;
	int rc = 0;
	while (!stop && sent < count && end < bound) {
		unsigned long long n = count - sent < per_run ? count - sent : per_run;
		/* a slow rate: sleep until the frame is due, the program need not wait long */
		if (pps && pace->gap_ns > RUN_NS && pace->next_ns > mono_ns())
			sleep_until(pace->next_ns);
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = (__u32)frame_len,
			    .repeat = (__u32)n, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = batch < n ? batch : (__u32)n);
		if (bpf_prog_test_run_opts(prog, &run)) {
			if (errno == EINTR)
				break;
			fprintf(stderr, "pcf-xdpgen: BPF_PROG_TEST_RUN (live frames): %s\n", strerror(errno));
			rc = errno == EINVAL || errno == EOPNOTSUPP ? 77 : 1;
			break;
		}
		sent += n;
		end = mono_ns();
	}
	if (!rc)
		printf("{\"sent\":%llu,\"secs\":%.6f,\"late\":%llu}\n", sent, (double)(end - t0) / 1e9,
		       (unsigned long long)pace->late);
	if (hold_ifindex)
		bpf_xdp_detach((int)hold_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	bpf_object__close(obj);
	return rc;
}
