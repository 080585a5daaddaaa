/* events.cc - packet events (pcf_common.h: Packet events): EventConfigMap reads and writes the
 * control plane's choice in pcf_event_config; EventReader reads pcf_events, the ring buffer
 * the XDP program writes, on the Node event loop (libbpf's ring_buffer on a uv_poll of its
 * epoll fd: no thread) and hands each batch of decoded events to a JS callback. */
#include "maps.h"
#include "pcf_common.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <string.h>
#include <time.h>
#include <uv.h>

namespace pcf {

/* ---- pcf_event_config ---------------------------------------------------------------- */

const MapSpec EventConfigMap::kSpec = {
	"packet event config (" PCF_PIN_EVENT_CONFIG ")",
	BPF_MAP_TYPE_ARRAY,
	sizeof(__u32),
	"__u32",
	sizeof(struct pcf_event_config),
	"struct pcf_event_config",
	1,
	false,
};

Napi::Function EventConfigMap::Init(Napi::Env env)
{
	auto props = CommonProperties();
	props.push_back(InstanceMethod("readConfig", &EventConfigMap::ReadConfig));
	props.push_back(InstanceMethod("writeConfig", &EventConfigMap::WriteConfig));
	return DefineClass(env, "EventConfigMap", props);
}

static const char *const kActionNames[PCF_EVENT_ACTIONS] = {
	[PCF_ACT_PASS] = "PASS", [PCF_ACT_DROP] = "DROP", [PCF_ACT_REDIRECT] = "REDIRECT",
};
/* The keys of `sample`, as openapi.yaml's PacketEventConfig has them. */
static const char *const kSampleKeys[PCF_EVENT_ACTIONS] = {
	[PCF_ACT_PASS] = "pass", [PCF_ACT_DROP] = "drop", [PCF_ACT_REDIRECT] = "redirect",
};

/* {on, ratePerCpu, burst, sample: {pass, drop, redirect}}; a zeroed entry (never written)
 * reads as off with ratePerCpu 0. */
Napi::Value EventConfigMap::ReadConfig(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct pcf_event_config c;
	__u32 zero = 0;
	int err = bpf_map_lookup_elem(map_.Fd(env, "readConfig"), &zero, &c);
	if (err)
		ThrowSys(env, -err, "readConfig", "bpf_map_lookup_elem", map_.Path());
	Napi::Object out = Napi::Object::New(env);
	out.Set("on", Napi::Boolean::New(env, c.on != 0));
	out.Set("ratePerCpu", Napi::Number::New(env, c.interval_ns ? (double)(1000000000ull / c.interval_ns) : 0));
	out.Set("burst", Napi::Number::New(env, c.interval_ns ? (double)(c.burst_ns / c.interval_ns) : 0));
	Napi::Object sample = Napi::Object::New(env);
	for (int v = 0; v < PCF_EVENT_ACTIONS; v++)
		sample.Set(kSampleKeys[v], Napi::Number::New(env, c.sample[v]));
	out.Set("sample", sample);
	return out;
}

static uint32_t UintField(Napi::Env env, Napi::Object o, const char *name, double lo, double hi)
{
	Napi::Value v = o.Get(name);
	double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
	if (!v.IsNumber() || d != (double)(uint64_t)d || d < lo || d > hi)
		ThrowArg(env, name, "must be an integer in " + std::to_string((uint64_t)lo) + ".." + std::to_string((uint64_t)hi));
	return (uint32_t)d;
}

/* writeConfig({on, ratePerCpu, burst, sample: {pass, drop, redirect}}): every field checked
 * before the one write, so a bad one changes nothing. */
Napi::Value EventConfigMap::WriteConfig(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsObject())
		ThrowArg(env, "config", "must be an object");
	Napi::Object o = info[0].As<Napi::Object>();
	if (!o.Get("on").IsBoolean())
		ThrowArg(env, "on", "must be a boolean");
	if (!o.Get("sample").IsObject())
		ThrowArg(env, "sample", "must be an object {pass, drop, redirect}");
	struct pcf_event_config c = {};
	uint32_t rate = UintField(env, o, "ratePerCpu", 1, 10000000);
	uint32_t burst = UintField(env, o, "burst", 1, 1000000);
	Napi::Object sample = o.Get("sample").As<Napi::Object>();
	for (int v = 0; v < PCF_EVENT_ACTIONS; v++)
		c.sample[v] = UintField(env, sample, kSampleKeys[v], 0, 4294967295.0);
	c.interval_ns = 1000000000ull / rate;
	c.burst_ns = (__u64)burst * c.interval_ns;
	c.on = o.Get("on").As<Napi::Boolean>().Value() ? 1 : 0;
	__u32 zero = 0;
	int err = bpf_map_update_elem(map_.Fd(env, "writeConfig"), &zero, &c, BPF_ANY);
	if (err)
		ThrowSys(env, -err, "writeConfig", "bpf_map_update_elem", map_.Path());
	return env.Undefined();
}

