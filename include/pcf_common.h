/* pcf_common.h - the one layout shared by the XDP/TC programs (xdp/pcf_xdp.bpf.c), the native
 * addon (native/) and the DPDK worker (dpdk/). Everything that crosses the kernel boundary
 * is declared here, once. TypeScript never packs these structs: the addon does.
 *
 * Byte order: addresses and ports are kept in network byte order in keys, actions and
 * metadata, exactly as they appear in the packet, so the datapath never swaps.
 */
#ifndef PCF_COMMON_H
#define PCF_COMMON_H

#include <linux/types.h>

/* Names of the pinned objects under the pin dir (default /sys/fs/bpf/pcf). */
#define PCF_PIN_FLOW_MAP   "pcf_flow_map"   /* HASH  pcf_flow_key -> pcf_flow_action   */
#define PCF_PIN_STATS      "pcf_stats"      /* PERCPU_ARRAY  enum pcf_counter_idx -> pcf_counter */
#define PCF_PIN_RULE_STATS "pcf_rule_stats" /* PERCPU_ARRAY  stats_slot -> pcf_counter */
#define PCF_PIN_XSKMAP     "pcf_xskmap"     /* XSKMAP PCF_XSK_KEY(attachment, rx queue) -> AF_XDP socket */
#define PCF_PIN_CONFIG     "pcf_config"     /* ARRAY[PCF_MAX_ATTACHMENTS] struct pcf_config, by attachment */
/* The classifier of rules with a precedence (prefixes, port ranges, any protocol, IPv6):
 * tuple-space search over at most PCF_MAX_SHAPES shapes, behind a per-CPU flow cache, with
 * every change published by one write of pcf_ruleset.gen (xdp/README.md: Classifier). */
#define PCF_PIN_RULES      "pcf_rules"      /* ARRAY  stats_slot -> struct pcf_rule (versioned body) */
#define PCF_PIN_MATCH_MAP  "pcf_match_map"  /* HASH   struct pcf_match_key -> struct pcf_bucket */
#define PCF_PIN_SHAPES     "pcf_shapes"     /* ARRAY[2 * PCF_MAX_SHAPES] struct pcf_shape, by gen parity */
#define PCF_PIN_RULESET    "pcf_ruleset"    /* ARRAY[1] struct pcf_ruleset: the published generation */
#define PCF_PIN_FLOW_CACHE "pcf_flow_cache" /* LRU_PERCPU_HASH struct pcf_tuple -> struct pcf_cache_entry (IPv6) */
#define PCF_PIN_FLOW_CACHE4 "pcf_flow_cache4" /* LRU_PERCPU_HASH struct pcf_tuple4 -> struct pcf_cache_entry (IPv4) */
#define PCF_PIN_NAT6       "pcf_nat6"       /* ARRAY (mmapable) stats_slot -> struct pcf_nat6 */
/* Packet events (xdp/README.md: Packet events): the XDP program's verdicts, sampled and rate
 * limited per CPU, through a ring buffer that the control plane reads. */
#define PCF_PIN_EVENTS       "pcf_events"       /* RINGBUF of struct pcf_packet_event */
#define PCF_PIN_EVENT_CONFIG "pcf_event_config" /* ARRAY[1] struct pcf_event_config (control plane writes) */
#define PCF_PIN_EVENT_STATE  "pcf_event_state"  /* PERCPU_ARRAY[1] struct pcf_event_state (XDP's own) */
/* A BPF iterator's link (xdp/map_count.bpf.c), pinned by pcf-xdp attach where the kernel has
 * bpf_map_sum_elem_count (Linux 6.6): reading the file gives one line per map named pcf_*,
 * "<map id> <name> <elements>", the element count the kernel keeps (0 for an array). */
#define PCF_PIN_MAP_COUNTS "pcf_map_counts"

/* Every pinned map, in the order the loader reports them: X(id, pin name). The loader makes
 * its map index of it (M_<id>), the addon its list for mapInfo. */
