/* counter_maps.cc - the per-CPU counter maps (pcf_stats, pcf_rule_stats) and pcf_config.
 *
 * Per-CPU values come back from the kernel as one struct pcf_counter per possible CPU, each
 * rounded up to 8 bytes; the addon sums them (the datapath uses no atomics).
 */
#include "codec.h"
#include "map_ops.h"
#include "maps.h"

#include <errno.h>
#include <string.h>
#include <unordered_set>

namespace pcf {

/* Bytes of one per-CPU value as the kernel lays it out. */
static size_t PerCpuStride(Napi::Env env)
{
	size_t slot = (sizeof(struct pcf_counter) + 7) & ~(size_t)7;
	return slot * PossibleCpus(env);
}

static struct pcf_counter SumPerCpu(Napi::Env env, const uint8_t *value)
{
	size_t slot = (sizeof(struct pcf_counter) + 7) & ~(size_t)7;
	int ncpus = PossibleCpus(env);
	struct pcf_counter sum = {0, 0};
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct pcf_counter c;
		memcpy(&c, value + cpu * slot, sizeof(c));
		sum.packets += c.packets;
		sum.bytes += c.bytes;
	}
	return sum;
}

/* ---- pcf_rule_stats ------------------------------------------------------------------ */

const MapSpec RuleStatsMap::kSpec = {
	"rule counter map (" PCF_PIN_RULE_STATS ")",
	BPF_MAP_TYPE_PERCPU_HASH,
	sizeof(__u32),
	"__u32 rule_id",
	sizeof(struct pcf_counter),
	"struct pcf_counter",
	1,
	false,
};

Napi::Function RuleStatsMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("createRuleCounters", &RuleStatsMap::CreateRuleCounters));
	props.push_back(InstanceMethod("deleteRuleCounters", &RuleStatsMap::DeleteRuleCounters));
	props.push_back(InstanceMethod("readRuleCounters", &RuleStatsMap::ReadRuleCounters));
	props.push_back(InstanceMethod("readRuleCounter", &RuleStatsMap::ReadRuleCounter));
	return DefineClass(env, "RuleStatsMap", props);
}

/* Rule ids from a number or an array of numbers, without repeats. */
static std::vector<__u32> ParseIds(Napi::Env env, Napi::Value v, std::vector<uint32_t> *source)
{
	bool is_array;
	std::vector<Napi::Value> items = OneOrMany(v, &is_array);
	std::vector<__u32> ids;
	std::unordered_set<__u32> seen;
	for (size_t i = 0; i < items.size(); i++) {
		__u32 id = ParseU32(env, items[i], FieldPath{"ids", is_array ? (int64_t)i : -1});
		if (seen.insert(id).second) {
			ids.push_back(id);
			if (source)
				source->push_back(i);
		}
	}
	return ids;
}

/* Inserts zeroed counters for the ids that have none (BPF_NOEXIST: an existing counter
 * keeps counting). All or nothing: on failure the counters created by this call are
 * deleted again. Returns how many were created. */
Napi::Value RuleStatsMap::CreateRuleCounters(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "createRuleCounters");
	std::vector<uint32_t> source;
	std::vector<__u32> ids = ParseIds(env, info[0], &source);
	std::vector<uint8_t> zero(PerCpuStride(env), 0);
	std::vector<__u32> created;
	for (size_t i = 0; i < ids.size(); i++) {
		int err = bpf_map_update_elem(fd, &ids[i], zero.data(), BPF_NOEXIST);
		if (err == -EEXIST)
			continue;
		if (err) {
			int rb_err = 0;
			for (__u32 id : created) {
				int e = bpf_map_delete_elem(fd, &id);
				if (e && e != -ENOENT && !rb_err)
					rb_err = -e;
			}
			Napi::Error e = SysError(env, -err, "createRuleCounters",
						 "bpf_map_update_elem", map_.Path());
			e.Value().Set("index", Napi::Number::New(env, source[i]));
			e.Value().Set("rolledBack", Napi::Boolean::New(env, rb_err == 0));
			throw e;
		}
		created.push_back(ids[i]);
	}
	return Napi::Number::New(env, created.size());
}

/* Deletes the counters of the ids; absent ones are skipped. Returns how many were deleted.
 * Not all-or-nothing: a counter of a deleted rule is not worth restoring. */