/* ---- pcf_events ---------------------------------------------------------------------- */

const MapSpec EventReader::kSpec = {
	"packet event ring (" PCF_PIN_EVENTS ")",
	BPF_MAP_TYPE_RINGBUF,
	0,
	"none",
	0,
	"none",
	4096,
	false,
};

Napi::Function EventReader::Init(Napi::Env env)
{
	return DefineClass(env, "EventReader", {
		InstanceAccessor("id", &EventReader::GetId, nullptr, napi_enumerable),
		InstanceAccessor("path", &EventReader::GetPath, nullptr, napi_enumerable),
		InstanceMethod("close", &EventReader::Close),
	});
}

/* new EventReader(path, onEvents): onEvents(events[]) is called on the event loop for each
 * batch the ring holds. The poll does not keep the process alive. */
EventReader::EventReader(const Napi::CallbackInfo &info) : Napi::ObjectWrap<EventReader>(info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsString())
		ThrowArg(env, "path", "must be the path of the pinned pcf_events (string)");
	if (info.Length() < 2 || !info[1].IsFunction())
		ThrowArg(env, "onEvents", "must be a function");
	map_.Open(env, info[0].As<Napi::String>().Utf8Value(), kSpec);
	rb_ = ring_buffer__new(map_.Fd(env, "EventReader"), OnSample, this, nullptr);
	if (!rb_)
		ThrowSys(env, errno, "EventReader", "ring_buffer__new", map_.Path());
	uv_loop_t *loop = nullptr;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
		Stop();
		throw PcfError(env, "ERR_PCF_EVENT_LOOP", map_.Path(), "no libuv event loop");
	}
	poll_ = new uv_poll_t;
	poll_->data = this;
	int err = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
	if (err) {
		delete poll_; /* never registered with the loop */
		poll_ = nullptr;
		Stop();
		ThrowSys(env, -err, "EventReader", "uv_poll_init", map_.Path());
	}
	err = uv_poll_start(poll_, UV_READABLE, OnReadable);
	if (err) {
		Stop(); /* closes the handle through the loop */
		ThrowSys(env, -err, "EventReader", "uv_poll_start", map_.Path());
	}
	uv_unref((uv_handle_t *)poll_);
	cb_ = Napi::Persistent(info[1].As<Napi::Function>());
	ctx_ = std::make_unique<Napi::AsyncContext>(env, "pcf:packet-events");
	env_ = env;
}

EventReader::~EventReader()
{
	Stop();
}

int EventReader::OnSample(void *ctx, void *data, size_t size)
{
	auto *self = static_cast<EventReader *>(ctx);
	if (size >= sizeof(struct pcf_packet_event))
		self->batch_.push_back(*static_cast<const struct pcf_packet_event *>(data));
	/* Negative stops the consume after this sample (taken): the rest waits for the next
	 * turn of the loop, the ring's fd still readable. */
	return self->batch_.size() >= kMaxBatch ? -1 : 0;
}

void EventReader::OnReadable(uv_poll_t *handle, int status, int)
{
	auto *self = static_cast<EventReader *>(handle->data);
	if (status == 0 && self)
		self->Drain();
}

