/* flow_map.cc - pcf_flow_map: upsert, delete, lookup and list rules.
 *
 * upsertFlows and deleteFlows are all-or-nothing from the caller's view: every argument is
 * validated before the first syscall, the old value of every key is read first (a lookup
 * per key, or one dump of the map: ReadOldValues), and when the kernel fails midway (E2BIG:
 * map full, ...) the elements already written are put back as they were before the error
 * is thrown. The control plane is the only writer of this
 * map (DESIGN.md); a concurrent writer could still interleave with the restore.
 */
#include "codec.h"
#include "map_ops.h"
#include "maps.h"

#include <errno.h>
#include <future>
#include <string.h>

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
	props.push_back(InstanceMethod("_upsertFlows", &FlowMap::UpsertFlows)); /* index.ts */
	props.push_back(InstanceMethod("deleteFlows", &FlowMap::DeleteFlows));
	props.push_back(InstanceMethod("lookupFlow", &FlowMap::LookupFlow));
	props.push_back(InstanceMethod("listFlows", &FlowMap::ListFlows));
	props.push_back(InstanceMethod("listFlowKeys", &FlowMap::ListFlowKeys));
	props.push_back(InstanceMethod("countFlows", &FlowMap::CountFlows));
	props.push_back(InstanceMethod("scanFlows", &FlowMap::ScanFlows));
	return DefineClass(env, "FlowMap", props);
}

/* The distinct keys of one call, each with its place in a vector: spots a key given twice,
 * and finds the keys of a dump among the call's. Open addressing over the places (the keys
 * stay in the caller's vector): for 100,000 keys ~2 ms, against ~20 ms with
 * std::unordered_map (a node allocation and a cache miss per key). */
class KeyIndex {
public:
	explicit KeyIndex(const std::vector<struct pcf_flow_key> &keys, size_t capacity)
		: keys_(keys)
	{
		size_t size = 16;
		while (size < 2 * capacity) /* at most half full: short probe sequences */
			size *= 2;
		slots_.assign(size, 0);
		mask_ = size - 1;
	}

	/* The place of k in keys, or -1. */
	int64_t Find(const struct pcf_flow_key &k) const
	{
		for (size_t s = Hash(k) & mask_;; s = (s + 1) & mask_) {
			if (slots_[s] == 0)
				return -1;
			if (Same(keys_[slots_[s] - 1], k))
				return slots_[s] - 1;
		}
	}

	/* The place of k; if absent, records `place` (where the caller is about to put k) and
	 * returns it. */
	uint32_t FindOrAdd(const struct pcf_flow_key &k, uint32_t place)
	{
		for (size_t s = Hash(k) & mask_;; s = (s + 1) & mask_) {
			if (slots_[s] == 0) {
				slots_[s] = place + 1;
				return place;
			}
			if (Same(keys_[slots_[s] - 1], k))
				return slots_[s] - 1;
		}
	}

	void Prefetch(const struct pcf_flow_key &k) const
	{
		__builtin_prefetch(&slots_[Hash(k) & mask_]);
	}

private:
	static bool Same(const struct pcf_flow_key &a, const struct pcf_flow_key &b)
	{
		return memcmp(&a, &b, sizeof(a)) == 0;
	}
	/* The 16 bytes folded and mixed (splitmix64's finalizer): keys differ in few bits. */
	static size_t Hash(const struct pcf_flow_key &k)
	{
		uint64_t w[2];
		memcpy(w, &k, sizeof(w));
		uint64_t h = w[0] ^ (w[1] * 0x9e3779b97f4a7c15ull);
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
		h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
		return h ^ (h >> 31);
	}

	const std::vector<struct pcf_flow_key> &keys_;
	std::vector<uint32_t> slots_; /* place + 1; 0: empty */
	size_t mask_;
};
static_assert(sizeof(struct pcf_flow_key) == 2 * sizeof(uint64_t), "Hash covers the key");

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

/* How upsertFlows and deleteFlows read the old values, for the restore: a lookup per key, or
 * one dump of the whole map (bpf_map_lookup_batch). A lookup is a syscall (~0.9 us); the dump
 * costs ~0.3 us per entry the map holds, which is at most max_entries. So with at least a
 * third of max_entries keys the dump is never the slower, and of an empty map it is all but
 * free (measured on Linux 6.18, 100,000 keys: 89 ms of lookups; a dump of 100,000 entries
 * 29 ms, of an empty map of 131,072 0.1 ms). */
