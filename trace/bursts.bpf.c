// SPDX-License-Identifier: GPL-2.0
/* bursts.bpf.c - pcf-trace's programs: one per USDT probe of the worker (dpdk/datapath.c),
 * counting each port queue's bursts and their sizes in pcf_trace_bursts (pcf_common.h).
 * A burst costs the probe's trap and one hash lookup; nothing runs while no tool attaches. */
/* No vmlinux.h: the user-space pt_regs of asm/ptrace.h is what bpf_tracing.h reads without
 * one, and libbpf gives the probes' register offsets at attach. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include "pcf_common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCF_TRACE_MAX_KEYS);
	__type(key, struct pcf_burst_key);
	__type(value, struct pcf_burst_stats);
} pcf_trace_bursts SEC(".maps");

/* Written by user space only; here so that the skeleton creates it with the bursts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcf_trace_meta);
} pcf_trace_meta SEC(".maps");

static const struct pcf_burst_stats zero;

static __always_inline void count(__u32 dir, const char *port, __u32 queue, __u64 n, __u64 sent)
{
	struct pcf_burst_key key = { .dir = dir, .queue = queue };
	struct pcf_burst_stats *s;

	bpf_probe_read_user_str(key.port, sizeof(key.port), port);
	s = bpf_map_lookup_elem(&pcf_trace_bursts, &key);
	if (!s) {
		/* First burst of this queue; a full map (PCF_TRACE_MAX_KEYS queues) drops it. */
		bpf_map_update_elem(&pcf_trace_bursts, &key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&pcf_trace_bursts, &key);
		if (!s)
			return;
	}
	/* A key is one lcore's, but the adds are atomic anyway: next to the uprobe's trap
	 * (about a microsecond) they cost nothing, and a shared port cannot lose counts. */
	__sync_fetch_and_add(&s->bursts, 1);
	__sync_fetch_and_add(&s->packets, n);
	__sync_fetch_and_add(&s->sent, sent);
	__sync_fetch_and_add(&s->hist[n < PCF_BURST_HIST - 1 ? n : PCF_BURST_HIST - 1], 1);
}

SEC("usdt")
int BPF_USDT(rx_burst, const char *port, unsigned int queue, unsigned int n)
{
	count(PCF_BURST_RX, port, queue, n, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(tx_burst, const char *port, unsigned int queue, unsigned int n, unsigned int sent)
{
	count(PCF_BURST_TX, port, queue, n, sent);
	return 0;
}
