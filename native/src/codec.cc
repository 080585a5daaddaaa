/* codec.cc - JS <-> pcf_common.h structs, with validation (the last guard: the control
 * plane validates first against openapi.yaml / proto). */
#include "codec.h"

#include "errors.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>

namespace pcf {

/* An integer-valued JS number within [min, max]; the message names the field. */
static double ParseInt(Napi::Env env, Napi::Value v, const std::string &field, double min,
		       double max)
{
	if (!v.IsNumber())
		ThrowArg(env, field, "must be a number");
	double d = v.As<Napi::Number>().DoubleValue();
	if (!isfinite(d) || d != floor(d))
		ThrowArg(env, field, "must be an integer");
	if (d < min || d > max)
		ThrowArg(env, field,
			 "must be in " + std::to_string((long long)min) + ".." +
				 std::to_string((long long)max) + ", got " +
				 std::to_string((long long)d));
	return d;
}

/* Dotted-quad IPv4 to network order. */
static uint32_t ParseIpv4(Napi::Env env, Napi::Value v, const std::string &field)
{
	if (!v.IsString())
		ThrowArg(env, field, "must be a dotted IPv4 address string");
	std::string s = v.As<Napi::String>().Utf8Value();
	struct in_addr a;
	if (inet_pton(AF_INET, s.c_str(), &a) != 1)
		ThrowArg(env, field, "'" + s + "' is not a dotted IPv4 address");
	return a.s_addr;
}

static std::string FormatIpv4(uint32_t be)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;
	a.s_addr = be;
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	return buf;
}

static bool IsAbsent(Napi::Value v)
{
	return v.IsUndefined() || v.IsNull();
}

static Napi::Object RequireObject(Napi::Env env, Napi::Value v, const std::string &field)
{
	if (!v.IsObject() || v.IsArray())
		ThrowArg(env, field, "must be an object");
	return v.As<Napi::Object>();
}

struct pcf_flow_key ParseFlowKey(Napi::Env env, Napi::Value v, const std::string &field)
{
	Napi::Object o = RequireObject(env, v, field);
	struct pcf_flow_key k;
	memset(&k, 0, sizeof(k)); /* pad is part of the hash key: always zero */
	k.src_ip = ParseIpv4(env, o.Get("srcIp"), field + ".srcIp");
	k.dst_ip = ParseIpv4(env, o.Get("dstIp"), field + ".dstIp");
	k.src_port = htons((uint16_t)ParseInt(env, o.Get("srcPort"), field + ".srcPort", 0, 65535));
	k.dst_port = htons((uint16_t)ParseInt(env, o.Get("dstPort"), field + ".dstPort", 0, 65535));
	k.proto = (uint8_t)ParseInt(env, o.Get("proto"), field + ".proto", 0, 255);
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

static uint8_t ParseActionType(Napi::Env env, Napi::Value v, const std::string &field)
{
	if (v.IsString()) {
		std::string s = v.As<Napi::String>().Utf8Value();
		for (uint8_t t = PCF_ACT_PASS; t <= PCF_ACT_REDIRECT; t++)
			if (s == ActionTypeName(t))
				return t;
	}
	ThrowArg(env, field, "must be 'PASS', 'DROP' or 'REDIRECT'");
}

/* One NAT side: address (0.0.0.0 is the datapath's "keep", so callers say null instead)
 * and port (0 is "keep" likewise). Returns true when either is set. */
static bool ParseNat(Napi::Env env, Napi::Object o, const char *ip_name, const char *port_name,
		     const std::string &field, __u32 *ip, __u16 *port)
{
	Napi::Value vip = o.Get(ip_name), vport = o.Get(port_name);
	*ip = 0;
	*port = 0;
	if (!IsAbsent(vip)) {
		*ip = ParseIpv4(env, vip, field + "." + ip_name);
		if (*ip == 0)
			ThrowArg(env, field + "." + ip_name,
				 "0.0.0.0 is not a NAT address (use null to keep the address)");
	}
	if (!IsAbsent(vport))
		*port = htons((uint16_t)ParseInt(env, vport, field + "." + port_name, 1, 65535));
	return !IsAbsent(vip) || !IsAbsent(vport);
}

struct pcf_flow_action ParseFlowAction(Napi::Env env, Napi::Value v, const std::string &field)
{
	Napi::Object o = RequireObject(env, v, field);
	struct pcf_flow_action a;
	memset(&a, 0, sizeof(a));
	a.rule_id = ParseU32(env, o.Get("ruleId"), field + ".ruleId");
	a.type = ParseActionType(env, o.Get("type"), field + ".type");

