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

/* PCF_XSK_KEY(attachment, rx queue) -> the worker's AF_XDP socket: one map for every attachment. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, PCF_MAX_ATTACHMENTS * PCF_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} pcf_xskmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCF_CNT__MAX);
	__type(key, __u32);
	__type(value, struct pcf_counter);
} pcf_stats SEC(".maps");

/* pcf_config[attachment]: each attachment's program reads its own entry (the loader writes it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCF_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, struct pcf_config);
} pcf_config SEC(".maps");

/* ---- The classifier of rules with a precedence (pcf_common.h) ---- */

/* stats_slot -> the versioned body of a rule with a precedence. Sized like pcf_flow_map (one
 * slot space for every rule); exact rules without a precedence leave their slot unused. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCF_DEFAULT_MAX_RULES);
	__uint(map_flags, BPF_F_MMAPABLE); /* the control plane writes halves in place */
	__type(key, __u32);
	__type(value, struct pcf_rule);
} pcf_rules SEC(".maps");

/* One entry per (shape, masked addresses, protocol, exact ports): at most one per rule. Not
 * preallocated: a replaced bucket is freed after an RCU grace period, so a packet reading it
 * never sees another key's slots (a preallocated element can be reused at once). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCF_DEFAULT_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pcf_match_key);
	__type(value, struct pcf_bucket);
} pcf_match_map SEC(".maps");

/* Shapes of generation g at (g & 1) * PCF_MAX_SHAPES, ascending min_rank. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PCF_MAX_SHAPES);
	__type(key, __u32);
	__type(value, struct pcf_shape);
} pcf_shapes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE); /* gen is published by one 8-byte store */
	__type(key, __u32);
	__type(value, struct pcf_ruleset);
} pcf_ruleset SEC(".maps");

/* The search's answer per packet tuple, valid for the generation it was computed at: a new
 * generation invalidates every entry at once, without touching the map. Per-CPU values: no
 * contention between the CPUs that receive. IPv6 here, IPv4 in the 16-byte-key twin below. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, PCF_DEFAULT_FLOW_CACHE);
	__type(key, struct pcf_tuple);
	__type(value, struct pcf_cache_entry);
} pcf_flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, PCF_DEFAULT_FLOW_CACHE);
	__type(key, struct pcf_tuple4);
	__type(value, struct pcf_cache_entry);
} pcf_flow_cache4 SEC(".maps");

/* stats_slot -> the IPv6 NAT addresses of a REDIRECT rule, for the worker (it mmaps the
 * array). Not read here; sized like pcf_flow_map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCF_DEFAULT_MAX_RULES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pcf_nat6);
} pcf_nat6 SEC(".maps");

/* ---- Packet events (pcf_common.h) ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PCF_EVENTS_RING_BYTES);
} pcf_events SEC(".maps");

/* The control plane's choice (a zero entry, as created, is off: no event until it writes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcf_event_config);
} pcf_event_config SEC(".maps");

/* Per CPU: no atomics on the path of a sampled packet. Pinned, so that every attachment's
 * program shares one limit per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcf_event_state);
} pcf_event_state SEC(".maps");

#endif /* PCF_MAPS_BPF_H */
