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
#define PCF_PIN_XSKMAP     "pcf_xskmap"     /* XSKMAP PCF_XSK_KEY(port, rx queue) -> AF_XDP socket */
#define PCF_PIN_CONFIG     "pcf_config"     /* ARRAY[PCF_MAX_PORTS] struct pcf_config, by port */

#define PCF_DEFAULT_PIN_DIR  "/sys/fs/bpf/pcf"
#define PCF_DEFAULT_MAX_RULES 131072
#define PCF_MAX_QUEUES 64               /* RX queues per interface; queue_id must be below it */

/* One pin dir (one set of rule maps) serves up to PCF_MAX_PORTS interfaces, each with its own
 * XDP attachment and "port" number (0 for the first): in the lab dut0 is port 0 and dut1,
 * which carries the replies of NATed flows, port 1. A socket of the worker for queue q of
 * port p sits at PCF_XSK_KEY(p, q): AF_XDP only takes frames of its own device and queue. */
#define PCF_MAX_PORTS 4
#define PCF_XSK_KEY(port, queue) ((port) * PCF_MAX_QUEUES + (queue))

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

/* Written by the XDP program in front of every packet that matched a rule (PASS and
 * REDIRECT), read by the TC ingress program (skb->mark) and by the worker (AF_XDP UMEM
 * headroom). 32 bytes: exactly the metadata limit, a multiple of 4. */
#define PCF_META_MAGIC 0x50434631u /* "PCF1" */
struct pcf_xdp_meta {
	struct pcf_flow_action action;
	__u32 magic;      /* last, so it sits right in front of the frame: data - 4 */
};

/* Runtime knobs of one port, pcf_config[port]; ifindex 0 = no interface at that port. Written
 * by the loader only. */
struct pcf_config {
	__u32 default_action;   /* enum pcf_action_type for packets that match no rule (PASS) */
	__u32 n_rx_queues;      /* RX queues of the attached interface; bounds queue_id */
	__u32 ifindex;          /* interface the program is attached to */
	__u32 reserved;
};

struct pcf_counter {
	__u64 packets;
	__u64 bytes;
};

/* The one numbered table of XDP counters (index into pcf_stats). Mirrored by name, never by
 * number, in: native/src/addon.cc (exports the names), server/ (GET /stats keys).
 *   ACT_*    packets that matched a rule, by action;
 *   MISS_*   packets that matched no rule (default action applied);
 *   RSN_*    packets passed without a lookup, by reason; also counted in PASS_UNPARSED. */
#define PCF_COUNTER_TABLE(X)                                                       \
	X(RX,                 "rx")                 /* every packet the program saw */ \
	X(ACT_PASS,           "act_pass")                                              \
	X(ACT_DROP,           "act_drop")                                              \
	X(ACT_REDIRECT,       "act_redirect")       /* handed to an AF_XDP socket */   \
	X(REDIRECT_FALLBACK,  "redirect_fallback")  /* REDIRECT, no socket: PASS  */   \
	X(QUEUE_MISMATCH,     "queue_mismatch")     /* REDIRECT on another queue: PASS */ \
	X(MISS_PASS,          "miss_pass")                                             \
	X(MISS_DROP,          "miss_drop")                                             \
	X(PASS_UNPARSED,      "pass_unparsed")      /* sum of the RSN_* below */       \
	X(RSN_NON_IPV4,       "rsn_non_ipv4")                                          \
	X(RSN_TRUNC_ETH,      "rsn_trunc_eth")                                         \
	X(RSN_TRUNC_VLAN,     "rsn_trunc_vlan")                                        \
	X(RSN_TRUNC_IP,       "rsn_trunc_ip")                                          \
	X(RSN_BAD_IP_HDR,     "rsn_bad_ip_hdr")     /* version, ihl or tot_len wrong */ \
	X(RSN_FRAGMENT,       "rsn_fragment")                                          \
	X(RSN_TRUNC_L4,       "rsn_trunc_l4")                                          \
	X(META_FAIL,          "meta_fail")          /* adjust_meta refused: no metadata */

enum pcf_counter_idx {
#define PCF_X_ENUM(id, name) PCF_CNT_##id,
	PCF_COUNTER_TABLE(PCF_X_ENUM)
#undef PCF_X_ENUM
	PCF_CNT__MAX
};

#endif /* PCF_COMMON_H */