	Napi::Value ttl = o.Get("ttlDelta");
	if (!IsAbsent(ttl))
		a.ttl_delta = (__s8)ParseInt(env, ttl, field + ".ttlDelta", -128, 127);

	Napi::Value mark = o.Get("mark");
	if (!IsAbsent(mark)) {
		a.mark = ParseU32(env, mark, field + ".mark");
		a.flags |= PCF_F_MARK;
	}

	Napi::Value queue = o.Get("queueId");
	a.queue_id = PCF_QUEUE_ANY;
	if (!IsAbsent(queue))
		a.queue_id = (__u8)ParseInt(env, queue, field + ".queueId", 0, PCF_MAX_QUEUES - 1);

	if (ParseNat(env, o, "snatIp", "snatPort", field, &a.snat_ip, &a.snat_port))
		a.flags |= PCF_F_SNAT;
	if (ParseNat(env, o, "dnatIp", "dnatPort", field, &a.dnat_ip, &a.dnat_port))
		a.flags |= PCF_F_DNAT;

	Napi::Value mirror = o.Get("mirror");
	if (!mirror.IsUndefined()) {
		if (!mirror.IsBoolean())
			ThrowArg(env, field + ".mirror", "must be a boolean");
		if (mirror.As<Napi::Boolean>().Value())
			a.flags |= PCF_F_MIRROR;
	}
	return a;
}

uint32_t ParseU32(Napi::Env env, Napi::Value v, const std::string &field)
{
	return (uint32_t)ParseInt(env, v, field, 0, 4294967295.0);
}

Napi::Object FlowKeyToJs(Napi::Env env, const struct pcf_flow_key &k)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("srcIp", FormatIpv4(k.src_ip));
	o.Set("dstIp", FormatIpv4(k.dst_ip));
	o.Set("srcPort", Napi::Number::New(env, ntohs(k.src_port)));
	o.Set("dstPort", Napi::Number::New(env, ntohs(k.dst_port)));
	o.Set("proto", Napi::Number::New(env, k.proto));
	return o;
}

Napi::Object FlowActionToJs(Napi::Env env, const struct pcf_flow_action &a,
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
	o.Set("ruleId", Napi::Number::New(env, a.rule_id));
	o.Set("type", type);
	o.Set("ttlDelta", Napi::Number::New(env, a.ttl_delta));
	o.Set("mark", (a.flags & PCF_F_MARK) ? Napi::Number::New(env, a.mark) : null);
	o.Set("queueId",
	      a.queue_id == PCF_QUEUE_ANY ? null : Napi::Number::New(env, a.queue_id));
	bool snat = a.flags & PCF_F_SNAT, dnat = a.flags & PCF_F_DNAT;
	o.Set("snatIp", snat && a.snat_ip ? Napi::String::New(env, FormatIpv4(a.snat_ip)) : null);
	o.Set("snatPort",
	      snat && a.snat_port ? Napi::Number::New(env, ntohs(a.snat_port)) : null);
	o.Set("dnatIp", dnat && a.dnat_ip ? Napi::String::New(env, FormatIpv4(a.dnat_ip)) : null);
	o.Set("dnatPort",
	      dnat && a.dnat_port ? Napi::Number::New(env, ntohs(a.dnat_port)) : null);
	o.Set("mirror", Napi::Boolean::New(env, a.flags & PCF_F_MIRROR));
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
