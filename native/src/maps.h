/* maps.h - the pinned maps of pcf_common.h as node-addon-api classes, one per map kind.
 *
 * Every call is synchronous on purpose: the control plane writes maps inside a
 * better-sqlite3 transaction, which must be synchronous, and map syscalls on these map
 * types never block (no AsyncWorker needed).
 *
 * Each class opens the map pinned at the path given to its constructor and checks its type,
 * key size, value size and max_entries against pcf_common.h; a mismatch means the pinned
 * map belongs to a program built from another version of the header, and the constructor
 * throws ERR_PCF_MAP_LAYOUT.
 */
#ifndef PCF_NATIVE_MAPS_H
#define PCF_NATIVE_MAPS_H

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <memory>
#include <uv.h>
#include <stdint.h>
#include <string>
#include <vector>

#include "errors.h"
#include "pcf_common.h"

namespace pcf {

/* The shape pcf_common.h gives a pinned map. */
struct MapSpec {
	const char *what;        /* "flow map (pcf_flow_map)", for messages */
	enum bpf_map_type type;
	uint32_t key_size;
	const char *key_struct;  /* "struct pcf_flow_key", for messages */
	uint32_t value_size;     /* per CPU for per-CPU maps */
	const char *value_struct;
	uint32_t min_entries;
	bool read_only;          /* opened with BPF_F_RDONLY: the control plane only reads it */
};

/* An fd on a pinned map plus the bpf_map_info read when it was opened. */
class PinnedMap {
public:
	PinnedMap() = default;
	PinnedMap(const PinnedMap &) = delete;
	PinnedMap &operator=(const PinnedMap &) = delete;
	~PinnedMap() { Close(); }

	/* Throws the bpf_obj_get error (ENOENT when nothing is pinned there) or
	 * ERR_PCF_MAP_LAYOUT; leaves nothing open on failure. */
	void Open(Napi::Env env, const std::string &path, const MapSpec &spec);
	void Close();
	bool IsOpen() const { return fd_ >= 0; }
	/* The fd, or an EBADF error naming `op` once closed. */
	int Fd(Napi::Env env, const char *op) const;
	const std::string &Path() const { return path_; }
	const struct bpf_map_info &Info() const { return info_; }

private:
	int fd_ = -1;
	std::string path_;
	struct bpf_map_info info_ = {};
};

/* Id of the map pinned at `path`, or -1 when nothing is pinned there (ENOENT). */
int64_t PinnedMapId(Napi::Env env, const std::string &path);

/* mapInfo(pinDir) (map_info.cc): each pinned map's type, capacity, elements and memory. */
Napi::Value MapInfoJs(const Napi::CallbackInfo &info);
/* traceBursts(pinDir): the burst trace a running pcf-trace publishes (trace.cc). */
Napi::Value TraceBurstsJs(const Napi::CallbackInfo &info);

/* Names of enum pcf_counter_idx, in order, from PCF_COUNTER_TABLE (addon.cc). */
extern const char *const kCounterNames[];

/* libbpf_num_possible_cpus(), cached; throws when it fails. */
int PossibleCpus(Napi::Env env);

/* Batch syscalls are used unless the kernel lacks them; tests turn them off to exercise
 * the per-element path (native/index.ts: _testing.setBatchSyscalls). */
extern bool g_use_batch_syscalls;

/* The errors with which a kernel without a batch op for this map type answers. */
bool BatchUnsupported(int err);

/* Properties and close() common to every map class. CRTP so that DefineClass of each
 * class lists them. */
template <class T> class MapWrap : public Napi::ObjectWrap<T> {
public:
	explicit MapWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<T>(info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsString())
			ThrowArg(env, "path", "must be the path of a pinned map (string)");
		map_.Open(env, info[0].As<Napi::String>().Utf8Value(), T::kSpec);
	}

protected:
	using Base = Napi::ObjectWrap<T>;

	static std::vector<Napi::ClassPropertyDescriptor<T>> CommonProperties()
	{
		return {
			Base::InstanceAccessor("path", &MapWrap::GetPath, nullptr, napi_enumerable),
			Base::InstanceAccessor("id", &MapWrap::GetId, nullptr, napi_enumerable),
			Base::InstanceAccessor("name", &MapWrap::GetName, nullptr, napi_enumerable),
			Base::InstanceAccessor("type", &MapWrap::GetType, nullptr, napi_enumerable),
			Base::InstanceAccessor("typeName", &MapWrap::GetTypeName, nullptr,
					       napi_enumerable),
			Base::InstanceAccessor("keySize", &MapWrap::GetKeySize, nullptr,
					       napi_enumerable),
			Base::InstanceAccessor("valueSize", &MapWrap::GetValueSize, nullptr,
					       napi_enumerable),
			Base::InstanceAccessor("maxEntries", &MapWrap::GetMaxEntries, nullptr,
					       napi_enumerable),
			Base::InstanceAccessor("closed", &MapWrap::GetClosed, nullptr,
					       napi_enumerable),
			Base::InstanceMethod("close", &MapWrap::Close),
			Base::StaticMethod("open", &MapWrap::OpenStatic),
		};
	}

	PinnedMap map_;

private:
	/* Class.open(path), the same as new Class(path): `this` is the class. */
	static Napi::Value OpenStatic(const Napi::CallbackInfo &info)
	{
		if (!info.This().IsFunction())
			ThrowArg(info.Env(), "this", "open() must be called on the map class");
		return info.This().As<Napi::Function>().New({info[0]});
	}