#define PCF_PINNED_MAPS(X)                          \
	X(FLOW, PCF_PIN_FLOW_MAP)                   \
	X(STATS, PCF_PIN_STATS)                     \
	X(RULE_STATS, PCF_PIN_RULE_STATS)           \
	X(XSKMAP, PCF_PIN_XSKMAP)                   \
	X(CONFIG, PCF_PIN_CONFIG)                   \
	X(RULES, PCF_PIN_RULES)                     \
	X(MATCH, PCF_PIN_MATCH_MAP)                 \
	X(SHAPES, PCF_PIN_SHAPES)                   \
	X(RULESET, PCF_PIN_RULESET)                 \
	X(CACHE, PCF_PIN_FLOW_CACHE)                \
	X(NAT6, PCF_PIN_NAT6)                       \
	X(CACHE4, PCF_PIN_FLOW_CACHE4)              \
	X(EVENTS, PCF_PIN_EVENTS)                   \
	X(EVENT_CONFIG, PCF_PIN_EVENT_CONFIG)       \
	X(EVENT_STATE, PCF_PIN_EVENT_STATE)

#define PCF_DEFAULT_PIN_DIR  "/sys/fs/bpf/pcf"
/* Rules (exact and with a precedence) per pin dir: 2^20, so a million fit by default. Maps
 * sized by it take about 330 MiB of kernel memory on 2 CPUs (README.md, Memory). */
#define PCF_DEFAULT_MAX_RULES 1048576
#define PCF_MAX_QUEUES 64               /* RX queues per interface; queue_id must be below it */
#define PCF_DEFAULT_FLOW_CACHE 65536    /* tuples in each flow cache (the values are per CPU) */
#define PCF_MAX_SHAPES 32               /* distinct match shapes of rules with a precedence */
#define PCF_BUCKET_RULES 16             /* rules with a precedence sharing one shape, addresses and protocol */
#define PCF_BUCKET_SLOTS (2 * PCF_BUCKET_RULES) /* room for a commit's old and new members at once */
#define PCF_SLOT_NONE 0xffffffffu       /* pcf_cache_entry.slot: no rule matched */

/* One pin dir (one set of rule maps) serves up to PCF_MAX_ATTACHMENTS interfaces. An
 * interface's place in the pin dir is its "attachment" number (0 for the first; pcf-xdp
 * attach --attachment N): its own program instance, links xdp_link_N/tc_link_N, its
 * pcf_config[N] entry and its range of pcf_xskmap keys. Not an L4 port, and not the worker's
 * I/O handle (a DPDK-style port, dpdk/port.h). In the lab dut0 is attachment 0 and dut1,
 * which carries the replies of NATed flows, attachment 1. A socket of the worker for queue q
 * of attachment a sits at PCF_XSK_KEY(a, q): AF_XDP only takes frames of its own device and
 * queue. */
#define PCF_MAX_ATTACHMENTS 4
#define PCF_XSK_KEY(attachment, queue) ((attachment) * PCF_MAX_QUEUES + (queue))

/* The 5-tuple. Ports are 0 for ICMP and for protocols without ports. 16 bytes, no holes. */
struct pcf_flow_key {
	__u32 src_ip;   /* network order */
	__u32 dst_ip;   /* network order */
	__u16 src_port; /* network order */
	__u16 dst_port; /* network order */
	__u8  proto;    /* IANA protocol number: 6 tcp, 17 udp, 1 icmp */
	__u8  pad[3];   /* always zero: part of the hash key */
};

enum pcf_action_type {
	PCF_ACT_PASS = 0,
	PCF_ACT_DROP = 1,
	PCF_ACT_REDIRECT = 2,
};

/* pcf_flow_action.flags */
#define PCF_F_SNAT   (1u << 0) /* worker rewrites the source address/port   */
#define PCF_F_DNAT   (1u << 1) /* worker rewrites the destination address/port */
#define PCF_F_MARK   (1u << 2) /* skb->mark set by the TC ingress program     */
#define PCF_F_MIRROR (1u << 3) /* worker mirrors the rule's packets (worker issue) */

#define PCF_QUEUE_ANY 0xff      /* queue_id not set: redirect on whatever queue the packet came */

