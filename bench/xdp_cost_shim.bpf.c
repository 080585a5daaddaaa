// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp_cost_shim.bpf.c - for bench/xdp_cost.c only. BPF_PROG_TEST_RUN with repeat runs the
 * program again and again on the same xdp_buff, so metadata added by one run is still there in
 * the next: pcf_xdp's bpf_xdp_adjust_meta() would fail after a few runs and the benchmark would
 * time the failure path. This shim removes any metadata (always with one helper call, so its
 * cost is the same whatever runs next) and tail-calls the program under test in target[0].
 * The benchmark runs the floor through the same shim and subtracts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

SEC("xdp")
int xdp_cost_shim(struct xdp_md *ctx)
{
	bpf_xdp_adjust_meta(ctx, (int)(ctx->data - ctx->data_meta));
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
