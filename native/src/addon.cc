/* addon.cc - module entry: the map classes, pinnedMapId, mapInfo, traceBursts and the names of
 * pcf_common.h.
 *
 * The whole API is synchronous on purpose: the control plane calls it inside better-sqlite3
 * transactions, which must be synchronous, and bpf() map operations do not block.
 */
#include "codec.h"
#include "maps.h"

namespace pcf {

/* The names of PCF_COUNTER_TABLE, indexed by enum pcf_counter_idx (exported as
 * counterNames; pcf_stats is read by name, never by number). */
const char *const kCounterNames[] = {
#define PCF_X_NAME(id, name) name,
	PCF_COUNTER_TABLE(PCF_X_NAME)
#undef PCF_X_NAME
};
static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == PCF_CNT__MAX,
	      "one name per counter");

/* pinnedMapId(path): id of the map pinned at path, or null when nothing is pinned there.
 * Cheap (open, one info call, close): the control plane polls it to notice a re-created map
 * (the id changes) or an absent datapath (null). */
static Napi::Value PinnedMapIdJs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsString())
		ThrowArg(env, "path", "must be a string");
	int64_t id = PinnedMapId(env, info[0].As<Napi::String>().Utf8Value());
	return id < 0 ? env.Null() : Napi::Number::New(env, (double)id);
}

static Napi::Value PossibleCpusJs(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(), PossibleCpus(info.Env()));
}

/* Test hook: false forces the per-element paths (update/delete/dump without batch ops). */
static Napi::Value SetBatchSyscalls(const Napi::CallbackInfo &info)
{
	if (info.Length() < 1 || !info[0].IsBoolean())
		ThrowArg(info.Env(), "enabled", "must be a boolean");
	g_use_batch_syscalls = info[0].As<Napi::Boolean>().Value();
	return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("FlowMap", FlowMap::Init(env));
	exports.Set("RuleStatsMap", RuleStatsMap::Init(env));
	exports.Set("StatsMap", StatsMap::Init(env));
	exports.Set("ConfigMap", ConfigMap::Init(env));
	exports.Set("EventConfigMap", EventConfigMap::Init(env));
	exports.Set("EventReader", EventReader::Init(env));
	exports.Set("RuleSet", InitRuleSet(env));
	exports.Set("pinnedMapId", Napi::Function::New(env, PinnedMapIdJs, "pinnedMapId"));
	exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpusJs, "possibleCpus"));
	exports.Set("mapInfo", Napi::Function::New(env, MapInfoJs, "mapInfo"));
	exports.Set("traceBursts", Napi::Function::New(env, TraceBurstsJs, "traceBursts"));
	exports.Set("_setBatchSyscalls",
		    Napi::Function::New(env, SetBatchSyscalls, "_setBatchSyscalls"));

	Napi::Array names = Napi::Array::New(env, PCF_CNT__MAX);
	for (uint32_t i = 0; i < PCF_CNT__MAX; i++)
		names.Set(i, kCounterNames[i]);
	exports.Set("counterNames", names);

	/* The layout of upsertFlows' columns, which native/index.ts checks at load. */
	Napi::Array columns = Napi::Array::New(env, kEntryFields);
	for (uint32_t i = 0; i < kEntryFields; i++)
		columns.Set(i, kEntryColumnNames[i]);
	exports.Set("_entryColumns", columns);
	Napi::Array kinds = Napi::Array::New(env, kKinds);
	for (uint32_t i = 0; i < kKinds; i++)
		kinds.Set(i, kValueKindNames[i]);
	exports.Set("_valueKinds", kinds);

	Napi::Object pins = Napi::Object::New(env);
	pins.Set("flowMap", PCF_PIN_FLOW_MAP);
	pins.Set("stats", PCF_PIN_STATS);
	pins.Set("ruleStats", PCF_PIN_RULE_STATS);
	pins.Set("xskmap", PCF_PIN_XSKMAP);
	pins.Set("config", PCF_PIN_CONFIG);
	pins.Set("events", PCF_PIN_EVENTS);
	pins.Set("eventConfig", PCF_PIN_EVENT_CONFIG);
	exports.Set("pinNames", pins);

	exports.Set("defaultPinDir", PCF_DEFAULT_PIN_DIR);
	exports.Set("defaultMaxRules", Napi::Number::New(env, PCF_DEFAULT_MAX_RULES));
	exports.Set("maxQueues", Napi::Number::New(env, PCF_MAX_QUEUES));
	exports.Set("maxShapes", Napi::Number::New(env, PCF_MAX_SHAPES));
	exports.Set("bucketRules", Napi::Number::New(env, PCF_BUCKET_RULES));
	return exports;
}

} // namespace pcf

static Napi::Object InitModule(Napi::Env env, Napi::Object exports)
{
	return pcf::Init(env, exports);
}

NODE_API_MODULE(pcf_native, InitModule)
