/* codec.cc - JS <-> pcf_common.h structs, with validation (the last guard: the control
 * plane validates first against openapi.yaml / proto). */
#include "codec.h"

#include "errors.h"

#include <arpa/inet.h>
#include <math.h>
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

/* An integer-valued JS number within [min, max]; the message names the field. */
static double ParseInt(Napi::Env env, Napi::Value v, const FieldPath &field, const char *leaf,
		       double min, double max)
{
	if (!v.IsNumber())
		ThrowArg(env, field.Str(leaf), "must be a number");
	double d = v.As<Napi::Number>().DoubleValue();
	if (!isfinite(d) || d != floor(d))
		ThrowArg(env, field.Str(leaf), "must be an integer");
	if (d < min || d > max)
		ThrowArg(env, field.Str(leaf),
			 "must be in " + std::to_string((long long)min) + ".." +
				 std::to_string((long long)max) + ", got " +
				 std::to_string((long long)d));
	return d;
}

/* A short JS string into buf; false when it is not a string or does not fit. */
static bool SmallString(Napi::Env env, Napi::Value v, char *buf, size_t size, size_t *len)
{
	if (!v.IsString())
		return false;
	napi_status st = napi_get_value_string_utf8(env, v, buf, size, len);
	return st == napi_ok && *len < size - 1;
}

/* Dotted-quad IPv4 to network order. */
static uint32_t ParseIpv4(Napi::Env env, Napi::Value v, const FieldPath &field, const char *leaf)
{
	char buf[32];
	size_t len = 0;
	struct in_addr a;
	if (!v.IsString())
		ThrowArg(env, field.Str(leaf), "must be a dotted IPv4 address string");
	if (!SmallString(env, v, buf, sizeof(buf), &len) || inet_pton(AF_INET, buf, &a) != 1)
		ThrowArg(env, field.Str(leaf),
			 "'" + v.As<Napi::String>().Utf8Value() + "' is not a dotted IPv4 address");
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

static bool IsAbsent(Napi::Value v)
{
	return v.IsUndefined() || v.IsNull();
}

static Napi::Object RequireObject(Napi::Env env, Napi::Value v, const FieldPath &field)
{
	if (!v.IsObject() || v.IsArray())
		ThrowArg(env, field.Str(), "must be an object");
	return v.As<Napi::Object>();
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

struct pcf_flow_key ParseFlowKey(Napi::Env env, const FlowNames &n, Napi::Value v,
				 const FieldPath &field)
{
	Napi::Object o = RequireObject(env, v, field);
	struct pcf_flow_key k;
	memset(&k, 0, sizeof(k)); /* pad is part of the hash key: always zero */
	k.src_ip = ParseIpv4(env, o.Get(n.srcIp), field, "srcIp");
	k.dst_ip = ParseIpv4(env, o.Get(n.dstIp), field, "dstIp");
	k.src_port = htons((uint16_t)ParseInt(env, o.Get(n.srcPort), field, "srcPort", 0, 65535));
	k.dst_port = htons((uint16_t)ParseInt(env, o.Get(n.dstPort), field, "dstPort", 0, 65535));
	k.proto = (uint8_t)ParseInt(env, o.Get(n.proto), field, "proto", 0, 255);
	return k;
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

static uint8_t ParseActionType(Napi::Env env, Napi::Value v, const FieldPath &field)
{
	char buf[16];
	size_t len = 0;
	if (SmallString(env, v, buf, sizeof(buf), &len))
		for (uint8_t t = PCF_ACT_PASS; t <= PCF_ACT_REDIRECT; t++)
			if (strcmp(buf, ActionTypeName(t)) == 0)
				return t;
	ThrowArg(env, field.Str("type"), "must be 'PASS', 'DROP' or 'REDIRECT'");
}

/* One NAT side: address (0.0.0.0 is the datapath's "keep", so callers say null instead)
 * and port (0 is "keep" likewise). Returns true when either is set. */
static bool ParseNat(Napi::Env env, Napi::Object o, const Napi::String &ip_key,
		     const Napi::String &port_key, const char *ip_name, const char *port_name,
		     const FieldPath &field, __u32 *ip, __u16 *port)
{
	Napi::Value vip = o.Get(ip_key), vport = o.Get(port_key);
	*ip = 0;
	*port = 0;
	if (!IsAbsent(vip)) {
		*ip = ParseIpv4(env, vip, field, ip_name);
		if (*ip == 0)
			ThrowArg(env, field.Str(ip_name),
				 "0.0.0.0 is not a NAT address (use null to keep the address)");
	}
	if (!IsAbsent(vport))
		*port = htons((uint16_t)ParseInt(env, vport, field, port_name, 1, 65535));
	return !IsAbsent(vip) || !IsAbsent(vport);
}

struct pcf_flow_action ParseFlowAction(Napi::Env env, const FlowNames &n, Napi::Value v,
				       const FieldPath &field)
{
	Napi::Object o = RequireObject(env, v, field);
	struct pcf_flow_action a;
	memset(&a, 0, sizeof(a));
	a.rule_id = ParseU32(env, o.Get(n.ruleId), field, "ruleId");
	a.stats_slot = ParseU32(env, o.Get(n.statsSlot), field, "statsSlot");
	a.type = ParseActionType(env, o.Get(n.type), field);

	Napi::Value ttl = o.Get(n.ttlDelta);
	if (!IsAbsent(ttl))
		a.ttl_delta = (__s8)ParseInt(env, ttl, field, "ttlDelta", -128, 127);

	Napi::Value mark = o.Get(n.mark);
	if (!IsAbsent(mark)) {
		a.mark = ParseU32(env, mark, field, "mark");
		a.flags |= PCF_F_MARK;
	}

	Napi::Value queue = o.Get(n.queueId);
	a.queue_id = PCF_QUEUE_ANY;
	if (!IsAbsent(queue))
		a.queue_id = (__u8)ParseInt(env, queue, field, "queueId", 0, PCF_MAX_QUEUES - 1);

	if (ParseNat(env, o, n.snatIp, n.snatPort, "snatIp", "snatPort", field, &a.snat_ip, &a.snat_port))
		a.flags |= PCF_F_SNAT;
	if (ParseNat(env, o, n.dnatIp, n.dnatPort, "dnatIp", "dnatPort", field, &a.dnat_ip, &a.dnat_port))
		a.flags |= PCF_F_DNAT;

	Napi::Value mirror = o.Get(n.mirror);
	if (!mirror.IsUndefined()) {
		if (!mirror.IsBoolean())
			ThrowArg(env, field.Str("mirror"), "must be a boolean");
		if (mirror.As<Napi::Boolean>().Value())
			a.flags |= PCF_F_MIRROR;
	}
	return a;
}

uint32_t ParseU32(Napi::Env env, Napi::Value v, const FieldPath &field, const char *leaf)
{
	return (uint32_t)ParseInt(env, v, field, leaf, 0, 4294967295.0);
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
