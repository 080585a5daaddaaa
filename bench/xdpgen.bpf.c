// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdpgen.bpf.c - bench/xdpgen.c's program: sends every frame it is run on out of one interface
 * (BPF_PROG_TEST_RUN's live-frames mode runs it; the redirect is the transmit), each at its
 * time when pacing: it waits until the frame is due, one gap after the one before.
 * It writes the frame's first XDPGEN_HEAD bytes again each time: live frames live in pages
 * that the kernel sets up once and recycles, and a DUT that forwards an skb built on such a
 * page rewrites its headers in place (MAC addresses, TTL); the next frame from that page would
 * carry them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpgen.h"

const volatile __u32 out_ifindex = 0; /* set before load */
struct xdpgen_state state;            /* .bss, memory-mapped by xdpgen.c */

static long wait_cb(__u64 i, void *due)
{
	(void)i;
	return bpf_ktime_get_ns() >= *(__u64 *)due; /* 1 ends the loop */
}

SEC("xdp")
int xdpgen_out(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	if (data + XDPGEN_HEAD > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, state.head, XDPGEN_HEAD);
	if (state.gap_ns) {
		__u64 due = state.next_ns, now = bpf_ktime_get_ns();

		if (now < due) {
			bpf_loop(1 << 23, wait_cb, &due, 0);
		} else if (now - due > XDPGEN_LATE_NS) {
			due = now;
			state.late++;
		}
		state.next_ns = due + state.gap_ns;
	}
	return bpf_redirect(out_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
