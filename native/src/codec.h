/* codec.h - conversion between JavaScript objects and the structs of pcf_common.h.
 *
 * The only place that packs keys, actions and counters: network byte order for addresses
 * and ports, PCF_F_* flags from the nullable JS fields, PCF_QUEUE_ANY for a null queueId.
 * The values come valid from the control plane (openapi.yaml, server/validate.ts); the
 * parse functions check only what packing needs (the kind of each JS value, an integer
 * that fits its field, an address string that fits and parses) and throw a TypeError
 * naming the field. They never touch a map, so a bad argument leaves the maps untouched.
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

/* What the parsers need to know of a JS value: its kind, and the value itself for numbers
 * and strings. Read either through N-API (Classify) or from the columns native/index.ts
 * gathers for upsertFlows (EntryColumns), so both paths validate alike. The numbers are
 * part of that contract: native/index.ts (kindOf) uses the same, and checks the names
 * against kValueKindNames at load. */
enum class Kind : uint8_t {
	kNone = 0,  /* not read: a field of something that is not an object */
	kUndefined = 1,
	kNull = 2,
	kFalse = 3,
	kTrue = 4,
	kNumber = 5,
	kString = 6,
	kObject = 7, /* an object or a function, not an array */
	kOther = 8,  /* an array, a bigint, a symbol */
};
constexpr int kKinds = 9;
extern const char *const kValueKindNames[kKinds];

struct JsVal {
	Kind kind = Kind::kNone;
	double num = 0;           /* kNumber */
	napi_value str = nullptr; /* kString */
};

/* The kind (and number) of v, through N-API. */
JsVal Classify(napi_env env, napi_value v);

/* A key and an action as blocks of fields: the object itself, then its properties. The
 * order is the order of upsertFlows' columns (kEntryColumnNames). */
enum KeyField { kKeyObject, kSrcIp, kDstIp, kSrcPort, kDstPort, kProto, kKeyFields };
enum ActionField {
	kActionObject,
	kRuleId,
	kStatsSlot,
	kType,
	kTtlDelta,
	kMark,
	kQueueId,
	kSnatIp,
	kSnatPort,
	kDnatIp,
	kDnatPort,
	kMirror,
	kActionFields
};
/* One entry of upsertFlows: the entry object, its key block, its action block. */
enum EntryField {
	kEntryObject = 0,
	kEntryKey = 1,
	kEntryAction = kEntryKey + kKeyFields,
	kEntryFields = kEntryAction + kActionFields
};
/* "entry", "key", "key.srcIp", ..., "action", "action.ruleId", ... in EntryField order:
 * exported so native/index.ts can check it gathers the same columns. */
extern const char *const kEntryColumnNames[kEntryFields];

/* {srcIp, dstIp, srcPort, dstPort, proto}: dotted IPv4, host-order numbers. `v` is the key
 * block (v[kKeyObject] the key itself); throws a TypeError naming `field` and the property. */
struct pcf_flow_key PackFlowKey(Napi::Env env, const JsVal v[kKeyFields],
				const FieldPath &field);

/* {ruleId, statsSlot, type, ttlDelta, mark, queueId, snatIp, snatPort, dnatIp, dnatPort,
 *  mirror}, from the action block as PackFlowKey. */
struct pcf_flow_action PackFlowAction(Napi::Env env, const JsVal v[kActionFields],
				      const FieldPath &field);

/* A key object read through N-API (lookupFlow, deleteFlows), then PackFlowKey. */
struct pcf_flow_key ParseFlowKey(Napi::Env env, const FlowNames &n, napi_value v,
				 const FieldPath &field);

/* The columns native/index.ts (gatherEntries) fills from upsertFlows' entries: V8 reads the
 * 16 properties of an entry several times faster than N-API can, and the addon still does
 * every check and conversion. For entry i, kinds[i * kEntryFields + f] is the Kind of field
 * f; in that same order `nums` holds the value of each kNumber field and `strs` each
 * kString one. */
class EntryColumns {
public:
	/* Throws when the arguments are not (Uint8Array, Float64Array, Array) of consistent
	 * sizes: only native/index.ts calls this. */
	EntryColumns(Napi::Env env, napi_value kinds, napi_value nums, napi_value strs);
	uint32_t Size() const { return n_; }
	/* The fields of the next entry (entries are read in order, once). */
	void Next(JsVal out[kEntryFields]);

private:
	[[noreturn]] void Bad(const char *what) const;
	Napi::Env env_;
	napi_value strs_;
	const uint8_t *kinds_ = nullptr;
	const double *nums_ = nullptr;
	size_t n_kinds_ = 0, n_nums_ = 0;
	uint32_t n_strs_ = 0, n_ = 0;
	size_t at_ = 0, num_at_ = 0;
	uint32_t str_at_ = 0;
};

/* An integer that fits a u32, [0, 2^32). */
uint32_t ParseU32(Napi::Env env, const JsVal &v, const FieldPath &field,
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