static Napi::Value Address(Napi::Env env, int family, const __u32 *a)
{
	char buf[INET6_ADDRSTRLEN];
	if (!inet_ntop(family == PCF_FAMILY_IPV6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf)))
		return env.Null();
	return Napi::String::New(env, buf);
}

static Napi::Object EventToJs(Napi::Env env, const struct pcf_packet_event &e, double wall_offset_ms)
{
	Napi::Object o = Napi::Object::New(env);
	const struct pcf_tuple &t = e.tuple;
	bool ip = t.family == PCF_FAMILY_IPV4 || t.family == PCF_FAMILY_IPV6;
	o.Set("time_ms", Napi::Number::New(env, (double)e.time_ns / 1e6 + wall_offset_ms));
	o.Set("ifindex", Napi::Number::New(env, e.ifindex));
	o.Set("attachment", Napi::Number::New(env, e.attachment));
	o.Set("queue", Napi::Number::New(env, e.queue));
	o.Set("cpu", Napi::Number::New(env, e.cpu));
	o.Set("action", e.action < PCF_EVENT_ACTIONS ? Napi::String::New(env, kActionNames[e.action]) : env.Null());
	o.Set("reason", e.reason < PCF_CNT__MAX ? Napi::String::New(env, kCounterNames[e.reason]) : env.Null());
	o.Set("rule_id", e.rule_id ? Napi::Number::New(env, e.rule_id) : env.Null());
	o.Set("len", Napi::Number::New(env, e.len));
	o.Set("family", ip ? Napi::Number::New(env, t.family) : env.Null());
	o.Set("proto", ip ? Napi::Number::New(env, t.proto) : env.Null());
	o.Set("src", ip ? Address(env, t.family, t.src) : env.Null());
	o.Set("dst", ip ? Address(env, t.family, t.dst) : env.Null());
	o.Set("src_port", ip ? Napi::Number::New(env, ntohs(t.src_port)) : env.Null());
	o.Set("dst_port", ip ? Napi::Number::New(env, ntohs(t.dst_port)) : env.Null());
	return o;
}

/* Wall clock minus CLOCK_MONOTONIC (bpf_ktime_get_ns), in ms, for this batch. */
static double WallOffsetMs()
{
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (double)(rt.tv_sec - mono.tv_sec) * 1e3 + (double)(rt.tv_nsec - mono.tv_nsec) / 1e6;
}

void EventReader::Drain()
{
	if (!rb_)
		return;
	batch_.clear();
	ring_buffer__consume(rb_);
	if (batch_.empty())
		return;
	Napi::Env env(env_);
	Napi::HandleScope scope(env);
	double offset = WallOffsetMs();
	Napi::Array arr = Napi::Array::New(env, batch_.size());
	for (size_t i = 0; i < batch_.size(); i++)
		arr.Set((uint32_t)i, EventToJs(env, batch_[i], offset));
	batch_.clear();
	try {
		cb_.MakeCallback(Value(), { arr }, *ctx_);
	} catch (const Napi::Error &e) {
		napi_fatal_exception(env, e.Value());
	}
}

void EventReader::Stop()
{
	if (poll_) {
		uv_poll_stop(poll_);
		poll_->data = nullptr;
		uv_close((uv_handle_t *)poll_, [](uv_handle_t *h) { delete (uv_poll_t *)h; });
		poll_ = nullptr;
	}
	if (rb_) {
		ring_buffer__free(rb_);
		rb_ = nullptr;
	}
	map_.Close();
}

Napi::Value EventReader::Close(const Napi::CallbackInfo &info)
{
	Stop();
	cb_.Reset();
	ctx_.reset();
	return info.Env().Undefined();
}

Napi::Value EventReader::GetId(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(), map_.Info().id);
}

Napi::Value EventReader::GetPath(const Napi::CallbackInfo &info)
{
	return Napi::String::New(info.Env(), map_.Path());
}

} // namespace pcf
