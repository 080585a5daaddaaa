// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pass.bpf.c - the floor of the cost benchmark (bench/xdp_cost.c): an XDP program that only
 * returns XDP_PASS. Also a handy "foreign" program for test/bpf/test_loader.sh. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int pcf_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