	Napi::Value GetPath(const Napi::CallbackInfo &info)
	{
		return Napi::String::New(info.Env(), map_.Path());
	}
	Napi::Value GetId(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), map_.Info().id);
	}
	Napi::Value GetName(const Napi::CallbackInfo &info)
	{
		return Napi::String::New(info.Env(), map_.Info().name);
	}
	Napi::Value GetType(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), map_.Info().type);
	}
	Napi::Value GetTypeName(const Napi::CallbackInfo &info);
	Napi::Value GetKeySize(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), map_.Info().key_size);
	}
	Napi::Value GetValueSize(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), map_.Info().value_size);
	}
	Napi::Value GetMaxEntries(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), map_.Info().max_entries);
	}
	Napi::Value GetClosed(const Napi::CallbackInfo &info)
	{
		return Napi::Boolean::New(info.Env(), !map_.IsOpen());
	}
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		map_.Close();
		return info.Env().Undefined();
	}
};

std::string MapTypeName(uint32_t type);

template <class T> Napi::Value MapWrap<T>::GetTypeName(const Napi::CallbackInfo &info)
{
	return Napi::String::New(info.Env(), MapTypeName(map_.Info().type));
}

/* pcf_flow_map: HASH struct pcf_flow_key -> struct pcf_flow_action. */
class FlowMap : public MapWrap<FlowMap> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit FlowMap(const Napi::CallbackInfo &info) : MapWrap<FlowMap>(info) {}

private:
	Napi::Value UpsertFlows(const Napi::CallbackInfo &info);
	Napi::Value DeleteFlows(const Napi::CallbackInfo &info);
	Napi::Value LookupFlow(const Napi::CallbackInfo &info);
	Napi::Value ListFlows(const Napi::CallbackInfo &info);
	Napi::Value ListFlowKeys(const Napi::CallbackInfo &info);
	Napi::Value CountFlows(const Napi::CallbackInfo &info);
	Napi::Value ScanFlows(const Napi::CallbackInfo &info);
};

/* pcf_rule_stats: PERCPU_ARRAY __u32 stats_slot -> struct pcf_counter (the slot comes from
 * pcf_flow_action.stats_slot). */
class RuleStatsMap : public MapWrap<RuleStatsMap> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit RuleStatsMap(const Napi::CallbackInfo &info) : MapWrap<RuleStatsMap>(info) {}

private:
	Napi::Value ResetCounters(const Napi::CallbackInfo &info);
	Napi::Value ReadCounterSums(const Napi::CallbackInfo &info); /* readCounters: index.ts */
	Napi::Value ReadCounter(const Napi::CallbackInfo &info);
};

/* pcf_stats: PERCPU_ARRAY enum pcf_counter_idx -> struct pcf_counter. */
class StatsMap : public MapWrap<StatsMap> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit StatsMap(const Napi::CallbackInfo &info) : MapWrap<StatsMap>(info) {}

private:
	Napi::Value ReadCounters(const Napi::CallbackInfo &info);
};

/* pcf_config: ARRAY[PCF_MAX_ATTACHMENTS] struct pcf_config, by attachment. */
class ConfigMap : public MapWrap<ConfigMap> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit ConfigMap(const Napi::CallbackInfo &info) : MapWrap<ConfigMap>(info) {}

private:
	Napi::Value ReadConfig(const Napi::CallbackInfo &info);
	Napi::Value ReadAttachments(const Napi::CallbackInfo &info);
};

/* pcf_event_config: ARRAY[1] struct pcf_event_config, the control plane's choice (events.cc). */
class EventConfigMap : public MapWrap<EventConfigMap> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit EventConfigMap(const Napi::CallbackInfo &info) : MapWrap<EventConfigMap>(info) {}

private:
	Napi::Value ReadConfig(const Napi::CallbackInfo &info);
	Napi::Value WriteConfig(const Napi::CallbackInfo &info);
};

/* pcf_events: the ring buffer of struct pcf_packet_event, read on the event loop (events.cc). */
class EventReader : public Napi::ObjectWrap<EventReader> {
public:
	static const MapSpec kSpec;
	static Napi::Function Init(Napi::Env env);
	explicit EventReader(const Napi::CallbackInfo &info);
	~EventReader() override;

private:
	static constexpr size_t kMaxBatch = 4096; /* events handed to JS in one call at most */
	static int OnSample(void *ctx, void *data, size_t size);
	static void OnReadable(uv_poll_t *handle, int status, int events);
	void Drain();
	void Stop();
	Napi::Value Close(const Napi::CallbackInfo &info);
	Napi::Value GetId(const Napi::CallbackInfo &info);
	Napi::Value GetPath(const Napi::CallbackInfo &info);

	PinnedMap map_;
	struct ring_buffer *rb_ = nullptr;
	uv_poll_t *poll_ = nullptr;
	Napi::FunctionReference cb_;
	std::unique_ptr<Napi::AsyncContext> ctx_;
	napi_env env_ = nullptr;
	std::vector<struct pcf_packet_event> batch_;
};

/* The classifier maps of rules with a precedence as one object (ruleset.cc). */
Napi::Function InitRuleSet(Napi::Env env);

} // namespace pcf

#endif /* PCF_NATIVE_MAPS_H */
