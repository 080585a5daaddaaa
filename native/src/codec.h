/* codec.h - conversion between JavaScript objects and the structs of pcf_common.h.
 *
 * The only place that packs keys, actions and counters: network byte order for addresses
 * and ports, PCF_F_* flags from the nullable JS fields, PCF_QUEUE_ANY for a null queueId.
 * Every parse function validates and throws a TypeError naming the field; it never
 * touches a map, so a bad argument leaves the maps untouched.
 */
#ifndef PCF_NATIVE_CODEC_H
#define PCF_NATIVE_CODEC_H

#include <napi.h>

#include <stddef.h>
#include <stdint.h>
#include <string>

extern "C" {
#include "pcf_common.h"
}

namespace pcf {

/* The header promises these layouts ("no holes"); the addon relies on them. */
static_assert(sizeof(struct pcf_flow_key) == 16, "pcf_flow_key must be 16 bytes");
static_assert(sizeof(struct pcf_flow_action) == 28, "pcf_flow_action must be 28 bytes");
static_assert(offsetof(struct pcf_flow_action, stats_slot) == 4,
	      "pcf_flow_action.stats_slot must follow rule_id");
static_assert(sizeof(struct pcf_xdp_meta) == 32, "pcf_xdp_meta must be 32 bytes (the XDP limit)");
static_assert(sizeof(struct pcf_config) == 16, "pcf_config must be 16 bytes");
static_assert(sizeof(struct pcf_counter) == 16, "pcf_counter must be 16 bytes");

/* Where a value sits in the caller's argument, e.g. entries[3].action + "snatPort". Turned
 * into a string only when an error names it. */
struct FieldPath {
	const char *root;          /* "entries", "keys", "key", "ids", "id" */
	int64_t index = -1;        /* position in an array argument; -1 when not an array */
	const char *part = nullptr; /* "key" or "action" inside an entry */
	std::string Str(const char *leaf = nullptr) const;
};

/* The property names of keys, actions and entries as JS strings, made once per call and
 * reused for every element: converting 131072 entries spends most of its time on property
 * names otherwise. */
struct FlowNames {
	explicit FlowNames(Napi::Env env);
	Napi::String srcIp, dstIp, srcPort, dstPort, proto;
	Napi::String ruleId, statsSlot, type, ttlDelta, mark, queueId, snatIp, snatPort, dnatIp,
		dnatPort, mirror;
	Napi::String key, action;
};

/* {srcIp, dstIp, srcPort, dstPort, proto}: dotted IPv4, host-order numbers. */
struct pcf_flow_key ParseFlowKey(Napi::Env env, const FlowNames &n, Napi::Value v,
				 const FieldPath &field);

/* {ruleId, statsSlot, type, ttlDelta, mark, queueId, snatIp, snatPort, dnatIp, dnatPort,
 *  mirror}. */
struct pcf_flow_action ParseFlowAction(Napi::Env env, const FlowNames &n, Napi::Value v,
				       const FieldPath &field);

/* An integer in [0, 2^32). */
uint32_t ParseU32(Napi::Env env, Napi::Value v, const FieldPath &field,
		  const char *leaf = nullptr);

Napi::Object FlowKeyToJs(Napi::Env env, const FlowNames &n, const struct pcf_flow_key &k);

/* Throws ERR_PCF_BAD_VALUE (naming `path`) for an action type the header does not define. */
Napi::Object FlowActionToJs(Napi::Env env, const FlowNames &n, const struct pcf_flow_action &a,
			    const std::string &path);

/* {packets, bytes} as JS numbers: exact below 2^53 (see native/index.ts). */
Napi::Object CounterToJs(Napi::Env env, const struct pcf_counter &c);

/* "PASS", "DROP", "REDIRECT"; nullptr for a value the header does not define. */
const char *ActionTypeName(uint32_t type);

} // namespace pcf

#endif /* PCF_NATIVE_CODEC_H */