static bool DumpBeatsLookups(uint32_t n, uint32_t max_entries)
{
	return g_use_batch_syscalls && (uint64_t)n * 3 >= max_entries;
}

/* Every entry of the flow map, or the error of the call that failed. */
struct FlowDump {
	std::vector<uint8_t> keys, values;
	const char *call = nullptr;
	int err = 0;
};

static FlowDump DumpFlows(int fd, uint32_t max_entries)
{
	FlowDump d;
	d.err = DumpMap(fd, sizeof(struct pcf_flow_key), sizeof(struct pcf_flow_action),
			max_entries, &d.keys, &d.values, &d.call);
	return d;
}

/* The dump ReadOldValues uses, when it beats lookups for `count` keys (counted before
 * duplicates go): it needs nothing parsed, so it runs on a thread of its own while the
 * caller parses its argument (saves ~30 ms of 100,000 replaced entries). A std::async future
 * waits for its thread when destroyed, so a TypeError while parsing leaves none behind; with
 * no thread to be had, libstdc++ defers the dump to get(), in the caller's thread. */
static std::future<FlowDump> StartDump(int fd, uint32_t count, uint32_t max_entries)
{
	if (!DumpBeatsLookups(count, max_entries))
		return {};
	return std::async(std::launch::async | std::launch::deferred, DumpFlows, fd, max_entries);
}

/* What each of `keys` (distinct, all in `index`) holds now: existed[i], and old[i] when it
 * did. From the dump StartDump started, if any, else a lookup per key. Returns how many
 * existed; throws the failed call's error, naming `op`. */
static uint32_t ReadOldValues(Napi::Env env, const PinnedMap &map, int fd, const char *op,
			      const std::vector<struct pcf_flow_key> &keys, const KeyIndex &index,
			      std::future<FlowDump> *dump,
			      std::vector<struct pcf_flow_action> *old, std::vector<bool> *existed)
{
	uint32_t n = keys.size(), found = 0;
	old->assign(n, {});
	existed->assign(n, false);
	if (dump->valid()) {
		FlowDump d = dump->get();
		if (d.err)
			ThrowSys(env, d.err, op, d.call, map.Path());
		size_t held = d.keys.size() / sizeof(struct pcf_flow_key);
		for (size_t h = 0; h < held; h++) {
			struct pcf_flow_key k;
			memcpy(&k, d.keys.data() + h * sizeof(k), sizeof(k));
			int64_t place = index.Find(k);
			if (place < 0)
				continue;
			memcpy(&(*old)[place], d.values.data() + h * sizeof(struct pcf_flow_action),
			       sizeof(struct pcf_flow_action));
			(*existed)[place] = true;
			found++;
		}
		return found;
	}
	for (uint32_t i = 0; i < n; i++) {
		int err = bpf_map_lookup_elem(fd, &keys[i], &(*old)[i]);
		if (err && err != -ENOENT)
			ThrowSys(env, -err, op, "bpf_map_lookup_elem", map.Path());
		(*existed)[i] = err == 0;
		found += err == 0;
	}
	return found;
}

/* _upsertFlows(isArray, kinds, nums, strs, restore): upsertFlows (restore true) or writeFlows
 * (false: no old values read, nothing put back on failure) once native/index.ts has gathered
 * the entries into columns (EntryColumns). */
