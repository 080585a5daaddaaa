/* flow_map.cc - pcf_flow_map: upsert, delete, lookup and list rules.
 *
 * upsertFlows and deleteFlows are all-or-nothing from the caller's view: every argument is
 * validated before the first syscall, the old value of every key is read first, and when
 * the kernel fails midway (E2BIG: map full, ...) the elements already written are put back
 * as they were before the error is thrown. The control plane is the only writer of this
 * map (DESIGN.md); a concurrent writer could still interleave with the restore.
 */
#include "codec.h"
#include "map_ops.h"
#include "maps.h"

#include <errno.h>
#include <string.h>
#include <unordered_map>
#include <unordered_set>
#include <chrono>
#include <stdio.h>
#include <stdlib.h>
static double TNow(){return std::chrono::duration<double,std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();}

namespace pcf {

const MapSpec FlowMap::kSpec = {
	"flow map (" PCF_PIN_FLOW_MAP ")",
	BPF_MAP_TYPE_HASH,
	sizeof(struct pcf_flow_key),
	"struct pcf_flow_key",
	sizeof(struct pcf_flow_action),
	"struct pcf_flow_action",
	1,
	false,
};

Napi::Function FlowMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("upsertFlows", &FlowMap::UpsertFlows));
	props.push_back(InstanceMethod("deleteFlows", &FlowMap::DeleteFlows));
	props.push_back(InstanceMethod("lookupFlow", &FlowMap::LookupFlow));
	props.push_back(InstanceMethod("listFlows", &FlowMap::ListFlows));
	props.push_back(InstanceMethod("listFlowKeys", &FlowMap::ListFlowKeys));
	props.push_back(InstanceMethod("countFlows", &FlowMap::CountFlows));
	return DefineClass(env, "FlowMap", props);
}

/* A flow key as a hashable value, to spot keys given twice in one call. */
struct KeyBits {
	uint64_t w[2];
	explicit KeyBits(const struct pcf_flow_key &k) { memcpy(w, &k, sizeof(w)); }
	bool operator==(const KeyBits &o) const { return w[0] == o.w[0] && w[1] == o.w[1]; }
};
struct KeyBitsHash {
	size_t operator()(const KeyBits &k) const
	{
		return std::hash<uint64_t>()(k.w[0] * 0x9e3779b97f4a7c15ull ^ k.w[1]);
	}
};
static_assert(sizeof(KeyBits::w) == sizeof(struct pcf_flow_key), "KeyBits covers the key");

/* Adds the outcome of the restore to the error and throws it. */
[[noreturn]] static void ThrowWithRollback(Napi::Error e, int rollback_err,
					   const char *rollback_call)
{
	Napi::Object o = e.Value();
	o.Set("rolledBack", Napi::Boolean::New(e.Env(), rollback_err == 0));
	if (rollback_err) {
		std::string code = ErrnoCode(rollback_err);
		o.Set("rollbackErrno", Napi::Number::New(e.Env(), rollback_err));
		o.Set("rollbackCode", Napi::String::New(e.Env(), code));
		std::string msg = o.Get("message").As<Napi::String>().Utf8Value();
		o.Set("message", msg + "; restoring the previous entries failed too (" +
					 rollback_call + ": " + code +
					 "): the map may differ from SQLite, reconcile it");
	}
	throw e;
}

