/* map_info.cc - mapInfo(pinDir): what the kernel says of each pinned map, for map pressure in
 * GET /stats and /metrics: its type, capacity (max_entries), memory (the memlock figure of
 * its fdinfo) and, for the hash maps, its elements, read from the map-count iterator that
 * pcf-xdp pins (PCF_PIN_MAP_COUNTS, xdp/map_count.bpf.c): one read for every map, however
 * many elements they hold. A map not pinned is null; elements are null where the kernel
 * keeps no count (arrays: all their entries are there) or the iterator is not pinned. */
#include "maps.h"
#include "pcf_common.h"
#include "pcf_map_info.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <map>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace pcf {

static const char *const kPinnedMaps[] = {
#define PCF_X_NAME(id, name) name,
	PCF_PINNED_MAPS(PCF_X_NAME)
#undef PCF_X_NAME
};

/* The iterator's element counts by map id; empty when it is not pinned. */
static std::map<uint32_t, long long> ReadCounts(const std::string &pin_dir)
{
	std::map<uint32_t, long long> out;
	pcf_map_counts_read((pin_dir + "/" PCF_PIN_MAP_COUNTS).c_str(),
			    [](__u32 id, long long n, void *ctx) { (*static_cast<std::map<uint32_t, long long> *>(ctx))[id] = n; }, &out);
	return out;
}

Napi::Value MapInfoJs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsString())
		ThrowArg(env, "pinDir", "must be a string");
	std::string dir = info[0].As<Napi::String>().Utf8Value();
	std::map<uint32_t, long long> counts = ReadCounts(dir);
	Napi::Object out = Napi::Object::New(env);
	for (const char *name : kPinnedMaps) {
		int fd = bpf_obj_get((dir + "/" + name).c_str());
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &len)) {
			if (fd >= 0)
				close(fd);
			out.Set(name, env.Null());
			continue;
		}
		long long memlock = pcf_map_memlock(fd);
		close(fd);
		Napi::Object m = Napi::Object::New(env);
		m.Set("type", MapTypeName(mi.type));
		m.Set("id", Napi::Number::New(env, mi.id));
		m.Set("capacity", Napi::Number::New(env, mi.max_entries));
		auto c = counts.find(mi.id);
		m.Set("elements", pcf_map_counts_elements(mi.type) && c != counts.end() ? Napi::Number::New(env, (double)c->second) : env.Null());
		m.Set("memory_bytes", memlock >= 0 ? Napi::Number::New(env, (double)memlock) : env.Null());
		out.Set(name, m);
	}
	return out;
}

} // namespace pcf