/* The value of pcf_flow_map, and the body of the XDP metadata. 28 bytes, no holes. */
struct pcf_flow_action {
	__u32 rule_id;    /* stable id from SQLite: how the worker and the API name the rule */
	__u32 stats_slot; /* index of the rule's counters in pcf_rule_stats (< its max_entries),
			   * handed out densely by the control plane: an array lookup, not a
			   * second hash lookup, on the packet path */
	__u8  type;       /* enum pcf_action_type */
	__s8  ttl_delta;  /* REDIRECT only: applied by the worker */
	__u8  flags;      /* PCF_F_* */
	__u8  queue_id;   /* REDIRECT only: redirect only when rx_queue_index == queue_id; PCF_QUEUE_ANY */
	__u32 mark;       /* with PCF_F_MARK: skb->mark for packets that take the kernel path */
	__u32 snat_ip;    /* network order, with PCF_F_SNAT (0 = keep address) */
	__u32 dnat_ip;    /* network order, with PCF_F_DNAT (0 = keep address) */
	__u16 snat_port;  /* network order, with PCF_F_SNAT (0 = keep port) */
	__u16 dnat_port;  /* network order, with PCF_F_DNAT (0 = keep port) */
};

/* pcf_nat6[stats_slot]: the IPv6 addresses of a REDIRECT rule's NAT (the 32-byte metadata has
 * no room for them). The action says which sides are translated (PCF_F_SNAT/PCF_F_DNAT) and
 * holds the ports; for an IPv6 rule its snat_ip/dnat_ip are 0 and these are the addresses; an
 * all-zero address keeps the packet's own. Written by the control plane before the rule that
 * uses it; the worker reads it through mmap (BPF_F_MMAPABLE): no syscall per packet. */
struct pcf_nat6 {
	__u8 snat_ip[16]; /* network order */
	__u8 dnat_ip[16];
};

/* Written by the XDP program in front of every packet that matched a rule (PASS and
 * REDIRECT), read by the TC ingress program (skb->mark) and by the worker (AF_XDP UMEM
 * headroom). 32 bytes: exactly the metadata limit, a multiple of 4. */
#define PCF_META_MAGIC 0x50434631u /* "PCF1" */
struct pcf_xdp_meta {
	struct pcf_flow_action action;
	__u32 magic;      /* last, so it sits right in front of the frame: data - 4 */
};

/* Runtime knobs of one attachment, pcf_config[attachment]; ifindex 0 = no interface at that
 * attachment. Written by the loader only. */
struct pcf_config {
	__u32 default_action;   /* enum pcf_action_type for packets that match no rule (PASS) */
	__u32 n_rx_queues;      /* RX queues of the attached interface; bounds queue_id */
	__u32 ifindex;          /* interface the program is attached to */
	__u32 frag_action;      /* enum pcf_frag_action: a later fragment no port-less rule matches */
};

enum pcf_frag_action {
	PCF_FRAG_AS_DEFAULT = 0, /* the attachment's default_action */
	PCF_FRAG_PASS = 1,
	PCF_FRAG_DROP = 2,
};

/* ---- The classifier of rules with a precedence ------------------------------------------
 *
 * A packet as the classifier sees it. IPv4 addresses sit in src[0]/dst[0], the rest zero.
 * Ports are 0 for protocols without ports and for later fragments. 40 bytes, no holes: the
 * key of pcf_flow_cache, and (with family replaced by the shape id) of pcf_match_map. */
#define PCF_FAMILY_IPV4 4
#define PCF_FAMILY_IPV6 6
struct pcf_tuple {
	__u8  family;   /* PCF_FAMILY_IPV4 / PCF_FAMILY_IPV6 */
	__u8  proto;    /* IPv4 protocol / IPv6 upper-layer next header */
	__u16 pad;      /* zero (the flow cache sets 1 for a later fragment) */
	__u16 src_port; /* network order */
	__u16 dst_port; /* network order */
	__u32 src[4];   /* network order */
	__u32 dst[4];
};

/* pcf_flow_cache4 key: an IPv4 tuple in 16 bytes. The cache lookup's hashing is most of a
 * steady-state hit, and 16 bytes hash in well under half the time of 40. */
struct pcf_tuple4 {
	__u32 src;      /* network order */
	__u32 dst;
	__u16 src_port; /* network order */
	__u16 dst_port;
	__u8  proto;
	__u8  later;    /* 1: a later fragment (searched among port-less rules only) */
	__u16 pad;      /* zero */
};

