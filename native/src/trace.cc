/* trace.cc - traceBursts(pinDir): the worker's burst trace that a running pcf-trace publishes
 * in the pin dir (pcf_common.h: PCF_PIN_TRACE_META, PCF_PIN_TRACE_BURSTS), for /metrics.
 * null when no trace is pinned; `live` is false when its heartbeat is older than
 * PCF_TRACE_STALE_INTERVALS intervals (a killed tool's pins, the next tool replaces them). */
#include "maps.h"
#include "pcf_common.h"

#include <bpf/bpf.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace pcf {

static unsigned long long MonotonicNs()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static Napi::Object Queue(Napi::Env env, const struct pcf_burst_key &k, const struct pcf_burst_stats &s)
{
	Napi::Object q = Napi::Object::New(env);
	q.Set("dir", k.dir == PCF_BURST_TX ? "tx" : "rx");
	q.Set("port", std::string(k.port, strnlen(k.port, sizeof(k.port))));
	q.Set("queue", Napi::Number::New(env, k.queue));
	q.Set("bursts", Napi::Number::New(env, (double)s.bursts));
	q.Set("packets", Napi::Number::New(env, (double)s.packets));
	q.Set("sent", Napi::Number::New(env, (double)s.sent));
	Napi::Array hist = Napi::Array::New(env, PCF_BURST_HIST);
	for (uint32_t i = 0; i < PCF_BURST_HIST; i++)
		hist.Set(i, Napi::Number::New(env, (double)s.hist[i]));
	q.Set("hist", hist);
	return q;
}

Napi::Value TraceBurstsJs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsString())
		ThrowArg(env, "pinDir", "must be a string");
	std::string dir = info[0].As<Napi::String>().Utf8Value();
	struct pcf_trace_meta m = {};
	__u32 zero = 0;
	int fd = bpf_obj_get((dir + "/" PCF_PIN_TRACE_META).c_str());
	if (fd < 0)
		return env.Null();
	int err = bpf_map_lookup_elem(fd, &zero, &m);
	close(fd);
	if (err)
		return env.Null();
	fd = bpf_obj_get((dir + "/" PCF_PIN_TRACE_BURSTS).c_str());
	if (fd < 0)
		return env.Null();
	Napi::Array queues = Napi::Array::New(env);
	struct pcf_burst_key key, next;
	struct pcf_burst_stats s;
	void *prev = nullptr;
	for (uint32_t n = 0; n < PCF_TRACE_MAX_KEYS && !bpf_map_get_next_key(fd, prev, &next); n++) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &s))
			queues.Set(queues.Length(), Queue(env, key, s));
		prev = &key;
	}
	close(fd);
	unsigned long long now = MonotonicNs();
	Napi::Object out = Napi::Object::New(env);
	out.Set("pid", Napi::Number::New(env, m.pid));
	out.Set("interval_ms", Napi::Number::New(env, m.interval_ms));
	out.Set("attaches", Napi::Number::New(env, m.attaches));
	out.Set("age_ms", Napi::Number::New(env, now > m.heartbeat_ns ? (double)(now - m.heartbeat_ns) / 1e6 : 0));
	out.Set("running_ms", Napi::Number::New(env, now > m.started_ns ? (double)(now - m.started_ns) / 1e6 : 0));
	out.Set("started_ms", Napi::Number::New(env, (double)(m.started_ns / 1000000)));
	out.Set("live", Napi::Boolean::New(env, m.interval_ms &&
		now - m.heartbeat_ns < (unsigned long long)PCF_TRACE_STALE_INTERVALS * m.interval_ms * 1000000ull));
	out.Set("queues", queues);
	return out;
}

} // namespace pcf