Napi::Value FlowMap::UpsertFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "upsertFlows");
	double t0 = TNow();
	FlowNames names(env);

	if (getenv("PCF_TIMING")) {
		double a0 = TNow();
		napi_value arr = info[0];
		uint32_t len; napi_get_array_length(env, arr, &len);
		std::vector<napi_value> els(len);
		for (uint32_t i = 0; i < len; i++) napi_get_element(env, arr, i, &els[i]);
		double a1 = TNow();
		napi_value kk = names.key, ka = names.action;
		napi_value kn[5] = {names.srcIp, names.dstIp, names.srcPort, names.dstPort, names.proto};
		napi_value an[11] = {names.ruleId, names.statsSlot, names.type, names.ttlDelta, names.mark, names.queueId, names.snatIp, names.snatPort, names.dnatIp, names.dnatPort, names.mirror};
		for (uint32_t i = 0; i < len; i++) {
			Napi::HandleScope sc(env);
			napi_value k, a, v;
			napi_get_property(env, els[i], kk, &k);
			napi_get_property(env, els[i], ka, &a);
			for (auto x : kn) napi_get_property(env, k, x, &v);
			for (auto x : an) napi_get_property(env, a, x, &v);
		}
		double a2 = TNow();
		for (uint32_t i = 0; i < len; i++) {
			Napi::HandleScope sc(env);
			napi_value k, a, v;
			napi_get_named_property(env, els[i], "key", &k);
			napi_get_named_property(env, els[i], "action", &a);
			for (auto x : {"srcIp","dstIp","srcPort","dstPort","proto"}) napi_get_named_property(env, k, x, &v);
			for (auto x : {"ruleId","statsSlot","type","ttlDelta","mark","queueId","snatIp","snatPort","dnatIp","dnatPort","mirror"}) napi_get_named_property(env, a, x, &v);
		}
		double a3 = TNow();
		for (uint32_t i = 0; i < len; i++) {
			Napi::HandleScope sc(env);
			napi_value k, a, v, names_arr; uint32_t nn;
			napi_get_property(env, els[i], ka, &a);
			napi_get_all_property_names(env, a, napi_key_own_only, napi_key_enumerable, napi_key_keep_numbers, &names_arr);
			napi_get_array_length(env, names_arr, &nn);
			(void)k; (void)v;
		}
		double a4 = TNow();
		fprintf(stderr, "elements %.1f  getprop(cached) %.1f  named %.1f  allnames(action only) %.1f\n", a1-a0, a2-a1, a3-a2, a4-a3);
	}
	/* 1. Validate and pack everything; a repeated key keeps its last action. */
	bool is_array;
	std::vector<Napi::Value> items = OneOrMany(info[0], &is_array);
	std::vector<struct pcf_flow_key> keys;
	std::vector<struct pcf_flow_action> actions;
	std::vector<uint32_t> source; /* index in the caller's array */
	std::unordered_map<KeyBits, size_t, KeyBitsHash> seen;
	keys.reserve(items.size());
	actions.reserve(items.size());
	source.reserve(items.size());
	seen.reserve(items.size());
	for (size_t i = 0; i < items.size(); i++) {
		int64_t index = is_array ? (int64_t)i : -1;
		if (!items[i].IsObject() || items[i].IsArray())
			ThrowArg(env, FieldPath{"entries", index}.Str(),
				 "must be an object {key, action}");
		Napi::Object entry = items[i].As<Napi::Object>();
		struct pcf_flow_key k = ParseFlowKey(env, names, entry.Get(names.key),
						     FieldPath{"entries", index, "key"});
		struct pcf_flow_action a = ParseFlowAction(env, names, entry.Get(names.action),
							   FieldPath{"entries", index, "action"});
		auto it = seen.find(KeyBits(k));
		if (it != seen.end()) {
			actions[it->second] = a;
			source[it->second] = i;
			continue;
		}
		seen.emplace(KeyBits(k), keys.size());
		keys.push_back(k);
		actions.push_back(a);
		source.push_back(i);
	}
	uint32_t n = keys.size();
	double t1 = TNow();

	/* 2. Remember what each key held, for the restore. */
	std::vector<struct pcf_flow_action> old(n);
	std::vector<bool> existed(n);
	uint32_t replaced = 0;
	for (uint32_t i = 0; i < n; i++) {
		int err = bpf_map_lookup_elem(fd, &keys[i], &old[i]);
		if (err && err != -ENOENT)
			ThrowSys(env, -err, "upsertFlows", "bpf_map_lookup_elem", map_.Path());
		existed[i] = err == 0;
		replaced += existed[i];
	}

	double t2 = TNow();
	/* 3. Write; on failure put back the elements already written, last first. */
	uint32_t done = 0;
	const char *call = nullptr;
	int err = UpdateElems(fd, keys.data(), actions.data(), sizeof(keys[0]),
			      sizeof(actions[0]), n, &done, &call);
	if (err) {
		int rb_err = 0;
		const char *rb_call = nullptr;
		for (uint32_t i = done; i-- > 0;) {
			int e = existed[i] ? bpf_map_update_elem(fd, &keys[i], &old[i], BPF_ANY)
					   : bpf_map_delete_elem(fd, &keys[i]);
			if (e && !(e == -ENOENT && !existed[i]) && !rb_err) {
				rb_err = -e;
				rb_call = existed[i] ? "bpf_map_update_elem" : "bpf_map_delete_elem";
			}
		}
		Napi::Error e = SysError(env, err, "upsertFlows", call, map_.Path());
		if (done < n)
			e.Value().Set("index", Napi::Number::New(env, source[done]));
		ThrowWithRollback(e, rb_err, rb_call);
	}

	double t3 = TNow();
	if (getenv("PCF_TIMING")) fprintf(stderr, "upsert n=%u parse %.1f preread %.1f update %.1f\n", n, t1-t0, t2-t1, t3-t2);
	Napi::Object result = Napi::Object::New(env);
	result.Set("inserted", Napi::Number::New(env, n - replaced));
	result.Set("replaced", Napi::Number::New(env, replaced));
	return result;
}