/* pcf_match_map key: the tuple masked by one shape. */
struct pcf_match_key {
	__u8  shape;    /* pcf_shape.id */
	__u8  proto;    /* 0 when the shape has no PCF_SHAPE_PROTO */
	__u16 pad;
	__u16 src_port; /* network order; 0 unless PCF_SHAPE_SPORT */
	__u16 dst_port; /* network order; 0 unless PCF_SHAPE_DPORT */
	__u32 src[4];   /* masked by the shape's prefix */
	__u32 dst[4];
};

/* pcf_shape.flags: which fields are part of the hash key (the rest are checked per rule). */
#define PCF_SHAPE_PROTO (1u << 0) /* one protocol (else any) */
#define PCF_SHAPE_SPORT (1u << 1) /* one source port (else any or a range) */
#define PCF_SHAPE_DPORT (1u << 2) /* one destination port */

/* One match shape: family, both prefix lengths and which of proto/ports are exact. The table
 * of a generation lists its shapes by ascending min_rank, so the search stops at the first
 * shape that cannot beat the best rule found. 48 bytes. */
struct pcf_shape {
	__u8  id;        /* in pcf_match_key.shape; stable while the shape has rules */
	__u8  family;
	__u8  flags;     /* PCF_SHAPE_* */
	__u8  pad[5];
	__u64 min_rank;  /* no rule of this shape ranks lower (better) */
	__u32 src_mask[4]; /* network order, from the prefix length */
	__u32 dst_mask[4];
};

/* pcf_ruleset[0], mmapable: the control plane stores into it directly. A commit first stores
 * `staging` = gen + 1, then writes the next generation where packets of gen do not look (the
 * other half of each pcf_rule, the shapes at parity (gen + 1) & 1 and their n_shapes), then
 * publishes gen + 1: one aligned 8-byte store. A packet reads gen once and, after classifying,
 * staging: at gen + 2 or beyond, what it read may have been rewritten under it, and it
 * classifies again (a seqlock's reader). 64 bits: generations never wrap. */
struct pcf_ruleset {
	__u64 gen;
	__u64 staging;     /* the generation being written: gen (idle) or gen + 1 */
	__u32 n_shapes[2]; /* by gen & 1 */
	__u32 no_exact;    /* 1: pcf_flow_map is empty, skip its lookup (0: look, the safe default) */
	__u32 pad;
};

/* Classifications a packet tries before it gives up on a rule set that keeps changing under
 * it (two commits within one classification, e.g. a vCPU preempted mid-packet) and takes the
 * default action, counted RETRY_EXHAUSTED. */
#define PCF_CLASSIFY_TRIES 4

/* A rule with a precedence as one generation sees it. rank = precedence << 32 | rule_id:
 * the lowest wins; equal precedences go to the older rule (lower id). Ports are host order
 * and inclusive; "any" is 0..65535. 48 bytes. */
struct pcf_rule_body {
	__u64 rank;
	__u16 src_port_lo, src_port_hi;
	__u16 dst_port_lo, dst_port_hi;
	struct pcf_flow_action action;
	__u32 live;     /* 0: no rule in this version (added later, deleted, or never written) */
};

/* One version of a rule: the body that generations from `gen` on see (until a newer one). */
struct pcf_rule_half {
	__u64 gen;
	struct pcf_rule_body body;
};

/* pcf_rules[stats_slot], mmapable. A packet of generation g reads the half with the highest
 * gen <= g (half 0 on a tie; none: no rule). A commit to g + 1 rewrites only the other half,
 * which no packet of g reads; a packet of an older generation that read it notices by
 * pcf_ruleset.staging and classifies again (xdp/README.md: Classifier). */
struct pcf_rule {
	struct pcf_rule_half half[2];
};

/* pcf_match_map value: the slots of the rules under one masked key, any order. */
struct pcf_bucket {
	__u32 n;
	__u32 slot[PCF_BUCKET_SLOTS];
};

/* pcf_flow_cache value: the result of the search for one tuple at one generation. */
struct pcf_cache_entry {
	__u64 gen;
	__u32 slot; /* PCF_SLOT_NONE: no rule with a precedence matched */
	__u32 pad;
};

struct pcf_counter {
	__u64 packets;
	__u64 bytes;
};