Napi::Value RuleStatsMap::DeleteRuleCounters(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "deleteRuleCounters");
	std::vector<__u32> ids = ParseIds(env, info[0], nullptr);
	uint32_t deleted = 0;
	for (__u32 id : ids) {
		int err = bpf_map_delete_elem(fd, &id);
		if (err == -ENOENT)
			continue;
		if (err)
			ThrowSys(env, -err, "deleteRuleCounters", "bpf_map_delete_elem",
				 map_.Path());
		deleted++;
	}
	return Napi::Number::New(env, deleted);
}

Napi::Value RuleStatsMap::ReadRuleCounters(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readRuleCounters");
	size_t stride = PerCpuStride(env);
	std::vector<uint8_t> keys, values;
	const char *call = nullptr;
	int err = DumpMap(fd, sizeof(__u32), stride, map_.Info().max_entries, &keys, &values,
			  &call);
	if (err)
		ThrowSys(env, err, "readRuleCounters", call, map_.Path());

	Napi::Object map = env.Global().Get("Map").As<Napi::Function>().New({});
	Napi::Function set = map.Get("set").As<Napi::Function>();
	size_t n = keys.size() / sizeof(__u32);
	for (size_t i = 0; i < n; i++) {
		__u32 id;
		memcpy(&id, keys.data() + i * sizeof(id), sizeof(id));
		struct pcf_counter sum = SumPerCpu(env, values.data() + i * stride);
		set.Call(map, {Napi::Number::New(env, id), CounterToJs(env, sum)});
	}
	return map;
}

Napi::Value RuleStatsMap::ReadRuleCounter(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readRuleCounter");
	__u32 id = ParseU32(env, info[0], FieldPath{"id"});
	std::vector<uint8_t> value(PerCpuStride(env));
	int err = bpf_map_lookup_elem(fd, &id, value.data());
	if (err == -ENOENT)
		return env.Null();
	if (err)
		ThrowSys(env, -err, "readRuleCounter", "bpf_map_lookup_elem", map_.Path());
	return CounterToJs(env, SumPerCpu(env, value.data()));
}

/* ---- pcf_stats ----------------------------------------------------------------------- */

const MapSpec StatsMap::kSpec = {
	"counter map (" PCF_PIN_STATS ")",
	BPF_MAP_TYPE_PERCPU_ARRAY,
	sizeof(__u32),
	"__u32 enum pcf_counter_idx",
	sizeof(struct pcf_counter),
	"struct pcf_counter",
	PCF_CNT__MAX,
	true,
};

Napi::Function StatsMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("readCounters", &StatsMap::ReadCounters));
	return DefineClass(env, "StatsMap", props);
}

/* {rx: {packets, bytes}, act_pass: ..., ...}: every counter of PCF_COUNTER_TABLE by name. */
Napi::Value StatsMap::ReadCounters(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readCounters");
	std::vector<uint8_t> value(PerCpuStride(env));
	Napi::Object out = Napi::Object::New(env);
	for (__u32 idx = 0; idx < PCF_CNT__MAX; idx++) {
		int err = bpf_map_lookup_elem(fd, &idx, value.data());
		if (err)
			ThrowSys(env, -err, "readCounters", "bpf_map_lookup_elem", map_.Path());
		out.Set(kCounterNames[idx], CounterToJs(env, SumPerCpu(env, value.data())));
	}
	return out;
}

/* ---- pcf_config ---------------------------------------------------------------------- */

const MapSpec ConfigMap::kSpec = {
	"config map (" PCF_PIN_CONFIG ")",
	BPF_MAP_TYPE_ARRAY,
	sizeof(__u32),
	"__u32",
	sizeof(struct pcf_config),
	"struct pcf_config",
	1,
	true,
};

Napi::Function ConfigMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("readConfig", &ConfigMap::ReadConfig));
	return DefineClass(env, "ConfigMap", props);
}

Napi::Value ConfigMap::ReadConfig(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readConfig");
	__u32 key = 0;
	struct pcf_config c;
	int err = bpf_map_lookup_elem(fd, &key, &c);
	if (err)
		ThrowSys(env, -err, "readConfig", "bpf_map_lookup_elem", map_.Path());
	const char *action = ActionTypeName(c.default_action);
	if (!action)
		throw PcfError(env, "ERR_PCF_BAD_VALUE", map_.Path(),
			       "pcf_config.default_action in " + map_.Path() + " is " +
				       std::to_string(c.default_action) +
				       ", not an enum pcf_action_type value");
	Napi::Object out = Napi::Object::New(env);
	out.Set("defaultAction", action);
	out.Set("nRxQueues", Napi::Number::New(env, c.n_rx_queues));
	out.Set("ifindex", Napi::Number::New(env, c.ifindex));
	return out;
}

} // namespace pcf
