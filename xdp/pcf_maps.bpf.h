/* pcf_maps.bpf.h - the BPF-side declarations of the pinned maps named in pcf_common.h.
 * Included by pcf_xdp.bpf.c and by test/bpf/ programs that must load against the same maps.
 * Sizes here are defaults: the loader resizes pcf_flow_map/pcf_rule_stats before load
 * (bpf_map__set_max_entries) or reuses the pinned maps as they are. */
#ifndef PCF_MAPS_BPF_H
#define PCF_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "pcf_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCF_DEFAULT_MAX_RULES);
	__type(key, struct pcf_flow_key);
	__type(value, struct pcf_flow_action);
} pcf_flow_map SEC(".maps");

/* stats_slot -> packets/bytes: the per-rule counters, indexed by pcf_flow_action.stats_slot.
 * Same max_entries as pcf_flow_map (the loader sizes both). The control plane hands out slots
 * and zeroes a slot before reusing it; the datapath only adds. An array, so the lookup is
 * inlined by the verifier (a bounds check and an address): no second hash lookup per hit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCF_DEFAULT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pcf_counter);
} pcf_rule_stats SEC(".maps");

/* PCF_XSK_KEY(port, rx queue) -> the worker's AF_XDP socket: one map for every port. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, PCF_MAX_PORTS * PCF_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} pcf_xskmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCF_CNT__MAX);
	__type(key, __u32);
	__type(value, struct pcf_counter);
} pcf_stats SEC(".maps");

/* pcf_config[port]: each port's program reads its own entry (the loader writes it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCF_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct pcf_config);
} pcf_config SEC(".maps");

#endif /* PCF_MAPS_BPF_H */