/* The one numbered table of XDP counters (index into pcf_stats). Mirrored by name, never by
 * number, in: native/src/addon.cc (exports the names), server/ (GET /stats keys).
 * Every packet counts RX and exactly one outcome:
 *   ACT_*, REDIRECT_FALLBACK, QUEUE_MISMATCH  matched a rule;
 *   MISS_*          matched no rule (the attachment's default action);
 *   PASS_UNPARSED / DROP_UNPARSED  not classified, with exactly one RSN_* reason: non-IP
 *                   always passes (the node stays reachable: ARP, LLDP); malformed IP and
 *                   later fragments that no port-less rule matches take the default action
 *                   (fragments: the attachment's frag_action).
 * On top: RX_IPV6, FRAG_FIRST, FRAG_LATER (classified fragments), CACHE_HIT/CACHE_MISS
 * (searches of rules with a precedence), META_FAIL (metadata refused; the verdict stands),
 * EVENT_* (packet events: emitted, held back by the rate limit, lost to a full ring). */
#define PCF_COUNTER_TABLE(X)                                                       \
	X(RX,                 "rx")                 /* every packet the program saw */ \
	X(ACT_PASS,           "act_pass")                                              \
	X(ACT_DROP,           "act_drop")                                              \
	X(ACT_REDIRECT,       "act_redirect")       /* handed to an AF_XDP socket */   \
	X(REDIRECT_FALLBACK,  "redirect_fallback")  /* REDIRECT, no socket: PASS  */   \
	X(QUEUE_MISMATCH,     "queue_mismatch")     /* REDIRECT on another queue: PASS */ \
	X(MISS_PASS,          "miss_pass")                                             \
	X(MISS_DROP,          "miss_drop")                                             \
	X(PASS_UNPARSED,      "pass_unparsed")      /* with one RSN_* below */         \
	X(DROP_UNPARSED,      "drop_unparsed")      /* with one RSN_* below */         \
	X(RSN_NON_IP,         "rsn_non_ip")         /* neither IPv4 nor IPv6: passed */ \
	X(RSN_TRUNC_ETH,      "rsn_trunc_eth")                                         \
	X(RSN_TRUNC_VLAN,     "rsn_trunc_vlan")                                        \
	X(RSN_VLAN_DEPTH,     "rsn_vlan_depth")     /* a third VLAN tag */             \
	X(RSN_TRUNC_IP,       "rsn_trunc_ip")                                          \
	X(RSN_BAD_IP_HDR,     "rsn_bad_ip_hdr")     /* version, ihl or length wrong */ \
	X(RSN_EXT_HDRS,       "rsn_ext_hdrs")       /* IPv6 extension chain too long */ \
	X(RSN_FRAGMENT,       "rsn_fragment")       /* later fragment, no port-less rule */ \
	X(RSN_TRUNC_L4,       "rsn_trunc_l4")                                          \
	X(RSN_BAD_L4,         "rsn_bad_l4")         /* TCP data offset below 5 */      \
	X(RX_IPV6,            "rx_ipv6")            /* IPv6 packets among RX */        \
	X(FRAG_FIRST,         "frag_first")         /* first fragments, classified by ports */ \
	X(FRAG_LATER,         "frag_later")         /* later fragments, port-less rules only */ \
	X(CACHE_HIT,          "cache_hit")          /* pcf_flow_cache answered */      \
	X(CACHE_MISS,         "cache_miss")         /* the shapes were searched */     \
	X(CLASSIFY_RETRY,     "classify_retry")     /* a commit rewrote what it read: again */ \
	X(RETRY_EXHAUSTED,    "retry_exhausted")    /* PCF_CLASSIFY_TRIES retries: default */ \
	X(META_FAIL,          "meta_fail")          /* adjust_meta refused: no metadata */ \
	X(EVENT_SENT,         "event_sent")         /* packet events into pcf_events */ \
	X(EVENT_LIMITED,      "event_limited")      /* due, but over the CPU's rate limit */ \
	X(EVENT_LOST,         "event_lost")         /* due, but pcf_events was full */

enum pcf_counter_idx {
#define PCF_X_ENUM(id, name) PCF_CNT_##id,
	PCF_COUNTER_TABLE(PCF_X_ENUM)
#undef PCF_X_ENUM
	PCF_CNT__MAX
};

/* ---- Packet events ------------------------------------------------------------------------
 * After its verdict, pcf_xdp emits an event for 1 in sample[action] packets (0: none), at
 * most `burst` at once and then one per interval_ns on each CPU (a GCRA token bucket in
 * pcf_event_state), while `on` is set: the control plane sets it while someone watches and
 * events are enabled. A packet that emits nothing pays one array load and a branch. */
