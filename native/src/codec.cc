/* codec.cc - JS <-> pcf_common.h structs. The control plane hands over rules that are
 * already valid (openapi.yaml's ranges, server/validate.ts's meaning); this checks only what C
 * must to pack them: the kind of each JS value it reads, integers that fit the field they go
 * to, strings that fit their buffer and parse as addresses. */
#include "codec.h"

#include "errors.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

namespace pcf {

std::string FieldPath::Str(const char *leaf) const
{
	std::string s = root;
	if (index >= 0)
		s += "[" + std::to_string(index) + "]";
	if (part)
		s = s + "." + part;
	if (leaf)
		s = s + "." + leaf;
	return s;
}

const char *const kValueKindNames[kKinds] = {
	"none", "undefined", "null", "false", "true", "number", "string", "object", "other",
};

const char *const kEntryColumnNames[kEntryFields] = {
	"entry",
	"key", "key.srcIp", "key.dstIp", "key.srcPort", "key.dstPort", "key.proto",
	"action", "action.ruleId", "action.statsSlot", "action.type", "action.ttlDelta",
	"action.mark", "action.queueId", "action.snatIp", "action.snatPort", "action.dnatIp",
	"action.dnatPort", "action.mirror",
};

/* Throws the pending JS exception (a getter threw, ...) when an N-API call failed. */
static void Check(napi_env env, napi_status st)
{
	if (st != napi_ok)
		throw Napi::Error::New(env);
}

JsVal Classify(napi_env env, napi_value v)
{
	JsVal out;
	napi_valuetype t;
	Check(env, napi_typeof(env, v, &t));
	switch (t) {
	case napi_undefined:
		out.kind = Kind::kUndefined;
		break;
	case napi_null:
		out.kind = Kind::kNull;
		break;
	case napi_boolean: {
		bool b;
		Check(env, napi_get_value_bool(env, v, &b));
		out.kind = b ? Kind::kTrue : Kind::kFalse;
		break;
	}
	case napi_number:
		out.kind = Kind::kNumber;
		Check(env, napi_get_value_double(env, v, &out.num));
		break;
	case napi_string:
		out.kind = Kind::kString;
		out.str = v;
		break;
	case napi_object: {
		bool array;
		Check(env, napi_is_array(env, v, &array));
		out.kind = array ? Kind::kOther : Kind::kObject;
		break;
	}
	case napi_function:
		out.kind = Kind::kObject;
		break;
	default:
		out.kind = Kind::kOther;
	}
	return out;
}

static JsVal ReadProperty(napi_env env, napi_value object, napi_value name)
{
	napi_value v;
	Check(env, napi_get_property(env, object, name, &v));
	return Classify(env, v);
}

EntryColumns::EntryColumns(Napi::Env env, napi_value kinds, napi_value nums, napi_value strs)
	: env_(env), strs_(strs)
{
	bool ok = false;
	napi_typedarray_type type;
	void *data;
	if (napi_is_typedarray(env, kinds, &ok) != napi_ok || !ok ||
	    napi_get_typedarray_info(env, kinds, &type, &n_kinds_, &data, nullptr, nullptr) !=
		    napi_ok ||
	    type != napi_uint8_array)
		Bad("kinds is not a Uint8Array");
	kinds_ = (const uint8_t *)data;
	if (napi_is_typedarray(env, nums, &ok) != napi_ok || !ok ||
	    napi_get_typedarray_info(env, nums, &type, &n_nums_, &data, nullptr, nullptr) !=
		    napi_ok ||
	    type != napi_float64_array)
		Bad("nums is not a Float64Array");
	nums_ = (const double *)data;
	if (napi_is_array(env, strs, &ok) != napi_ok || !ok ||
	    napi_get_array_length(env, strs, &n_strs_) != napi_ok)
		Bad("strs is not an Array");
	if (n_kinds_ % kEntryFields || n_kinds_ / kEntryFields > UINT32_MAX)
		Bad("kinds does not hold whole entries");
	n_ = n_kinds_ / kEntryFields;
}

void EntryColumns::Bad(const char *what) const
{
	throw Napi::Error::New(env_, std::string("upsertFlows: bad columns from native/index.ts (") +
					     what + "): rebuild the addon and index.ts together");
}

void EntryColumns::Next(JsVal out[kEntryFields])
{
	if (at_ + kEntryFields > n_kinds_)
		Bad("read past the last entry");
	for (int f = 0; f < kEntryFields; f++) {
		uint8_t k = kinds_[at_ + f];
		if (k >= kKinds)
			Bad("unknown kind");
		JsVal &v = out[f];
		v.kind = (Kind)k;
		if (v.kind == Kind::kNumber) {
			if (num_at_ >= n_nums_)
				Bad("fewer numbers than number kinds");
			v.num = nums_[num_at_++];
		} else if (v.kind == Kind::kString) {
			if (str_at_ >= n_strs_)
				Bad("fewer strings than string kinds");
			Check(env_, napi_get_element(env_, strs_, str_at_++, &v.str));
		}
	}
	at_ += kEntryFields;
}

/* The C integer types of the struct fields, by their limits. */
struct CType {
	const char *name;
	double min, max;
};
static constexpr CType kU8 = {"u8", 0, 255};
static constexpr CType kS8 = {"s8", -128, 127};
static constexpr CType kU16 = {"u16", 0, 65535};
static constexpr CType kU32 = {"u32", 0, 4294967295.0};
/* queue_id: a u8 whose 0xff is PCF_QUEUE_ANY, the encoding of a null queueId. */
static constexpr CType kQueue = {"u8 below PCF_QUEUE_ANY (255: give null for any queue)", 0,
				 PCF_QUEUE_ANY - 1};

/* A JS number that is an integer and fits the C field `t` (converting any other double to
 * an integer type is undefined behaviour); the message names the field. The API's own
 * ranges, often narrower, are the control plane's. */
static double ParseInt(Napi::Env env, const JsVal &v, const FieldPath &field, const char *leaf,
		       const CType &t)
{
	if (v.kind != Kind::kNumber)
		ThrowArg(env, field.Str(leaf), "must be a number");
	double d = v.num;
	if (!isfinite(d) || d != floor(d) || d < t.min || d > t.max) {
		char got[32];
		snprintf(got, sizeof(got), "%.17g", d);
		ThrowArg(env, field.Str(leaf),
			 std::string("must be an integer that fits ") + t.name + " (" +
				 std::to_string((long long)t.min) + ".." +
				 std::to_string((long long)t.max) + "), got " + got);
	}
	return d;
}

/* A short JS string into buf; false when it is not a string, does not fit, or holds a NUL
 * (which would hide the rest of it from inet_pton and strcmp). */
static bool SmallString(Napi::Env env, const JsVal &v, char *buf, size_t size, size_t *len)
{
	if (v.kind != Kind::kString)
		return false;
	napi_status st = napi_get_value_string_utf8(env, v.str, buf, size, len);
	return st == napi_ok && *len < size - 1 && strlen(buf) == *len;
}

/* Dotted-quad IPv4 to network order. */
static uint32_t ParseIpv4(Napi::Env env, const JsVal &v, const FieldPath &field,
			  const char *leaf)
{
	char buf[32];
	size_t len = 0;
	struct in_addr a;
	if (v.kind != Kind::kString)
		ThrowArg(env, field.Str(leaf), "must be a dotted IPv4 address string");
	if (!SmallString(env, v, buf, sizeof(buf), &len) || inet_pton(AF_INET, buf, &a) != 1)
		ThrowArg(env, field.Str(leaf),
			 "'" + Napi::String(env, v.str).Utf8Value() +
				 "' is not a dotted IPv4 address");
	return a.s_addr;
}

static Napi::String FormatIpv4(Napi::Env env, uint32_t be)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;
	a.s_addr = be;
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	return Napi::String::New(env, buf);
}

