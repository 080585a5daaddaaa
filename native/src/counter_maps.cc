/* counter_maps.cc - the per-CPU counter maps (pcf_stats, pcf_rule_stats) and pcf_config.
 *
 * Per-CPU values come back from the kernel as one struct pcf_counter per possible CPU, each
 * rounded up to 8 bytes; the addon sums them (the datapath uses no atomics).
 */
#include "codec.h"
#include "map_ops.h"
#include "maps.h"

#include <algorithm>
#include <errno.h>
#include <string.h>

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
	BPF_MAP_TYPE_PERCPU_ARRAY,
	sizeof(__u32),
	"__u32 stats_slot",
	sizeof(struct pcf_counter),
	"struct pcf_counter",
	1,
	false,
};

/* Slots per syscall: bounds the buffers (chunk x 16 B x possible CPUs) whatever the map's
 * size. */
static const uint32_t kSlotChunk = 4096;

Napi::Function RuleStatsMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("resetCounters", &RuleStatsMap::ResetCounters));
	props.push_back(InstanceMethod("_readCounterSums", &RuleStatsMap::ReadCounterSums));
	props.push_back(InstanceMethod("readCounter", &RuleStatsMap::ReadCounter));
	return DefineClass(env, "RuleStatsMap", props);
}

/* A slot of the map: an integer below max_entries, else a TypeError naming the field and
 * the slot. */
static __u32 ParseSlot(Napi::Env env, Napi::Value v, const FieldPath &field,
		       const PinnedMap &map)
{
	__u32 slot = ParseU32(env, Classify(env, v), field);
	uint32_t max = map.Info().max_entries;
	if (slot >= max)
		ThrowArg(env, field.Str(),
			 "slot " + std::to_string(slot) + " is out of range: " + map.Path() +
				 " has " + std::to_string(max) + " slots (0.." +
				 std::to_string(max - 1) + ")");
	return slot;
}

/* Writes zeroed per-CPU values at the slots (the control plane calls it before handing a
 * slot to a rule). Every slot is validated before the first write. Not all or nothing:
 * when the kernel fails midway the slots before `index` are zeroed already; zeroing is
 * idempotent, so the caller retries. */
Napi::Value RuleStatsMap::ResetCounters(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "resetCounters");
	bool is_array;
	std::vector<Napi::Value> items = OneOrMany(info[0], &is_array);
	std::vector<__u32> slots(items.size());
	for (size_t i = 0; i < items.size(); i++)
		slots[i] = ParseSlot(env, items[i], FieldPath{"slots", is_array ? (int64_t)i : -1},
				     map_);
	if (slots.empty())
		return env.Undefined();

	size_t stride = PerCpuStride(env);
	uint32_t chunk = std::min<size_t>(kSlotChunk, slots.size());
	std::vector<uint8_t> zero((size_t)chunk * stride, 0);
	for (size_t off = 0; off < slots.size(); off += chunk) {
		uint32_t n = std::min<size_t>(chunk, slots.size() - off), done = 0;
		const char *call = nullptr;
		int err = UpdateElems(fd, slots.data() + off, zero.data(), sizeof(__u32), stride,
				      n, &done, &call);
		if (err) {
			Napi::Error e = SysError(env, err, "resetCounters", call, map_.Path());
			if (done < n)
				e.Value().Set("index", Napi::Number::New(env, (double)(off + done)));
			throw e;
		}
	}
	return env.Undefined();
}

/* Stores the sum of one slot's per-CPU values as sums[2 * slot] (packets) and
 * sums[2 * slot + 1] (bytes). */
static inline void StoreSum(Napi::Env env, double *sums, __u32 slot, const uint8_t *value)
{
	struct pcf_counter c = SumPerCpu(env, value);
	sums[2 * (size_t)slot] = (double)c.packets;
	sums[2 * (size_t)slot + 1] = (double)c.bytes;
}

/* Sums the per-CPU values of slots [0, count) into sums (StoreSum): one bpf_map_lookup_elem
 * per slot. Returns 0 or a positive errno. */
static int ReadSlotsByElem(Napi::Env env, int fd, uint32_t count, size_t stride, double *sums,
			   const char **call)
{
	std::vector<uint8_t> value(stride);
	for (__u32 slot = 0; slot < count; slot++) {
		int err = bpf_map_lookup_elem(fd, &slot, value.data());
		if (err) {
			*call = "bpf_map_lookup_elem";
			return -err;
		}
		StoreSum(env, sums, slot, value.data());
	}
	return 0;
}

/* The same with bpf_map_lookup_batch, kSlotChunk slots per call (per element when the
 * kernel has no batch op for the map). */