Napi::Value FlowMap::DeleteFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "deleteFlows");
	FlowNames names(env);

	bool is_array;
	std::vector<Napi::Value> items = OneOrMany(info[0], &is_array);
	std::vector<struct pcf_flow_key> parsed;
	parsed.reserve(items.size());
	for (size_t i = 0; i < items.size(); i++)
		parsed.push_back(
			ParseFlowKey(env, names, items[i], FieldPath{"keys", is_array ? (int64_t)i : -1}));

	/* Keep the keys that are present (absent ones are already deleted), with their
	 * values for the restore. */
	std::vector<struct pcf_flow_key> keys;
	std::vector<struct pcf_flow_action> old;
	std::unordered_set<KeyBits, KeyBitsHash> seen;
	seen.reserve(parsed.size());
	for (const struct pcf_flow_key &k : parsed) {
		if (!seen.insert(KeyBits(k)).second)
			continue;
		struct pcf_flow_action a;
		int err = bpf_map_lookup_elem(fd, &k, &a);
		if (err == -ENOENT)
			continue;
		if (err)
			ThrowSys(env, -err, "deleteFlows", "bpf_map_lookup_elem", map_.Path());
		keys.push_back(k);
		old.push_back(a);
	}
	uint32_t n = keys.size();

	uint32_t done = 0;
	const char *call = nullptr;
	int err = DeleteElems(fd, keys.data(), sizeof(keys[0]), n, &done, &call);
	if (err) {
		int rb_err = 0;
		const char *rb_call = "bpf_map_update_elem";
		for (uint32_t i = done; i-- > 0;) {
			int e = bpf_map_update_elem(fd, &keys[i], &old[i], BPF_ANY);
			if (e && !rb_err)
				rb_err = -e;
		}
		ThrowWithRollback(SysError(env, err, "deleteFlows", call, map_.Path()), rb_err,
				  rb_call);
	}
	return Napi::Number::New(env, n);
}

Napi::Value FlowMap::LookupFlow(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "lookupFlow");
	FlowNames names(env);
	struct pcf_flow_key k = ParseFlowKey(env, names, info[0], FieldPath{"key"});
	struct pcf_flow_action a;
	int err = bpf_map_lookup_elem(fd, &k, &a);
	if (err == -ENOENT)
		return env.Null();
	if (err)
		ThrowSys(env, -err, "lookupFlow", "bpf_map_lookup_elem", map_.Path());
	return FlowActionToJs(env, names, a, map_.Path());
}

Napi::Value FlowMap::ListFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "listFlows");
	std::vector<uint8_t> keys, values;
	const char *call = nullptr;
	int err = DumpMap(fd, sizeof(struct pcf_flow_key), sizeof(struct pcf_flow_action),
			  map_.Info().max_entries, &keys, &values, &call);
	if (err)
		ThrowSys(env, err, "listFlows", call, map_.Path());
	size_t n = keys.size() / sizeof(struct pcf_flow_key);
	FlowNames names(env);
	Napi::Array out = Napi::Array::New(env, n);
	for (size_t i = 0; i < n; i++) {
		Napi::HandleScope scope(env);
		struct pcf_flow_key k;
		struct pcf_flow_action a;
		memcpy(&k, keys.data() + i * sizeof(k), sizeof(k));
		memcpy(&a, values.data() + i * sizeof(a), sizeof(a));
		Napi::Object entry = Napi::Object::New(env);
		entry.Set(names.key, FlowKeyToJs(env, names, k));
		entry.Set(names.action, FlowActionToJs(env, names, a, map_.Path()));
		out.Set(i, entry);
	}
	return out;
}

Napi::Value FlowMap::ListFlowKeys(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "listFlowKeys");
	std::vector<uint8_t> keys, values;
	const char *call = nullptr;
	int err = DumpMap(fd, sizeof(struct pcf_flow_key), sizeof(struct pcf_flow_action),
			  map_.Info().max_entries, &keys, &values, &call);
	if (err)
		ThrowSys(env, err, "listFlowKeys", call, map_.Path());
	size_t n = keys.size() / sizeof(struct pcf_flow_key);
	FlowNames names(env);
	Napi::Array out = Napi::Array::New(env, n);
	for (size_t i = 0; i < n; i++) {
		Napi::HandleScope scope(env);
		struct pcf_flow_key k;
		memcpy(&k, keys.data() + i * sizeof(k), sizeof(k));
		out.Set(i, FlowKeyToJs(env, names, k));
	}
	return out;
}

/* The number of entries, without building JS objects for them. */
Napi::Value FlowMap::CountFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "countFlows");
	std::vector<uint8_t> keys, values;
	const char *call = nullptr;
	int err = DumpMap(fd, sizeof(struct pcf_flow_key), sizeof(struct pcf_flow_action),
			  map_.Info().max_entries, &keys, &values, &call);
	if (err)
		ThrowSys(env, err, "countFlows", call, map_.Path());
	return Napi::Number::New(env, keys.size() / sizeof(struct pcf_flow_key));
}

} // namespace pcf