static bool IsAbsent(const JsVal &v)
{
	return v.kind == Kind::kUndefined || v.kind == Kind::kNull;
}

FlowNames::FlowNames(Napi::Env env)
	: srcIp(Napi::String::New(env, "srcIp")), dstIp(Napi::String::New(env, "dstIp")),
	  srcPort(Napi::String::New(env, "srcPort")), dstPort(Napi::String::New(env, "dstPort")),
	  proto(Napi::String::New(env, "proto")), ruleId(Napi::String::New(env, "ruleId")),
	  statsSlot(Napi::String::New(env, "statsSlot")),
	  type(Napi::String::New(env, "type")), ttlDelta(Napi::String::New(env, "ttlDelta")),
	  mark(Napi::String::New(env, "mark")), queueId(Napi::String::New(env, "queueId")),
	  snatIp(Napi::String::New(env, "snatIp")), snatPort(Napi::String::New(env, "snatPort")),
	  dnatIp(Napi::String::New(env, "dnatIp")), dnatPort(Napi::String::New(env, "dnatPort")),
	  mirror(Napi::String::New(env, "mirror")), key(Napi::String::New(env, "key")),
	  action(Napi::String::New(env, "action"))
{
}

struct pcf_flow_key PackFlowKey(Napi::Env env, const JsVal v[kKeyFields], const FieldPath &field)
{
	if (v[kKeyObject].kind != Kind::kObject)
		ThrowArg(env, field.Str(), "must be an object");
	struct pcf_flow_key k;
	memset(&k, 0, sizeof(k)); /* pad is part of the hash key: always zero */
	k.src_ip = ParseIpv4(env, v[kSrcIp], field, "srcIp");
	k.dst_ip = ParseIpv4(env, v[kDstIp], field, "dstIp");
	k.src_port = htons((uint16_t)ParseInt(env, v[kSrcPort], field, "srcPort", kU16));
	k.dst_port = htons((uint16_t)ParseInt(env, v[kDstPort], field, "dstPort", kU16));
	k.proto = (uint8_t)ParseInt(env, v[kProto], field, "proto", kU8);
	return k;
}