#define PCF_EVENTS_RING_BYTES (1u << 20) /* 14,563 events: 64 bytes each and an 8-byte header */

/* An event's action is what XDP did, as an enum pcf_action_type: PASS (XDP_PASS: by a rule,
 * by default or as a fallback), DROP, REDIRECT (into the worker's socket). */
#define PCF_EVENT_ACTIONS 3

struct pcf_event_config {
	__u64 interval_ns;         /* the rate limit: one event per interval_ns on a CPU ... */
	__u64 burst_ns;            /* ... after a burst of burst_ns / interval_ns at once */
	__u32 sample[PCF_EVENT_ACTIONS]; /* by action: 1 in N packets; 0: none */
	__u32 on;                  /* 0: no event at all */
};

struct pcf_event_state {
	__u64 tat_ns;              /* the bucket's theoretical arrival time (GCRA) */
	__u32 seen[PCF_EVENT_ACTIONS]; /* packets since the last sampled one, by action */
	__u32 pad;
};

/* One event: 64 bytes. */
struct pcf_packet_event {
	__u64 time_ns;             /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 rule_id;             /* 0: no rule (the default action, not parsed) */
	__u16 queue;               /* the RX queue */
	__u8  attachment;
	__u8  action;              /* enum pcf_action_type: what XDP did */
	__u8  reason;              /* enum pcf_counter_idx: the outcome counted (act_drop, miss_pass, rsn_*) */
	__u8  cpu;
	__u16 len;                 /* frame length, at most 65535 */
	struct pcf_tuple tuple;    /* family 0: not parsed (non-IP, malformed) */
};

/* ---- The worker's burst trace (trace/: pcf-trace) ---------------------------------------
 * pcf-trace attaches to the worker's USDT probes pcf_worker:rx_burst and tx_burst
 * (dpdk/datapath.c) and counts each port queue's bursts in PCF_PIN_TRACE_BURSTS; while it runs
 * it pins that map and PCF_PIN_TRACE_META in the pin dir, where the control plane reads them
 * for /metrics. A trace is live while its heartbeat (CLOCK_MONOTONIC) is recent: a pin left
 * by a killed tool goes stale, and the next pcf-trace replaces it. */
#define PCF_PIN_TRACE_BURSTS "pcf_trace_bursts" /* HASH struct pcf_burst_key -> struct pcf_burst_stats */
#define PCF_PIN_TRACE_META   "pcf_trace_meta"   /* ARRAY[1] struct pcf_trace_meta, written by pcf-trace */
#define PCF_TRACE_MAX_KEYS   256                /* port queues a trace tells apart */
#define PCF_PORT_NAME_LEN    48                 /* the worker's port names (dpdk/port.h) */
#define PCF_BURST_HIST       65                 /* hist[n]: bursts of n packets, hist[64]: 64 or more */
#define PCF_TRACE_STALE_INTERVALS 3             /* a heartbeat older than 3 intervals: not live */

enum pcf_burst_dir {
	PCF_BURST_RX = 0, /* rx_burst: n packets received */
	PCF_BURST_TX = 1, /* tx_burst: n packets handed to the egress */
};

struct pcf_burst_key {
	__u32 dir;                      /* enum pcf_burst_dir */
	__u32 queue;                    /* the lcore's RX queue */
	char  port[PCF_PORT_NAME_LEN];  /* the port's name, NUL-padded: "dut0 queue 0" */
};

struct pcf_burst_stats {
	__u64 bursts;
	__u64 packets;                  /* the sum of n */
	__u64 sent;                     /* TX: the sum of what the egress took (<= packets) */
	__u64 hist[PCF_BURST_HIST];
};

struct pcf_trace_meta {
	__u64 heartbeat_ns;             /* CLOCK_MONOTONIC of the tool's last interval */
	__u64 started_ns;               /* CLOCK_MONOTONIC when it attached first */
	__u32 pid;                      /* the worker it traces (the tool's pid namespace) */
	__u32 interval_ms;              /* how often it prints and beats */
	__u32 attaches;                 /* workers attached to so far (a restart adds one) */
	__u32 pad;
};

#endif /* PCF_COMMON_H */