Napi::Value FlowMap::UpsertFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	bool restore = info[4].ToBoolean();
	const char *op = restore ? "upsertFlows" : "writeFlows";
	int fd = map_.Fd(env, op);
	bool is_array = info[0].ToBoolean();
	EntryColumns cols(env, info[1], info[2], info[3]);

	uint32_t count = cols.Size();
	std::future<FlowDump> dump;
	if (restore)
		dump = StartDump(fd, count, map_.Info().max_entries); /* for 2. */

	/* 1. Validate and pack everything; a repeated key keeps its last action. */
	std::vector<struct pcf_flow_key> keys;
	std::vector<struct pcf_flow_action> actions;
	std::vector<uint32_t> source; /* index in the caller's array */
	keys.reserve(count);
	actions.reserve(count);
	source.reserve(count);
	for (uint32_t i = 0; i < count; i++) {
		Napi::HandleScope scope(env); /* the strings of one entry */
		JsVal v[kEntryFields];
		cols.Next(v);
		int64_t at = is_array ? (int64_t)i : -1;
		if (v[kEntryObject].kind != Kind::kObject)
			ThrowArg(env, FieldPath{"entries", at}.Str(),
				 "must be an object {key, action}");
		keys.push_back(PackFlowKey(env, v + kEntryKey, FieldPath{"entries", at, "key"}));
		actions.push_back(
			PackFlowAction(env, v + kEntryAction, FieldPath{"entries", at, "action"}));
		source.push_back(i);
	}
	/* A key given twice: the first place, the last action. Compacts in place. */
	KeyIndex index(keys, count);
	uint32_t n = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (i + 8 < count)
			index.Prefetch(keys[i + 8]); /* 100,000 keys outgrow L2: hide the misses */
		uint32_t place = index.FindOrAdd(keys[i], n);
		if (place == n)
			keys[n++] = keys[i];
		actions[place] = actions[i];
		source[place] = source[i];
	}
	keys.resize(n);
	actions.resize(n);
	source.resize(n);

	/* 2. Remember what each key held, for the restore. */
	std::vector<struct pcf_flow_action> old;
	std::vector<bool> existed;
	uint32_t replaced =
		restore ? ReadOldValues(env, map_, fd, op, keys, index, &dump, &old, &existed) : 0;

	/* 3. Write; on failure put back the elements already written, last first. */
	uint32_t done = 0;
	const char *call = nullptr;
	int err = UpdateElems(fd, keys.data(), actions.data(), sizeof(keys[0]),
			      sizeof(actions[0]), n, &done, &call);
	if (err && !restore) {
		Napi::Error e = SysError(env, err, op, call, map_.Path());
		if (done < n)
			e.Value().Set("index", Napi::Number::New(env, source[done]));
		e.Value().Set("rolledBack", Napi::Boolean::New(env, false));
		throw e;
	}
	if (!restore)
		return Napi::Number::New(env, n);
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
	std::future<FlowDump> dump = StartDump(fd, items.size(), map_.Info().max_entries);

	/* The distinct keys, in the caller's order. */
	std::vector<struct pcf_flow_key> distinct;
	distinct.reserve(items.size());
	KeyIndex index(distinct, items.size());
	for (size_t i = 0; i < items.size(); i++) {
		struct pcf_flow_key k =
			ParseFlowKey(env, names, items[i], FieldPath{"keys", is_array ? (int64_t)i : -1});
		if (index.FindOrAdd(k, distinct.size()) == distinct.size())
			distinct.push_back(k);
	}

	/* Keep the keys that are present (absent ones are already deleted), with their
	 * values for the restore. */
	std::vector<struct pcf_flow_action> held;
	std::vector<bool> present;
	ReadOldValues(env, map_, fd, "deleteFlows", distinct, index, &dump, &held, &present);
	std::vector<struct pcf_flow_key> keys;
	std::vector<struct pcf_flow_action> old;
	for (size_t i = 0; i < distinct.size(); i++) {
		if (!present[i])
			continue;
		keys.push_back(distinct[i]);
		old.push_back(held[i]);
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

/* Dumped keys and values (DumpMap, ScanMap) as [{key, action}]. */
static Napi::Array EntriesToJs(Napi::Env env, const std::vector<uint8_t> &keys,
			       const std::vector<uint8_t> &values, const std::string &path)
{
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
		entry.Set(names.action, FlowActionToJs(env, names, a, path));
		out.Set(i, entry);
	}
	return out;
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
	return EntriesToJs(env, keys, values, map_.Path());
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

/* scanFlows(cursor: Buffer | null, max): one step of a walk, {entries, cursor} (null: the end). */
Napi::Value FlowMap::ScanFlows(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = map_.Fd(env, "scanFlows");
	std::vector<uint8_t> cursor, keys, values;
	if (info.Length() > 0 && info[0].IsBuffer()) {
		Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
		cursor.assign(b.Data(), b.Data() + b.Length());
	} else if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
		throw Napi::TypeError::New(env, "scanFlows: cursor must be a Buffer from the previous step, or null");
	}
	uint32_t want = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 4096;
	bool done = false;
	const char *call = nullptr;
	int err = ScanMap(fd, sizeof(struct pcf_flow_key), sizeof(struct pcf_flow_action), want, &cursor,
			  &keys, &values, &done, &call);
	if (err)
		ThrowSys(env, err, "scanFlows", call ? call : "scanFlows", map_.Path());
	Napi::Object out = Napi::Object::New(env);
	out.Set("entries", EntriesToJs(env, keys, values, map_.Path()));
	out.Set("cursor", done ? env.Null() : Napi::Value(Napi::Buffer<uint8_t>::Copy(env, cursor.data(), cursor.size())));
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