struct pcf_flow_key ParseFlowKey(Napi::Env env, const FlowNames &n, napi_value v,
				 const FieldPath &field)
{
	JsVal block[kKeyFields];
	block[kKeyObject] = Classify(env, v);
	if (block[kKeyObject].kind == Kind::kObject) {
		block[kSrcIp] = ReadProperty(env, v, n.srcIp);
		block[kDstIp] = ReadProperty(env, v, n.dstIp);
		block[kSrcPort] = ReadProperty(env, v, n.srcPort);
		block[kDstPort] = ReadProperty(env, v, n.dstPort);
		block[kProto] = ReadProperty(env, v, n.proto);
	}
	return PackFlowKey(env, block, field);
}

const char *ActionTypeName(uint32_t type)
{
	switch (type) {
	case PCF_ACT_PASS:
		return "PASS";
	case PCF_ACT_DROP:
		return "DROP";
	case PCF_ACT_REDIRECT:
		return "REDIRECT";
	}
	return nullptr;
}

static uint8_t ParseActionType(Napi::Env env, const JsVal &v, const FieldPath &field)
{
	char buf[16];
	size_t len = 0;
	if (SmallString(env, v, buf, sizeof(buf), &len))
		for (uint8_t t = PCF_ACT_PASS; t <= PCF_ACT_REDIRECT; t++)
			if (strcmp(buf, ActionTypeName(t)) == 0)
				return t;
	ThrowArg(env, field.Str("type"), "must be 'PASS', 'DROP' or 'REDIRECT'");
}

/* One NAT side: address and port, each null to keep it (0.0.0.0 and port 0 are the
 * datapath's "keep"). Returns true when either is set. An IPv6 address sets the side with
 * address 0 here: the address itself goes to pcf_nat6 (RuleSet.setNat6). */
static bool ParseNat(Napi::Env env, const JsVal &vip, const JsVal &vport, const char *ip_name,
		     const char *port_name, const FieldPath &field, __u32 *ip, __u16 *port)
{
	char buf[64];
	size_t len = 0;
	struct in6_addr a6;
	*ip = 0;
	*port = 0;
	bool v6 = SmallString(env, vip, buf, sizeof(buf), &len) && inet_pton(AF_INET6, buf, &a6) == 1;
	if (!v6 && !IsAbsent(vip))
		*ip = ParseIpv4(env, vip, field, ip_name);
	if (!IsAbsent(vport))
		*port = htons((uint16_t)ParseInt(env, vport, field, port_name, kU16));
	return !IsAbsent(vip) || !IsAbsent(vport);
}

