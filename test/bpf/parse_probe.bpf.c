// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* parse_probe.bpf.c - xdp/pcf_parse.bpf.h on its own, for test/bpf/test_parse.c: runs
 * pcf_parse() on the frame and leaves what it returned in parse_out[0]; always XDP_PASS.
 * It parses straight into the map value, so a field pcf_parse leaves unwritten keeps the
 * junk the test put there. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "pcf_common.h"
#include "pcf_parse.bpf.h"

/* The value of parse_out. test_parse.c declares the same layout and checks the map's
 * value_size against it before the first case. */
struct parse_result {
	__s32 ret;                /* 0 or a PCF_CNT_RSN_* */
	__s32 frag;               /* PCF_PARSE_* */
	struct pcf_tuple t;
	struct pcf_flow_key key;  /* pcf_tuple_to_key(&t) */
};

_Static_assert(sizeof(struct parse_result) == 64, "parse_result is 64 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parse_result);
} parse_out SEC(".maps");

SEC("xdp")
int parse_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct parse_result *r;
	__u32 zero = 0;

	r = bpf_map_lookup_elem(&parse_out, &zero);
	if (!r)
		return XDP_ABORTED;
	r->ret = pcf_parse(data, data_end, &r->t, &r->frag);
	pcf_tuple_to_key(&r->t, &r->key);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
