// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_bad.bpf.c - an object the verifier must reject, for test_loader.sh (pcf-xdp exit 6).
 * It has the maps and program names of pcf_xdp.bpf.o, but pcf_xdp reads the packet without a
 * bounds check. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "pcf_maps.bpf.h"

SEC("xdp")
int pcf_xdp(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[12] == 0x08 ? XDP_PASS : XDP_DROP; /* no data_end check: rejected */
}

SEC("tc")
int pcf_tc_mark(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