struct pcf_flow_action PackFlowAction(Napi::Env env, const JsVal v[kActionFields],
				      const FieldPath &field)
{
	if (v[kActionObject].kind != Kind::kObject)
		ThrowArg(env, field.Str(), "must be an object");
	struct pcf_flow_action a;
	memset(&a, 0, sizeof(a));
	a.rule_id = ParseU32(env, v[kRuleId], field, "ruleId");
	a.stats_slot = ParseU32(env, v[kStatsSlot], field, "statsSlot");
	a.type = ParseActionType(env, v[kType], field);

	if (!IsAbsent(v[kTtlDelta]))
		a.ttl_delta = (__s8)ParseInt(env, v[kTtlDelta], field, "ttlDelta", kS8);

	if (!IsAbsent(v[kMark])) {
		a.mark = ParseU32(env, v[kMark], field, "mark");
		a.flags |= PCF_F_MARK;
	}

	a.queue_id = PCF_QUEUE_ANY;
	if (!IsAbsent(v[kQueueId]))
		a.queue_id = (__u8)ParseInt(env, v[kQueueId], field, "queueId", kQueue);

	if (ParseNat(env, v[kSnatIp], v[kSnatPort], "snatIp", "snatPort", field, &a.snat_ip,
		     &a.snat_port))
		a.flags |= PCF_F_SNAT;
	if (ParseNat(env, v[kDnatIp], v[kDnatPort], "dnatIp", "dnatPort", field, &a.dnat_ip,
		     &a.dnat_port))
		a.flags |= PCF_F_DNAT;

	switch (v[kMirror].kind) {
	case Kind::kUndefined:
	case Kind::kFalse:
		break;
	case Kind::kTrue:
		a.flags |= PCF_F_MIRROR;
		break;
	default:
		ThrowArg(env, field.Str("mirror"), "must be a boolean");
	}
	return a;
}

uint32_t ParseU32(Napi::Env env, const JsVal &v, const FieldPath &field, const char *leaf)
{
	return (uint32_t)ParseInt(env, v, field, leaf, kU32);
}

Napi::Object FlowKeyToJs(Napi::Env env, const FlowNames &n, const struct pcf_flow_key &k)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set(n.srcIp, FormatIpv4(env, k.src_ip));
	o.Set(n.dstIp, FormatIpv4(env, k.dst_ip));
	o.Set(n.srcPort, Napi::Number::New(env, ntohs(k.src_port)));
	o.Set(n.dstPort, Napi::Number::New(env, ntohs(k.dst_port)));
	o.Set(n.proto, Napi::Number::New(env, k.proto));
	return o;
}

Napi::Object FlowActionToJs(Napi::Env env, const FlowNames &n, const struct pcf_flow_action &a,
			    const std::string &path)
{
	const char *type = ActionTypeName(a.type);
	if (!type)
		throw PcfError(env, "ERR_PCF_BAD_VALUE", path,
			       "flow action with unknown type " + std::to_string(a.type) + " in " +
				       path + " (rule " + std::to_string(a.rule_id) +
				       "): written by something other than this addon?");
	Napi::Value null = env.Null();
	Napi::Object o = Napi::Object::New(env);
	o.Set(n.ruleId, Napi::Number::New(env, a.rule_id));
	o.Set(n.statsSlot, Napi::Number::New(env, a.stats_slot));
	o.Set(n.type, type);
	o.Set(n.ttlDelta, Napi::Number::New(env, a.ttl_delta));
	o.Set(n.mark, (a.flags & PCF_F_MARK) ? Napi::Number::New(env, a.mark) : null);
	o.Set(n.queueId,
	      a.queue_id == PCF_QUEUE_ANY ? null : Napi::Number::New(env, a.queue_id));
	bool snat = a.flags & PCF_F_SNAT, dnat = a.flags & PCF_F_DNAT;
	o.Set(n.snatIp, snat && a.snat_ip ? FormatIpv4(env, a.snat_ip) : null);
	o.Set(n.snatPort,
	      snat && a.snat_port ? Napi::Number::New(env, ntohs(a.snat_port)) : null);
	o.Set(n.dnatIp, dnat && a.dnat_ip ? FormatIpv4(env, a.dnat_ip) : null);
	o.Set(n.dnatPort,
	      dnat && a.dnat_port ? Napi::Number::New(env, ntohs(a.dnat_port)) : null);
	o.Set(n.mirror, Napi::Boolean::New(env, a.flags & PCF_F_MIRROR));
	return o;
}

Napi::Object CounterToJs(Napi::Env env, const struct pcf_counter &c)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("packets", Napi::Number::New(env, (double)c.packets));
	o.Set("bytes", Napi::Number::New(env, (double)c.bytes));
	return o;
}

} // namespace pcf