static int ReadSlots(Napi::Env env, int fd, uint32_t count, size_t stride, double *sums,
		     const char **call)
{
	if (!g_use_batch_syscalls)
		return ReadSlotsByElem(env, fd, count, stride, sums, call);
	uint32_t chunk = std::max<uint32_t>(1, std::min(count, kSlotChunk));
	std::vector<__u32> keys(chunk);
	std::vector<uint8_t> values((size_t)chunk * stride);
	/* The batch cursor of an array is the last key read; 8 bytes to spare. */
	uint64_t in = 0, out = 0;
	bool first = true;
	for (uint32_t read = 0; read < count;) {
		__u32 want = std::min(chunk, count - read), n = want;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err = bpf_map_lookup_batch(fd, first ? nullptr : &in, &out, keys.data(),
					       values.data(), &n, &opts);
		err = err ? -err : 0;
		if (err == EFAULT)
			n = 0;
		n = std::min(n, want);
		if (err && err != ENOENT) {
			if (first && n == 0 && BatchUnsupported(err))
				return ReadSlotsByElem(env, fd, count, stride, sums, call);
			*call = "bpf_map_lookup_batch";
			return err;
		}
		for (uint32_t i = 0; i < n; i++)
			if (keys[i] < count)
				StoreSum(env, sums, keys[i], values.data() + (size_t)i * stride);
		read += n;
		if (err == ENOENT || n == 0) /* walked past the last slot */
			break;
		in = out;
		first = false;
	}
	return 0;
}

/* _readCounterSums(count = max_entries): Float64Array [packets of slot 0, bytes of slot 0,
 * packets of slot 1, ...] for slots 0..count-1. native/index.ts turns it into readCounters()'
 * Counter[]: JS builds 131072 small objects several times faster than N-API does. */
Napi::Value RuleStatsMap::ReadCounterSums(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readCounters");
	uint32_t max = map_.Info().max_entries;
	uint32_t count = max;
	if (info.Length() > 0 && !info[0].IsUndefined()) {
		count = ParseU32(env, Classify(env, info[0]), FieldPath{"count"});
		if (count > max)
			ThrowArg(env, "count",
				 "must be at most " + std::to_string(max) + " (the slots of " +
					 map_.Path() + "), got " + std::to_string(count));
	}
	Napi::Float64Array sums = Napi::Float64Array::New(env, 2 * (size_t)count); /* zeroed */
	const char *call = nullptr;
	int err = ReadSlots(env, fd, count, PerCpuStride(env), sums.Data(), &call);
	if (err)
		ThrowSys(env, err, "readCounters", call, map_.Path());
	return sums;
}

Napi::Value RuleStatsMap::ReadCounter(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "readCounter");
	__u32 slot = ParseSlot(env, info[0], FieldPath{"slot"}, map_);
	std::vector<uint8_t> value(PerCpuStride(env));
	int err = bpf_map_lookup_elem(fd, &slot, value.data());
	if (err)
		ThrowSys(env, -err, "readCounter", "bpf_map_lookup_elem", map_.Path());
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
	PCF_MAX_ATTACHMENTS, /* one entry per attachment, as pcf-xdp creates it */
	true,
};

Napi::Function ConfigMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("readConfig", &ConfigMap::ReadConfig));
	props.push_back(InstanceMethod("readAttachments", &ConfigMap::ReadAttachments));
	return DefineClass(env, "ConfigMap", props);
}

/* pcf_config[attachment] as JS; ifindex 0 means no interface at that attachment. */
static Napi::Object ConfigToJs(Napi::Env env, const PinnedMap &map, __u32 attachment)
{
	int fd = map.Fd(env, "readConfig");
	struct pcf_config c;
	int err = bpf_map_lookup_elem(fd, &attachment, &c);
	if (err)
		ThrowSys(env, -err, "readConfig", "bpf_map_lookup_elem", map.Path());
	const char *action = ActionTypeName(c.default_action);
	if (!action)
		throw PcfError(env, "ERR_PCF_BAD_VALUE", map.Path(),
			       "pcf_config[" + std::to_string(attachment) + "].default_action in " + map.Path() +
				       " is " + std::to_string(c.default_action) +
				       ", not an enum pcf_action_type value");
	Napi::Object out = Napi::Object::New(env);
	out.Set("attachment", Napi::Number::New(env, attachment));
	out.Set("defaultAction", action);
	out.Set("nRxQueues", Napi::Number::New(env, c.n_rx_queues));
	out.Set("ifindex", Napi::Number::New(env, c.ifindex));
	return out;
}

Napi::Value ConfigMap::ReadConfig(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	__u32 attachment = 0;
	if (info.Length() > 0 && !info[0].IsUndefined()) {
		double a = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
		if (a < 0 || a >= map_.Info().max_entries || a != (double)(__u32)a)
			ThrowArg(env, "attachment", "must be an integer in 0.." +
							    std::to_string(map_.Info().max_entries - 1));
		attachment = (__u32)a;
	}
	return ConfigToJs(env, map_, attachment);
}

/* Every attachment with an interface, in attachment order. */
Napi::Value ConfigMap::ReadAttachments(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array out = Napi::Array::New(env);
	uint32_t n = 0;
	for (__u32 a = 0; a < PCF_MAX_ATTACHMENTS; a++) {
		Napi::Object c = ConfigToJs(env, map_, a);
		if (c.Get("ifindex").As<Napi::Number>().Uint32Value() != 0)
			out.Set(n++, c);
	}
	return out;
}

} // namespace pcf
